//! Postgres, for several guichet nodes on one database.
//!
//! Every connection runs with `synchronous_commit = on` whatever the server default, so a commit
//! is on disk before Meta gets its 200. Inbound events are claimed with `FOR UPDATE SKIP LOCKED`:
//! a node's claim lasts as long as its transaction, and a killed node's claims are released with
//! its connection. Rows that transactions read, change and write back (a message's delivery) are
//! locked with `FOR UPDATE`, so that concurrent ingest workers never lose each other's update.
//! Round trips cost more here than on SQLite, so a few statements do two things at once.

mod accounts;
mod bots;
mod inbox;
mod media;

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{FromRow as _, Row as _};

use crate::sql::{self, delivery_of};
use crate::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The queue is read first, on its own, and each claimed event then fetched by its key: joined
/// directly, the planner may walk or hash all of `inbound_events`, which grows with every
/// webhook ever received (`OFFSET 0` keeps the lookup from being merged back into a join).
const CLAIM_INBOUND: &str = "WITH q AS (SELECT event_id, attempts FROM inbound_queue \
       ORDER BY event_id LIMIT $1 FOR UPDATE SKIP LOCKED) \
     SELECT e.id, e.body, e.app, e.received_at_ms, q.attempts FROM q CROSS JOIN LATERAL \
       (SELECT id, body, app, received_at_ms FROM inbound_events WHERE id = q.event_id OFFSET 0) AS e \
     ORDER BY e.id";

/// One statement for the whole batch, queue rows included: one round trip and one commit,
/// whatever its size.
const APPEND_INBOUND: &str = "WITH ins AS (INSERT INTO inbound_events \
       (body_sha256, body, app, received_at_ms) \
       SELECT h, body, app, at FROM UNNEST($1::bytea[], $2::bytea[], $3::text[], $4::int8[]) \
       WITH ORDINALITY AS b(h, body, app, at, n) ORDER BY n RETURNING id), \
     queued AS (INSERT INTO inbound_queue (event_id) SELECT id FROM ins) \
     SELECT id FROM ins ORDER BY id";

const LATEST_HASHES: &str = "SELECT body_sha256 FROM (SELECT id, body_sha256 FROM inbound_events ORDER BY id DESC LIMIT $1) \
     AS latest ORDER BY id";

/// Transaction-scoped advisory locks on the keys' hashes, taken in ascending order (the
/// `OFFSET 0` keeps the sort below the locking scan). The hashes fall in 1,023 slots (512 both
/// ways): every advisory lock takes a place in Postgres' shared lock table
/// (`max_locks_per_transaction` × connections, 6,400 by default), and a batch of large webhooks
/// can name tens of thousands of keys — one lock each ran the table out ("out of shared
/// memory", found with `bench/inbox.sh`) and stalled ingest for good. Two keys sharing a slot
/// only make their transactions wait for each other.
const LOCK_KEYS: &str = "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT \
     mod(hashtextextended(k, 0), 512) AS h FROM UNNEST($1::text[]) AS k ORDER BY h OFFSET 0) \
     AS sorted";

const DEQUEUE_INBOUND: &str = "DELETE FROM inbound_queue WHERE event_id = ANY($1)";

const RETRY_INBOUND: &str =
    "UPDATE inbound_queue SET attempts = attempts + 1, note = $2 WHERE event_id = $1";

const COUNT_PENDING: &str = "SELECT COUNT(*) FROM inbound_queue";

const DELIVERY_FOR_UPDATE: &str = concat!(delivery_of!(), " FOR UPDATE");

/// Stores a status and, if it is new, reads (and locks) its message, in one round trip.
const RECORD_STATUS: &str = "WITH ins AS (INSERT INTO message_statuses \
     (wamid, status, meta_at, phone_number_id, recipient_id, recipient_user_id, error_code, errors, \
      pricing_model, pricing_type, pricing_category, billable, conversation, biz_opaque, received_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
     ON CONFLICT (wamid, status) DO NOTHING RETURNING 1), \
     m AS (SELECT id, conversation_id, delivery, sent_at, delivered_at, read_at, played_at, \
       failed_at, error_code, error_class, error_details FROM messages \
       WHERE wamid = $1 AND EXISTS (SELECT 1 FROM ins) FOR UPDATE) \
     SELECT (SELECT COUNT(*) FROM ins) AS inserted, m.* FROM (SELECT 1) AS one LEFT JOIN m ON TRUE";

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    pub async fn connect(url: &str, options: &Options) -> Result<Self> {
        let lock_timeout_ms = options.lock_timeout.as_millis().to_string();
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Connect(Box::new(e)))?
            .application_name("guichet")
            .options([
                ("synchronous_commit", "on"),
                ("lock_timeout", lock_timeout_ms.as_str()),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| StoreError::Connect(Box::new(e)))?;
        Ok(Self { pool })
    }

    /// The pool, for tests and tools that need the raw database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn writes_run_inline(&self) -> bool {
        false
    }

    fn concurrent_writers(&self) -> usize {
        4
    }

    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn append_inbound(&self, batch: &[NewInboundEvent]) -> Result<Vec<i64>> {
        let hashes: Vec<Vec<u8>> = batch.iter().map(|e| e.body_sha256.to_vec()).collect();
        let bodies: Vec<Vec<u8>> = batch.iter().map(|e| e.body.to_vec()).collect();
        let apps: Vec<&str> = batch.iter().map(|e| e.app.as_str()).collect();
        let times: Vec<i64> = batch.iter().map(|e| e.received_at_ms).collect();
        // Identity values are handed out in insertion order, which follows the ordinality.
        let ids: Vec<i64> = sqlx::query_scalar(APPEND_INBOUND)
            .bind(hashes)
            .bind(bodies)
            .bind(apps)
            .bind(times)
            .fetch_all(&self.pool)
            .await?;
        Ok(ids)
    }

    async fn latest_inbound_hashes(&self, limit: i64) -> Result<Vec<[u8; 32]>> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar(LATEST_HASHES)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|h| <[u8; 32]>::try_from(h.as_slice()).ok())
            .collect())
    }

    async fn begin_with(&self, durability: Durability) -> Result<Box<dyn Tx>> {
        let mut tx = self.pool.begin().await?;
        if durability == Durability::Rederivable {
            // Asynchronous commit: never a partial transaction, and WAL order still holds.
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx)
                .await?;
        }
        Ok(Box::new(PgTx {
            tx,
            finished: Vec::new(),
        }))
    }

    async fn inbound_counts(&self) -> Result<InboundCounts> {
        let pending = sqlx::query_scalar(COUNT_PENDING)
            .fetch_one(&self.pool)
            .await?;
        let failed = sqlx::query_scalar(sql::COUNT_FAILED)
            .fetch_one(&self.pool)
            .await?;
        Ok(InboundCounts { pending, failed })
    }

    async fn inbound_event_count(&self) -> Result<i64> {
        Ok(sqlx::query_scalar(sql::COUNT_INBOUND)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn conversations(&self, q: &ConversationQuery) -> Result<Vec<ConversationView>> {
        Ok(sqlx::query_as(sql::LIST_CONVERSATIONS)
            .bind(&q.status)
            .bind(&q.phone_number_id)
            .bind(q.after.map(|a| a.0))
            .bind(q.after.map(|a| a.1))
            .bind(q.limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn conversation(&self, id: i64) -> Result<Option<ConversationView>> {
        Ok(sqlx::query_as(sql::CONVERSATION_BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn messages(&self, conversation_id: i64, q: &MessageQuery) -> Result<Vec<MessageRow>> {
        let (statement, at, limit) = q.statement();
        Ok(sqlx::query_as(statement)
            .bind(conversation_id)
            .bind(at.map(|a| a.0))
            .bind(at.map(|a| a.1))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn message_by_wamid(&self, wamid: &str) -> Result<Option<MessageRow>> {
        Ok(sqlx::query_as(sql::MESSAGE_BY_WAMID)
            .bind(wamid)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn contact(&self, id: i64) -> Result<Option<ContactRow>> {
        Ok(sqlx::query_as(sql::CONTACT_BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn statuses(&self, wamid: &str) -> Result<Vec<StatusRow>> {
        Ok(sqlx::query_as(sql::STATUSES_OF)
            .bind(wamid)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn events_after(&self, after_id: i64, limit: i64) -> Result<Vec<EventRow>> {
        Ok(sqlx::query_as(sql::EVENTS_AFTER)
            .bind(after_id)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn template(
        &self,
        waba_id: &str,
        name: &str,
        language: &str,
    ) -> Result<Option<TemplateRow>> {
        Ok(sqlx::query_as(sql::TEMPLATE_BY_NAME)
            .bind(waba_id)
            .bind(name)
            .bind(language)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn consents(&self, contact_id: i64) -> Result<Vec<ConsentRow>> {
        Ok(sqlx::query_as(sql::CONSENTS_OF)
            .bind(contact_id)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn message(&self, id: i64) -> Result<Option<MessageRow>> {
        Ok(sqlx::query_as(sql::MESSAGE_BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn find_contacts(
        &self,
        portfolio: &str,
        user_id: Option<&str>,
        wa_id: Option<&str>,
    ) -> Result<ContactMatches> {
        let rows: Vec<ContactRow> = sqlx::query_as(sql::CONTACT_MATCHES)
            .bind(portfolio)
            .bind(user_id)
            .bind(wa_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(ContactMatches::sort(rows, user_id, wa_id))
    }

    async fn conversation_of(
        &self,
        phone_number_id: &str,
        contact_id: i64,
    ) -> Result<Option<ConversationRow>> {
        Ok(sqlx::query_as(sql::CONVERSATION_FOR)
            .bind(phone_number_id)
            .bind(contact_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn templates(&self, waba_id: &str) -> Result<Vec<TemplateRow>> {
        Ok(sqlx::query_as(sql::TEMPLATES_OF)
            .bind(waba_id)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn templates_named(&self, waba_id: &str, name: &str) -> Result<Vec<TemplateRow>> {
        Ok(sqlx::query_as(sql::TEMPLATES_NAMED)
            .bind(waba_id)
            .bind(name)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn outbox(&self, message_id: i64) -> Result<Option<OutboxRow>> {
        Ok(sqlx::query_as(sql::OUTBOX_OF)
            .bind(message_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn send_facts(&self, q: &FactsQuery) -> Result<FactsRow> {
        let mut conn = self.pool.acquire().await?;
        let unanswered: i64 = match q.conversation_id {
            Some(id) => {
                sqlx::query_scalar(sql::FACT_UNANSWERED)
                    .bind(id)
                    .bind(q.last_inbound_at.unwrap_or(i64::MIN))
                    .fetch_one(&mut *conn)
                    .await?
            }
            None => 0,
        };
        let marketing_sent: Vec<i64> = sqlx::query_scalar(sql::FACT_MARKETING_SENT)
            .bind(q.contact_id)
            .bind(q.marketing_since)
            .fetch_all(&mut *conn)
            .await?;
        let marketing_held_at: Option<i64> = sqlx::query_scalar(sql::FACT_MARKETING_HELD)
            .bind(q.contact_id)
            .fetch_one(&mut *conn)
            .await?;
        let (reached, first_reach_at, counted): (i64, Option<i64>, i64) =
            sqlx::query_as(sql::FACT_REACH)
                .bind(&q.portfolio)
                .bind(q.reach_since)
                .bind(q.contact_id)
                .fetch_one(&mut *conn)
                .await?;
        let spend: Vec<(String, i64)> = match q.spend_between {
            Some((from, to)) => {
                sqlx::query_as(sql::FACT_SPEND)
                    .bind(from)
                    .bind(to)
                    .fetch_all(&mut *conn)
                    .await?
            }
            None => Vec::new(),
        };
        let pair_times_ms: Vec<i64> = sqlx::query_scalar(sql::FACT_PAIR)
            .bind(&q.phone_number_id)
            .bind(&q.recipient)
            .bind(q.pair_since_ms)
            .fetch_all(&mut *conn)
            .await?;
        let first_reply_after_referral: Option<i64> = match (q.conversation_id, q.last_referral_at)
        {
            (Some(id), Some(at)) => {
                sqlx::query_scalar(sql::FACT_FIRST_REPLY)
                    .bind(id)
                    .bind(at)
                    .fetch_one(&mut *conn)
                    .await?
            }
            _ => None,
        };
        Ok(FactsRow {
            unanswered,
            marketing_sent,
            marketing_held_at,
            reached,
            recipient_counted: counted > 0,
            first_reach_at,
            spend,
            pair_times_ms,
            first_reply_after_referral,
        })
    }

    async fn recent_sends(&self, phone_number_id: &str, since_ms: i64) -> Result<Vec<RecentSend>> {
        Ok(sqlx::query_as(sql::RECENT_SENDS)
            .bind(phone_number_id)
            .bind(since_ms)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn costs(&self, from_at: i64, to_at: i64) -> Result<Vec<CostRow>> {
        Ok(sqlx::query_as(sql::COSTS_BETWEEN)
            .bind(from_at)
            .bind(to_at)
            .fetch_all(&self.pool)
            .await?)
    }
}

/// A write transaction on Postgres.
pub struct PgTx {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    /// Events finished in this transaction, taken off the queue in one statement at commit.
    finished: Vec<i64>,
}

impl fmt::Debug for PgTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PgTx")
    }
}

fn delivery_from(row: &sqlx::postgres::PgRow) -> std::result::Result<MessageDelivery, sqlx::Error> {
    Ok(MessageDelivery {
        message_id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        columns: DeliveryColumns::from_row(row)?,
    })
}

#[async_trait]
impl Tx for PgTx {
    async fn claim_inbound(&mut self, limit: i64) -> Result<Vec<InboundEvent>> {
        let rows = sqlx::query(CLAIM_INBOUND)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await?;
        let events = rows
            .into_iter()
            .map(|r| {
                Ok(InboundEvent {
                    id: r.try_get("id")?,
                    body: r.try_get("body")?,
                    app: r.try_get("app")?,
                    received_at_ms: r.try_get("received_at_ms")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect::<std::result::Result<_, sqlx::Error>>()?;
        Ok(events)
    }

    async fn finish_inbound(
        &mut self,
        id: i64,
        state: InboundState,
        note: Option<&str>,
        at_ms: i64,
    ) -> Result<()> {
        self.finished.push(id);
        if note.is_some() || state == InboundState::Failed {
            sqlx::query(sql::RECORD_OUTCOME)
                .bind(id)
                .bind(state.as_str())
                .bind(note)
                .bind(at_ms)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    async fn lock_keys(&mut self, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        sqlx::query(LOCK_KEYS)
            .bind(keys)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn retry_inbound(&mut self, id: i64, note: &str) -> Result<()> {
        sqlx::query(RETRY_INBOUND)
            .bind(id)
            .bind(note)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn contact_matches(
        &mut self,
        portfolio: &str,
        user_id: Option<&str>,
        wa_id: Option<&str>,
    ) -> Result<ContactMatches> {
        let rows: Vec<ContactRow> = sqlx::query_as(sql::CONTACT_MATCHES)
            .bind(portfolio)
            .bind(user_id)
            .bind(wa_id)
            .fetch_all(&mut *self.tx)
            .await?;
        Ok(ContactMatches::sort(rows, user_id, wa_id))
    }

    async fn contact_by_id(&mut self, id: i64) -> Result<Option<ContactRow>> {
        Ok(sqlx::query_as(sql::CONTACT_BY_ID)
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?)
    }

    async fn insert_contact(&mut self, c: &ContactFields, at_ms: i64) -> Result<i64> {
        Ok(sqlx::query_scalar(sql::INSERT_CONTACT)
            .bind(&c.portfolio)
            .bind(&c.user_id)
            .bind(&c.parent_user_id)
            .bind(&c.wa_id)
            .bind(&c.phone)
            .bind(&c.username)
            .bind(&c.profile_name)
            .bind(c.seen_at)
            .bind(at_ms)
            .fetch_one(&mut *self.tx)
            .await?)
    }

    async fn update_contact(&mut self, id: i64, c: &ContactFields, at_ms: i64) -> Result<()> {
        sqlx::query(sql::UPDATE_CONTACT)
            .bind(id)
            .bind(&c.user_id)
            .bind(&c.parent_user_id)
            .bind(&c.wa_id)
            .bind(&c.phone)
            .bind(&c.username)
            .bind(&c.profile_name)
            .bind(c.seen_at)
            .bind(at_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn set_marketing(&mut self, contact_id: i64, value: &str, meta_at: i64) -> Result<()> {
        sqlx::query(sql::SET_MARKETING)
            .bind(contact_id)
            .bind(value)
            .bind(meta_at)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn conversation_for(
        &mut self,
        phone_number_id: &str,
        contact_id: i64,
        at_ms: i64,
    ) -> Result<ConversationRow> {
        let select = sqlx::query_as(sql::CONVERSATION_FOR)
            .bind(phone_number_id)
            .bind(contact_id);
        if let Some(found) = select.fetch_optional(&mut *self.tx).await? {
            return Ok(found);
        }
        sqlx::query(sql::CREATE_CONVERSATION)
            .bind(phone_number_id)
            .bind(contact_id)
            .bind(at_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(sqlx::query_as(sql::CONVERSATION_FOR)
            .bind(phone_number_id)
            .bind(contact_id)
            .fetch_one(&mut *self.tx)
            .await?)
    }

    async fn update_conversation(&mut self, id: i64, u: &ConversationUpdate) -> Result<()> {
        sqlx::query(sql::UPDATE_CONVERSATION)
            .bind(id)
            .bind(&u.status)
            .bind(u.last_message_at)
            .bind(u.last_inbound_at)
            .bind(u.last_referral_at)
            .bind(u.new_unread)
            .bind(u.new_messages)
            .bind(u.updated_at_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn message_exists(&mut self, wamid: &str) -> Result<bool> {
        let id: Option<i64> = sqlx::query_scalar(sql::MESSAGE_EXISTS)
            .bind(wamid)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(id.is_some())
    }

    async fn insert_message(&mut self, m: &NewMessage) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(sql::INSERT_MESSAGE)
            .bind(m.conversation_id)
            .bind(&m.wamid)
            .bind(m.direction.as_str())
            .bind(&m.kind)
            .bind(m.meta_at)
            .bind(m.received_at_ms)
            .bind(&m.preview)
            .bind(&m.content)
            .bind(&m.raw)
            .bind(&m.context_wamid)
            .bind(&m.referral)
            .bind(&m.errors)
            .bind(&m.delivery)
            .bind(&m.category)
            .bind(i64::from(m.business_initiated))
            .bind(&m.biz_opaque)
            .fetch_optional(&mut *self.tx)
            .await?)
    }

    async fn record_status(&mut self, s: &NewStatus) -> Result<StatusRecorded> {
        let row = sqlx::query(RECORD_STATUS)
            .bind(&s.wamid)
            .bind(&s.status)
            .bind(s.meta_at)
            .bind(&s.phone_number_id)
            .bind(&s.recipient_id)
            .bind(&s.recipient_user_id)
            .bind(s.error_code)
            .bind(&s.errors)
            .bind(&s.pricing_model)
            .bind(&s.pricing_type)
            .bind(&s.pricing_category)
            .bind(s.billable.map(i64::from))
            .bind(&s.conversation)
            .bind(&s.biz_opaque)
            .bind(s.received_at_ms)
            .fetch_one(&mut *self.tx)
            .await?;
        let inserted: i64 = row.try_get("inserted")?;
        if inserted == 0 {
            return Ok(StatusRecorded::Duplicate);
        }
        let found: Option<i64> = row.try_get("id")?;
        Ok(StatusRecorded::New(
            found.map(|_| delivery_from(&row)).transpose()?,
        ))
    }

    async fn delivery(&mut self, wamid: &str) -> Result<Option<MessageDelivery>> {
        let row = sqlx::query(DELIVERY_FOR_UPDATE)
            .bind(wamid)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(row.as_ref().map(delivery_from).transpose()?)
    }

    async fn statuses_of(&mut self, wamid: &str) -> Result<Vec<StatusRow>> {
        Ok(sqlx::query_as(sql::STATUSES_OF)
            .bind(wamid)
            .fetch_all(&mut *self.tx)
            .await?)
    }

    async fn set_delivery(&mut self, message_id: i64, d: &DeliveryColumns) -> Result<()> {
        sqlx::query(sql::SET_DELIVERY)
            .bind(message_id)
            .bind(&d.delivery)
            .bind(d.sent_at)
            .bind(d.delivered_at)
            .bind(d.read_at)
            .bind(d.played_at)
            .bind(d.failed_at)
            .bind(d.error_code)
            .bind(&d.error_class)
            .bind(&d.error_details)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn insert_event(&mut self, e: &NewEvent) -> Result<i64> {
        Ok(sqlx::query_scalar(sql::INSERT_EVENT)
            .bind(&e.kind)
            .bind(e.conversation_id)
            .bind(e.message_id)
            .bind(&e.payload)
            .bind(e.created_at_ms)
            .fetch_one(&mut *self.tx)
            .await?)
    }

    async fn apply_template_event(&mut self, e: &TemplateEvent) -> Result<bool> {
        let recorded = sqlx::query(sql::INSERT_TEMPLATE_EVENT)
            .bind(&e.waba_id)
            .bind(&e.meta_id)
            .bind(&e.name)
            .bind(&e.language)
            .bind(e.field.as_str())
            .bind(&e.value)
            .bind(&e.detail)
            .bind(e.meta_at)
            .bind(e.received_at_ms)
            .execute(&mut *self.tx)
            .await?;
        if recorded.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(sql::ENSURE_TEMPLATE)
            .bind(&e.waba_id)
            .bind(&e.meta_id)
            .bind(&e.name)
            .bind(&e.language)
            .bind(e.received_at_ms)
            .execute(&mut *self.tx)
            .await?;
        let keyed = |statement| {
            sqlx::query(statement)
                .bind(&e.waba_id)
                .bind(&e.name)
                .bind(&e.language)
                .bind(&e.value)
        };
        let update = match e.field {
            TemplateField::Status => keyed(sql::TEMPLATE_STATUS)
                .bind(&e.reason)
                .bind(&e.category),
            TemplateField::Quality => keyed(sql::TEMPLATE_QUALITY),
            TemplateField::Category => keyed(sql::TEMPLATE_CATEGORY).bind(&e.category),
        };
        update
            .bind(e.meta_at)
            .bind(e.received_at_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(true)
    }

    async fn insert_consent(&mut self, c: &NewConsent) -> Result<bool> {
        let done = sqlx::query(sql::INSERT_CONSENT)
            .bind(c.contact_id)
            .bind(&c.phone_number_id)
            .bind(&c.category)
            .bind(&c.value)
            .bind(&c.source)
            .bind(&c.detail)
            .bind(c.meta_at)
            .bind(c.received_at_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn sync_template(&mut self, t: &TemplateSync) -> Result<()> {
        sqlx::query(sql::SYNC_TEMPLATE)
            .bind(&t.waba_id)
            .bind(&t.meta_id)
            .bind(&t.name)
            .bind(&t.language)
            .bind(&t.status)
            .bind(&t.category)
            .bind(&t.previous_category)
            .bind(&t.quality)
            .bind(&t.reason)
            .bind(&t.components)
            .bind(&t.parameter_format)
            .bind(t.synced_at_ms)
            .bind(t.synced_at_ms.div_euclid(1000))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn insert_outbox(&mut self, o: &NewOutbox) -> Result<()> {
        sqlx::query(sql::INSERT_OUTBOX)
            .bind(o.message_id)
            .bind(&o.phone_number_id)
            .bind(&o.recipient)
            .bind(&o.request)
            .bind(o.not_before_ms)
            .bind(o.created_at_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn insert_cost(&mut self, k: &NewCost) -> Result<()> {
        sqlx::query(sql::INSERT_COST)
            .bind(k.message_id)
            .bind(&k.phone_number_id)
            .bind(&k.market)
            .bind(k.sent_at)
            .bind(&k.pricing_model)
            .bind(&k.category)
            .bind(&k.pricing_type)
            .bind(&k.currency)
            .bind(k.predicted_micros)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn take_lease(
        &mut self,
        phone_number_id: &str,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool> {
        let held: Option<String> = sqlx::query_scalar(sql::TAKE_LEASE)
            .bind(phone_number_id)
            .bind(holder)
            .bind(now_ms)
            .bind(until_ms)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(held.is_some())
    }

    async fn release_lease(&mut self, phone_number_id: &str, holder: &str) -> Result<()> {
        sqlx::query(sql::RELEASE_LEASE)
            .bind(phone_number_id)
            .bind(holder)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn orphans_unknown(
        &mut self,
        phone_number_id: &str,
        not_before_ms: i64,
        now_ms: i64,
    ) -> Result<u64> {
        let done = sqlx::query(sql::ORPHANS_UNKNOWN)
            .bind(phone_number_id)
            .bind(not_before_ms)
            .bind(now_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected())
    }

    async fn claim_outbox(
        &mut self,
        phone_number_id: &str,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRow>> {
        let mut rows: Vec<OutboxRow> = sqlx::query_as(sql::CLAIM_OUTBOX)
            .bind(phone_number_id)
            .bind(now_ms)
            .bind(now_ms)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await?;
        rows.sort_by_key(|r| (r.not_before_ms, r.message_id));
        Ok(rows)
    }

    async fn finish_outbox(
        &mut self,
        message_id: i64,
        outcome: &OutboxOutcome,
        now_ms: i64,
    ) -> Result<()> {
        match outcome {
            OutboxOutcome::Sent { wamid } => {
                sqlx::query(sql::OUTBOX_SENT)
                    .bind(message_id)
                    .bind(now_ms)
                    .execute(&mut *self.tx)
                    .await?;
                sqlx::query(sql::MESSAGE_WAMID)
                    .bind(message_id)
                    .bind(wamid)
                    .execute(&mut *self.tx)
                    .await?;
            }
            OutboxOutcome::Retry {
                not_before_ms,
                error,
            }
            | OutboxOutcome::Unknown {
                not_before_ms,
                error,
            } => {
                let state = if matches!(outcome, OutboxOutcome::Retry { .. }) {
                    "queued"
                } else {
                    "unknown"
                };
                sqlx::query(sql::OUTBOX_AGAIN)
                    .bind(message_id)
                    .bind(state)
                    .bind(not_before_ms)
                    .bind(error)
                    .bind(now_ms)
                    .execute(&mut *self.tx)
                    .await?;
            }
            OutboxOutcome::Failed {
                code,
                class,
                details,
                at,
            } => {
                let changed = sqlx::query(sql::OUTBOX_FAILED)
                    .bind(message_id)
                    .bind(details)
                    .bind(now_ms)
                    .execute(&mut *self.tx)
                    .await?;
                // Without an answer the message may have arrived: it stays undecided.
                if changed.rows_affected() > 0 && class != "unknown" {
                    sqlx::query(sql::MESSAGE_FAILED)
                        .bind(message_id)
                        .bind(at)
                        .bind(code)
                        .bind(class)
                        .bind(details)
                        .execute(&mut *self.tx)
                        .await?;
                }
            }
        }
        Ok(())
    }

    async fn attach_wamid(
        &mut self,
        message_id: i64,
        wamid: &str,
        now_ms: i64,
    ) -> Result<Option<String>> {
        sqlx::query(sql::MESSAGE_WAMID)
            .bind(message_id)
            .bind(wamid)
            .execute(&mut *self.tx)
            .await?;
        let current: Option<Option<String>> = sqlx::query_scalar(sql::OUTBOUND_WAMID)
            .bind(message_id)
            .fetch_optional(&mut *self.tx)
            .await?;
        if current.is_some() {
            sqlx::query(sql::OUTBOX_SETTLED)
                .bind(message_id)
                .bind(now_ms)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(current.flatten())
    }

    async fn bill_cost(&mut self, b: &CostBill) -> Result<bool> {
        let done = sqlx::query(sql::BILL_COST)
            .bind(b.message_id)
            .bind(&b.model)
            .bind(&b.category)
            .bind(&b.pricing_type)
            .bind(b.billable.map(i64::from))
            .bind(b.billed_micros)
            .bind(b.billed_at)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        if !self.finished.is_empty() {
            sqlx::query(DEQUEUE_INBOUND)
                .bind(&self.finished)
                .execute(&mut *self.tx)
                .await?;
        }
        self.tx.commit().await?;
        Ok(())
    }
}
