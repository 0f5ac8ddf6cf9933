//! The conversation controller: who answers a conversation — the bot, a human, or nobody yet
//! (queued for a human) — and what moves it from one to the other (ARCHITECTURE.md, "The rules").
//!
//! ```text
//!            customer asks for a human / the flow hands over
//!   Bot ───────────────────────────────────────────────▶ QueuedForHuman
//!    ▲  ▲                                                   │
//!    │  │ hand back (agent's click, N hours idle)           │ agent takes it, replies,
//!    │  └──────────────────── Human ◀───────────────────────┘ or the phone app answers
//!    │                          │
//!    │ next customer message    │ resolved (by an agent, or by the flow's end)
//!    └──────────────────── Resolved ◀──────────────────────
//! ```
//!
//! Any human reply — from the inbox, or from the business's phone through a coexistence echo —
//! pauses the bot at once; the bot never answers while a human holds the conversation or while
//! the customer waits for one. A customer can always ask for a human.

use serde::Serialize;

/// Who holds a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Holder {
    /// The bot answers.
    Bot,
    /// The customer waits for a human; nobody answers automatically.
    QueuedForHuman,
    /// A human answers; the bot is paused.
    Human,
    /// Done; the next customer message starts over.
    Resolved,
}

impl Holder {
    pub const ALL: [Self; 4] = [Self::Bot, Self::QueuedForHuman, Self::Human, Self::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bot => "bot",
            Self::QueuedForHuman => "queued_for_human",
            Self::Human => "human",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.as_str() == s)
    }

    /// Whether the bot may answer a customer's message in this state.
    pub fn bot_answers(self) -> bool {
        self == Self::Bot
    }
}

/// What happened to a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Happening {
    /// The customer wrote (or tapped a button).
    CustomerMessage,
    /// The customer asked for a human (a keyword, the deflection's button, an intent).
    CustomerAsksHuman,
    /// The bot's flow reached a handoff step, or its back-end failed.
    BotHandsOver,
    /// The bot's flow ended the conversation.
    BotResolves,
    /// An agent replied from the inbox.
    AgentReply,
    /// Someone answered from the WhatsApp Business app on the business's phone (an echo).
    PhoneReply,
    /// An agent took the conversation (or was assigned it) without replying yet.
    AgentTakes,
    /// An agent handed the conversation back to the bot.
    AgentHandsBack,
    /// An agent resolved the conversation.
    AgentResolves,
    /// An agent reopened a resolved conversation: it goes to a human.
    AgentReopens,
    /// No human wrote for the configured number of hours while holding it.
    HumanIdle,
}

impl Happening {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CustomerMessage => "customer_message",
            Self::CustomerAsksHuman => "customer_asks_human",
            Self::BotHandsOver => "bot_hands_over",
            Self::BotResolves => "bot_resolves",
            Self::AgentReply => "agent_reply",
            Self::PhoneReply => "phone_reply",
            Self::AgentTakes => "agent_takes",
            Self::AgentHandsBack => "agent_hands_back",
            Self::AgentResolves => "agent_resolves",
            Self::AgentReopens => "agent_reopens",
            Self::HumanIdle => "human_idle",
        }
    }
}

/// The rules that hand a conversation back to the bot, per business number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HandBack {
    /// After a conversation is resolved, its next customer message goes to the bot (otherwise to
    /// the queue for a human).
    pub after_resolve: bool,
    /// A conversation a human holds goes back to the bot after this many hours without a human
    /// message; `None`: never.
    pub after_idle_hours: Option<u32>,
}

impl Default for HandBack {
    fn default() -> Self {
        Self {
            after_resolve: true,
            after_idle_hours: Some(24),
        }
    }
}

/// A change of holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub from: Holder,
    pub to: Holder,
    pub cause: Happening,
}

impl Transition {
    /// The bot starts its flow over (it had not been answering before).
    pub fn bot_starts(&self) -> bool {
        self.to == Holder::Bot && self.from != Holder::Bot
    }
}

/// Where `happening` takes a conversation held by `from`; `None` when nothing changes.
/// `rules` are the number's hand-back rules; on a number without a bot, nothing ever moves to
/// or stays with [`Holder::Bot`] (pass `has_bot = false`).
pub fn next(
    from: Holder,
    happening: Happening,
    rules: HandBack,
    has_bot: bool,
) -> Option<Transition> {
    use Happening as H;
    use Holder::{Bot, Human, QueuedForHuman, Resolved};
    let to = match (from, happening) {
        // A customer message changes nothing but a resolved conversation, which starts over.
        (Resolved, H::CustomerMessage) if has_bot && rules.after_resolve => Bot,
        (Resolved, H::CustomerMessage) => QueuedForHuman,
        (_, H::CustomerMessage) => from,
        // Asking for a human while one already holds it, or waiting for one, changes nothing.
        (Bot | Resolved, H::CustomerAsksHuman | H::BotHandsOver) => QueuedForHuman,
        (QueuedForHuman | Human, H::CustomerAsksHuman | H::BotHandsOver) => from,
        // The bot can only end what it holds.
        (Bot, H::BotResolves) => Resolved,
        (_, H::BotResolves) => from,
        // Any human reply pauses the bot and takes the queue.
        (_, H::AgentReply | H::PhoneReply | H::AgentTakes | H::AgentReopens) => Human,
        (_, H::AgentHandsBack) if has_bot => Bot,
        (_, H::AgentHandsBack) => from,
        (_, H::AgentResolves) => Resolved,
        (Human, H::HumanIdle) if has_bot && rules.after_idle_hours.is_some() => Bot,
        (_, H::HumanIdle) => from,
    };
    (to != from).then_some(Transition {
        from,
        to,
        cause: happening,
    })
}

/// Whether a conversation a human holds, whose last human message (or taking) was at
/// `last_human_at`, is due back to the bot at `now` (both Unix seconds).
pub fn idle_due(rules: HandBack, has_bot: bool, last_human_at: i64, now: i64) -> bool {
    match rules.after_idle_hours {
        Some(hours) if has_bot => now.saturating_sub(last_human_at) >= i64::from(hours) * 3600,
        _ => false,
    }
}

/// The holder a stored conversation is in: its status says whether it is resolved, its handler
/// who holds it otherwise.
pub fn holder_of(status: &str, handler: &str) -> Holder {
    if status == "resolved" {
        return Holder::Resolved;
    }
    Holder::parse(handler)
        .filter(|h| *h != Holder::Resolved)
        .unwrap_or(Holder::Human)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Happening as H;
    use Holder::{Bot, Human, QueuedForHuman, Resolved};

    const RULES: HandBack = HandBack {
        after_resolve: true,
        after_idle_hours: Some(24),
    };

    fn to(from: Holder, h: Happening) -> Holder {
        next(from, h, RULES, true).map_or(from, |t| t.to)
    }

    #[test]
    fn the_bot_answers_only_while_it_holds_the_conversation() {
        assert!(Bot.bot_answers());
        for h in [QueuedForHuman, Human, Resolved] {
            assert!(!h.bot_answers(), "{h:?}");
        }
    }

    #[test]
    fn a_customer_message_keeps_the_holder_but_restarts_a_resolved_conversation() {
        for from in [Bot, QueuedForHuman, Human] {
            assert_eq!(next(from, H::CustomerMessage, RULES, true), None);
        }
        let t = next(Resolved, H::CustomerMessage, RULES, true).unwrap();
        assert_eq!(t.to, Bot);
        assert!(t.bot_starts());
    }

    #[test]
    fn without_hand_back_after_resolve_or_a_bot_a_returning_customer_waits_for_a_human() {
        let rules = HandBack {
            after_resolve: false,
            ..RULES
        };
        assert_eq!(
            next(Resolved, H::CustomerMessage, rules, true).unwrap().to,
            QueuedForHuman
        );
        assert_eq!(
            next(Resolved, H::CustomerMessage, RULES, false).unwrap().to,
            QueuedForHuman
        );
    }

    #[test]
    fn a_customer_can_always_ask_for_a_human() {
        assert_eq!(to(Bot, H::CustomerAsksHuman), QueuedForHuman);
        assert_eq!(to(Resolved, H::CustomerAsksHuman), QueuedForHuman);
        assert_eq!(to(QueuedForHuman, H::CustomerAsksHuman), QueuedForHuman);
        // Already with a human: stays there, not back in the queue.
        assert_eq!(to(Human, H::CustomerAsksHuman), Human);
        assert_eq!(to(Bot, H::BotHandsOver), QueuedForHuman);
    }

    #[test]
    fn any_human_reply_pauses_the_bot() {
        for from in Holder::ALL {
            for h in [H::AgentReply, H::PhoneReply, H::AgentTakes, H::AgentReopens] {
                assert_eq!(to(from, h), Human, "{from:?} {h:?}");
            }
        }
    }

    #[test]
    fn only_the_bot_ends_what_it_holds() {
        assert_eq!(to(Bot, H::BotResolves), Resolved);
        for from in [QueuedForHuman, Human] {
            assert_eq!(to(from, H::BotResolves), from);
        }
    }

    #[test]
    fn hand_back_rules() {
        assert_eq!(to(Human, H::AgentHandsBack), Bot);
        assert_eq!(to(QueuedForHuman, H::AgentHandsBack), Bot);
        assert_eq!(
            next(Human, H::AgentHandsBack, RULES, false),
            None,
            "no bot to hand back to"
        );
        assert_eq!(to(Human, H::HumanIdle), Bot);
        // Waiting for a human is not idleness of a human: the customer keeps waiting.
        assert_eq!(to(QueuedForHuman, H::HumanIdle), QueuedForHuman);
        let never = HandBack {
            after_idle_hours: None,
            ..RULES
        };
        assert_eq!(next(Human, H::HumanIdle, never, true), None);
        for from in Holder::ALL {
            assert_eq!(to(from, H::AgentResolves), Resolved);
        }
    }

    #[test]
    fn idle_is_due_after_the_configured_hours() {
        let start = 1_700_000_000;
        assert!(!idle_due(RULES, true, start, start + 24 * 3600 - 1));
        assert!(idle_due(RULES, true, start, start + 24 * 3600));
        assert!(!idle_due(RULES, false, start, start + 48 * 3600));
        let never = HandBack {
            after_idle_hours: None,
            ..RULES
        };
        assert!(!idle_due(never, true, start, start + 480 * 3600));
    }

    #[test]
    fn stored_columns_read_as_a_holder() {
        assert_eq!(holder_of("resolved", "bot"), Resolved);
        assert_eq!(holder_of("open", "bot"), Bot);
        assert_eq!(holder_of("pending", "queued_for_human"), QueuedForHuman);
        assert_eq!(holder_of("open", "human"), Human);
        assert_eq!(holder_of("open", "garbage"), Human);
        for h in Holder::ALL {
            assert_eq!(Holder::parse(h.as_str()), Some(h));
        }
    }

    #[test]
    fn every_transition_is_a_change() {
        for from in Holder::ALL {
            for h in [
                H::CustomerMessage,
                H::CustomerAsksHuman,
                H::BotHandsOver,
                H::BotResolves,
                H::AgentReply,
                H::PhoneReply,
                H::AgentTakes,
                H::AgentHandsBack,
                H::AgentResolves,
                H::AgentReopens,
                H::HumanIdle,
            ] {
                for has_bot in [true, false] {
                    if let Some(t) = next(from, h, RULES, has_bot) {
                        assert_ne!(t.from, t.to);
                        assert!(has_bot || t.to != Bot, "{from:?} {h:?} without a bot");
                    }
                }
            }
        }
    }
}
