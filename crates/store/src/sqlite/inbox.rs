//! The inbox on SQLite.

use async_trait::async_trait;
use rusqlite::{Row, params};

use super::rows::FromSqliteRow;
use super::{SqliteStore, SqliteTx, all, one, one_value, sqlite_sql};
use crate::inbox::*;
use crate::*;

const LIST: &str = inbox_list!("group_concat(l.name, char(31) ORDER BY l.name_key)");
const ITEM: &str = inbox_item!("group_concat(l.name, char(31) ORDER BY l.name_key)");

impl FromSqliteRow for InboxItem {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            view: ConversationView::from_row(row)?,
            assignee_id: row.get("assignee_id")?,
            handler: row.get("handler")?,
            unread: row.get("unread")?,
            last_preview: row.get("last_preview")?,
            last_direction: row.get("last_direction")?,
            last_kind: row.get("last_kind")?,
            label_names: row.get("label_names")?,
        })
    }
}

impl FromSqliteRow for LabelRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            name: row.get("name")?,
        })
    }
}

impl FromSqliteRow for NoteRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            conversation_id: row.get("conversation_id")?,
            author_id: row.get("author_id")?,
            body: row.get("body")?,
            created_at_ms: row.get("created_at_ms")?,
        })
    }
}

impl FromSqliteRow for ConversationCost {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            currency: row.get("currency")?,
            micros: row.get("micros")?,
            messages: row.get("messages")?,
        })
    }
}

impl FromSqliteRow for StatRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            conversation_id: row.get("conversation_id")?,
            phone_number_id: row.get("phone_number_id")?,
            direction: row.get("direction")?,
            meta_at: row.get("meta_at")?,
            author_kind: row.get("author_kind")?,
            author_id: row.get("author_id")?,
        })
    }
}

impl FromSqliteRow for CannedReply {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get("id")?,
            shortcut: row.get("shortcut")?,
            title: row.get("title")?,
            body: row.get("body")?,
            updated_at_ms: row.get("updated_at_ms")?,
        })
    }
}

#[async_trait]
impl Inbox for SqliteStore {
    async fn inbox(&self, query: &InboxQuery) -> Result<Vec<InboxItem>> {
        let p = query.params();
        self.read(move |c| {
            all(
                c,
                LIST,
                params![
                    p.status,
                    p.phone_number_id,
                    p.assignment,
                    p.user_id,
                    p.label_id,
                    p.pattern,
                    p.after_at,
                    p.after_id,
                    p.limit
                ],
            )
        })
        .await
    }

    async fn inbox_counts(&self, query: &InboxQuery) -> Result<InboxCounts> {
        let p = query.params();
        self.read(move |c| {
            let bind = params![
                p.status,
                p.phone_number_id,
                p.assignment,
                p.user_id,
                p.label_id,
                p.pattern
            ];
            let (open, pending, resolved) = c
                .prepare_cached(&sqlite_sql(INBOX_COUNT_STATUS))?
                .query_row(bind, |r| {
                    Ok((
                        r.get::<_, Option<i64>>(0)?.unwrap_or(0),
                        r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                        r.get::<_, Option<i64>>(2)?.unwrap_or(0),
                    ))
                })?;
            let (mine, unassigned, all) = c
                .prepare_cached(&sqlite_sql(INBOX_COUNT_ASSIGNMENT))?
                .query_row(bind, |r| {
                    Ok((
                        r.get::<_, Option<i64>>(0)?.unwrap_or(0),
                        r.get::<_, Option<i64>>(1)?.unwrap_or(0),
                        r.get::<_, i64>(2)?,
                    ))
                })?;
            Ok(InboxCounts {
                open,
                pending,
                resolved,
                mine,
                unassigned,
                all,
            })
        })
        .await
    }

    async fn inbox_item(&self, conversation_id: i64, user_id: i64) -> Result<Option<InboxItem>> {
        self.read(move |c| {
            one(
                c,
                ITEM,
                params![conversation_id, None::<String>, None::<String>, user_id],
            )
        })
        .await
    }

    async fn labels(&self) -> Result<Vec<LabelRow>> {
        self.read(|c| all(c, LABELS, [])).await
    }

    async fn labels_of(&self, conversation_id: i64) -> Result<Vec<LabelRow>> {
        self.read(move |c| all(c, LABELS_OF, [conversation_id]))
            .await
    }

    async fn notes(&self, conversation_id: i64) -> Result<Vec<NoteRow>> {
        self.read(move |c| all(c, NOTES, [conversation_id])).await
    }

    async fn canned_replies(&self) -> Result<Vec<CannedReply>> {
        self.read(|c| all(c, CANNED, [])).await
    }

    async fn conversation_events(&self, conversation_id: i64, limit: i64) -> Result<Vec<EventRow>> {
        self.read(move |c| all(c, CONVERSATION_EVENTS, [conversation_id, limit]))
            .await
    }

    async fn conversation_cost(&self, conversation_id: i64) -> Result<Vec<ConversationCost>> {
        self.read(move |c| all(c, CONVERSATION_COST, [conversation_id]))
            .await
    }

    async fn stat_messages(&self, from_at: i64, to_at: i64) -> Result<Vec<StatRow>> {
        self.read(move |c| all(c, STAT_MESSAGES, [from_at, to_at]))
            .await
    }

    async fn events_of_kind(&self, kind: &str, from_ms: i64, to_ms: i64) -> Result<Vec<EventRow>> {
        let kind = kind.to_owned();
        self.read(move |c| all(c, EVENTS_OF_KIND, params![kind, from_ms, to_ms]))
            .await
    }

    async fn last_event_id(&self) -> Result<i64> {
        self.read(|c| one_value(c, LAST_EVENT_ID, []).map(Option::unwrap_or_default))
            .await
    }

    async fn authors(&self, message_ids: &[i64]) -> Result<Vec<(i64, String, Option<i64>)>> {
        let ids = message_ids.to_vec();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&sqlite_sql(AUTHOR_OF))?;
            let mut out = Vec::new();
            for id in ids {
                if let Some(row) = stmt
                    .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .map(Some)
                    .or_else(|e| match e {
                        rusqlite::Error::QueryReturnedNoRows => Ok(None),
                        e => Err(e),
                    })?
                {
                    out.push(row);
                }
            }
            Ok(out)
        })
        .await
    }
}

fn changed(n: usize) -> bool {
    n > 0
}

#[async_trait]
impl InboxTx for SqliteTx {
    async fn set_assignee(
        &mut self,
        conversation_id: i64,
        assignee: Option<i64>,
        at_ms: i64,
    ) -> Result<bool> {
        self.with(|c| {
            c.prepare_cached(&sqlite_sql(SET_ASSIGNEE))?
                .execute(params![conversation_id, assignee, at_ms])
                .map(changed)
        })
    }

    async fn set_status(&mut self, conversation_id: i64, status: &str, at_ms: i64) -> Result<bool> {
        self.with(|c| {
            c.prepare_cached(&sqlite_sql(SET_STATUS))?
                .execute(params![conversation_id, status, at_ms])
                .map(changed)
        })
    }

    async fn set_handler(
        &mut self,
        conversation_id: i64,
        handler: &str,
        at_ms: i64,
    ) -> Result<bool> {
        self.with(|c| {
            c.prepare_cached(&sqlite_sql(SET_HANDLER))?
                .execute(params![conversation_id, handler, at_ms])
                .map(changed)
        })
    }

    async fn set_labels(
        &mut self,
        conversation_id: i64,
        names: &[String],
        at_ms: i64,
    ) -> Result<()> {
        self.with(|c| {
            c.prepare_cached(&sqlite_sql(CLEAR_LABELS))?
                .execute([conversation_id])?;
            for name in names {
                let key = label_key(name);
                if key.is_empty() {
                    continue;
                }
                c.prepare_cached(&sqlite_sql(UPSERT_LABEL))?
                    .execute(params![name.trim(), key, at_ms])?;
                let id: Option<i64> = one_value(c, LABEL_ID, [&key])?;
                if let Some(id) = id {
                    c.prepare_cached(&sqlite_sql(ATTACH_LABEL))?
                        .execute([conversation_id, id])?;
                }
            }
            Ok(())
        })
    }

    async fn insert_note(
        &mut self,
        conversation_id: i64,
        author_id: i64,
        body: &str,
        at_ms: i64,
    ) -> Result<i64> {
        self.with(|c| {
            c.prepare_cached(&sqlite_sql(INSERT_NOTE))?
                .query_row(params![conversation_id, author_id, body, at_ms], |r| {
                    r.get(0)
                })
        })
    }

    async fn set_author(&mut self, message_id: i64, author: Author) -> Result<()> {
        self.with(|c| {
            c.prepare_cached(&sqlite_sql(SET_AUTHOR))?
                .execute(params![message_id, author.kind(), author.user_id()])
                .map(drop)
        })
    }

    async fn mark_read(
        &mut self,
        user_id: i64,
        conversation_id: i64,
        message_id: i64,
        at_ms: i64,
    ) -> Result<()> {
        self.with(|c| {
            c.prepare_cached(&sqlite_sql(MARK_READ))?
                .execute(params![user_id, conversation_id, message_id, at_ms])
                .map(drop)
        })
    }

    async fn save_canned(
        &mut self,
        shortcut: &str,
        title: &str,
        body: &str,
        at_ms: i64,
    ) -> Result<i64> {
        self.with(|c| {
            c.prepare_cached(&sqlite_sql(SAVE_CANNED))?
                .query_row(params![shortcut, title, body, at_ms], |r| r.get(0))
        })
    }

    async fn delete_canned(&mut self, id: i64) -> Result<bool> {
        self.with(|c| {
            c.prepare_cached(&sqlite_sql(DELETE_CANNED))?
                .execute([id])
                .map(changed)
        })
    }
}
