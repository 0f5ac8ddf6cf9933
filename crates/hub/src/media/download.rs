//! The downloader: takes queued media from the store and brings each file home, once.
//!
//! Meta's webhook carries only a media id. `GET /{media-id}` gives a download URL that works for
//! five minutes, with the business number's token; Meta keeps the file only a few days
//! (cloud-api.md §5.5, §9.1). So every attempt asks for a fresh URL and uses it at once; the
//! body is streamed to a partial file under a size cap, hashed and checked against Meta's
//! SHA-256 on the way, fsynced, sniffed from its magic bytes, scanned for markup, and moved into
//! place under its content hash before the row says `stored`.
//!
//! A transient failure (network, Meta's 5xx, an expired URL, a token an operator must renew) is
//! retried with backoff and jitter, up to `media.max_attempts`; a permanent one (Meta no longer
//! has the file, or it is larger than `media.max_bytes`) fails the media at once with what
//! happened and what to do. Claims are leases: a node that dies mid-download leaves its rows to
//! the next claim once the lease runs out; a node that stops releases them.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use store::{MediaOutcome, MediaRow, Store};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::files::MediaDir;
use super::kind::{MarkupScan, SNIFF_BYTES, sniff};
use crate::Clock;
use crate::config::Settings;
use crate::graph::{DownloadFailure, Graph, GraphFailure};
use crate::metrics::Metrics;

/// Longest wait between two attempts.
const MAX_BACKOFF_MS: i64 = 3_600_000;
/// A lease outlasts the download it covers by this much.
const LEASE_MARGIN_MS: i64 = 60_000;

/// What the downloader needs.
#[derive(Debug, Clone)]
pub struct Downloader {
    pub store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
    pub clock: Arc<dyn Clock>,
    pub graph: Graph,
    pub metrics: Arc<Metrics>,
    /// This node's name in the leases.
    pub node: String,
    /// Notified when ingest queues media, so that downloads start at once.
    pub wake: Arc<Notify>,
}

/// Why an attempt did not store the file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    /// Another attempt may succeed.
    Transient(String),
    /// No attempt can succeed: what happened and what to do.
    Permanent(String),
}

/// A file written to its place.
struct Stored {
    key: String,
    size: u64,
    sniffed: Option<&'static str>,
    markup: bool,
}

impl Downloader {
    /// Runs until `stop` turns true; downloads in progress then are abandoned and released.
    pub fn start(self, stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run(stop))
    }

    async fn run(self, mut stop: watch::Receiver<bool>) {
        let Ok(root) = self.settings.media_dir() else {
            tracing::error!("no media folder (`media.dir`): customers' media are not downloaded");
            return;
        };
        let dir = MediaDir::new(root);
        if let Err(e) = dir.prepare().await {
            tracing::error!(dir = %root.display(), error = %e,
                "the media folder cannot be prepared: downloads will fail until it is writable (`media.dir`)");
        }
        let this = Arc::new(self);
        let mut running = JoinSet::new();
        let mut jobs: HashMap<tokio::task::Id, i64> = HashMap::new();
        loop {
            if *stop.borrow() {
                break;
            }
            let room = this
                .settings
                .media
                .concurrency
                .saturating_sub(running.len());
            if room > 0 {
                match this.claim(room).await {
                    Ok(claimed) => {
                        for job in claimed {
                            let id = job.id;
                            let task = running.spawn(this.clone().attempt(job, dir.clone()));
                            jobs.insert(task.id(), id);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "media downloads: database error, retrying");
                    }
                }
            }
            tokio::select! {
                () = this.wake.notified() => {}
                () = tokio::time::sleep(this.settings.media.poll_interval) => {}
                Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                    let id = match &done { Ok((id, ())) => *id, Err(e) => e.id() };
                    jobs.remove(&id);
                }
                _ = stop.changed() => {}
            }
        }
        running.abort_all();
        while let Some(done) = running.join_next_with_id().await {
            let task = match &done {
                Ok((id, ())) => *id,
                Err(e) => e.id(),
            };
            if let Some(media) = jobs.remove(&task)
                && done.is_err()
            {
                let now = this.clock.now_ms();
                if let Err(e) = this.store.release_media(media, &this.node, now).await {
                    tracing::warn!(media, error = %e, "a download stopped mid-way stays claimed until its lease runs out");
                }
            }
        }
        tracing::debug!("media downloads stopped");
    }

    async fn claim(&self, room: usize) -> store::Result<Vec<MediaRow>> {
        let now = self.clock.now_ms();
        let lease = duration_ms(self.settings.media.download_timeout) + LEASE_MARGIN_MS;
        self.store
            .claim_media(
                &self.node,
                now,
                now + lease,
                i64::try_from(room).unwrap_or(1),
            )
            .await
    }

    /// One attempt at one media, its outcome recorded.
    async fn attempt(self: Arc<Self>, job: MediaRow, dir: MediaDir) {
        let outcome = match self.fetch(&job, &dir).await {
            Ok(stored) => {
                self.metrics.media_download("stored");
                #[expect(clippy::cast_possible_wrap, reason = "sizes are capped at 100 MB")]
                MediaOutcome::Stored {
                    storage_key: stored.key,
                    size_bytes: stored.size as i64,
                    sniffed_mime: stored.sniffed.map(str::to_owned),
                    has_markup: stored.markup,
                }
            }
            Err(Failure::Transient(error))
                if job.attempts < i64::from(self.settings.media.max_attempts) =>
            {
                self.metrics.media_download("retry");
                let delay = retry_delay_ms(
                    job.attempts,
                    duration_ms(self.settings.media.backoff_base),
                    rand::random(),
                );
                tracing::info!(media = job.id, attempts = job.attempts, retry_in_ms = delay, error = %error,
                    "a media download failed; it will be retried");
                MediaOutcome::Retry {
                    next_attempt_at_ms: self.clock.now_ms() + delay,
                    error,
                }
            }
            Err(Failure::Transient(error)) => {
                self.metrics.media_download("failed");
                tracing::warn!(media = job.id, attempts = job.attempts, error = %error, "a media download was given up");
                MediaOutcome::Failed {
                    error: format!(
                        "gave up after {} attempts; the last one failed: {error}. Next step: check \
                         that guichet reaches the Graph API and that the number's access token is \
                         valid, then ask the customer to send the file again",
                        job.attempts
                    ),
                }
            }
            Err(Failure::Permanent(error)) => {
                self.metrics.media_download("failed");
                tracing::warn!(media = job.id, error = %error, "a media cannot be downloaded");
                MediaOutcome::Failed { error }
            }
        };
        let now = self.clock.now_ms();
        match self
            .store
            .finish_media(job.id, &self.node, &outcome, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(
                    media = job.id,
                    "a download outlived its lease; another node has it"
                );
            }
            Err(e) => {
                tracing::warn!(media = job.id, error = %e, "a download's outcome could not be recorded; it is retried when its lease runs out");
            }
        }
    }

    async fn fetch(&self, job: &MediaRow, dir: &MediaDir) -> Result<Stored, Failure> {
        let token = self
            .settings
            .number(&job.phone_number_id)
            .map(|n| n.access_token.as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Failure::Transient(format!(
                    "guichet has no access token for business number {}: set the number's \
                     `access_token` so that its media can be fetched",
                    job.phone_number_id
                ))
            })?;
        // A fresh URL for every attempt: one asked for before may have expired.
        let info = self
            .graph
            .media_info(&job.meta_media_id, token)
            .await
            .map_err(|e| describe_failure(&e))?;
        let max = self.settings.media.max_bytes;
        if let Some(size) = info.file_size {
            too_big(size, max)?;
        }
        let timeout = self.settings.media.download_timeout;
        let response = self
            .graph
            .download(&info.url, token, timeout)
            .await
            .map_err(|e| download_failure(&e))?;
        if let Some(length) = response.content_length() {
            too_big(length, max)?;
        }
        let (path, file) = dir.partial().await.map_err(|e| local(&e))?;
        let written = write(response, file, max).await;
        let written = match written {
            Ok(w) => w,
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                return Err(e);
            }
        };
        let expected = info.sha256.as_deref().or(job.declared_sha256.as_deref());
        if let Some(expected) = expected
            && sha_matches(expected, &written.sha256) == Some(false)
        {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(Failure::Transient(
                "the downloaded file's SHA-256 differs from the one Meta gave: the transfer was \
                 corrupted"
                    .into(),
            ));
        }
        let key = hex::encode(written.sha256);
        if let Err(e) = dir.keep(&path, &key).await {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(local(&e));
        }
        Ok(Stored {
            key,
            size: written.size,
            sniffed: sniff(&written.head),
            markup: written.markup,
        })
    }
}

/// What streaming a download to disk saw.
struct Written {
    sha256: [u8; 32],
    size: u64,
    head: Vec<u8>,
    markup: bool,
}

/// Streams the body into `file` (fsynced at the end), hashing, sniffing and scanning on the way;
/// stops as soon as it passes `max` bytes.
async fn write(
    mut response: reqwest::Response,
    mut file: tokio::fs::File,
    max: u64,
) -> Result<Written, Failure> {
    let mut hasher = Sha256::new();
    let mut scan = MarkupScan::default();
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    let mut size: u64 = 0;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Failure::Transient(format!("the download was cut off: {e}")))?
    {
        size += chunk.len() as u64;
        if size > max {
            too_big(size, max)?;
        }
        hasher.update(&chunk);
        scan.feed(&chunk);
        let take = SNIFF_BYTES.saturating_sub(head.len()).min(chunk.len());
        head.extend_from_slice(&chunk[..take]);
        file.write_all(&chunk).await.map_err(|e| local(&e))?;
    }
    file.flush().await.map_err(|e| local(&e))?;
    file.sync_all().await.map_err(|e| local(&e))?;
    Ok(Written {
        sha256: hasher.finalize().into(),
        size,
        head,
        markup: scan.finish(),
    })
}

fn too_big(size: u64, max: u64) -> Result<(), Failure> {
    if size <= max {
        return Ok(());
    }
    Err(Failure::Permanent(format!(
        "the file is larger than `media.max_bytes` ({max} bytes): it was not downloaded. Next \
         step: ask the customer for a smaller file; raising `media.max_bytes` (at most 104857600) \
         applies to files that come after"
    )))
}

/// A disk problem on guichet's side: the operator must act, later attempts may succeed.
fn local(e: &std::io::Error) -> Failure {
    tracing::error!(error = %e, "cannot write to the media folder (`media.dir`)");
    Failure::Transient(format!(
        "guichet could not write the file to its media folder: {e}"
    ))
}

/// `GET /{media-id}` failed: Meta no longer has the media (code 100: no such object) — it keeps
/// customers' media only for a few days — or something that may pass.
fn describe_failure(e: &GraphFailure) -> Failure {
    use wa::error_codes::{ErrorClass, class_of};
    match e {
        GraphFailure::Refused(g) if g.code == 100 => Failure::Permanent(
            "Meta no longer has this file (it keeps customers' media only for a few days after \
             they are sent). Next step: ask the customer to send it again"
                .into(),
        ),
        GraphFailure::Refused(g) => match class_of(g.code) {
            ErrorClass::Reauthenticate => Failure::Transient(format!(
                "{e}. Next step: {}",
                ErrorClass::Reauthenticate.next_step()
            )),
            ErrorClass::RetrySoon | ErrorClass::RetryLater => Failure::Transient(e.to_string()),
            ErrorClass::Permanent | ErrorClass::NeedsTemplate | ErrorClass::Policy => {
                Failure::Permanent(format!(
                    "{e}. Next step: ask the customer to send the file again"
                ))
            }
        },
        GraphFailure::Unreachable(_) | GraphFailure::Unreadable(_) => {
            Failure::Transient(e.to_string())
        }
    }
}

/// The download URL failed: every answer may pass — 404 is an expired URL (the next attempt
/// asks for a fresh one), 401 a token being renewed, 5xx Meta's trouble.
fn download_failure(e: &DownloadFailure) -> Failure {
    match e {
        DownloadFailure::Refused { status: 404, .. } => Failure::Transient(format!(
            "{e} (an expired URL: the next attempt asks Meta for a fresh one)"
        )),
        _ => Failure::Transient(e.to_string()),
    }
}

/// Whether Meta's SHA-256 (base64, or hex) is the file's; `None` if it cannot be read as one.
fn sha_matches(declared: &str, actual: &[u8; 32]) -> Option<bool> {
    let declared = declared.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(declared)
        .ok()
        .filter(|b| b.len() == 32)
        .or_else(|| hex::decode(declared).ok().filter(|b| b.len() == 32))?;
    Some(bytes.as_slice() == actual)
}

/// The wait before attempt `attempts + 1`: the base doubled at every attempt, at most an hour,
/// then between half and all of it (`jitter` in 0..1), so that downloads that failed together
/// do not come back together.
pub(crate) fn retry_delay_ms(attempts: i64, base_ms: i64, jitter: f64) -> i64 {
    let doublings = u32::try_from((attempts - 1).clamp(0, 30)).unwrap_or(0);
    let wait = base_ms
        .saturating_mul(1_i64 << doublings)
        .clamp(1, MAX_BACKOFF_MS);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_precision_loss,
        reason = "at most an hour in ms"
    )]
    let delay = (wait as f64 * (0.5 + jitter.clamp(0.0, 1.0) / 2.0)) as i64;
    delay.max(1)
}

fn duration_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_an_hour_with_jitter() {
        assert_eq!(retry_delay_ms(1, 2_000, 1.0), 2_000);
        assert_eq!(retry_delay_ms(1, 2_000, 0.0), 1_000);
        assert_eq!(retry_delay_ms(3, 2_000, 1.0), 8_000);
        assert_eq!(retry_delay_ms(40, 2_000, 1.0), MAX_BACKOFF_MS);
        assert_eq!(retry_delay_ms(40, 2_000, 0.0), MAX_BACKOFF_MS / 2);
        for attempts in 1..20 {
            let d = retry_delay_ms(attempts, 2_000, 0.5);
            assert!((1..=MAX_BACKOFF_MS).contains(&d), "{attempts}: {d}");
            assert!(
                d >= retry_delay_ms(attempts - 1, 2_000, 0.5),
                "never shorter"
            );
        }
    }

    #[test]
    fn metas_sha256_is_read_in_base64_or_hex() {
        let abc: [u8; 32] = Sha256::digest(b"abc").into();
        assert_eq!(
            sha_matches("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", &abc),
            Some(true)
        );
        assert_eq!(sha_matches(&hex::encode(abc), &abc), Some(true));
        let other: [u8; 32] = Sha256::digest(b"abd").into();
        assert_eq!(
            sha_matches("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", &other),
            Some(false)
        );
        assert_eq!(sha_matches("not a hash", &abc), None);
    }

    #[test]
    fn failures_say_whether_another_attempt_can_succeed() {
        let refused = |code: i64| {
            GraphFailure::Refused(wa::error_codes::GraphError {
                message: format!("(#{code})"),
                kind: "OAuthException".into(),
                code,
                error_subcode: None,
                error_data: None,
                fbtrace_id: None,
            })
        };
        assert!(
            matches!(describe_failure(&refused(100)), Failure::Permanent(m) if m.contains("no longer has this file"))
        );
        assert!(matches!(
            describe_failure(&refused(131_000)),
            Failure::Transient(_)
        ));
        assert!(
            matches!(describe_failure(&refused(190)), Failure::Transient(m) if m.contains("access token"))
        );
        assert!(matches!(
            describe_failure(&GraphFailure::Unreachable("refused".into())),
            Failure::Transient(_)
        ));
        let expired = DownloadFailure::Refused {
            status: 404,
            detail: "expired".into(),
        };
        assert!(matches!(download_failure(&expired), Failure::Transient(m) if m.contains("fresh")));
        assert!(
            matches!(too_big(11, 10), Err(Failure::Permanent(m)) if m.contains("media.max_bytes"))
        );
        assert_eq!(too_big(10, 10), Ok(()));
    }
}
