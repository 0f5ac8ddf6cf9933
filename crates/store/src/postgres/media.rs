//! The media queue on Postgres: claims skip the rows other nodes are claiming at the same
//! instant (`FOR UPDATE SKIP LOCKED`), and the lease keeps them held after that.

use async_trait::async_trait;

use super::{PgStore, PgTx};
use crate::Result;
use crate::media::{self as sql, MediaOutcome, MediaRow, MediaStore, MediaTx, NewMedia};

#[async_trait]
impl MediaStore for PgStore {
    async fn claim_media(
        &self,
        node: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<MediaRow>> {
        let mut rows: Vec<MediaRow> = sqlx::query_as(sql::CLAIM_MEDIA_POSTGRES)
            .bind(now_ms)
            .bind(lease_until_ms)
            .bind(node)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        // RETURNING gives rows in no particular order.
        rows.sort_by_key(|r| (r.next_attempt_at_ms, r.id));
        Ok(rows)
    }

    async fn finish_media(
        &self,
        id: i64,
        node: &str,
        outcome: &MediaOutcome,
        now_ms: i64,
    ) -> Result<bool> {
        let query = match outcome {
            MediaOutcome::Stored {
                storage_key,
                size_bytes,
                sniffed_mime,
                has_markup,
            } => sqlx::query(sql::MEDIA_STORED)
                .bind(id)
                .bind(node)
                .bind(storage_key)
                .bind(size_bytes)
                .bind(sniffed_mime)
                .bind(has_markup)
                .bind(now_ms),
            MediaOutcome::Retry {
                next_attempt_at_ms,
                error,
            } => sqlx::query(sql::MEDIA_RETRY)
                .bind(id)
                .bind(node)
                .bind(next_attempt_at_ms)
                .bind(error)
                .bind(now_ms),
            MediaOutcome::Failed { error } => sqlx::query(sql::MEDIA_FAILED)
                .bind(id)
                .bind(node)
                .bind(error)
                .bind(now_ms),
        };
        let done = query.execute(&self.pool).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_media(&self, id: i64, node: &str, now_ms: i64) -> Result<bool> {
        let done = sqlx::query(sql::MEDIA_RELEASE)
            .bind(id)
            .bind(node)
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn media(&self, id: i64) -> Result<Option<MediaRow>> {
        Ok(sqlx::query_as(sql::MEDIA_BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn media_of_message(&self, message_id: i64) -> Result<Vec<MediaRow>> {
        Ok(sqlx::query_as(sql::MEDIA_OF_MESSAGE)
            .bind(message_id)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn media_of_messages(&self, message_ids: &[i64]) -> Result<Vec<MediaRow>> {
        if message_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(sql::MEDIA_OF_MESSAGES_POSTGRES)
            .bind(message_ids)
            .fetch_all(&self.pool)
            .await?)
    }
}

#[async_trait]
impl MediaTx for PgTx {
    async fn queue_media(&mut self, m: &NewMedia) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(sql::QUEUE_MEDIA)
            .bind(m.message_id)
            .bind(&m.meta_media_id)
            .bind(&m.phone_number_id)
            .bind(&m.kind)
            .bind(m.created_at_ms)
            .bind(&m.declared_mime)
            .bind(&m.declared_sha256)
            .bind(&m.filename)
            .fetch_optional(&mut *self.tx)
            .await?)
    }
}
