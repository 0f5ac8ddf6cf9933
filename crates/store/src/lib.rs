//! Persistence for guichet: one narrow async [`Store`] trait, a SQLite backend (the embedded
//! default, WAL) and a Postgres backend (several nodes), chosen from the database URL's scheme.
//!
//! Writes that must go together go through one [`Tx`]; reads are methods of the store. The rules
//! that decide what to write are not here (`domain`): the hub runs them between the reads and
//! writes of a transaction.

mod accounts;
mod bots;
mod inbox;
mod media;
mod model;
mod outbound;
mod postgres;
mod sql;
mod sqlite;
#[cfg(feature = "test-util")]
pub mod testing;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use accounts::*;
pub use bots::{
    BotJobRow, BotSessionRow, BotStore, BotTx, DecisionCount, DecisionQuery, GuardDecisionRow,
    HandoffCount, HolderRow, NewGuardDecision, NewHandoff,
};
pub use inbox::{
    Assignment, Author, CannedReply, ConversationCost, Inbox, InboxCounts, InboxItem, InboxQuery,
    InboxTx, LabelRow, NoteRow, StatRow,
};
pub use media::{MediaOutcome, MediaRow, MediaState, MediaStore, MediaTx, NewMedia};
pub use model::*;
pub use outbound::*;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong in the database, in words an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "unsupported database URL `{0}`: use `sqlite:<path>` (e.g. sqlite:guichet.db) or `postgres://user@host/db`"
    )]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Connect(#[source] BoxError),
    #[error("database migration failed: {0}")]
    Migrate(String),
    /// A transient condition (locked, busy, connection lost, disk full): try again later.
    #[error("the database is unavailable right now: {0}")]
    Unavailable(#[source] BoxError),
    #[error("database error: {0}")]
    Database(#[source] BoxError),
}

impl StoreError {
    /// Whether retrying the same work later can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let transient = match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => is_transient_pg(db.code().as_deref().unwrap_or_default()),
            _ => false,
        };
        if transient {
            Self::Unavailable(Box::new(e))
        } else {
            Self::Database(Box::new(e))
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self::Migrate(e.to_string())
    }
}

/// Postgres: lock timeout (55P03), serialization failure and deadlock (40001, 40P01), shutdown
/// (57P0x), connection exceptions (08xxx), insufficient resources such as a full disk (53xxx).
fn is_transient_pg(code: &str) -> bool {
    matches!(code, "55P03" | "40001" | "40P01")
        || code.starts_with("57P")
        || code.starts_with("08")
        || code.starts_with("53")
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// The URL without its password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}:***{}", &url[..scheme + 3 + colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// What a commit guarantees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// On disk before the commit returns: survives a crash and a power cut.
    Full,
    /// For transactions that only write what can be derived again from data already durable
    /// (ingest, from the stored webhooks): a power cut may lose the last of them — they are then
    /// simply done again — but never half of one. Commits do not wait for the disk; a later full
    /// commit makes them durable too.
    Rederivable,
}

/// How to open the store.
#[derive(Debug, Clone)]
pub struct Options {
    /// Connections for reads (SQLite) or in all (Postgres).
    pub max_connections: u32,
    /// How long a write waits for a lock (SQLite busy timeout, Postgres lock timeout) before the
    /// operation fails as transient.
    pub lock_timeout: Duration,
    /// How long to wait for a free connection.
    pub acquire_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_connections: 8,
            lock_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// Opens the database named by `url` (`sqlite:…` or `postgres://…`). Does not migrate.
pub async fn connect(url: &str, options: &Options) -> Result<Arc<dyn Store>> {
    Ok(match Backend::of_url(url)? {
        Backend::Sqlite => Arc::new(SqliteStore::connect(url, options).await?),
        Backend::Postgres => Arc::new(PgStore::connect(url, options).await?),
    })
}

/// guichet's storage. Implementations are cheap to share (`Arc<dyn Store>`).
#[async_trait]
pub trait Store:
    Accounts + BotStore + Inbox + MediaStore + Send + Sync + fmt::Debug + 'static
{
    fn backend(&self) -> Backend;

    /// How many write transactions can usefully run at once: 1 on SQLite (one writer at a
    /// time), several on Postgres.
    fn concurrent_writers(&self) -> usize;

    /// Whether a write transaction's statements run on the calling thread (SQLite: microseconds
    /// each) rather than waiting on a server (Postgres). Long writers such as ingest then belong
    /// on a thread of their own, off the async runtime.
    fn writes_run_inline(&self) -> bool;

    /// Brings the schema up to date.
    async fn migrate(&self) -> Result<()>;

    /// Whether the database answers.
    async fn ping(&self) -> Result<()>;

    /// Appends verified webhook bodies in one transaction and makes it durable (fsync) before
    /// returning: only then may Meta get its 200. Returns their ids. Replays are recognised
    /// before (see the hub's `replays`): the store keeps no unique index over every body.
    async fn append_inbound(&self, batch: &[NewInboundEvent]) -> Result<Vec<i64>>;

    /// The hashes of the latest `limit` bodies appended, oldest first.
    async fn latest_inbound_hashes(&self, limit: i64) -> Result<Vec<[u8; 32]>>;

    /// Starts a write transaction whose commit is durable (fsynced) before it returns.
    async fn begin(&self) -> Result<Box<dyn Tx>> {
        self.begin_with(Durability::Full).await
    }

    /// Starts a write transaction with the given durability.
    async fn begin_with(&self, durability: Durability) -> Result<Box<dyn Tx>>;

    async fn inbound_counts(&self) -> Result<InboundCounts>;
    async fn inbound_event_count(&self) -> Result<i64>;

    async fn conversations(&self, query: &ConversationQuery) -> Result<Vec<ConversationView>>;
    async fn conversation(&self, id: i64) -> Result<Option<ConversationView>>;
    async fn messages(&self, conversation_id: i64, query: &MessageQuery)
    -> Result<Vec<MessageRow>>;
    async fn message_by_wamid(&self, wamid: &str) -> Result<Option<MessageRow>>;
    async fn contact(&self, id: i64) -> Result<Option<ContactRow>>;
    async fn statuses(&self, wamid: &str) -> Result<Vec<StatusRow>>;
    async fn events_after(&self, after_id: i64, limit: i64) -> Result<Vec<EventRow>>;
    async fn template(
        &self,
        waba_id: &str,
        name: &str,
        language: &str,
    ) -> Result<Option<TemplateRow>>;
    async fn consents(&self, contact_id: i64) -> Result<Vec<ConsentRow>>;

    async fn message(&self, id: i64) -> Result<Option<MessageRow>>;
    /// The contacts of a portfolio with this BSUID and with this WhatsApp id.
    async fn find_contacts(
        &self,
        portfolio: &str,
        user_id: Option<&str>,
        wa_id: Option<&str>,
    ) -> Result<ContactMatches>;
    /// The conversation of a business number and a contact, if there is one.
    async fn conversation_of(
        &self,
        phone_number_id: &str,
        contact_id: i64,
    ) -> Result<Option<ConversationRow>>;
    /// Every template of a WhatsApp Business Account, by name and language.
    async fn templates(&self, waba_id: &str) -> Result<Vec<TemplateRow>>;
    /// Every language of one template.
    async fn templates_named(&self, waba_id: &str, name: &str) -> Result<Vec<TemplateRow>>;
    async fn outbox(&self, message_id: i64) -> Result<Option<OutboxRow>>;
    /// What preflight needs about a business number and a customer, in one read.
    async fn send_facts(&self, query: &FactsQuery) -> Result<FactsRow>;
    /// The messages a number handed to the Graph API since `since_ms`, oldest first.
    async fn recent_sends(&self, phone_number_id: &str, since_ms: i64) -> Result<Vec<RecentSend>>;
    /// The cost ledger over `[from_at, to_at)` (Meta time, seconds), failed messages left out.
    async fn costs(&self, from_at: i64, to_at: i64) -> Result<Vec<CostRow>>;
}

/// A write transaction. Dropped without [`Tx::commit`], it rolls back.
#[async_trait]
pub trait Tx: BotTx + InboxTx + MediaTx + Send {
    /// Takes up to `limit` pending inbound events, oldest first. On Postgres, rows claimed by
    /// another node's open transaction are skipped; the claim ends with this transaction.
    async fn claim_inbound(&mut self, limit: i64) -> Result<Vec<InboundEvent>>;
    async fn finish_inbound(
        &mut self,
        id: i64,
        state: InboundState,
        note: Option<&str>,
        at_ms: i64,
    ) -> Result<()>;
    /// Locks these keys (wamids, contact keys) until the transaction ends, waiting for other
    /// transactions that hold any of them. Taken in one sorted round, so two transactions never
    /// deadlock. A no-op where transactions already run one at a time (SQLite).
    async fn lock_keys(&mut self, keys: &[String]) -> Result<()>;
    /// Counts a failed attempt at an event without finishing it.
    async fn retry_inbound(&mut self, id: i64, note: &str) -> Result<()>;

    /// The contacts of a portfolio with this BSUID and with this WhatsApp id.
    async fn contact_matches(
        &mut self,
        portfolio: &str,
        user_id: Option<&str>,
        wa_id: Option<&str>,
    ) -> Result<ContactMatches>;
    async fn contact_by_id(&mut self, id: i64) -> Result<Option<ContactRow>>;
    async fn insert_contact(&mut self, fields: &ContactFields, at_ms: i64) -> Result<i64>;
    async fn update_contact(&mut self, id: i64, fields: &ContactFields, at_ms: i64) -> Result<()>;
    /// Records a marketing preference if it is newer than the one stored.
    async fn set_marketing(&mut self, contact_id: i64, value: &str, meta_at: i64) -> Result<()>;

    /// The conversation of this number and contact, created (open) if there is none.
    async fn conversation_for(
        &mut self,
        phone_number_id: &str,
        contact_id: i64,
        at_ms: i64,
    ) -> Result<ConversationRow>;
    async fn update_conversation(&mut self, id: i64, update: &ConversationUpdate) -> Result<()>;

    async fn message_exists(&mut self, wamid: &str) -> Result<bool>;
    /// Inserts a message; `None` if one with the same wamid exists (nothing changed).
    async fn insert_message(&mut self, message: &NewMessage) -> Result<Option<i64>>;

    /// Stores a status once per (wamid, status) and, if it is new, returns the delivery of the
    /// message it is about (if guichet has that message yet), locked until the transaction ends.
    async fn record_status(&mut self, status: &NewStatus) -> Result<StatusRecorded>;
    /// A message's delivery, locked until the transaction ends.
    async fn delivery(&mut self, wamid: &str) -> Result<Option<MessageDelivery>>;
    /// The statuses stored for a wamid, in Meta's order: replayed onto a message recorded after
    /// its statuses arrived.
    async fn statuses_of(&mut self, wamid: &str) -> Result<Vec<StatusRow>>;
    async fn set_delivery(&mut self, message_id: i64, columns: &DeliveryColumns) -> Result<()>;

    async fn insert_event(&mut self, event: &NewEvent) -> Result<i64>;

    /// Records a template webhook and applies it to the template if it is the newest of its
    /// field; `false` if this exact event was recorded before.
    async fn apply_template_event(&mut self, event: &TemplateEvent) -> Result<bool>;

    /// Records a consent event; `false` if recorded before.
    async fn insert_consent(&mut self, consent: &NewConsent) -> Result<bool>;

    /// Records a template as Meta's `GET message_templates` returned it.
    async fn sync_template(&mut self, template: &TemplateSync) -> Result<()>;
    async fn insert_outbox(&mut self, outbox: &NewOutbox) -> Result<()>;
    async fn insert_cost(&mut self, cost: &NewCost) -> Result<()>;
    /// Takes (or renews) the lease of a number's send loop until `until_ms`; `false` while
    /// another holder's lease runs.
    async fn take_lease(
        &mut self,
        phone_number_id: &str,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool>;
    async fn release_lease(&mut self, phone_number_id: &str, holder: &str) -> Result<()>;
    /// Marks the rows left `sending` by a previous holder of the lease as `unknown`, to be
    /// reconciled before `not_before_ms`. Returns how many.
    async fn orphans_unknown(
        &mut self,
        phone_number_id: &str,
        not_before_ms: i64,
        now_ms: i64,
    ) -> Result<u64>;
    /// Takes up to `limit` due rows of a number (queued, or unknown past their grace), oldest
    /// first, and marks them `sending`.
    async fn claim_outbox(
        &mut self,
        phone_number_id: &str,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRow>>;
    /// Records what became of a claimed row (a no-op if a status webhook settled it first).
    async fn finish_outbox(
        &mut self,
        message_id: i64,
        outcome: &OutboxOutcome,
        now_ms: i64,
    ) -> Result<()>;
    /// A status webhook names this outbound message (through `biz_opaque_callback_data`): gives
    /// it the wamid if it has none, and settles its outbox row as sent. Returns the message's
    /// wamid afterwards (another one if it was resent and the first attempt arrived too).
    async fn attach_wamid(
        &mut self,
        message_id: i64,
        wamid: &str,
        now_ms: i64,
    ) -> Result<Option<String>>;
    /// Records Meta's bill of a message, once; `false` if it was billed before.
    async fn bill_cost(&mut self, bill: &CostBill) -> Result<bool>;

    async fn commit(self: Box<Self>) -> Result<()>;
}
