//! The embedded default: SQLite in WAL mode, through rusqlite.
//!
//! Two files: the database (`guichet.db`) and the inbound journal (`guichet-inbound.db`), where
//! webhook bodies are appended before Meta gets its 200. Each has its own writer, so that
//! acknowledging Meta never waits behind ingest — SQLite allows one writer per file. Ingest
//! reads the journal in order and records how far it got in the database, in the same
//! transaction as what it wrote.
//!
//! SQLite allows one writer at a time. Write transactions take turns on one connection (a
//! one-permit semaphore queues them) and start with `BEGIN IMMEDIATE`, so they never fail half-way
//! on a lock. Statements inside a transaction run inline: they take microseconds, where a hop to
//! another thread per statement would cost tens. Only what can wait on the disk or on another
//! process — `BEGIN IMMEDIATE`, `COMMIT` — and reads (which may be long) run on blocking threads.
//! `synchronous = FULL` makes every commit fsync the WAL: an acknowledged webhook survives a
//! power loss, not only a crash.

mod accounts;
mod bots;
mod inbox;
mod journal;
mod media;
mod migrate;
mod rows;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, OptionalExtension as _, params};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::sql::{self, delivery_of};
use crate::*;
use rows::FromSqliteRow;

/// The journal's webhooks after the ingest cursor (`attempts` is filled from the database).
const READ_JOURNAL: &str = "SELECT id, body, app, received_at_ms, 0 AS attempts \
     FROM inbound_events WHERE id > $1 ORDER BY id LIMIT $2";

const APPEND: &str = "INSERT INTO inbound_events (body_sha256, body, app, received_at_ms) \
     VALUES ($1, $2, $3, $4) RETURNING id";

const LATEST_HASHES: &str = "SELECT body_sha256 FROM inbound_events ORDER BY id DESC LIMIT ?1";

const PROGRESS: &str = "SELECT COALESCE(MAX(last_event_id), 0) FROM inbound_progress";

/// Only forward: SQLite's two-argument MAX is the larger of the two.
const ADVANCE: &str = "INSERT INTO inbound_progress (id, last_event_id) VALUES (1, $1) \
     ON CONFLICT (id) DO UPDATE SET last_event_id = MAX(last_event_id, excluded.last_event_id)";

const ATTEMPTS: &str = "SELECT attempts FROM inbound_attempts WHERE event_id = $1";

const RETRY: &str = "INSERT INTO inbound_attempts (event_id, attempts, note) VALUES ($1, 1, $2) \
     ON CONFLICT (event_id) DO UPDATE SET attempts = attempts + 1, note = excluded.note";

const FORGET_ATTEMPTS: &str = "DELETE FROM inbound_attempts WHERE event_id = $1";

const COUNT_AFTER: &str = "SELECT COUNT(*) FROM inbound_events WHERE id > $1";

/// Where the database is and how to open a connection to it.
#[derive(Debug, Clone)]
struct Opener {
    path: String,
    busy_timeout: Duration,
    /// Settings of this file, applied to every connection to it.
    pragmas: &'static str,
}

/// The database: a bigger WAL between checkpoints lets pages written many times (indexes, hot
/// rows) be copied back once; an 8 MiB page cache keeps the hot indexes in memory (bigger caches
/// cost more at every commit than they save).
const MAIN_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = 4000; \
     PRAGMA journal_size_limit = 67108864; PRAGMA cache_size = -8192;";

/// The journal: appends only, fsynced at every commit.
const JOURNAL_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA journal_size_limit = 67108864;";

impl Opener {
    fn open(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.set_prepared_statement_cache_capacity(64);
        conn.execute_batch(self.pragmas)?;
        Ok(conn)
    }
}

/// Reads run on pooled connections: WAL readers never wait for the writer.
#[derive(Debug)]
struct Readers {
    opener: Opener,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

#[derive(Debug)]
struct Writer {
    conn: Mutex<Connection>,
    /// One write transaction at a time.
    turn: Arc<Semaphore>,
    /// Ingest's view of the journal, used by the holder of the turn.
    journal: Mutex<Connection>,
}

#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Arc<Writer>,
    readers: Arc<Readers>,
    /// Appends to the journal; the group commit is its only user.
    journal_writer: Arc<Mutex<Connection>>,
    journal_thread: Arc<journal::JournalWriter>,
    journal_readers: Arc<Readers>,
}

/// `sqlite:path`, `sqlite://path` or `sqlite:///absolute/path`; a `?query` is ignored.
fn path_of(url: &str) -> Result<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"));
    let rest = rest.ok_or_else(|| StoreError::UnsupportedUrl(url.to_owned()))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::Connect(
            format!("`{url}` names no file: give a path such as sqlite:guichet.db").into(),
        ));
    }
    Ok(path.to_owned())
}

/// The journal's file, beside the database: `data/guichet.db` → `data/guichet-inbound.db`.
fn journal_path_of(path: &str) -> String {
    match path.strip_suffix(".db") {
        Some(stem) => format!("{stem}-inbound.db"),
        None => format!("{path}-inbound"),
    }
}

fn lock(m: &Mutex<Connection>) -> Result<MutexGuard<'_, Connection>> {
    // A panic while holding the connection cannot leave it mid-statement: rusqlite statements are
    // reset on drop. The connection is still usable.
    Ok(m.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

impl SqliteStore {
    pub async fn connect(url: &str, options: &Options) -> Result<Self> {
        let path = path_of(url)?;
        let opener = Opener {
            path: path.clone(),
            busy_timeout: options.lock_timeout,
            pragmas: MAIN_PRAGMAS,
        };
        let journal = Opener {
            path: journal_path_of(&path),
            busy_timeout: options.lock_timeout,
            pragmas: JOURNAL_PRAGMAS,
        };
        let (main, journal_main, journal_writer) = {
            let (a, b) = (opener.clone(), journal.clone());
            tokio::task::spawn_blocking(move || {
                Ok::<_, rusqlite::Error>((a.open()?, b.open()?, b.open()?))
            })
            .await
            .map_err(|e| StoreError::Connect(Box::new(e)))?
            .map_err(|e| StoreError::Connect(Box::new(e)))?
        };
        let journal_writer = Arc::new(Mutex::new(journal_writer));
        let pool = |opener: Opener, n: u32| {
            Arc::new(Readers {
                opener,
                idle: Mutex::new(Vec::new()),
                permits: Semaphore::new(n as usize),
            })
        };
        Ok(Self {
            writer: Arc::new(Writer {
                conn: Mutex::new(main),
                turn: Arc::new(Semaphore::new(1)),
                journal: Mutex::new(journal_main),
            }),
            readers: pool(opener, options.max_connections.max(1)),
            journal_thread: Arc::new(
                journal::JournalWriter::start(journal_writer.clone())
                    .map_err(|e| StoreError::Connect(Box::new(e)))?,
            ),
            journal_writer,
            journal_readers: pool(journal, 2),
        })
    }

    /// The database file a `sqlite:` URL names (files that go with it, such as customers'
    /// media, are kept beside it).
    pub fn database_path(url: &str) -> Result<String> {
        path_of(url)
    }

    /// The file of the inbound journal that goes with this database URL.
    pub fn journal_path(url: &str) -> Result<String> {
        Ok(journal_path_of(&path_of(url)?))
    }

    /// Runs `f` on a reader connection of the database, on a blocking thread.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        Self::read_on(&self.readers, f).await
    }

    async fn read_on<T: Send + 'static>(
        readers: &Arc<Readers>,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = readers.permits.acquire().await.map_err(unavailable)?;
        let readers = readers.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = readers
                .idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .pop();
            let conn = match pooled {
                Some(c) => c,
                None => readers.opener.open()?,
            };
            let result = f(&conn);
            readers
                .idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(conn);
            result.map_err(StoreError::from)
        })
        .await
        .map_err(unavailable)?
    }

    /// Runs `f` on the writer connection, on a blocking thread, once it is this caller's turn.
    async fn write_blocking<T: Send + 'static>(
        writer: Arc<Writer>,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        tokio::task::spawn_blocking(move || {
            let conn = lock(&writer.conn)?;
            f(&conn).map_err(StoreError::from)
        })
        .await
        .map_err(unavailable)?
    }

    async fn begin_write(&self, durability: Durability) -> Result<SqliteTx> {
        let turn = self
            .writer
            .turn
            .clone()
            .acquire_owned()
            .await
            .map_err(unavailable)?;
        let begin = match durability {
            Durability::Full => "PRAGMA synchronous = FULL; BEGIN IMMEDIATE",
            // WAL with NORMAL: the commit does not fsync; the next FULL commit (or checkpoint)
            // makes it durable, and a power cut can only lose whole transactions.
            Durability::Rederivable => "PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE",
        };
        Self::write_blocking(self.writer.clone(), move |c| c.execute_batch(begin)).await?;
        Ok(SqliteTx {
            writer: self.writer.clone(),
            _turn: turn,
            open: true,
        })
    }
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        let transient = matches!(
            e.sqlite_error_code(),
            Some(
                C::DatabaseBusy
                    | C::DatabaseLocked
                    | C::SystemIoFailure
                    | C::DiskFull
                    | C::CannotOpen
            )
        );
        if transient {
            Self::Unavailable(Box::new(e))
        } else {
            Self::Database(Box::new(e))
        }
    }
}

/// The shared statements are written with `$n` placeholders; SQLite's own form is `?n`. The
/// statements are constants: each is rewritten once per thread.
fn sqlite_sql(statement: &'static str) -> std::rc::Rc<str> {
    thread_local! {
        static REWRITTEN: std::cell::RefCell<std::collections::HashMap<(usize, usize), std::rc::Rc<str>>> =
            std::cell::RefCell::default();
    }
    REWRITTEN.with(|cache| {
        // Constants may share storage (one a prefix of another): key on address and length.
        let key = (statement.as_ptr() as usize, statement.len());
        cache
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| rewrite(statement).into())
            .clone()
    })
}

fn rewrite(statement: &str) -> String {
    let mut out = String::with_capacity(statement.len());
    let mut chars = statement.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

fn all<T: FromSqliteRow>(
    conn: &Connection,
    statement: &'static str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(&sqlite_sql(statement))?;
    let rows = stmt.query_map(params, |r| T::from_row(r))?;
    rows.collect()
}

fn one<T: FromSqliteRow>(
    conn: &Connection,
    statement: &'static str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Option<T>> {
    let mut stmt = conn.prepare_cached(&sqlite_sql(statement))?;
    stmt.query_row(params, |r| T::from_row(r)).optional()
}

fn one_value<T: rusqlite::types::FromSql>(
    conn: &Connection,
    statement: &'static str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Option<T>> {
    let mut stmt = conn.prepare_cached(&sqlite_sql(statement))?;
    stmt.query_row(params, |r| r.get(0)).optional()
}

fn exec(
    conn: &Connection,
    statement: &'static str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<usize> {
    conn.prepare_cached(&sqlite_sql(statement))?.execute(params)
}

#[expect(
    clippy::disallowed_methods,
    reason = "bookkeeping time of a migration, not rule time"
)]
fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn writes_run_inline(&self) -> bool {
        true
    }

    fn concurrent_writers(&self) -> usize {
        1
    }

    async fn migrate(&self) -> Result<()> {
        let _turn = self
            .writer
            .turn
            .clone()
            .acquire_owned()
            .await
            .map_err(unavailable)?;
        let (writer, journal) = (self.writer.clone(), self.journal_writer.clone());
        tokio::task::spawn_blocking(move || {
            let now = wall_clock_ms();
            migrate::run(&mut *lock(&journal)?, migrate::JOURNAL, now)
                .map_err(StoreError::Migrate)?;
            migrate::run(&mut *lock(&writer.conn)?, migrate::MAIN, now).map_err(StoreError::Migrate)
        })
        .await
        .map_err(unavailable)?
    }

    async fn ping(&self) -> Result<()> {
        self.read(|c| c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0)))
            .await?;
        Self::read_on(&self.journal_readers, |c| {
            c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))
        })
        .await?;
        Ok(())
    }

    /// One transaction on the journal, fsynced (the journal runs with `synchronous = FULL`).
    async fn append_inbound(&self, batch: &[NewInboundEvent]) -> Result<Vec<i64>> {
        self.journal_thread.append(batch.to_vec()).await
    }

    async fn latest_inbound_hashes(&self, limit: i64) -> Result<Vec<[u8; 32]>> {
        let rows = Self::read_on(&self.journal_readers, move |c| {
            let mut stmt = c.prepare(LATEST_HASHES)?;
            let rows = stmt.query_map([limit], |r| r.get::<_, Vec<u8>>(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;
        Ok(rows
            .into_iter()
            .rev()
            .filter_map(|h| <[u8; 32]>::try_from(h.as_slice()).ok())
            .collect())
    }

    async fn begin_with(&self, durability: Durability) -> Result<Box<dyn Tx>> {
        Ok(Box::new(self.begin_write(durability).await?))
    }

    async fn inbound_counts(&self) -> Result<InboundCounts> {
        let (progress, failed) = self
            .read(|c| {
                let progress: i64 = c.query_row(PROGRESS, [], |r| r.get(0))?;
                let failed: i64 = c.query_row(sql::COUNT_FAILED, [], |r| r.get(0))?;
                Ok((progress, failed))
            })
            .await?;
        let pending = Self::read_on(&self.journal_readers, move |c| {
            c.query_row(&sqlite_sql(COUNT_AFTER), [progress], |r| r.get(0))
        })
        .await?;
        Ok(InboundCounts { pending, failed })
    }

    async fn inbound_event_count(&self) -> Result<i64> {
        Self::read_on(&self.journal_readers, |c| {
            c.query_row(sql::COUNT_INBOUND, [], |r| r.get(0))
        })
        .await
    }

    async fn conversations(&self, q: &ConversationQuery) -> Result<Vec<ConversationView>> {
        let q = q.clone();
        self.read(move |c| {
            all(
                c,
                sql::LIST_CONVERSATIONS,
                params![
                    q.status,
                    q.phone_number_id,
                    q.after.map(|a| a.0),
                    q.after.map(|a| a.1),
                    q.limit
                ],
            )
        })
        .await
    }

    async fn conversation(&self, id: i64) -> Result<Option<ConversationView>> {
        self.read(move |c| one(c, sql::CONVERSATION_BY_ID, [id]))
            .await
    }

    async fn messages(&self, conversation_id: i64, q: &MessageQuery) -> Result<Vec<MessageRow>> {
        let (statement, at, limit) = q.statement();
        self.read(move |c| {
            all(
                c,
                statement,
                params![conversation_id, at.map(|a| a.0), at.map(|a| a.1), limit],
            )
        })
        .await
    }

    async fn message_by_wamid(&self, wamid: &str) -> Result<Option<MessageRow>> {
        let wamid = wamid.to_owned();
        self.read(move |c| one(c, sql::MESSAGE_BY_WAMID, [wamid]))
            .await
    }

    async fn contact(&self, id: i64) -> Result<Option<ContactRow>> {
        self.read(move |c| one(c, sql::CONTACT_BY_ID, [id])).await
    }

    async fn statuses(&self, wamid: &str) -> Result<Vec<StatusRow>> {
        let wamid = wamid.to_owned();
        self.read(move |c| all(c, sql::STATUSES_OF, [wamid])).await
    }

    async fn events_after(&self, after_id: i64, limit: i64) -> Result<Vec<EventRow>> {
        self.read(move |c| all(c, sql::EVENTS_AFTER, [after_id, limit]))
            .await
    }

    async fn template(
        &self,
        waba_id: &str,
        name: &str,
        language: &str,
    ) -> Result<Option<TemplateRow>> {
        let key = [waba_id.to_owned(), name.to_owned(), language.to_owned()];
        self.read(move |c| one(c, sql::TEMPLATE_BY_NAME, key)).await
    }

    async fn consents(&self, contact_id: i64) -> Result<Vec<ConsentRow>> {
        self.read(move |c| all(c, sql::CONSENTS_OF, [contact_id]))
            .await
    }

    async fn message(&self, id: i64) -> Result<Option<MessageRow>> {
        self.read(move |c| one(c, sql::MESSAGE_BY_ID, [id])).await
    }

    async fn find_contacts(
        &self,
        portfolio: &str,
        user_id: Option<&str>,
        wa_id: Option<&str>,
    ) -> Result<ContactMatches> {
        let (p, u, w) = (
            portfolio.to_owned(),
            user_id.map(str::to_owned),
            wa_id.map(str::to_owned),
        );
        let rows: Vec<ContactRow> = self
            .read(move |c| all(c, sql::CONTACT_MATCHES, params![p, u, w]))
            .await?;
        Ok(ContactMatches::sort(rows, user_id, wa_id))
    }

    async fn conversation_of(
        &self,
        phone_number_id: &str,
        contact_id: i64,
    ) -> Result<Option<ConversationRow>> {
        let phone = phone_number_id.to_owned();
        self.read(move |c| one(c, sql::CONVERSATION_FOR, params![phone, contact_id]))
            .await
    }

    async fn templates(&self, waba_id: &str) -> Result<Vec<TemplateRow>> {
        let waba_id = waba_id.to_owned();
        self.read(move |c| all(c, sql::TEMPLATES_OF, [waba_id]))
            .await
    }

    async fn templates_named(&self, waba_id: &str, name: &str) -> Result<Vec<TemplateRow>> {
        let key = [waba_id.to_owned(), name.to_owned()];
        self.read(move |c| all(c, sql::TEMPLATES_NAMED, key)).await
    }

    async fn outbox(&self, message_id: i64) -> Result<Option<OutboxRow>> {
        self.read(move |c| one(c, sql::OUTBOX_OF, [message_id]))
            .await
    }

    async fn send_facts(&self, q: &FactsQuery) -> Result<FactsRow> {
        let q = q.clone();
        self.read(move |c| {
            let unanswered = match q.conversation_id {
                Some(id) => one_value(
                    c,
                    sql::FACT_UNANSWERED,
                    params![id, q.last_inbound_at.unwrap_or(i64::MIN)],
                )?
                .unwrap_or(0),
                None => 0,
            };
            let mut stmt = c.prepare_cached(&sqlite_sql(sql::FACT_MARKETING_SENT))?;
            let marketing_sent = stmt
                .query_map(params![q.contact_id, q.marketing_since], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<i64>>>()?;
            let marketing_held_at: Option<i64> =
                one_value(c, sql::FACT_MARKETING_HELD, [q.contact_id])?.flatten();
            let (reached, first_reach_at, counted) = c
                .prepare_cached(&sqlite_sql(sql::FACT_REACH))?
                .query_row(params![q.portfolio, q.reach_since, q.contact_id], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get::<_, i64>(2)?))
                })?;
            let spend = match q.spend_between {
                Some((from, to)) => {
                    let mut stmt = c.prepare_cached(&sqlite_sql(sql::FACT_SPEND))?;
                    stmt.query_map(params![from, to], |r| Ok((r.get(0)?, r.get(1)?)))?
                        .collect::<rusqlite::Result<Vec<(String, i64)>>>()?
                }
                None => Vec::new(),
            };
            let mut stmt = c.prepare_cached(&sqlite_sql(sql::FACT_PAIR))?;
            let pair_times_ms = stmt
                .query_map(
                    params![q.phone_number_id, q.recipient, q.pair_since_ms],
                    |r| r.get(0),
                )?
                .collect::<rusqlite::Result<Vec<i64>>>()?;
            let first_reply_after_referral = match (q.conversation_id, q.last_referral_at) {
                (Some(id), Some(at)) => {
                    one_value::<Option<i64>>(c, sql::FACT_FIRST_REPLY, params![id, at])?.flatten()
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
        })
        .await
    }

    async fn recent_sends(&self, phone_number_id: &str, since_ms: i64) -> Result<Vec<RecentSend>> {
        let phone = phone_number_id.to_owned();
        self.read(move |c| all(c, sql::RECENT_SENDS, params![phone, since_ms]))
            .await
    }

    async fn costs(&self, from_at: i64, to_at: i64) -> Result<Vec<CostRow>> {
        self.read(move |c| all(c, sql::COSTS_BETWEEN, params![from_at, to_at]))
            .await
    }
}

/// A write transaction on SQLite. Dropped without commit, it rolls back.
pub struct SqliteTx {
    writer: Arc<Writer>,
    _turn: OwnedSemaphorePermit,
    open: bool,
}

impl fmt::Debug for SqliteTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SqliteTx")
    }
}

impl SqliteTx {
    /// Runs statements of this transaction inline: each takes microseconds.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T> {
        let conn = lock(&self.writer.conn)?;
        f(&conn).map_err(StoreError::from)
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open
            && let Ok(conn) = lock(&self.writer.conn)
        {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}

#[async_trait]
impl Tx for SqliteTx {
    /// The journal's webhooks after how far ingest got. Ingest runs one transaction at a time
    /// on SQLite, so what it reads here is its own until it commits.
    async fn claim_inbound(&mut self, limit: i64) -> Result<Vec<InboundEvent>> {
        let after: i64 = self.with(|c| c.query_row(PROGRESS, [], |r| r.get(0)))?;
        let mut events: Vec<InboundEvent> = {
            let journal = lock(&self.writer.journal)?;
            all(&journal, READ_JOURNAL, [after, limit])?
        };
        for e in &mut events {
            e.attempts = self.with(|c| one_value(c, ATTEMPTS, [e.id]))?.unwrap_or(0);
        }
        Ok(events)
    }

    async fn finish_inbound(
        &mut self,
        id: i64,
        state: InboundState,
        note: Option<&str>,
        at_ms: i64,
    ) -> Result<()> {
        self.with(|c| {
            exec(c, ADVANCE, [id])?;
            exec(c, FORGET_ATTEMPTS, [id])?;
            if note.is_some() || state == InboundState::Failed {
                exec(
                    c,
                    sql::RECORD_OUTCOME,
                    params![id, state.as_str(), note, at_ms],
                )?;
            }
            Ok(())
        })
    }

    async fn lock_keys(&mut self, _keys: &[String]) -> Result<()> {
        // BEGIN IMMEDIATE already made this the only write transaction.
        Ok(())
    }

    async fn retry_inbound(&mut self, id: i64, note: &str) -> Result<()> {
        self.with(|c| exec(c, RETRY, params![id, note]))?;
        Ok(())
    }

    async fn contact_matches(
        &mut self,
        portfolio: &str,
        user_id: Option<&str>,
        wa_id: Option<&str>,
    ) -> Result<ContactMatches> {
        let rows =
            self.with(|c| all(c, sql::CONTACT_MATCHES, params![portfolio, user_id, wa_id]))?;
        Ok(ContactMatches::sort(rows, user_id, wa_id))
    }

    async fn contact_by_id(&mut self, id: i64) -> Result<Option<ContactRow>> {
        self.with(|c| one(c, sql::CONTACT_BY_ID, [id]))
    }

    async fn insert_contact(&mut self, k: &ContactFields, at_ms: i64) -> Result<i64> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&sqlite_sql(sql::INSERT_CONTACT))?;
            stmt.query_row(
                params![
                    k.portfolio,
                    k.user_id,
                    k.parent_user_id,
                    k.wa_id,
                    k.phone,
                    k.username,
                    k.profile_name,
                    k.seen_at,
                    at_ms
                ],
                |r| r.get(0),
            )
        })
    }

    async fn update_contact(&mut self, id: i64, k: &ContactFields, at_ms: i64) -> Result<()> {
        self.with(|c| {
            exec(
                c,
                sql::UPDATE_CONTACT,
                params![
                    id,
                    k.user_id,
                    k.parent_user_id,
                    k.wa_id,
                    k.phone,
                    k.username,
                    k.profile_name,
                    k.seen_at,
                    at_ms
                ],
            )
        })?;
        Ok(())
    }

    async fn set_marketing(&mut self, contact_id: i64, value: &str, meta_at: i64) -> Result<()> {
        self.with(|c| exec(c, sql::SET_MARKETING, params![contact_id, value, meta_at]))?;
        Ok(())
    }

    async fn conversation_for(
        &mut self,
        phone_number_id: &str,
        contact_id: i64,
        at_ms: i64,
    ) -> Result<ConversationRow> {
        self.with(|c| {
            let key = params![phone_number_id, contact_id];
            if let Some(found) = one(c, sql::CONVERSATION_FOR, key)? {
                return Ok(found);
            }
            exec(
                c,
                sql::CREATE_CONVERSATION,
                params![phone_number_id, contact_id, at_ms],
            )?;
            one(c, sql::CONVERSATION_FOR, key)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
        })
    }

    async fn update_conversation(&mut self, id: i64, u: &ConversationUpdate) -> Result<()> {
        self.with(|c| {
            exec(
                c,
                sql::UPDATE_CONVERSATION,
                params![
                    id,
                    u.status,
                    u.last_message_at,
                    u.last_inbound_at,
                    u.last_referral_at,
                    u.new_unread,
                    u.new_messages,
                    u.updated_at_ms
                ],
            )
        })?;
        Ok(())
    }

    async fn message_exists(&mut self, wamid: &str) -> Result<bool> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&sqlite_sql(sql::MESSAGE_EXISTS))?;
            stmt.exists([wamid])
        })
    }

    async fn insert_message(&mut self, m: &NewMessage) -> Result<Option<i64>> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&sqlite_sql(sql::INSERT_MESSAGE))?;
            stmt.query_row(
                params![
                    m.conversation_id,
                    m.wamid,
                    m.direction.as_str(),
                    m.kind,
                    m.meta_at,
                    m.received_at_ms,
                    m.preview,
                    m.content,
                    m.raw,
                    m.context_wamid,
                    m.referral,
                    m.errors,
                    m.delivery,
                    m.category,
                    i64::from(m.business_initiated),
                    m.biz_opaque
                ],
                |r| r.get(0),
            )
            .optional()
        })
    }

    async fn record_status(&mut self, s: &NewStatus) -> Result<StatusRecorded> {
        self.with(|c| {
            let inserted = exec(
                c,
                sql::INSERT_STATUS,
                params![
                    s.wamid,
                    s.status,
                    s.meta_at,
                    s.phone_number_id,
                    s.recipient_id,
                    s.recipient_user_id,
                    s.error_code,
                    s.errors,
                    s.pricing_model,
                    s.pricing_type,
                    s.pricing_category,
                    s.billable.map(i64::from),
                    s.conversation,
                    s.biz_opaque,
                    s.received_at_ms
                ],
            )?;
            if inserted == 0 {
                return Ok(StatusRecorded::Duplicate);
            }
            Ok(StatusRecorded::New(one(c, delivery_of!(), [&s.wamid])?))
        })
    }

    async fn delivery(&mut self, wamid: &str) -> Result<Option<MessageDelivery>> {
        self.with(|c| one(c, delivery_of!(), [wamid]))
    }

    async fn statuses_of(&mut self, wamid: &str) -> Result<Vec<StatusRow>> {
        self.with(|c| all(c, sql::STATUSES_OF, [wamid]))
    }

    async fn set_delivery(&mut self, message_id: i64, d: &DeliveryColumns) -> Result<()> {
        self.with(|c| {
            exec(
                c,
                sql::SET_DELIVERY,
                params![
                    message_id,
                    d.delivery,
                    d.sent_at,
                    d.delivered_at,
                    d.read_at,
                    d.played_at,
                    d.failed_at,
                    d.error_code,
                    d.error_class,
                    d.error_details
                ],
            )
        })?;
        Ok(())
    }

    async fn insert_event(&mut self, e: &NewEvent) -> Result<i64> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(&sqlite_sql(sql::INSERT_EVENT))?;
            stmt.query_row(
                params![
                    e.kind,
                    e.conversation_id,
                    e.message_id,
                    e.payload,
                    e.created_at_ms
                ],
                |r| r.get(0),
            )
        })
    }

    async fn apply_template_event(&mut self, e: &TemplateEvent) -> Result<bool> {
        self.with(|c| {
            let recorded = exec(
                c,
                sql::INSERT_TEMPLATE_EVENT,
                params![
                    e.waba_id,
                    e.meta_id,
                    e.name,
                    e.language,
                    e.field.as_str(),
                    e.value,
                    e.detail,
                    e.meta_at,
                    e.received_at_ms
                ],
            )?;
            if recorded == 0 {
                return Ok(false);
            }
            exec(
                c,
                sql::ENSURE_TEMPLATE,
                params![e.waba_id, e.meta_id, e.name, e.language, e.received_at_ms],
            )?;
            let (w, n, l, v, t, at) = (
                &e.waba_id,
                &e.name,
                &e.language,
                &e.value,
                e.meta_at,
                e.received_at_ms,
            );
            match e.field {
                TemplateField::Status => exec(
                    c,
                    sql::TEMPLATE_STATUS,
                    params![w, n, l, v, e.reason, e.category, t, at],
                )?,
                TemplateField::Quality => {
                    exec(c, sql::TEMPLATE_QUALITY, params![w, n, l, v, t, at])?
                }
                TemplateField::Category => exec(
                    c,
                    sql::TEMPLATE_CATEGORY,
                    params![w, n, l, v, e.category, t, at],
                )?,
            };
            Ok(true)
        })
    }

    async fn insert_consent(&mut self, k: &NewConsent) -> Result<bool> {
        let done = self.with(|c| {
            exec(
                c,
                sql::INSERT_CONSENT,
                params![
                    k.contact_id,
                    k.phone_number_id,
                    k.category,
                    k.value,
                    k.source,
                    k.detail,
                    k.meta_at,
                    k.received_at_ms
                ],
            )
        })?;
        Ok(done == 1)
    }

    async fn sync_template(&mut self, t: &TemplateSync) -> Result<()> {
        self.with(|c| {
            exec(
                c,
                sql::SYNC_TEMPLATE,
                params![
                    t.waba_id,
                    t.meta_id,
                    t.name,
                    t.language,
                    t.status,
                    t.category,
                    t.previous_category,
                    t.quality,
                    t.reason,
                    t.components,
                    t.parameter_format,
                    t.synced_at_ms,
                    t.synced_at_ms.div_euclid(1000)
                ],
            )
        })?;
        Ok(())
    }

    async fn insert_outbox(&mut self, o: &NewOutbox) -> Result<()> {
        self.with(|c| {
            exec(
                c,
                sql::INSERT_OUTBOX,
                params![
                    o.message_id,
                    o.phone_number_id,
                    o.recipient,
                    o.request,
                    o.not_before_ms,
                    o.created_at_ms
                ],
            )
        })?;
        Ok(())
    }

    async fn insert_cost(&mut self, k: &NewCost) -> Result<()> {
        self.with(|c| {
            exec(
                c,
                sql::INSERT_COST,
                params![
                    k.message_id,
                    k.phone_number_id,
                    k.market,
                    k.sent_at,
                    k.pricing_model,
                    k.category,
                    k.pricing_type,
                    k.currency,
                    k.predicted_micros
                ],
            )
        })?;
        Ok(())
    }

    async fn take_lease(
        &mut self,
        phone_number_id: &str,
        holder: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<bool> {
        let held: Option<String> = self.with(|c| {
            one_value(
                c,
                sql::TAKE_LEASE,
                params![phone_number_id, holder, now_ms, until_ms],
            )
        })?;
        Ok(held.is_some())
    }

    async fn release_lease(&mut self, phone_number_id: &str, holder: &str) -> Result<()> {
        self.with(|c| exec(c, sql::RELEASE_LEASE, params![phone_number_id, holder]))?;
        Ok(())
    }

    async fn orphans_unknown(
        &mut self,
        phone_number_id: &str,
        not_before_ms: i64,
        now_ms: i64,
    ) -> Result<u64> {
        let n = self.with(|c| {
            exec(
                c,
                sql::ORPHANS_UNKNOWN,
                params![phone_number_id, not_before_ms, now_ms],
            )
        })?;
        Ok(n as u64)
    }

    async fn claim_outbox(
        &mut self,
        phone_number_id: &str,
        now_ms: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRow>> {
        let mut rows: Vec<OutboxRow> = self.with(|c| {
            all(
                c,
                sql::CLAIM_OUTBOX,
                params![phone_number_id, now_ms, now_ms, limit],
            )
        })?;
        rows.sort_by_key(|r| (r.not_before_ms, r.message_id));
        Ok(rows)
    }

    async fn finish_outbox(
        &mut self,
        message_id: i64,
        outcome: &OutboxOutcome,
        now_ms: i64,
    ) -> Result<()> {
        self.with(|c| {
            match outcome {
                OutboxOutcome::Sent { wamid } => {
                    exec(c, sql::OUTBOX_SENT, params![message_id, now_ms])?;
                    exec(c, sql::MESSAGE_WAMID, params![message_id, wamid])?;
                }
                OutboxOutcome::Retry {
                    not_before_ms,
                    error,
                } => {
                    exec(
                        c,
                        sql::OUTBOX_AGAIN,
                        params![message_id, "queued", not_before_ms, error, now_ms],
                    )?;
                }
                OutboxOutcome::Unknown {
                    not_before_ms,
                    error,
                } => {
                    exec(
                        c,
                        sql::OUTBOX_AGAIN,
                        params![message_id, "unknown", not_before_ms, error, now_ms],
                    )?;
                }
                OutboxOutcome::Failed {
                    code,
                    class,
                    details,
                    at,
                } => {
                    let changed =
                        exec(c, sql::OUTBOX_FAILED, params![message_id, details, now_ms])?;
                    // Without an answer the message may have arrived: it stays undecided.
                    if changed > 0 && class != "unknown" {
                        exec(
                            c,
                            sql::MESSAGE_FAILED,
                            params![message_id, at, code, class, details],
                        )?;
                    }
                }
            }
            Ok(())
        })
    }

    async fn attach_wamid(
        &mut self,
        message_id: i64,
        wamid: &str,
        now_ms: i64,
    ) -> Result<Option<String>> {
        self.with(|c| {
            exec(c, sql::MESSAGE_WAMID, params![message_id, wamid])?;
            let current: Option<Option<String>> = one_value(c, sql::OUTBOUND_WAMID, [message_id])?;
            if current.is_some() {
                exec(c, sql::OUTBOX_SETTLED, params![message_id, now_ms])?;
            }
            Ok(current.flatten())
        })
    }

    async fn bill_cost(&mut self, b: &CostBill) -> Result<bool> {
        let n = self.with(|c| {
            exec(
                c,
                sql::BILL_COST,
                params![
                    b.message_id,
                    b.model,
                    b.category,
                    b.pricing_type,
                    b.billable.map(i64::from),
                    b.billed_micros,
                    b.billed_at
                ],
            )
        })?;
        Ok(n == 1)
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        // COMMIT fsyncs (synchronous = FULL): a blocking thread, not the runtime's.
        SqliteStore::write_blocking(self.writer.clone(), |c| c.execute_batch("COMMIT")).await?;
        self.open = false;
        Ok(())
    }
}
