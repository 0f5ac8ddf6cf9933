//! The rules on volume: monthly budgets, marketing frequency, Meta's per-user marketing limit
//! (131049), the portfolio's messaging limit (cloud-api.md §5.4) and the pair rate (§5.2).
//! Each refusal here is cured by waiting, and says until when when it can.

use super::facts::Facts;
use super::note;
use super::pacing::Millis;
use super::settings::Policy;
use super::verdict::{Note, Refusal, code};
use crate::Timestamp;
use crate::category::Category;
use crate::time::Seconds;

/// Monthly budget of the priced category. Money in micro-units.
pub(super) fn check_budget(
    category: Category,
    facts: &Facts,
    policy: &Policy,
    notes: &mut Vec<Note>,
) -> Option<Refusal> {
    let budget = *policy.monthly_budgets.get(&category)?;
    let spent = facts
        .spend
        .month_to_date
        .get(&category)
        .copied()
        .unwrap_or(0);
    let cost = facts.spend.estimated_cost;
    let over = match cost {
        Some(c) => spent.saturating_add(c) > budget,
        None => spent >= budget,
    };
    if over {
        return Some(
            Refusal::new(
                code::BUDGET_EXCEEDED,
                format!(
                    "the {category} budget for this month is spent: {} of {}{}",
                    money(spent),
                    money(budget),
                    cost.map(|c| format!(", and this message costs {}", money(c)))
                        .unwrap_or_default()
                ),
                "wait for next month, or raise the budget",
            )
            .retry_at(facts.spend.month_ends_at),
        );
    }
    let after = spent.saturating_add(cost.unwrap_or(0));
    if u128::from(after) * 100 >= u128::from(budget) * u128::from(policy.budget_warning_percent) {
        notes.push(Note::new(
            note::BUDGET_NEARLY_SPENT,
            format!(
                "the {category} budget is nearly spent: {} of {} this month",
                money(after),
                money(budget)
            ),
        ));
    }
    None
}

/// Micro-units as an amount with two decimals, rounded down: "49.50".
fn money(micros: u64) -> String {
    format!("{}.{:02}", micros / 1_000_000, micros % 1_000_000 / 10_000)
}

/// The business's marketing frequency cap and Meta's per-user marketing limit (131049).
pub(super) fn check_marketing_pace(facts: &Facts, policy: &Policy, now: Timestamp) -> Vec<Refusal> {
    let mut out = Vec::new();
    if let Some(cap) = policy.marketing_frequency {
        let mut recent: Vec<Timestamp> = facts
            .marketing_sent
            .iter()
            .copied()
            .filter(|&at| at <= now && now < at + cap.per)
            .collect();
        recent.sort_unstable();
        let max = usize::try_from(cap.max).unwrap_or(usize::MAX);
        if recent.len() >= max {
            // Allowed again once all but `max - 1` have left the span.
            let retry = recent
                .get(recent.len() - max)
                .filter(|_| max > 0)
                .map(|&at| at + cap.per);
            out.push(
                Refusal::new(
                    code::MARKETING_FREQUENCY,
                    format!(
                        "this customer received {} marketing messages in the last {} (the cap \
                         is {})",
                        recent.len(),
                        cap.per,
                        cap.max
                    ),
                    "send it later, or only to customers below the cap",
                )
                .retry_at(retry),
            );
        }
    }
    if let Some(held) = facts.marketing_held_at {
        let until = held + policy.marketing_hold;
        if now < until {
            out.push(
                Refusal::new(
                    code::MARKETING_CAPPED,
                    format!(
                        "Meta held back a marketing message to this customer {} ago (per-user \
                         marketing limit)",
                        now - held
                    ),
                    format!(
                        "do not resend for another {}: resending sooner only fails again and \
                         can block delivery to them for up to 24 h",
                        until - now
                    ),
                )
                .meta(131_049)
                .retry_at(Some(until)),
            );
        }
    }
    out
}

/// The portfolio's messaging limit (cloud-api.md §5.4): unique customers reached outside a
/// window in a moving 24 h. A customer already counted costs nothing more. Meta documents no
/// error code for going over.
pub(super) fn check_messaging_limit(facts: &Facts, notes: &mut Vec<Note>) -> Option<Refusal> {
    let usage = facts.portfolio;
    if usage.recipient_counted {
        return None;
    }
    let limit = usage.limit.limit()?;
    if usage.reached >= limit {
        return Some(
            Refusal::new(
                code::MESSAGING_LIMIT,
                format!(
                    "the business has reached {} of its {limit} customers outside a \
                     conversation in the moving 24 h (its messaging limit)",
                    usage.reached
                ),
                "wait until earlier contacts leave the 24 h span, or raise the limit with Meta \
                 (business verification, steady high-quality sending)",
            )
            .retry_at(usage.next_release_at),
        );
    }
    notes.push(Note::new(
        note::COUNTS_TOWARD_MESSAGING_LIMIT,
        format!(
            "reaches a new customer outside a conversation: {} of {limit} in the moving 24 h",
            usage.reached.saturating_add(1)
        ),
    ));
    None
}

/// The pair rate (cloud-api.md §5.2; Meta: 131056): a short hold is the outbox's business, a
/// long one a refusal. `Ok` carries when the message may leave, if later than now.
pub(super) fn check_pair_rate(
    facts: &Facts,
    policy: &Policy,
    now: Timestamp,
    notes: &mut Vec<Note>,
) -> Result<Option<Timestamp>, Refusal> {
    let now_ms = Millis::from_timestamp(now);
    let earliest = facts.pair.earliest(&policy.pair_rate, now_ms);
    if earliest <= now_ms {
        return Ok(None);
    }
    let at = earliest.to_timestamp_ceil();
    let wait: Seconds = at - now;
    if wait > policy.max_pacing_delay {
        return Err(Refusal::new(
            code::PAIR_RATE,
            format!(
                "this customer was sent many messages in a short time: the pair rate (1 message \
                 per {}, bursts up to {}) holds the next one for {wait}",
                Seconds(policy.pair_rate.interval_ms / 1000),
                policy.pair_rate.burst
            ),
            "send it later, or combine several messages into one",
        )
        .meta(131_056)
        .retry_at(Some(at)));
    }
    notes.push(Note::new(
        note::PACED,
        format!(
            "held {wait} by the pair rate (1 message per {} to the same customer)",
            Seconds(policy.pair_rate.interval_ms / 1000)
        ),
    ));
    Ok(Some(at))
}
