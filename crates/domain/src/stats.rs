//! What the overview measures, from the messages and the conversations' changes: first-response
//! time (a customer waits from their first unanswered message to the first reply of a person)
//! and resolution time (from the customer's first message of an episode to its resolution),
//! attributed to the person who answered or resolved and to the business number.
//!
//! Bots' and the API's messages do not count as a first response: the measure is how long
//! customers wait for a human. Times are Meta's (seconds) for messages and guichet's for
//! resolutions (an agent's click), both in seconds here.

use std::collections::BTreeMap;

/// A message, as the measures see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatMessage {
    pub conversation_id: i64,
    pub phone_number_id: String,
    pub inbound: bool,
    pub at: i64,
    /// The person who wrote it (outbound messages from the inbox).
    pub agent: Option<i64>,
}

/// A conversation resolved (or reopened) by someone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatResolution {
    pub conversation_id: i64,
    pub at: i64,
    pub resolved: bool,
    pub by: Option<i64>,
}

/// One measured wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measure {
    pub conversation_id: i64,
    pub phone_number_id: String,
    pub by: Option<i64>,
    pub seconds: i64,
    /// When it ended (the reply, the resolution).
    pub at: i64,
}

/// First responses: each wait of a customer for a person, ended by that person's reply.
/// `messages` in any order.
pub fn first_responses(messages: &[StatMessage]) -> Vec<Measure> {
    let mut by_conversation: BTreeMap<i64, Vec<&StatMessage>> = BTreeMap::new();
    for m in messages {
        by_conversation
            .entry(m.conversation_id)
            .or_default()
            .push(m);
    }
    let mut out = Vec::new();
    for (_, mut list) in by_conversation {
        list.sort_by_key(|m| m.at);
        let mut waiting_since: Option<i64> = None;
        for m in list {
            if m.inbound {
                waiting_since.get_or_insert(m.at);
            } else if let (Some(since), Some(agent)) = (waiting_since, m.agent) {
                out.push(Measure {
                    conversation_id: m.conversation_id,
                    phone_number_id: m.phone_number_id.clone(),
                    by: Some(agent),
                    seconds: (m.at - since).max(0),
                    at: m.at,
                });
                waiting_since = None;
            }
        }
    }
    out
}

/// Resolutions: from the first customer message after the previous resolution (or the
/// beginning) to the next resolution. A resolution with no customer message before it is not
/// measured.
pub fn resolutions(messages: &[StatMessage], changes: &[StatResolution]) -> Vec<Measure> {
    #[derive(Debug)]
    enum Item<'a> {
        Message(&'a StatMessage),
        Change(&'a StatResolution),
    }
    let mut by_conversation: BTreeMap<i64, Vec<(i64, Item<'_>)>> = BTreeMap::new();
    for m in messages {
        by_conversation
            .entry(m.conversation_id)
            .or_default()
            .push((m.at, Item::Message(m)));
    }
    for c in changes {
        by_conversation
            .entry(c.conversation_id)
            .or_default()
            .push((c.at, Item::Change(c)));
    }
    let mut out = Vec::new();
    for (_, mut items) in by_conversation {
        items.sort_by_key(|(at, _)| *at);
        let number = items.iter().find_map(|(_, i)| match i {
            Item::Message(m) => Some(m.phone_number_id.clone()),
            Item::Change(_) => None,
        });
        let mut opened: Option<i64> = None;
        for (at, item) in items {
            match item {
                Item::Message(m) if m.inbound => {
                    opened.get_or_insert(at);
                }
                Item::Message(_) => {}
                Item::Change(c) if c.resolved => {
                    if let Some(since) = opened.take() {
                        out.push(Measure {
                            conversation_id: c.conversation_id,
                            phone_number_id: number.clone().unwrap_or_default(),
                            by: c.by,
                            seconds: (at - since).max(0),
                            at,
                        });
                    }
                }
                Item::Change(_) => {}
            }
        }
    }
    out
}

/// The median of some durations (the lower middle for an even count); `None` when empty.
pub fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values[(values.len() - 1) / 2])
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn msg(conversation_id: i64, inbound: bool, at: i64, agent: Option<i64>) -> StatMessage {
        StatMessage {
            conversation_id,
            phone_number_id: "pn".into(),
            inbound,
            at,
            agent,
        }
    }

    #[test]
    fn a_wait_starts_at_the_first_unanswered_message_and_ends_at_a_person_s_reply() {
        let m = [
            msg(1, true, 100, None),
            msg(1, true, 130, None),     // still the same wait
            msg(1, false, 150, None),    // a bot or the API: not a person
            msg(1, false, 400, Some(7)), // the person's reply: 300 s
            msg(1, false, 410, Some(7)), // no wait open
            msg(1, true, 1000, None),
            msg(1, false, 1060, Some(8)), // 60 s, by another agent
            msg(2, true, 50, None),       // never answered: not measured
        ];
        let r = first_responses(&m);
        let got: Vec<(i64, Option<i64>)> = r.iter().map(|x| (x.seconds, x.by)).collect();
        assert_eq!(got, [(300, Some(7)), (60, Some(8))]);
    }

    #[test]
    fn resolution_runs_from_the_first_customer_message_to_the_resolution() {
        let m = [
            msg(1, true, 100, None),
            msg(1, false, 200, Some(7)),
            msg(1, true, 5000, None),
        ];
        let changes = [
            StatResolution {
                conversation_id: 1,
                at: 1100,
                resolved: true,
                by: Some(7),
            },
            StatResolution {
                conversation_id: 1,
                at: 1200,
                resolved: true,
                by: Some(7),
            }, // nothing new
            StatResolution {
                conversation_id: 1,
                at: 5600,
                resolved: true,
                by: Some(9),
            },
        ];
        let got: Vec<(i64, Option<i64>)> = resolutions(&m, &changes)
            .iter()
            .map(|x| (x.seconds, x.by))
            .collect();
        assert_eq!(got, [(1000, Some(7)), (600, Some(9))]);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [5]), Some(5));
        assert_eq!(median(&mut [9, 1, 5]), Some(5));
        assert_eq!(median(&mut [4, 1, 3, 2]), Some(2));
    }

    proptest! {
        /// Every measured wait is non-negative, and there are never more first responses than
        /// agent replies, nor than customer messages.
        #[test]
        fn measures_are_bounded(raw in proptest::collection::vec((0..3i64, any::<bool>(), 0..10_000i64, proptest::option::of(1..4i64)), 0..60)) {
            let m: Vec<StatMessage> = raw.iter().map(|(c, i, at, a)| msg(*c, *i, *at, if *i { None } else { *a })).collect();
            let r = first_responses(&m);
            let replies = m.iter().filter(|x| !x.inbound && x.agent.is_some()).count();
            let customer = m.iter().filter(|x| x.inbound).count();
            prop_assert!(r.len() <= replies && r.len() <= customer);
            prop_assert!(r.iter().all(|x| x.seconds >= 0));
        }
    }
}
