//! Bots' storage: the queue of customer messages a bot must answer, where each conversation
//! stands in its flow, every scope-guard decision and every handoff (the proof, for the business,
//! of what its bot did).
//!
//! A job is queued in the transaction that records the customer's message, so that no message a
//! bot holds is ever left unanswered by a crash; a conversation's jobs run one at a time and in
//! order (only the oldest queued job of a conversation can be claimed), so that a bot never
//! answers a second message before the first.

use async_trait::async_trait;
use serde::Serialize;

use crate::Result;

/// A claimed job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct BotJobRow {
    pub id: i64,
    pub conversation_id: i64,
    pub message_id: i64,
    /// Attempts started (counted when claimed).
    pub attempts: i64,
    pub created_at_ms: i64,
}

/// Where a conversation stands in its flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct BotSessionRow {
    pub conversation_id: i64,
    pub flow: String,
    pub flow_version: String,
    /// The flow engine's session, as JSON.
    pub state: String,
    pub updated_at_ms: i64,
}

/// Who holds a conversation, read inside a transaction (and, on Postgres, locked by it).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HolderRow {
    pub phone_number_id: String,
    pub status: String,
    pub handler: String,
}

/// One scope-guard decision.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct GuardDecisionRow {
    pub id: i64,
    pub conversation_id: i64,
    pub message_id: i64,
    pub phone_number_id: String,
    pub flow: String,
    pub flow_version: String,
    /// `fast` or `embedding`.
    pub tier: String,
    /// `in_scope` or `out_of_scope`.
    pub decision: String,
    /// The intent recognised, or (out of scope) the nearest.
    pub intent: Option<String>,
    pub score: f64,
    pub threshold: f64,
    /// Whether a generic general-assistant request was nearer than any intent.
    pub general_request: bool,
    /// `answered`, `deflected` or `handed_over`.
    pub outcome: String,
    pub decided_at_ms: i64,
}

/// A decision to record (`id` is ignored).
pub type NewGuardDecision = GuardDecisionRow;

/// A handoff from the bot to the queue for a human.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHandoff {
    pub conversation_id: i64,
    pub phone_number_id: String,
    pub flow: String,
    /// `customer_asks_human` or `bot_hands_over`.
    pub cause: String,
    pub at_ms: i64,
}

/// Counts of decisions over a period, by number, flow version, decision and outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DecisionCount {
    pub phone_number_id: String,
    pub flow: String,
    pub flow_version: String,
    pub tier: String,
    pub decision: String,
    pub outcome: String,
    pub count: i64,
}

/// Counts of handoffs over a period, by number and cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct HandoffCount {
    pub phone_number_id: String,
    pub flow: String,
    pub cause: String,
    pub count: i64,
}

/// Which decisions to list: newest first, over `[from_ms, to_ms)`, before `before_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionQuery {
    pub from_ms: i64,
    pub to_ms: i64,
    pub phone_number_id: Option<String>,
    pub before_id: Option<i64>,
    pub limit: i64,
}

/// The bots' reads and queue operations.
#[async_trait]
pub trait BotStore: Send + Sync {
    /// Takes up to `limit` due jobs, each the oldest queued job of its conversation and not
    /// held by a running lease; each is held by `node` until `lease_until_ms` and counts one
    /// more attempt.
    async fn claim_bot_jobs(
        &self,
        node: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<BotJobRow>>;

    /// Tries a job `node` holds again at `next_attempt_at_ms`; `false` if it no longer holds it.
    async fn retry_bot_job(
        &self,
        id: i64,
        node: &str,
        next_attempt_at_ms: i64,
        error: &str,
        now_ms: i64,
    ) -> Result<bool>;

    /// Gives a job up (`error` says why and what to do): the conversation's next job can run.
    async fn fail_bot_job(&self, id: i64, node: &str, error: &str, now_ms: i64) -> Result<bool>;

    async fn bot_session(&self, conversation_id: i64) -> Result<Option<BotSessionRow>>;

    /// Who holds a conversation, read outside any transaction.
    async fn holder_now(&self, conversation_id: i64) -> Result<Option<HolderRow>>;

    /// Decisions, newest first.
    async fn guard_decisions(&self, query: &DecisionQuery) -> Result<Vec<GuardDecisionRow>>;

    /// The decision recorded for a message, if any.
    async fn guard_decision_of(&self, message_id: i64) -> Result<Option<GuardDecisionRow>>;

    /// Decisions and handoffs over `[from_ms, to_ms)`, counted.
    async fn bot_summary(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(Vec<DecisionCount>, Vec<HandoffCount>)>;

    /// Conversations of `phone_number_id` that a human holds (not resolved) with no human act
    /// since `since_ms`: the handler set before it and no agent or phone message after it.
    async fn idle_human_conversations(
        &self,
        phone_number_id: &str,
        since_ms: i64,
        limit: i64,
    ) -> Result<Vec<i64>>;

    /// Jobs still queued (for health and tests).
    async fn queued_bot_jobs(&self) -> Result<i64>;
}

/// The bots' writes that belong to a transaction.
#[async_trait]
pub trait BotTx: Send {
    /// Queues a job for a customer's message; `None` if it was queued before.
    async fn queue_bot_job(
        &mut self,
        conversation_id: i64,
        message_id: i64,
        at_ms: i64,
    ) -> Result<Option<i64>>;

    /// Marks a job `node` holds done; `false` if it no longer holds it (its lease ran out and
    /// another node took it: this transaction should then roll back).
    async fn finish_bot_job(&mut self, id: i64, node: &str, now_ms: i64) -> Result<bool>;

    /// Who holds a conversation now; on Postgres the row stays locked until the transaction
    /// ends, so that a human's take and the bot's answer do not cross.
    async fn holder(&mut self, conversation_id: i64) -> Result<Option<HolderRow>>;

    async fn save_bot_session(&mut self, session: &BotSessionRow) -> Result<()>;

    /// Forgets where the conversation stood: the bot starts over with it.
    async fn end_bot_session(&mut self, conversation_id: i64) -> Result<()>;

    /// Records a decision; `false` if one was recorded for this message before.
    async fn record_decision(&mut self, decision: &NewGuardDecision) -> Result<bool>;

    async fn record_handoff(&mut self, handoff: &NewHandoff) -> Result<()>;
}

pub(crate) const QUEUE_BOT_JOB: &str = "INSERT INTO bot_jobs (conversation_id, message_id, \
     state, next_attempt_at_ms, created_at_ms, updated_at_ms) VALUES ($1, $2, 'queued', $3, $3, $3) \
     ON CONFLICT (message_id) DO NOTHING RETURNING id";

/// Due jobs that are the oldest queued job of their conversation and whose lease (if any) ran
/// out. `$1` now, `$2` lease end, `$3` node, `$4` limit.
macro_rules! claim_bot_jobs {
    ($lock:literal) => {
        concat!(
            "UPDATE bot_jobs SET attempts = attempts + 1, locked_until_ms = $2, locked_by = $3, \
               updated_at_ms = $1 \
             WHERE id IN (SELECT j.id FROM bot_jobs j WHERE j.state = 'queued' \
               AND j.next_attempt_at_ms <= $1 \
               AND (j.locked_until_ms IS NULL OR j.locked_until_ms <= $1) \
               AND NOT EXISTS (SELECT 1 FROM bot_jobs o WHERE o.conversation_id = j.conversation_id \
                 AND o.state = 'queued' AND o.id < j.id) \
               ORDER BY j.id LIMIT $4",
            $lock,
            ") RETURNING id, conversation_id, message_id, attempts, created_at_ms"
        )
    };
}

pub(crate) const CLAIM_BOT_JOBS_SQLITE: &str = claim_bot_jobs!("");
pub(crate) const CLAIM_BOT_JOBS_POSTGRES: &str = claim_bot_jobs!(" FOR UPDATE SKIP LOCKED");

/// Whether any job is due: SQLite reads this before taking the writer for a claim.
pub(crate) const BOT_JOB_DUE: &str = "SELECT 1 FROM bot_jobs WHERE state = 'queued' \
     AND next_attempt_at_ms <= $1 AND (locked_until_ms IS NULL OR locked_until_ms <= $1) LIMIT 1";

pub(crate) const RETRY_BOT_JOB: &str = "UPDATE bot_jobs SET next_attempt_at_ms = $3, \
     last_error = $4, locked_until_ms = NULL, locked_by = NULL, updated_at_ms = $5 \
     WHERE id = $1 AND locked_by = $2 AND state = 'queued'";

pub(crate) const FAIL_BOT_JOB: &str = "UPDATE bot_jobs SET state = 'failed', last_error = $3, \
     locked_until_ms = NULL, locked_by = NULL, updated_at_ms = $4 \
     WHERE id = $1 AND locked_by = $2 AND state = 'queued'";

pub(crate) const FINISH_BOT_JOB: &str = "UPDATE bot_jobs SET state = 'done', \
     locked_until_ms = NULL, locked_by = NULL, updated_at_ms = $3 \
     WHERE id = $1 AND locked_by = $2 AND state = 'queued'";

pub(crate) const QUEUED_BOT_JOBS: &str = "SELECT COUNT(*) FROM bot_jobs WHERE state = 'queued'";

pub(crate) const HOLDER: &str =
    "SELECT phone_number_id, status, handler FROM conversations WHERE id = $1";
pub(crate) const HOLDER_POSTGRES: &str =
    "SELECT phone_number_id, status, handler FROM conversations WHERE id = $1 FOR UPDATE";

pub(crate) const BOT_SESSION: &str = "SELECT conversation_id, flow, flow_version, state, \
     updated_at_ms FROM bot_sessions WHERE conversation_id = $1";

pub(crate) const SAVE_BOT_SESSION: &str = "INSERT INTO bot_sessions (conversation_id, flow, \
     flow_version, state, updated_at_ms) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (conversation_id) DO UPDATE SET flow = excluded.flow, \
     flow_version = excluded.flow_version, state = excluded.state, \
     updated_at_ms = excluded.updated_at_ms";

pub(crate) const END_BOT_SESSION: &str = "DELETE FROM bot_sessions WHERE conversation_id = $1";

pub(crate) const RECORD_DECISION: &str = "INSERT INTO guard_decisions (conversation_id, \
     message_id, phone_number_id, flow, flow_version, tier, decision, intent, score, threshold, \
     general_request, outcome, decided_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
     ON CONFLICT (message_id) DO NOTHING";

pub(crate) const RECORD_HANDOFF: &str = "INSERT INTO bot_handoffs (conversation_id, \
     phone_number_id, flow, cause, at_ms) VALUES ($1, $2, $3, $4, $5)";

macro_rules! decision_columns {
    () => {
        "id, conversation_id, message_id, phone_number_id, flow, flow_version, tier, decision, \
         intent, score, threshold, general_request, outcome, decided_at_ms"
    };
}

/// `$1` from, `$2` to, `$3` number or NULL, `$4` before id or NULL, `$5` limit.
pub(crate) const GUARD_DECISIONS: &str = concat!(
    "SELECT ",
    decision_columns!(),
    " FROM guard_decisions WHERE decided_at_ms >= $1 AND decided_at_ms < $2 \
     AND ($3 IS NULL OR phone_number_id = $3) AND ($4 IS NULL OR id < $4) \
     ORDER BY id DESC LIMIT $5"
);

pub(crate) const GUARD_DECISION_OF: &str = concat!(
    "SELECT ",
    decision_columns!(),
    " FROM guard_decisions WHERE message_id = $1"
);

pub(crate) const DECISION_COUNTS: &str = "SELECT phone_number_id, flow, flow_version, tier, \
     decision, outcome, COUNT(*) AS count FROM guard_decisions \
     WHERE decided_at_ms >= $1 AND decided_at_ms < $2 \
     GROUP BY phone_number_id, flow, flow_version, tier, decision, outcome \
     ORDER BY phone_number_id, flow, flow_version, tier, decision, outcome";

pub(crate) const HANDOFF_COUNTS: &str = "SELECT phone_number_id, flow, cause, COUNT(*) AS count \
     FROM bot_handoffs WHERE at_ms >= $1 AND at_ms < $2 \
     GROUP BY phone_number_id, flow, cause ORDER BY phone_number_id, flow, cause";

/// `$1` number, `$2` since (ms), `$3` limit. A human act is a message an agent sent or one
/// written on the business's phone (an echo).
pub(crate) const IDLE_HUMAN: &str = "SELECT c.id FROM conversations c \
     WHERE c.phone_number_id = $1 AND c.handler = 'human' AND c.status <> 'resolved' \
       AND c.handler_at_ms < $2 \
       AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id \
         AND m.received_at_ms >= $2 \
         AND (m.direction = 'echo' OR m.author_kind = 'agent')) \
     ORDER BY c.id LIMIT $3";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_postgres_skips_locked_rows() {
        assert!(CLAIM_BOT_JOBS_POSTGRES.contains("LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING"));
        assert!(!CLAIM_BOT_JOBS_SQLITE.contains("FOR UPDATE"));
    }
}
