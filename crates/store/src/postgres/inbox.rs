//! The inbox on Postgres.

use async_trait::async_trait;

use super::{PgStore, PgTx};
use crate::inbox::*;
use crate::*;

const LIST: &str = inbox_list!("string_agg(l.name, chr(31) ORDER BY l.name_key)");
const ITEM: &str = inbox_item!("string_agg(l.name, chr(31) ORDER BY l.name_key)");

/// Binds the filters `$1` to `$6` of an inbox statement.
fn filters<'q, O>(
    q: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    p: &'q InboxParams,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    q.bind(&p.status)
        .bind(&p.phone_number_id)
        .bind(&p.assignment)
        .bind(p.user_id)
        .bind(p.label_id)
        .bind(&p.pattern)
}

#[async_trait]
impl Inbox for PgStore {
    async fn inbox(&self, query: &InboxQuery) -> Result<Vec<InboxItem>> {
        let p = query.params();
        Ok(filters(sqlx::query_as(LIST), &p)
            .bind(p.after_at)
            .bind(p.after_id)
            .bind(p.limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn inbox_counts(&self, query: &InboxQuery) -> Result<InboxCounts> {
        let p = query.params();
        let (open, pending, resolved): (Option<i64>, Option<i64>, Option<i64>) =
            filters(sqlx::query_as(INBOX_COUNT_STATUS), &p)
                .fetch_one(&self.pool)
                .await?;
        let (mine, unassigned, all): (Option<i64>, Option<i64>, i64) =
            filters(sqlx::query_as(INBOX_COUNT_ASSIGNMENT), &p)
                .fetch_one(&self.pool)
                .await?;
        Ok(InboxCounts {
            open: open.unwrap_or(0),
            pending: pending.unwrap_or(0),
            resolved: resolved.unwrap_or(0),
            mine: mine.unwrap_or(0),
            unassigned: unassigned.unwrap_or(0),
            all,
        })
    }

    async fn inbox_item(&self, conversation_id: i64, user_id: i64) -> Result<Option<InboxItem>> {
        Ok(sqlx::query_as(ITEM)
            .bind(conversation_id)
            .bind(None::<String>)
            .bind(None::<String>)
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn labels(&self) -> Result<Vec<LabelRow>> {
        Ok(sqlx::query_as(LABELS).fetch_all(&self.pool).await?)
    }

    async fn labels_of(&self, conversation_id: i64) -> Result<Vec<LabelRow>> {
        Ok(sqlx::query_as(LABELS_OF)
            .bind(conversation_id)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn notes(&self, conversation_id: i64) -> Result<Vec<NoteRow>> {
        Ok(sqlx::query_as(NOTES)
            .bind(conversation_id)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn canned_replies(&self) -> Result<Vec<CannedReply>> {
        Ok(sqlx::query_as(CANNED).fetch_all(&self.pool).await?)
    }

    async fn conversation_events(&self, conversation_id: i64, limit: i64) -> Result<Vec<EventRow>> {
        Ok(sqlx::query_as(CONVERSATION_EVENTS)
            .bind(conversation_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn conversation_cost(&self, conversation_id: i64) -> Result<Vec<ConversationCost>> {
        Ok(sqlx::query_as(CONVERSATION_COST)
            .bind(conversation_id)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn stat_messages(&self, from_at: i64, to_at: i64) -> Result<Vec<StatRow>> {
        Ok(sqlx::query_as(STAT_MESSAGES)
            .bind(from_at)
            .bind(to_at)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn events_of_kind(&self, kind: &str, from_ms: i64, to_ms: i64) -> Result<Vec<EventRow>> {
        Ok(sqlx::query_as(EVENTS_OF_KIND)
            .bind(kind)
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn last_event_id(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(LAST_EVENT_ID)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn authors(&self, message_ids: &[i64]) -> Result<Vec<(i64, String, Option<i64>)>> {
        let mut out = Vec::new();
        for id in message_ids {
            if let Some(row) = sqlx::query_as(AUTHOR_OF)
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
            {
                out.push(row);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl InboxTx for PgTx {
    async fn set_assignee(
        &mut self,
        conversation_id: i64,
        assignee: Option<i64>,
        at_ms: i64,
    ) -> Result<bool> {
        let done = sqlx::query(SET_ASSIGNEE)
            .bind(conversation_id)
            .bind(assignee)
            .bind(at_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_status(&mut self, conversation_id: i64, status: &str, at_ms: i64) -> Result<bool> {
        let done = sqlx::query(SET_STATUS)
            .bind(conversation_id)
            .bind(status)
            .bind(at_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_handler(
        &mut self,
        conversation_id: i64,
        handler: &str,
        at_ms: i64,
    ) -> Result<bool> {
        let done = sqlx::query(SET_HANDLER)
            .bind(conversation_id)
            .bind(handler)
            .bind(at_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_labels(
        &mut self,
        conversation_id: i64,
        names: &[String],
        at_ms: i64,
    ) -> Result<()> {
        sqlx::query(CLEAR_LABELS)
            .bind(conversation_id)
            .execute(&mut *self.tx)
            .await?;
        for name in names {
            let key = label_key(name);
            if key.is_empty() {
                continue;
            }
            sqlx::query(UPSERT_LABEL)
                .bind(name.trim())
                .bind(&key)
                .bind(at_ms)
                .execute(&mut *self.tx)
                .await?;
            let id: i64 = sqlx::query_scalar(LABEL_ID)
                .bind(&key)
                .fetch_one(&mut *self.tx)
                .await?;
            sqlx::query(ATTACH_LABEL)
                .bind(conversation_id)
                .bind(id)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    async fn insert_note(
        &mut self,
        conversation_id: i64,
        author_id: i64,
        body: &str,
        at_ms: i64,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(INSERT_NOTE)
            .bind(conversation_id)
            .bind(author_id)
            .bind(body)
            .bind(at_ms)
            .fetch_one(&mut *self.tx)
            .await?)
    }

    async fn set_author(&mut self, message_id: i64, author: Author) -> Result<()> {
        sqlx::query(SET_AUTHOR)
            .bind(message_id)
            .bind(author.kind())
            .bind(author.user_id())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn mark_read(
        &mut self,
        user_id: i64,
        conversation_id: i64,
        message_id: i64,
        at_ms: i64,
    ) -> Result<()> {
        sqlx::query(MARK_READ)
            .bind(user_id)
            .bind(conversation_id)
            .bind(message_id)
            .bind(at_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn save_canned(
        &mut self,
        shortcut: &str,
        title: &str,
        body: &str,
        at_ms: i64,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(SAVE_CANNED)
            .bind(shortcut)
            .bind(title)
            .bind(body)
            .bind(at_ms)
            .fetch_one(&mut *self.tx)
            .await?)
    }

    async fn delete_canned(&mut self, id: i64) -> Result<bool> {
        let done = sqlx::query(DELETE_CANNED)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
