//! Customers' media: the rows that say where each file a message carries is on its way from Meta
//! to guichet's own storage. The table is the download queue too (ARCHITECTURE.md, "Storage"):
//! a row is queued in the transaction that records its message, so that no message is ever saved
//! with its media forgotten; downloaders claim due rows with a lease, so that a node that dies
//! mid-download leaves its rows to the others once the lease runs out.

use async_trait::async_trait;
use serde::Serialize;

use crate::Result;

/// Where a media is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaState {
    /// Waiting for its download, or for its next attempt.
    Queued,
    /// The file is in guichet's storage.
    Stored,
    /// Given up: `last_error` says why and what to do.
    Failed,
}

impl MediaState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Stored => "stored",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Queued, Self::Stored, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A media to download, queued with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMedia {
    pub message_id: i64,
    /// Meta's media id, from the webhook.
    pub meta_media_id: String,
    /// The business number the message came to (or, for an echo, left from): its access token
    /// fetches the file.
    pub phone_number_id: String,
    /// `image`, `video`, `audio`, `document` or `sticker`.
    pub kind: String,
    /// Meta's `mime_type`: what the sender's app said the file is. Not to be trusted.
    pub declared_mime: Option<String>,
    /// Meta's `sha256`, base64.
    pub declared_sha256: Option<String>,
    /// The customer's name for the file (documents): for display, never for storage.
    pub filename: Option<String>,
    /// When it was queued; the first attempt is due then.
    pub created_at_ms: i64,
}

/// A media row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct MediaRow {
    /// guichet's id for the media, the one its API and UI use.
    pub id: i64,
    pub message_id: i64,
    pub meta_media_id: String,
    pub phone_number_id: String,
    pub kind: String,
    pub state: String,
    /// Attempts started (counted when claimed).
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub locked_until_ms: Option<i64>,
    pub locked_by: Option<String>,
    pub declared_mime: Option<String>,
    pub declared_sha256: Option<String>,
    /// The type the file's magic bytes show, once stored (`None` if they show none known).
    pub sniffed_mime: Option<String>,
    /// Whether HTML or SVG markup was found anywhere in the bytes (a polyglot, or a page).
    pub has_markup: bool,
    pub size_bytes: Option<i64>,
    pub filename: Option<String>,
    /// guichet's own name for the stored file.
    pub storage_key: Option<String>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub stored_at_ms: Option<i64>,
}

impl MediaRow {
    pub fn state(&self) -> Option<MediaState> {
        MediaState::parse(&self.state)
    }
}

/// What became of one claimed download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaOutcome {
    /// The file is kept under `storage_key`.
    Stored {
        storage_key: String,
        size_bytes: i64,
        sniffed_mime: Option<String>,
        has_markup: bool,
    },
    /// Try again at `next_attempt_at_ms`.
    Retry {
        next_attempt_at_ms: i64,
        error: String,
    },
    /// Given up, for the reason given (what happened and what to do).
    Failed { error: String },
}

/// The media side of the store.
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// Takes up to `limit` due downloads (queued, due, and not held by a running lease), oldest
    /// due first: each is held by `node` until `lease_until_ms` and counts one more attempt.
    /// Concurrent claims (other nodes) never take the same row.
    async fn claim_media(
        &self,
        node: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<MediaRow>>;

    /// Records what became of a download `node` holds; `false` (nothing changed) if it no
    /// longer holds it — its lease ran out and another node took it.
    async fn finish_media(
        &self,
        id: i64,
        node: &str,
        outcome: &MediaOutcome,
        now_ms: i64,
    ) -> Result<bool>;

    /// Lets go of a download `node` holds without it counting as an attempt (the node is
    /// stopping): it is due again at once, for any node.
    async fn release_media(&self, id: i64, node: &str, now_ms: i64) -> Result<bool>;

    /// A media by guichet's id.
    async fn media(&self, id: i64) -> Result<Option<MediaRow>>;

    /// The media of a message (at most one today: Meta's messages carry one file each).
    async fn media_of_message(&self, message_id: i64) -> Result<Vec<MediaRow>>;

    /// The media of several messages at once (a page of a conversation), by id.
    async fn media_of_messages(&self, message_ids: &[i64]) -> Result<Vec<MediaRow>>;
}

/// The media writes that belong to a transaction.
#[async_trait]
pub trait MediaTx: Send {
    /// Queues a media's download, in the transaction that records its message; `None` if this
    /// message's media was queued before (nothing changed).
    async fn queue_media(&mut self, media: &NewMedia) -> Result<Option<i64>>;
}

macro_rules! media_columns {
    () => {
        "id, message_id, meta_media_id, phone_number_id, kind, state, attempts, \
         next_attempt_at_ms, locked_until_ms, locked_by, declared_mime, declared_sha256, \
         sniffed_mime, has_markup, size_bytes, filename, storage_key, last_error, created_at_ms, \
         updated_at_ms, stored_at_ms"
    };
}

/// The first attempt is due as soon as it is queued.
pub(crate) const QUEUE_MEDIA: &str = "INSERT INTO media (message_id, meta_media_id, \
     phone_number_id, kind, state, next_attempt_at_ms, declared_mime, declared_sha256, filename, \
     created_at_ms, updated_at_ms) \
     VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7, $8, $5, $5) \
     ON CONFLICT (message_id, meta_media_id) DO NOTHING RETURNING id";

/// The claim: due queued rows whose lease (if any) has run out. `$1` now, `$2` lease end,
/// `$3` node, `$4` limit. Postgres adds `FOR UPDATE SKIP LOCKED` to the inner select.
macro_rules! claim_media {
    ($lock:literal) => {
        concat!(
            "UPDATE media SET attempts = attempts + 1, locked_until_ms = $2, locked_by = $3, \
               updated_at_ms = $1 \
             WHERE id IN (SELECT id FROM media WHERE state = 'queued' AND next_attempt_at_ms <= $1 \
               AND (locked_until_ms IS NULL OR locked_until_ms <= $1) \
               ORDER BY next_attempt_at_ms, id LIMIT $4",
            $lock,
            ") RETURNING ",
            media_columns!()
        )
    };
}

pub(crate) const CLAIM_MEDIA_SQLITE: &str = claim_media!("");
pub(crate) const CLAIM_MEDIA_POSTGRES: &str = claim_media!(" FOR UPDATE SKIP LOCKED");

/// Whether any row is due: SQLite reads this before taking the writer for a claim, so that an
/// idle downloader never writes.
pub(crate) const MEDIA_DUE: &str = "SELECT 1 FROM media WHERE state = 'queued' \
     AND next_attempt_at_ms <= $1 AND (locked_until_ms IS NULL OR locked_until_ms <= $1) LIMIT 1";

/// Only the holder of the lease writes the outcome.
pub(crate) const MEDIA_STORED: &str = "UPDATE media SET state = 'stored', storage_key = $3, \
     size_bytes = $4, sniffed_mime = $5, has_markup = $6, last_error = NULL, \
     locked_until_ms = NULL, locked_by = NULL, stored_at_ms = $7, updated_at_ms = $7 \
     WHERE id = $1 AND locked_by = $2 AND state = 'queued'";

pub(crate) const MEDIA_RETRY: &str = "UPDATE media SET next_attempt_at_ms = $3, last_error = $4, \
     locked_until_ms = NULL, locked_by = NULL, updated_at_ms = $5 \
     WHERE id = $1 AND locked_by = $2 AND state = 'queued'";

pub(crate) const MEDIA_FAILED: &str = "UPDATE media SET state = 'failed', last_error = $3, \
     locked_until_ms = NULL, locked_by = NULL, updated_at_ms = $4 \
     WHERE id = $1 AND locked_by = $2 AND state = 'queued'";

pub(crate) const MEDIA_RELEASE: &str = "UPDATE media SET attempts = attempts - 1, \
     next_attempt_at_ms = $3, locked_until_ms = NULL, locked_by = NULL, updated_at_ms = $3 \
     WHERE id = $1 AND locked_by = $2 AND state = 'queued'";

pub(crate) const MEDIA_BY_ID: &str =
    concat!("SELECT ", media_columns!(), " FROM media WHERE id = $1");

pub(crate) const MEDIA_OF_MESSAGE: &str = concat!(
    "SELECT ",
    media_columns!(),
    " FROM media WHERE message_id = $1 ORDER BY id"
);

/// SQLite reads the ids from a JSON array.
pub(crate) const MEDIA_OF_MESSAGES_SQLITE: &str = concat!(
    "SELECT ",
    media_columns!(),
    " FROM media WHERE message_id IN (SELECT value FROM json_each($1)) ORDER BY message_id, id"
);

pub(crate) const MEDIA_OF_MESSAGES_POSTGRES: &str = concat!(
    "SELECT ",
    media_columns!(),
    " FROM media WHERE message_id = ANY($1) ORDER BY message_id, id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_back() {
        for s in [MediaState::Queued, MediaState::Stored, MediaState::Failed] {
            assert_eq!(MediaState::parse(s.as_str()), Some(s));
        }
        assert_eq!(MediaState::parse("downloading"), None);
    }

    #[test]
    fn only_postgres_skips_locked_rows() {
        assert!(CLAIM_MEDIA_POSTGRES.contains("LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING"));
        assert!(!CLAIM_MEDIA_SQLITE.contains("FOR UPDATE"));
    }
}
