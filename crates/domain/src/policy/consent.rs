//! Consent: whether the customer opted in to templates, and whether they stopped marketing
//! (cloud-api.md §6.3). Three sources, kept apart because they end differently:
//!
//! - an opt-in the business recorded (web form, checkbox, in-chat, a sign-up link, "START");
//! - Meta's `user_preferences` webhook (`stop` / `resume` / `signup`): a stop there is enforced by
//!   Meta itself (131050) and only the customer resuming in WhatsApp lifts it;
//! - an opt-out keyword the customer typed ([`super::keywords`]): guichet's own rule, lifted by an
//!   opt-in keyword.
//!
//! Webhooks arrive unordered, so each source keeps its latest event by Meta's timestamp; at the
//! same second a stop wins over a resume.

use serde::Serialize;

use super::keywords::KeywordKind;
use crate::Timestamp;

/// How an opt-in was collected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum OptInSource {
    /// Recorded by the business (web form, IVR, agent, API); the text says how.
    Recorded(String),
    /// Meta's `user_preferences` with `value: signup` (a sign-up link).
    SignupLink,
    /// The customer sent an opt-in keyword.
    Keyword,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptIn {
    pub at: Timestamp,
    pub source: OptInSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Preference {
    Stopped,
    Resumed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PreferenceAt {
    pub value: Preference,
    pub at: Timestamp,
}

/// `user_preferences[].value` (cloud-api.md §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserPreferenceValue {
    Stop,
    Resume,
    Signup,
}

impl UserPreferenceValue {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "stop" => Some(Self::Stop),
            "resume" => Some(Self::Resume),
            "signup" => Some(Self::Signup),
            _ => None,
        }
    }
}

/// Something that changes consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentEvent {
    OptIn(OptIn),
    /// A `user_preferences` item for `marketing_messages`.
    UserPreferences {
        value: UserPreferenceValue,
        at: Timestamp,
    },
    /// The customer sent a keyword.
    Keyword {
        kind: KeywordKind,
        at: Timestamp,
    },
}

/// Who stopped marketing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopSource {
    /// In WhatsApp, reported by the `user_preferences` webhook: Meta enforces it (131050).
    UserPreferences,
    /// By typing an opt-out keyword: guichet enforces it.
    Keyword,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MarketingStop {
    pub at: Timestamp,
    pub by: StopSource,
}

/// A customer's consent, as known to guichet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Consent {
    /// The latest opt-in.
    pub opt_in: Option<OptIn>,
    /// The latest `user_preferences` stop or resume.
    pub meta_marketing: Option<PreferenceAt>,
    /// The latest opt-out or opt-in keyword.
    pub keyword_marketing: Option<PreferenceAt>,
}

/// Keeps the later of two preferences; at the same second, a stop.
fn later(current: Option<PreferenceAt>, new: PreferenceAt) -> Option<PreferenceAt> {
    match current {
        Some(c) if c.at > new.at || (c.at == new.at && c.value == Preference::Stopped) => Some(c),
        _ => Some(new),
    }
}

impl Consent {
    /// Applies one event; the order events arrive in does not matter.
    pub fn record(&mut self, event: ConsentEvent) {
        match event {
            ConsentEvent::OptIn(o) => self.opt_in_at(o),
            ConsentEvent::UserPreferences { value, at } => match value {
                UserPreferenceValue::Signup => self.opt_in_at(OptIn {
                    at,
                    source: OptInSource::SignupLink,
                }),
                UserPreferenceValue::Stop | UserPreferenceValue::Resume => {
                    let value = if value == UserPreferenceValue::Stop {
                        Preference::Stopped
                    } else {
                        Preference::Resumed
                    };
                    self.meta_marketing = later(self.meta_marketing, PreferenceAt { value, at });
                }
            },
            ConsentEvent::Keyword { kind, at } => {
                let value = match kind {
                    KeywordKind::OptOut => Preference::Stopped,
                    KeywordKind::OptIn => {
                        self.opt_in_at(OptIn {
                            at,
                            source: OptInSource::Keyword,
                        });
                        Preference::Resumed
                    }
                };
                self.keyword_marketing = later(self.keyword_marketing, PreferenceAt { value, at });
            }
        }
    }

    fn opt_in_at(&mut self, o: OptIn) {
        if self.opt_in.as_ref().is_none_or(|c| c.at <= o.at) {
            self.opt_in = Some(o);
        }
    }

    pub fn has_opt_in(&self) -> bool {
        self.opt_in.is_some()
    }

    /// Whether marketing is stopped, and by whom. Meta's stop comes first: it is the one Meta
    /// enforces.
    pub fn marketing_stop(&self) -> Option<MarketingStop> {
        let stopped = |p: Option<PreferenceAt>| p.filter(|p| p.value == Preference::Stopped);
        stopped(self.meta_marketing)
            .map(|p| MarketingStop {
                at: p.at,
                by: StopSource::UserPreferences,
            })
            .or_else(|| {
                stopped(self.keyword_marketing).map(|p| MarketingStop {
                    at: p.at,
                    by: StopSource::Keyword,
                })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_unix(s)
    }

    fn prefs(value: UserPreferenceValue, at: i64) -> ConsentEvent {
        ConsentEvent::UserPreferences { value, at: ts(at) }
    }

    #[test]
    fn the_latest_user_preference_wins_whatever_the_arrival_order() {
        let events = [
            prefs(UserPreferenceValue::Stop, 10),
            prefs(UserPreferenceValue::Resume, 20),
        ];
        let mut a = Consent::default();
        let mut b = Consent::default();
        for e in events.iter().cloned() {
            a.record(e);
        }
        for e in events.iter().rev().cloned() {
            b.record(e);
        }
        assert_eq!(a, b);
        assert_eq!(a.marketing_stop(), None);

        a.record(prefs(UserPreferenceValue::Stop, 20));
        assert_eq!(
            a.marketing_stop(),
            Some(MarketingStop {
                at: ts(20),
                by: StopSource::UserPreferences
            })
        );
    }

    #[test]
    fn a_start_keyword_lifts_a_keyword_stop_but_not_meta_s() {
        let mut c = Consent::default();
        c.record(ConsentEvent::Keyword {
            kind: KeywordKind::OptOut,
            at: ts(5),
        });
        assert_eq!(c.marketing_stop().map(|s| s.by), Some(StopSource::Keyword));
        c.record(ConsentEvent::Keyword {
            kind: KeywordKind::OptIn,
            at: ts(6),
        });
        assert_eq!(c.marketing_stop(), None);
        assert_eq!(
            c.opt_in.as_ref().map(|o| &o.source),
            Some(&OptInSource::Keyword)
        );

        c.record(prefs(UserPreferenceValue::Stop, 7));
        c.record(ConsentEvent::Keyword {
            kind: KeywordKind::OptIn,
            at: ts(8),
        });
        assert_eq!(
            c.marketing_stop().map(|s| s.by),
            Some(StopSource::UserPreferences)
        );
    }

    #[test]
    fn signup_links_record_an_opt_in_and_values_parse() {
        let mut c = Consent::default();
        assert!(!c.has_opt_in());
        c.record(prefs(UserPreferenceValue::Signup, 3));
        assert_eq!(
            c.opt_in,
            Some(OptIn {
                at: ts(3),
                source: OptInSource::SignupLink
            })
        );
        c.record(ConsentEvent::OptIn(OptIn {
            at: ts(1),
            source: OptInSource::Recorded("web form".into()),
        }));
        assert_eq!(c.opt_in.map(|o| o.at), Some(ts(3)));
        assert_eq!(
            UserPreferenceValue::parse("STOP"),
            Some(UserPreferenceValue::Stop)
        );
        assert_eq!(UserPreferenceValue::parse("maybe"), None);
    }
}
