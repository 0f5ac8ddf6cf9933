//! `guichet costs`: the cost report, read from the database of the configuration.

use anyhow::{Context as _, bail};
use hub::Settings;
use hub::outbound::costs;

use crate::CostsArgs;

pub async fn run(settings: &Settings, args: &CostsArgs) -> anyhow::Result<()> {
    let month = |flag: &str, text: &str| {
        costs::parse_month(text)
            .with_context(|| format!("--{flag} {text:?}: expected a month such as 2026-10"))
    };
    #[expect(
        clippy::disallowed_methods,
        reason = "the report's default month is the operator's current month"
    )]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let this = costs::month_of(settings, now);
    let (from, to) = match (&args.month, &args.from, &args.to) {
        (Some(m), _, _) => {
            let m = month("month", m)?;
            (m, m)
        }
        (None, from, to) => (
            from.as_deref()
                .map(|f| month("from", f))
                .transpose()?
                .unwrap_or(this),
            to.as_deref()
                .map(|t| month("to", t))
                .transpose()?
                .unwrap_or(this),
        ),
    };
    if from > to {
        bail!("--from {from} is after --to {to}");
    }
    let store = crate::open_store(settings).await?;
    let (report, notes) = costs::report(store.as_ref(), settings, from, to).await?;
    if args.json {
        let json = costs::report_json(&report, &notes, settings);
        crate::write_stdout(&format!("{json:#}\n"));
    } else {
        crate::write_stdout(&costs::report_text(&report, &notes, settings));
    }
    Ok(())
}
