//! Meta's rules, as pure functions of the emulated time: the customer-service window, the free
//! entry point window, what a delivered message costs, and when a failed webhook is retried.
//! cloud-api.md §2, §6 and §7 are the source of each.

use serde_json::{Value, json};

pub const HOUR_MS: i64 = 3_600_000;
/// The customer-service window: 24 h from the customer's last message.
pub const SERVICE_WINDOW_MS: i64 = 24 * HOUR_MS;
/// The free entry point window: 72 h from the business's first reply to an ad entry.
pub const FREE_ENTRY_POINT_MS: i64 = 72 * HOUR_MS;
/// Per-message pricing replaced conversation-based pricing on 2025-07-01T00:00:00Z.
pub const PER_MESSAGE_PRICING_FROM_MS: i64 = 1_751_328_000_000;
/// Service messages (and utility templates inside a window) are charged from 2026-10-01T00:00:00Z.
pub const SERVICE_CHARGED_FROM_MS: i64 = 1_790_812_800_000;
/// Meta stops retrying a webhook after seven days.
pub const RETRY_HORIZON_MS: i64 = 7 * 24 * HOUR_MS;

/// What the emulator knows of one customer's thread with one business number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Thread {
    /// When the customer last wrote (ms).
    pub last_inbound_ms: Option<i64>,
    /// When the customer last came in through a Click-to-WhatsApp ad (ms).
    pub last_referral_ms: Option<i64>,
    /// The free entry point window, once the business has replied to an ad entry in time.
    pub free_entry_point: Option<FreeEntryPoint>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeEntryPoint {
    pub id: String,
    pub opened_ms: i64,
}

impl FreeEntryPoint {
    pub fn expires_ms(&self) -> i64 {
        self.opened_ms + FREE_ENTRY_POINT_MS
    }
}

impl Thread {
    /// Whether a free-form (non-template) message may be sent at `now_ms`.
    pub fn window_open(&self, now_ms: i64) -> bool {
        self.last_inbound_ms
            .is_some_and(|at| now_ms >= at && now_ms - at < SERVICE_WINDOW_MS)
    }

    /// The free entry point window open at `now_ms`, if any.
    pub fn open_free_entry_point(&self, now_ms: i64) -> Option<&FreeEntryPoint> {
        self.free_entry_point
            .as_ref()
            .filter(|f| now_ms >= f.opened_ms && now_ms < f.expires_ms())
    }

    /// A business message is going out at `now_ms`: if it answers an ad entry within the
    /// customer-service window and no free entry point window is open, one opens now.
    pub fn on_business_message(&mut self, now_ms: i64, new_id: impl FnOnce() -> String) {
        if self.open_free_entry_point(now_ms).is_some() {
            return;
        }
        let answers_ad = self
            .last_referral_ms
            .is_some_and(|at| now_ms >= at && now_ms - at < SERVICE_WINDOW_MS);
        let already_used = self
            .free_entry_point
            .as_ref()
            .zip(self.last_referral_ms)
            .is_some_and(|(f, referral)| f.opened_ms >= referral);
        if answers_ad && !already_used {
            self.free_entry_point = Some(FreeEntryPoint {
                id: new_id(),
                opened_ms: now_ms,
            });
        }
    }
}

/// The category a message is priced in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Marketing,
    Utility,
    Authentication,
    /// Anything that is not a template.
    Service,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Marketing => "marketing",
            Self::Utility => "utility",
            Self::Authentication => "authentication",
            Self::Service => "service",
        }
    }
}

/// The `pricing` object of a status webhook for a message of `category` sent at `sent_ms` in
/// `thread` (cloud-api.md §7.2, §7.4, §6.2).
pub fn pricing(category: Category, sent_ms: i64, thread: &Thread) -> Value {
    let model = if sent_ms >= PER_MESSAGE_PRICING_FROM_MS {
        "PMP"
    } else {
        "CBP"
    };
    let (billable, kind, category) = if thread.open_free_entry_point(sent_ms).is_some() {
        (false, "free_entry_point", "referral_conversion")
    } else {
        let in_window = thread.window_open(sent_ms);
        let free_in_window = sent_ms < SERVICE_CHARGED_FROM_MS;
        match category {
            Category::Service | Category::Utility if in_window && free_in_window => {
                (false, "free_customer_service", category.as_str())
            }
            _ => (true, "regular", category.as_str()),
        }
    };
    json!({
        "billable": billable,
        "pricing_model": model,
        "type": kind,
        "category": category,
    })
}

/// The `conversation` object of a status webhook: only inside a free entry point window.
pub fn conversation(sent_ms: i64, thread: &Thread) -> Option<Value> {
    thread.open_free_entry_point(sent_ms).map(|f| {
        json!({
            "id": f.id,
            "expiration_timestamp": (f.expires_ms() / 1000).to_string(),
            "origin": { "type": "referral_conversion" },
        })
    })
}

/// When the `attempt`-th retry (1 for the first) of a webhook first tried at `first_ms` is due,
/// or `None` once past Meta's seven days. Immediately, then with decreasing frequency.
pub fn retry_at(first_ms: i64, attempt: u32) -> Option<i64> {
    /// Seconds before each attempt, from the previous one; the last gap repeats.
    const GAPS_S: [i64; 10] = [
        0, 10, 60, 300, 1_800, 7_200, 21_600, 43_200, 86_400, 172_800,
    ];
    let mut since_ms: i64 = 0;
    for n in 0..attempt {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        since_ms += GAPS_S[n.min(GAPS_S.len() - 1)] * 1000;
        if since_ms > RETRY_HORIZON_MS {
            return None;
        }
    }
    Some(first_ms + since_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_219_200_000; // 2026-11-21

    fn thread_with_inbound(at: i64) -> Thread {
        Thread {
            last_inbound_ms: Some(at),
            ..Thread::default()
        }
    }

    #[test]
    fn the_window_lasts_24_hours_from_the_last_customer_message() {
        let t = thread_with_inbound(NOW);
        assert!(t.window_open(NOW));
        assert!(t.window_open(NOW + SERVICE_WINDOW_MS - 1));
        assert!(!t.window_open(NOW + SERVICE_WINDOW_MS));
        assert!(!Thread::default().window_open(NOW));
    }

    #[test]
    fn service_messages_are_free_in_the_window_until_october_2026() {
        let before = SERVICE_CHARGED_FROM_MS - 10 * HOUR_MS;
        let p = pricing(Category::Service, before, &thread_with_inbound(before));
        assert_eq!(p["billable"], false);
        assert_eq!(p["type"], "free_customer_service");
        assert_eq!(p["category"], "service");
        assert_eq!(p["pricing_model"], "PMP");

        let p = pricing(Category::Service, NOW, &thread_with_inbound(NOW));
        assert_eq!(p["billable"], true);
        assert_eq!(p["type"], "regular");
    }

    #[test]
    fn utility_in_the_window_was_free_marketing_never() {
        let before = SERVICE_CHARGED_FROM_MS - HOUR_MS;
        let t = thread_with_inbound(before);
        assert_eq!(pricing(Category::Utility, before, &t)["billable"], false);
        assert_eq!(pricing(Category::Marketing, before, &t)["billable"], true);
        assert_eq!(
            pricing(Category::Authentication, before, &t)["type"],
            "regular"
        );
        // Outside the window a utility template is charged.
        assert_eq!(
            pricing(Category::Utility, before, &Thread::default())["billable"],
            true
        );
    }

    #[test]
    fn conversation_based_pricing_before_july_2025() {
        let p = pricing(
            Category::Marketing,
            PER_MESSAGE_PRICING_FROM_MS - 1,
            &Thread::default(),
        );
        assert_eq!(p["pricing_model"], "CBP");
    }

    #[test]
    fn a_reply_to_an_ad_entry_opens_72_free_hours() {
        let mut t = Thread {
            last_inbound_ms: Some(NOW),
            last_referral_ms: Some(NOW),
            free_entry_point: None,
        };
        let reply = NOW + 2 * HOUR_MS;
        t.on_business_message(reply, || "fep-1".into());
        let fep = t.open_free_entry_point(reply).expect("opened");
        assert_eq!(fep.opened_ms, reply);
        // Everything is free inside it, marketing included, even once the window has closed.
        let later = reply + 48 * HOUR_MS;
        assert!(!t.window_open(later));
        let p = pricing(Category::Marketing, later, &t);
        assert_eq!(p["billable"], false);
        assert_eq!(p["type"], "free_entry_point");
        assert_eq!(p["category"], "referral_conversion");
        let c = conversation(later, &t).expect("conversation inside the window");
        assert_eq!(c["origin"]["type"], "referral_conversion");
        // Over after 72 h.
        assert!(conversation(reply + FREE_ENTRY_POINT_MS, &t).is_none());
        // A second reply does not open another.
        t.on_business_message(reply + 80 * HOUR_MS, || "fep-2".into());
        assert_eq!(
            t.free_entry_point.as_ref().map(|f| f.id.as_str()),
            Some("fep-1")
        );
    }

    #[test]
    fn a_late_reply_to_an_ad_entry_opens_nothing() {
        let mut t = Thread {
            last_inbound_ms: Some(NOW),
            last_referral_ms: Some(NOW),
            free_entry_point: None,
        };
        t.on_business_message(NOW + SERVICE_WINDOW_MS, || "fep".into());
        assert!(t.free_entry_point.is_none());
        assert!(conversation(NOW + SERVICE_WINDOW_MS, &t).is_none());
    }

    #[test]
    fn retries_are_immediate_then_less_and_less_frequent_for_seven_days() {
        let first = NOW;
        assert_eq!(retry_at(first, 1), Some(first));
        let mut gaps = Vec::new();
        let mut last = first;
        let mut attempt = 2;
        while let Some(at) = retry_at(first, attempt) {
            gaps.push(at - last);
            last = at;
            attempt += 1;
        }
        assert!(gaps.windows(2).all(|w| w[0] <= w[1]), "{gaps:?}");
        assert!(last - first <= RETRY_HORIZON_MS);
        assert!(last - first > RETRY_HORIZON_MS - 2 * 24 * HOUR_MS);
        assert_eq!(retry_at(first, 1000), None);
    }
}
