//! The media queue on SQLite. Claims and outcomes are one-statement write transactions: they
//! take their turn at the single writer like any other.

use async_trait::async_trait;
use rusqlite::{Row, params};

use super::rows::FromSqliteRow;
use super::{SqliteStore, SqliteTx, all, exec, one, sqlite_sql};
use crate::media::{self as sql, MediaOutcome, MediaRow, MediaStore, MediaTx, NewMedia};
use crate::{Durability, Result, Tx as _};

impl FromSqliteRow for MediaRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get("id")?,
            message_id: r.get("message_id")?,
            meta_media_id: r.get("meta_media_id")?,
            phone_number_id: r.get("phone_number_id")?,
            kind: r.get("kind")?,
            state: r.get("state")?,
            attempts: r.get("attempts")?,
            next_attempt_at_ms: r.get("next_attempt_at_ms")?,
            locked_until_ms: r.get("locked_until_ms")?,
            locked_by: r.get("locked_by")?,
            declared_mime: r.get("declared_mime")?,
            declared_sha256: r.get("declared_sha256")?,
            sniffed_mime: r.get("sniffed_mime")?,
            has_markup: r.get("has_markup")?,
            size_bytes: r.get("size_bytes")?,
            filename: r.get("filename")?,
            storage_key: r.get("storage_key")?,
            last_error: r.get("last_error")?,
            created_at_ms: r.get("created_at_ms")?,
            updated_at_ms: r.get("updated_at_ms")?,
            stored_at_ms: r.get("stored_at_ms")?,
        })
    }
}

impl SqliteStore {
    /// One statement in a write transaction of its own.
    pub(super) async fn write_one<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let tx = self.begin_write(Durability::Full).await?;
        let value = tx.with(f)?;
        Box::new(tx).commit().await?;
        Ok(value)
    }
}

#[async_trait]
impl MediaStore for SqliteStore {
    async fn claim_media(
        &self,
        node: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<MediaRow>> {
        let due: Option<i64> = self
            .read(move |c| super::one_value(c, sql::MEDIA_DUE, [now_ms]))
            .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let mut rows: Vec<MediaRow> = self
            .write_one(|c| {
                all(
                    c,
                    sql::CLAIM_MEDIA_SQLITE,
                    params![now_ms, lease_until_ms, node, limit],
                )
            })
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
        let changed = self
            .write_one(|c| match outcome {
                MediaOutcome::Stored {
                    storage_key,
                    size_bytes,
                    sniffed_mime,
                    has_markup,
                } => exec(
                    c,
                    sql::MEDIA_STORED,
                    params![
                        id,
                        node,
                        storage_key,
                        size_bytes,
                        sniffed_mime,
                        has_markup,
                        now_ms
                    ],
                ),
                MediaOutcome::Retry {
                    next_attempt_at_ms,
                    error,
                } => exec(
                    c,
                    sql::MEDIA_RETRY,
                    params![id, node, next_attempt_at_ms, error, now_ms],
                ),
                MediaOutcome::Failed { error } => {
                    exec(c, sql::MEDIA_FAILED, params![id, node, error, now_ms])
                }
            })
            .await?;
        Ok(changed == 1)
    }

    async fn release_media(&self, id: i64, node: &str, now_ms: i64) -> Result<bool> {
        let changed = self
            .write_one(|c| exec(c, sql::MEDIA_RELEASE, params![id, node, now_ms]))
            .await?;
        Ok(changed == 1)
    }

    async fn media(&self, id: i64) -> Result<Option<MediaRow>> {
        self.read(move |c| one(c, sql::MEDIA_BY_ID, [id])).await
    }

    async fn media_of_message(&self, message_id: i64) -> Result<Vec<MediaRow>> {
        self.read(move |c| all(c, sql::MEDIA_OF_MESSAGE, [message_id]))
            .await
    }

    async fn media_of_messages(&self, message_ids: &[i64]) -> Result<Vec<MediaRow>> {
        if message_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(message_ids).unwrap_or_else(|_| "[]".to_owned());
        self.read(move |c| all(c, sql::MEDIA_OF_MESSAGES_SQLITE, [ids]))
            .await
    }
}

#[async_trait]
impl MediaTx for SqliteTx {
    async fn queue_media(&mut self, m: &NewMedia) -> Result<Option<i64>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&sqlite_sql(sql::QUEUE_MEDIA))?;
            rusqlite::OptionalExtension::optional(stmt.query_row(
                params![
                    m.message_id,
                    m.meta_media_id,
                    m.phone_number_id,
                    m.kind,
                    m.created_at_ms,
                    m.declared_mime,
                    m.declared_sha256,
                    m.filename
                ],
                |r| r.get(0),
            ))
        })
    }
}
