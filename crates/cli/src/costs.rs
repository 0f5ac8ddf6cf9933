//! `guichet costs`: the cost report, read from the database of the configuration.

use hub::Settings;
use hub::outbound::costs;

use crate::CostsArgs;

pub async fn run(settings: &Settings, args: &CostsArgs) -> anyhow::Result<()> {
    #[expect(
        clippy::disallowed_methods,
        reason = "the report's default month is the operator's current month"
    )]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let (from, to) = costs::months(
        settings,
        now,
        args.month.as_deref(),
        args.from.as_deref(),
        args.to.as_deref(),
    )
    .map_err(|e| anyhow::anyhow!("{e} (the flags are --month, --from and --to)"))?;
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
