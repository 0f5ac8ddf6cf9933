//! The cost ledger, reported: every outbound message with its predicted price (from the rules
//! and the rate card in force when it was queued) beside Meta's bill (the `pricing` of its status
//! webhooks, which wins), summed by month, category, market and number.

use domain::Category;
use domain::Timestamp;
use domain::pricing::{
    CostReport, Currency, LedgerRow, Market, Money, Prediction, PricingModel, PricingType,
    YearMonth, cost_report, reconcile,
};
use serde_json::{Value, json};
use store::{CostRow, Store};

use crate::config::Settings;

/// The ledger rows of the months `[from, to]` (inclusive), priced and billed.
pub async fn report(
    store: &dyn Store,
    settings: &Settings,
    from: YearMonth,
    to: YearMonth,
) -> store::Result<(CostReport, Vec<String>)> {
    let offset = settings.pricing.offset;
    let rows = store
        .costs(from.start(offset).unix(), to.next().start(offset).unix())
        .await?;
    let mut problems = Vec::new();
    let ledger: Vec<LedgerRow> = rows
        .iter()
        .map(|r| ledger_row(r, settings, &mut problems))
        .collect();
    match cost_report(&ledger, offset) {
        Ok(report) => Ok((report, problems)),
        Err(e) => {
            problems.push(e.to_string());
            Ok((CostReport::default(), problems))
        }
    }
}

/// One ledger row: the prediction as recorded, and the bill reconciled from Meta's `pricing`.
fn ledger_row(r: &CostRow, settings: &Settings, problems: &mut Vec<String>) -> LedgerRow {
    let market = Market::new(&r.market).unwrap_or_else(Market::other);
    let currency = r.currency.as_deref().and_then(|c| Currency::parse(c).ok());
    let predicted = match (currency, r.predicted_micros) {
        (Some(c), Some(m)) => Some(Money::from_micros(m, c)),
        _ => None,
    };
    let predicted_category: Category = r.category.parse().unwrap_or(Category::Service);
    let mut row = LedgerRow {
        message_id: r
            .wamid
            .clone()
            .unwrap_or_else(|| format!("guichet:{}", r.message_id)),
        phone_number_id: r.phone_number_id.clone(),
        market: market.clone(),
        category: predicted_category,
        sent_at: Timestamp::from_unix(r.sent_at),
        predicted,
        billed: None,
    };
    if r.billed_at.is_none() {
        return row;
    }
    let prediction = Prediction {
        model: r.pricing_model.parse().unwrap_or(PricingModel::Pmp),
        category: predicted_category,
        pricing_type: r.pricing_type.parse().unwrap_or(PricingType::Regular),
        billable: predicted.is_some(),
        charged: predicted.is_some(),
        amount: predicted,
        reason: "as recorded when the message was queued",
        market,
        sent_at: Timestamp::from_unix(r.sent_at),
        waba_offset: settings.pricing.offset,
        conversation: None,
    };
    let pricing = wa::webhook::Pricing {
        billable: r.billable.map(|b| b != 0),
        pricing_model: r.billed_model.clone(),
        category: r.billed_category.clone(),
        kind: r.billed_type.clone(),
    };
    let billed = reconcile(&prediction, &pricing, &settings.pricing.cards);
    if let Some(c) = billed.category.known() {
        row.category = c;
    }
    if !billed.agrees() {
        problems.push(format!(
            "message {}: Meta billed differently than predicted: {}",
            row.message_id,
            billed
                .disagreements
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    // Billed and not charged (free) counts as zero, so that billed totals are complete.
    row.billed = if billed.charged {
        billed.amount
    } else {
        currency.map(Money::zero)
    };
    row
}

/// The report in the API's shape.
pub fn report_json(report: &CostReport, problems: &[String], settings: &Settings) -> Value {
    let lines: Vec<Value> = report
        .lines
        .iter()
        .map(|(k, l)| {
            let sums = |m: &std::collections::BTreeMap<Currency, Money>| -> Value {
                m.iter()
                    .map(|(c, v)| (c.as_str().to_owned(), Value::String(v.decimal())))
                    .collect::<serde_json::Map<_, _>>()
                    .into()
            };
            json!({
                "month": k.month.to_string(),
                "category": k.category.as_str(),
                "market": k.market.as_str(),
                "phone_number_id": k.phone_number_id,
                "messages": l.messages,
                "predicted": sums(&l.predicted),
                "billed": sums(&l.billed),
                "billed_messages": l.billed_messages,
            })
        })
        .collect();
    json!({
        "lines": lines,
        "sample_rates": settings.pricing.sample,
        "notes": problems,
    })
}

/// The months a report covers, as the API (`month`, or `from` and `to`) and `guichet costs`
/// (`--month`, or `--from` and `--to`) ask for them: a missing end is the month of `now_s` on
/// the account's clock. The error names the parameter and what is expected.
pub fn months(
    settings: &Settings,
    now_s: i64,
    month: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(YearMonth, YearMonth), String> {
    let parse = |name: &str, text: &str| {
        text.parse::<YearMonth>()
            .map_err(|_| format!("`{name}` = {text:?}: expected a month such as 2026-10"))
    };
    let this = YearMonth::of(Timestamp::from_unix(now_s), settings.pricing.offset);
    let (from, to) = match (month, from, to) {
        (Some(m), None, None) => {
            let m = parse("month", m)?;
            (m, m)
        }
        (Some(_), _, _) => return Err("give `month`, or `from` and `to`, not both".into()),
        (None, from, to) => (
            from.map(|f| parse("from", f)).transpose()?.unwrap_or(this),
            to.map(|t| parse("to", t)).transpose()?.unwrap_or(this),
        ),
    };
    if from > to {
        return Err(format!("`from` {from} is after `to` {to}"));
    }
    Ok((from, to))
}

/// Sums per currency, as the report prints them: `12.50 USD + 3.00 EUR`, `-` for none.
fn sums_text(m: &std::collections::BTreeMap<Currency, Money>) -> String {
    if m.is_empty() {
        return "-".to_owned();
    }
    m.iter()
        .map(|(c, v)| format!("{} {}", v.decimal(), c.as_str()))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// The report as a table for a terminal.
pub fn report_text(report: &CostReport, problems: &[String], settings: &Settings) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<15} {:<22} {:<18} {:>8} {:>16} {:>16}",
        "month", "category", "market", "number", "messages", "predicted", "billed"
    );
    for (k, l) in &report.lines {
        let _ = writeln!(
            out,
            "{:<8} {:<15} {:<22} {:<18} {:>8} {:>16} {:>16}",
            k.month.to_string(),
            k.category.as_str(),
            k.market.as_str(),
            k.phone_number_id,
            l.messages,
            sums_text(&l.predicted),
            sums_text(&l.billed)
        );
    }
    if report.lines.is_empty() {
        let _ = writeln!(out, "(no outbound messages in these months)");
    }
    if settings.pricing.sample {
        let _ = writeln!(
            out,
            "\nPriced with guichet's SAMPLE rate card, not Meta's prices: set [pricing].rate_cards to Meta's card."
        );
    }
    for p in problems {
        let _ = writeln!(out, "note: {p}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::load_from(None, [("GUICHET_APP_SECRET".into(), "secret".into())])
            .expect("settings")
    }

    fn ym(text: &str) -> YearMonth {
        text.parse().expect("month")
    }

    #[test]
    fn a_report_covers_the_months_asked_for_or_this_one() {
        let s = settings();
        // 2026-11-26, UTC.
        let now = 1_795_780_800;
        assert_eq!(
            months(&s, now, None, None, None),
            Ok((ym("2026-11"), ym("2026-11")))
        );
        assert_eq!(
            months(&s, now, Some("2026-10"), None, None),
            Ok((ym("2026-10"), ym("2026-10")))
        );
        assert_eq!(
            months(&s, now, None, Some("2026-07"), None),
            Ok((ym("2026-07"), ym("2026-11")))
        );
        assert!(
            months(&s, now, Some("2026-13"), None, None)
                .unwrap_err()
                .contains("`month`")
        );
        assert!(months(&s, now, Some("2026-10"), Some("2026-09"), None).is_err());
        assert!(
            months(&s, now, None, Some("2026-11"), Some("2026-10"))
                .unwrap_err()
                .contains("after")
        );
    }
}
