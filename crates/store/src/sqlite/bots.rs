//! Bots' storage on SQLite: claims and outcomes are one-statement write transactions, taking
//! their turn at the single writer like any other.

use async_trait::async_trait;
use rusqlite::{Row, params};

use super::rows::FromSqliteRow;
use super::{SqliteStore, SqliteTx, all, exec, one, one_value, sqlite_sql};
use crate::Result;
use crate::bots::{
    self as sql, BotJobRow, BotSessionRow, BotStore, BotTx, DecisionCount, DecisionQuery,
    GuardDecisionRow, HandoffCount, HolderRow, NewGuardDecision, NewHandoff,
};

impl FromSqliteRow for BotJobRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get("id")?,
            conversation_id: r.get("conversation_id")?,
            message_id: r.get("message_id")?,
            attempts: r.get("attempts")?,
            created_at_ms: r.get("created_at_ms")?,
        })
    }
}

impl FromSqliteRow for BotSessionRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            conversation_id: r.get("conversation_id")?,
            flow: r.get("flow")?,
            flow_version: r.get("flow_version")?,
            state: r.get("state")?,
            updated_at_ms: r.get("updated_at_ms")?,
        })
    }
}

impl FromSqliteRow for HolderRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            phone_number_id: r.get("phone_number_id")?,
            status: r.get("status")?,
            handler: r.get("handler")?,
        })
    }
}

impl FromSqliteRow for GuardDecisionRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get("id")?,
            conversation_id: r.get("conversation_id")?,
            message_id: r.get("message_id")?,
            phone_number_id: r.get("phone_number_id")?,
            flow: r.get("flow")?,
            flow_version: r.get("flow_version")?,
            tier: r.get("tier")?,
            decision: r.get("decision")?,
            intent: r.get("intent")?,
            score: r.get("score")?,
            threshold: r.get("threshold")?,
            general_request: r.get("general_request")?,
            outcome: r.get("outcome")?,
            decided_at_ms: r.get("decided_at_ms")?,
        })
    }
}

impl FromSqliteRow for DecisionCount {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            phone_number_id: r.get("phone_number_id")?,
            flow: r.get("flow")?,
            flow_version: r.get("flow_version")?,
            tier: r.get("tier")?,
            decision: r.get("decision")?,
            outcome: r.get("outcome")?,
            count: r.get("count")?,
        })
    }
}

impl FromSqliteRow for HandoffCount {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            phone_number_id: r.get("phone_number_id")?,
            flow: r.get("flow")?,
            cause: r.get("cause")?,
            count: r.get("count")?,
        })
    }
}

#[async_trait]
impl BotStore for SqliteStore {
    async fn claim_bot_jobs(
        &self,
        node: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<BotJobRow>> {
        let due: Option<i64> = self
            .read(move |c| one_value(c, sql::BOT_JOB_DUE, [now_ms]))
            .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let mut rows: Vec<BotJobRow> = self
            .write_one(|c| {
                all(
                    c,
                    sql::CLAIM_BOT_JOBS_SQLITE,
                    params![now_ms, lease_until_ms, node, limit],
                )
            })
            .await?;
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    async fn retry_bot_job(
        &self,
        id: i64,
        node: &str,
        next_attempt_at_ms: i64,
        error: &str,
        now_ms: i64,
    ) -> Result<bool> {
        let n = self
            .write_one(|c| {
                exec(
                    c,
                    sql::RETRY_BOT_JOB,
                    params![id, node, next_attempt_at_ms, error, now_ms],
                )
            })
            .await?;
        Ok(n == 1)
    }

    async fn fail_bot_job(&self, id: i64, node: &str, error: &str, now_ms: i64) -> Result<bool> {
        let n = self
            .write_one(|c| exec(c, sql::FAIL_BOT_JOB, params![id, node, error, now_ms]))
            .await?;
        Ok(n == 1)
    }

    async fn bot_session(&self, conversation_id: i64) -> Result<Option<BotSessionRow>> {
        self.read(move |c| one(c, sql::BOT_SESSION, [conversation_id]))
            .await
    }

    async fn holder_now(&self, conversation_id: i64) -> Result<Option<HolderRow>> {
        self.read(move |c| one(c, sql::HOLDER, [conversation_id]))
            .await
    }

    async fn guard_decisions(&self, q: &DecisionQuery) -> Result<Vec<GuardDecisionRow>> {
        let q = q.clone();
        self.read(move |c| {
            all(
                c,
                sql::GUARD_DECISIONS,
                params![q.from_ms, q.to_ms, q.phone_number_id, q.before_id, q.limit],
            )
        })
        .await
    }

    async fn guard_decision_of(&self, message_id: i64) -> Result<Option<GuardDecisionRow>> {
        self.read(move |c| one(c, sql::GUARD_DECISION_OF, [message_id]))
            .await
    }

    async fn bot_summary(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(Vec<DecisionCount>, Vec<HandoffCount>)> {
        self.read(move |c| {
            Ok((
                all(c, sql::DECISION_COUNTS, [from_ms, to_ms])?,
                all(c, sql::HANDOFF_COUNTS, [from_ms, to_ms])?,
            ))
        })
        .await
    }

    async fn idle_human_conversations(
        &self,
        phone_number_id: &str,
        since_ms: i64,
        limit: i64,
    ) -> Result<Vec<i64>> {
        let number = phone_number_id.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&sqlite_sql(sql::IDLE_HUMAN))?;
            let rows = stmt.query_map(params![number, since_ms, limit], |r| r.get(0))?;
            rows.collect()
        })
        .await
    }

    async fn queued_bot_jobs(&self) -> Result<i64> {
        let n: Option<i64> = self
            .read(|c| one_value(c, sql::QUEUED_BOT_JOBS, []))
            .await?;
        Ok(n.unwrap_or(0))
    }
}

#[async_trait]
impl BotTx for SqliteTx {
    async fn queue_bot_job(
        &mut self,
        conversation_id: i64,
        message_id: i64,
        at_ms: i64,
    ) -> Result<Option<i64>> {
        self.with(|c| {
            one_value(
                c,
                sql::QUEUE_BOT_JOB,
                params![conversation_id, message_id, at_ms],
            )
        })
    }

    async fn finish_bot_job(&mut self, id: i64, node: &str, now_ms: i64) -> Result<bool> {
        self.with(|c| exec(c, sql::FINISH_BOT_JOB, params![id, node, now_ms]))
            .map(|n| n == 1)
    }

    async fn holder(&mut self, conversation_id: i64) -> Result<Option<HolderRow>> {
        self.with(|c| one(c, sql::HOLDER, [conversation_id]))
    }

    async fn save_bot_session(&mut self, s: &BotSessionRow) -> Result<()> {
        self.with(|c| {
            exec(
                c,
                sql::SAVE_BOT_SESSION,
                params![
                    s.conversation_id,
                    s.flow,
                    s.flow_version,
                    s.state,
                    s.updated_at_ms
                ],
            )
        })
        .map(drop)
    }

    async fn end_bot_session(&mut self, conversation_id: i64) -> Result<()> {
        self.with(|c| exec(c, sql::END_BOT_SESSION, [conversation_id]))
            .map(drop)
    }

    async fn record_decision(&mut self, d: &NewGuardDecision) -> Result<bool> {
        self.with(|c| {
            exec(
                c,
                sql::RECORD_DECISION,
                params![
                    d.conversation_id,
                    d.message_id,
                    d.phone_number_id,
                    d.flow,
                    d.flow_version,
                    d.tier,
                    d.decision,
                    d.intent,
                    d.score,
                    d.threshold,
                    d.general_request,
                    d.outcome,
                    d.decided_at_ms
                ],
            )
        })
        .map(|n| n == 1)
    }

    async fn record_handoff(&mut self, h: &NewHandoff) -> Result<()> {
        self.with(|c| {
            exec(
                c,
                sql::RECORD_HANDOFF,
                params![
                    h.conversation_id,
                    h.phone_number_id,
                    h.flow,
                    h.cause,
                    h.at_ms
                ],
            )
        })
        .map(drop)
    }
}
