//! The bot engine: answers the customer messages of conversations a bot holds, with the number's
//! flow (`domain::flow`), its scope guard, the business back-end and the same preflight and
//! outbox as agents (ARCHITECTURE.md: "agent UI / bot / REST API ─▶ send intent ─▶ preflight").
//!
//! Ingest queues a job with every customer message a bot holds, in the message's transaction.
//! One loop per node claims jobs (a conversation's one at a time, in order), classifies free
//! text, runs the flow (calling the back-end when it asks), and writes in one transaction the
//! answers to send, where the conversation stands, the guard's decision, the controller's
//! transition and the job's end. A job that fails is tried again later; after
//! `bots.max_attempts` the conversation goes to a human.

mod backend;
pub mod controller;
pub mod guard;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use domain::controller::{Happening, Holder};
use domain::flow::{After, CallOutcome, Flow, Input, Session, Turn, customer_vars, needs_guard};
use domain::guard::Decision;
use serde_json::{Value, json};
use store::{BotJobRow, BotSessionRow, GuardDecisionRow, NewEvent};
use tokio::sync::{Notify, watch};

use crate::AppState;
use crate::config::Settings;
use crate::outbound::{self, Draft};
pub use backend::Backend;
pub use guard::Guard;

/// How long a claimed job is held: longer than a turn with a few back-end calls.
const LEASE: Duration = Duration::from_secs(120);
/// How often due jobs are looked for besides being woken by ingest.
const POLL: Duration = Duration::from_secs(1);
/// How often conversations idle in a human's hands are looked for.
const IDLE_SWEEP_MS: i64 = 60_000;
/// Back-end calls in one turn at most (a flow's call steps chain through `on_ok`).
const MAX_CALLS_PER_TURN: usize = 8;

/// Each bot number's flow and guard.
#[derive(Debug)]
pub struct Bot {
    pub flow: Arc<Flow>,
    /// The flow's version and its intents' fingerprint, recorded with each decision.
    pub version: String,
    pub guard: Arc<Guard>,
}

/// The bots of this node, built at start.
#[derive(Debug, Default)]
pub struct Bots {
    by_number: HashMap<String, Bot>,
}

impl Bots {
    /// Builds every configured bot's guard (loading the embedding model once if a bot uses it;
    /// CPU-bound, run it off the async runtime).
    pub fn build(settings: &Settings) -> anyhow::Result<Self> {
        let mut by_number = HashMap::new();
        if settings.bots.flows.is_empty() {
            return Ok(Self { by_number });
        }
        let model = match settings.guard.tier {
            crate::config::GuardTier::Embedding => Some(guard::load_model(&settings.guard)?),
            crate::config::GuardTier::Fast => None,
        };
        for (number, flow) in &settings.bots.flows {
            let guard = Guard::build(&flow.guard_intents(), &settings.guard, model.as_ref())?;
            tracing::info!(
                number = %number,
                flow = %flow.name,
                tier = guard.tier().as_str(),
                threshold = guard.threshold(),
                "bot ready"
            );
            by_number.insert(
                number.clone(),
                Bot {
                    flow: flow.clone(),
                    version: guard::version_of(flow),
                    guard: Arc::new(guard),
                },
            );
        }
        Ok(Self { by_number })
    }

    pub fn of(&self, phone_number_id: &str) -> Option<&Bot> {
        self.by_number.get(phone_number_id)
    }
}

/// The bot loop of a node.
#[expect(
    missing_debug_implementations,
    reason = "holds the whole service state"
)]
pub struct Worker {
    pub state: Arc<AppState>,
    pub bots: Arc<Bots>,
    pub backend: Backend,
    pub node: String,
    pub wake: Arc<Notify>,
}

/// What the customer's message gives the flow.
enum Said {
    Reply(String),
    Text(String),
}

/// What a stored customer message says to a bot; `None` for what a bot cannot read (a reaction,
/// a sticker, a location, media without a caption…), which it does not answer.
fn said_in(message: &store::MessageRow) -> Option<Said> {
    let content: Value = serde_json::from_str(&message.content).unwrap_or(Value::Null);
    let field = |k: &str| content.get(k).and_then(Value::as_str).map(str::to_owned);
    match content.get("kind").and_then(Value::as_str)? {
        "text" => field("body").map(Said::Text),
        "interactive" => field("id").map(Said::Reply),
        // A template's quick reply: its payload, or its label typed.
        "button" => field("payload").or_else(|| field("text")).map(Said::Text),
        "image" | "video" | "document" => field("caption")
            .filter(|c| !c.trim().is_empty())
            .map(Said::Text),
        _ => None,
    }
}

/// Why a job could not be done this time.
#[derive(Debug)]
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Self(e.to_string())
    }
}

impl Worker {
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut last_sweep = i64::MIN;
        loop {
            let now = self.state.clock.now_ms();
            if now.saturating_sub(last_sweep) >= IDLE_SWEEP_MS {
                last_sweep = now;
                if let Err(e) = self.hand_back_idle().await {
                    tracing::warn!(error = %e, "bots: the idle hand-back failed");
                }
            }
            let jobs = match self
                .state
                .store
                .claim_bot_jobs(&self.node, now, now + lease_ms(), 16)
                .await
            {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(error = %e, "bots: cannot claim jobs");
                    Vec::new()
                }
            };
            let busy = !jobs.is_empty();
            for job in jobs {
                if *stop.borrow() {
                    return;
                }
                self.work(&job).await;
            }
            if busy {
                continue;
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => return,
            }
        }
    }

    async fn work(&self, job: &BotJobRow) {
        let Err(Failure(error)) = self.answer(job).await else {
            return;
        };
        let store = &self.state.store;
        let now = self.state.clock.now_ms();
        let attempts = u32::try_from(job.attempts).unwrap_or(u32::MAX);
        if attempts < self.state.settings.bots.max_attempts {
            let backoff = 1_000_i64 << attempts.min(10);
            tracing::warn!(job = job.id, attempts, error = %error, "bots: answering failed, will retry");
            let _ = store
                .retry_bot_job(job.id, &self.node, now + backoff, &error, now)
                .await;
            return;
        }
        tracing::warn!(job = job.id, attempts, error = %error, "bots: answering failed for good, the conversation goes to a person");
        let why = format!(
            "the bot could not answer after {attempts} attempts ({error}): a person should answer"
        );
        if let Err(e) = self.give_up(job, &why, now).await {
            tracing::warn!(job = job.id, error = %e, "bots: cannot hand the conversation over");
        }
    }

    /// After the last attempt: a human takes over, and the job ends.
    async fn give_up(&self, job: &BotJobRow, why: &str, now: i64) -> store::Result<()> {
        let store = &self.state.store;
        let mut tx = store.begin().await?;
        controller::apply(
            tx.as_mut(),
            &self.state.settings,
            job.conversation_id,
            Happening::BotHandsOver,
            None,
            now,
        )
        .await?;
        tx.insert_event(&NewEvent {
            kind: "bot.failed".into(),
            conversation_id: Some(job.conversation_id),
            message_id: Some(job.message_id),
            payload: json!({ "error": why }).to_string(),
            created_at_ms: now,
        })
        .await?;
        tx.commit().await?;
        store.fail_bot_job(job.id, &self.node, why, now).await?;
        self.state.live.poke();
        Ok(())
    }

    /// Ends a job without answering (a human holds the conversation, or its number has no bot).
    async fn skip(&self, job: &BotJobRow) -> Result<(), Failure> {
        let mut tx = self.state.store.begin().await?;
        tx.finish_bot_job(job.id, &self.node, self.state.clock.now_ms())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    #[expect(clippy::too_many_lines, reason = "one turn, read top to bottom")]
    async fn answer(&self, job: &BotJobRow) -> Result<(), Failure> {
        let state = &self.state;
        let store = &state.store;
        let Some(holder) = store.holder_now(job.conversation_id).await? else {
            return self.skip(job).await;
        };
        let Some(bot) = self.bots.of(&holder.phone_number_id) else {
            return self.skip(job).await;
        };
        if !domain::controller::holder_of(&holder.status, &holder.handler).bot_answers() {
            // The bot stays silent while a human holds the conversation or is awaited.
            return self.skip(job).await;
        }
        let (Some(message), Some(view)) = (
            store.message(job.message_id).await?,
            store.conversation(job.conversation_id).await?,
        ) else {
            return self.skip(job).await;
        };
        let Some(said) = said_in(&message) else {
            return self.skip(job).await;
        };
        let flow = bot.flow.as_ref();
        let session: Option<Session> = store
            .bot_session(job.conversation_id)
            .await?
            .filter(|s| s.flow == flow.name)
            .and_then(|s| serde_json::from_str(&s.state).ok());
        let customer = customer_vars(
            view.contact_profile_name.as_deref(),
            view.contact_wa_id.as_deref(),
        );

        let decision = match &said {
            Said::Text(text) if needs_guard(flow, session.as_ref(), text) => {
                let guard = bot.guard.clone();
                let text = text.clone();
                let d = tokio::task::spawn_blocking(move || guard.classify(&text)).await??;
                Some(d)
            }
            _ => None,
        };
        let input = match &said {
            Said::Reply(id) => Input::Reply { id },
            Said::Text(text) => Input::Text {
                text,
                decision: decision.as_ref(),
            },
        };
        let mut turn = flow.turn(session, customer, input);
        let mut say = std::mem::take(&mut turn.say);
        let mut calls = 0;
        while let After::Call(request) = &turn.after {
            calls += 1;
            let outcome = if calls > MAX_CALLS_PER_TURN {
                CallOutcome::Failed
            } else {
                let key = format!("guichet-{}-{}-{calls}", job.message_id, request.step);
                self.backend.call(request, &key).await
            };
            turn = flow.after_call(turn.session, outcome);
            say.append(&mut turn.say);
        }
        let Turn {
            session,
            after,
            deflected,
            ..
        } = turn;

        // Checked like any send, before the transaction: what preflight refuses is not sent.
        let mut drafts = Vec::new();
        for body in say {
            // To the customer's WhatsApp id, else to their business-scoped id.
            let request = wa::send::SendRequest {
                to: view.contact_wa_id.clone(),
                recipient: view
                    .contact_wa_id
                    .is_none()
                    .then(|| view.contact_user_id.clone())
                    .flatten(),
                ..wa::send::SendRequest::new(String::new(), body)
            };
            let draft = Draft::new(
                holder.phone_number_id.clone(),
                request,
                None,
                store::Author::Bot,
            )
            .map_err(|e| Failure(format!("{e:?}")))?;
            let assessment = outbound::assess(state, &draft)
                .await
                .map_err(|e| Failure(format!("{e:?}")))?;
            drafts.push((draft, assessment));
        }

        let now = state.clock.now_ms();
        let mut tx = store.begin().await?;
        let still = tx
            .holder(job.conversation_id)
            .await?
            .map(|h| domain::controller::holder_of(&h.status, &h.handler));
        if still != Some(Holder::Bot) {
            // A human took the conversation while the bot worked: its answers are dropped.
            tx.finish_bot_job(job.id, &self.node, now).await?;
            tx.commit().await?;
            return Ok(());
        }
        for (draft, assessment) in &drafts {
            if let domain::policy::Verdict::Allowed(clearance) = &assessment.verdict {
                outbound::queue_in(state, tx.as_mut(), draft, assessment, clearance)
                    .await
                    .map_err(|e| Failure(format!("{e:?}")))?;
            } else {
                tx.insert_event(&NewEvent {
                    kind: "bot.refused".into(),
                    conversation_id: Some(job.conversation_id),
                    message_id: Some(job.message_id),
                    payload: outbound::verdict_json(assessment).to_string(),
                    created_at_ms: now,
                })
                .await?;
            }
        }
        match &after {
            After::Wait => {
                tx.save_bot_session(&BotSessionRow {
                    conversation_id: job.conversation_id,
                    flow: flow.name.clone(),
                    flow_version: bot.version.clone(),
                    state: serde_json::to_string(&session)?,
                    updated_at_ms: now,
                })
                .await?;
            }
            After::Handoff { .. } | After::Resolve | After::Call(_) => {
                tx.end_bot_session(job.conversation_id).await?;
            }
        }
        if let (Some(d), Said::Text(_)) = (&decision, &said) {
            let outcome = if matches!(after, After::Handoff { .. }) {
                "handed_over"
            } else if deflected {
                "deflected"
            } else {
                "answered"
            };
            tx.record_decision(&decision_row(
                job,
                &holder.phone_number_id,
                bot,
                d,
                outcome,
                now,
            ))
            .await?;
        }
        let happening = match after {
            After::Handoff { asked: true } => Some(Happening::CustomerAsksHuman),
            After::Handoff { asked: false } | After::Call(_) => Some(Happening::BotHandsOver),
            After::Resolve => Some(Happening::BotResolves),
            After::Wait => None,
        };
        if let Some(h) = happening {
            controller::apply_from(
                tx.as_mut(),
                &state.settings,
                job.conversation_id,
                &holder.phone_number_id,
                Holder::Bot,
                h,
                None,
                now,
            )
            .await?;
        }
        if !tx.finish_bot_job(job.id, &self.node, now).await? {
            // The lease ran out and another node answers: this answer is dropped with the
            // transaction.
            return Ok(());
        }
        tx.commit().await?;
        state.wakers.wake(&holder.phone_number_id);
        state.live.poke();
        Ok(())
    }

    /// Hands back to the bot the conversations a human holds but left idle past the rule.
    async fn hand_back_idle(&self) -> store::Result<()> {
        let settings = &self.state.settings;
        let Some(hours) = settings.bots.hand_back.after_idle_hours else {
            return Ok(());
        };
        let now = self.state.clock.now_ms();
        let since = now - i64::from(hours) * 3_600_000;
        for number in settings.bots.flows.keys() {
            let ids = self
                .state
                .store
                .idle_human_conversations(number, since, 100)
                .await?;
            for id in ids {
                let mut tx = self.state.store.begin().await?;
                controller::apply(tx.as_mut(), settings, id, Happening::HumanIdle, None, now)
                    .await?;
                tx.commit().await?;
                self.state.live.poke();
            }
        }
        Ok(())
    }
}

fn lease_ms() -> i64 {
    i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX)
}

fn decision_row(
    job: &BotJobRow,
    number: &str,
    bot: &Bot,
    d: &Decision,
    outcome: &str,
    now: i64,
) -> GuardDecisionRow {
    let (decision, intent, score, general) = match d {
        Decision::InScope { intent, score } => ("in_scope", Some(intent.clone()), *score, false),
        Decision::OutOfScope {
            score,
            nearest,
            general_request,
        } => ("out_of_scope", nearest.clone(), *score, *general_request),
    };
    GuardDecisionRow {
        id: 0,
        conversation_id: job.conversation_id,
        message_id: job.message_id,
        phone_number_id: number.to_owned(),
        flow: bot.flow.name.clone(),
        flow_version: bot.version.clone(),
        tier: bot.guard.tier().as_str().to_owned(),
        decision: decision.to_owned(),
        intent,
        score: f64::from(score),
        threshold: f64::from(bot.guard.threshold()),
        general_request: general,
        outcome: outcome.to_owned(),
        decided_at_ms: now,
    }
}

/// Starts the bot loop of this node, if any number has a bot.
pub fn start(
    state: &Arc<AppState>,
    bots: Arc<Bots>,
    node: String,
    wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    if state.settings.bots.flows.is_empty() {
        return None;
    }
    let worker = Worker {
        state: state.clone(),
        backend: Backend::new(&state.settings.bots),
        bots,
        node,
        wake,
    };
    Some(tokio::spawn(worker.run(stop)))
}
