//! Bots' storage on Postgres: claims skip the rows other nodes are claiming at the same instant
//! (`FOR UPDATE SKIP LOCKED`), and the lease keeps them held after that.

use async_trait::async_trait;

use super::{PgStore, PgTx};
use crate::Result;
use crate::bots::{
    self as sql, BotJobRow, BotSessionRow, BotStore, BotTx, DecisionCount, DecisionQuery,
    GuardDecisionRow, HandoffCount, HolderRow, NewGuardDecision, NewHandoff,
};

#[async_trait]
impl BotStore for PgStore {
    async fn claim_bot_jobs(
        &self,
        node: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<BotJobRow>> {
        let mut rows: Vec<BotJobRow> = sqlx::query_as(sql::CLAIM_BOT_JOBS_POSTGRES)
            .bind(now_ms)
            .bind(lease_until_ms)
            .bind(node)
            .bind(limit)
            .fetch_all(&self.pool)
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
        let done = sqlx::query(sql::RETRY_BOT_JOB)
            .bind(id)
            .bind(node)
            .bind(next_attempt_at_ms)
            .bind(error)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn fail_bot_job(&self, id: i64, node: &str, error: &str, now_ms: i64) -> Result<bool> {
        let done = sqlx::query(sql::FAIL_BOT_JOB)
            .bind(id)
            .bind(node)
            .bind(error)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn bot_session(&self, conversation_id: i64) -> Result<Option<BotSessionRow>> {
        Ok(sqlx::query_as(sql::BOT_SESSION)
            .bind(conversation_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn holder_now(&self, conversation_id: i64) -> Result<Option<HolderRow>> {
        Ok(sqlx::query_as(sql::HOLDER)
            .bind(conversation_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn guard_decisions(&self, q: &DecisionQuery) -> Result<Vec<GuardDecisionRow>> {
        Ok(sqlx::query_as(sql::GUARD_DECISIONS)
            .bind(q.from_ms)
            .bind(q.to_ms)
            .bind(&q.phone_number_id)
            .bind(q.before_id)
            .bind(q.limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn guard_decision_of(&self, message_id: i64) -> Result<Option<GuardDecisionRow>> {
        Ok(sqlx::query_as(sql::GUARD_DECISION_OF)
            .bind(message_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn bot_summary(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(Vec<DecisionCount>, Vec<HandoffCount>)> {
        let decisions = sqlx::query_as(sql::DECISION_COUNTS)
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await?;
        let handoffs = sqlx::query_as(sql::HANDOFF_COUNTS)
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await?;
        Ok((decisions, handoffs))
    }

    async fn idle_human_conversations(
        &self,
        phone_number_id: &str,
        since_ms: i64,
        limit: i64,
    ) -> Result<Vec<i64>> {
        Ok(sqlx::query_scalar(sql::IDLE_HUMAN)
            .bind(phone_number_id)
            .bind(since_ms)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn queued_bot_jobs(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(sql::QUEUED_BOT_JOBS)
            .fetch_one(&self.pool)
            .await?)
    }
}

#[async_trait]
impl BotTx for PgTx {
    async fn queue_bot_job(
        &mut self,
        conversation_id: i64,
        message_id: i64,
        at_ms: i64,
    ) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(sql::QUEUE_BOT_JOB)
            .bind(conversation_id)
            .bind(message_id)
            .bind(at_ms)
            .fetch_optional(&mut *self.tx)
            .await?)
    }

    async fn finish_bot_job(&mut self, id: i64, node: &str, now_ms: i64) -> Result<bool> {
        let done = sqlx::query(sql::FINISH_BOT_JOB)
            .bind(id)
            .bind(node)
            .bind(now_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn holder(&mut self, conversation_id: i64) -> Result<Option<HolderRow>> {
        Ok(sqlx::query_as(sql::HOLDER_POSTGRES)
            .bind(conversation_id)
            .fetch_optional(&mut *self.tx)
            .await?)
    }

    async fn save_bot_session(&mut self, s: &BotSessionRow) -> Result<()> {
        sqlx::query(sql::SAVE_BOT_SESSION)
            .bind(s.conversation_id)
            .bind(&s.flow)
            .bind(&s.flow_version)
            .bind(&s.state)
            .bind(s.updated_at_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn end_bot_session(&mut self, conversation_id: i64) -> Result<()> {
        sqlx::query(sql::END_BOT_SESSION)
            .bind(conversation_id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn record_decision(&mut self, d: &NewGuardDecision) -> Result<bool> {
        let done = sqlx::query(sql::RECORD_DECISION)
            .bind(d.conversation_id)
            .bind(d.message_id)
            .bind(&d.phone_number_id)
            .bind(&d.flow)
            .bind(&d.flow_version)
            .bind(&d.tier)
            .bind(&d.decision)
            .bind(&d.intent)
            .bind(d.score)
            .bind(d.threshold)
            .bind(d.general_request)
            .bind(&d.outcome)
            .bind(d.decided_at_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_handoff(&mut self, h: &NewHandoff) -> Result<()> {
        sqlx::query(sql::RECORD_HANDOFF)
            .bind(h.conversation_id)
            .bind(&h.phone_number_id)
            .bind(&h.flow)
            .bind(&h.cause)
            .bind(h.at_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}
