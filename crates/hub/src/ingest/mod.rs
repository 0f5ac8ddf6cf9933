//! Ingest: stored webhooks become conversations.
//!
//! The webhook endpoint only appends raw bodies; this worker reads them back in order, parses
//! them and applies them in one transaction per batch, marking each event done in the same
//! transaction — so a crash anywhere leaves either nothing or everything of a batch, and a
//! replayed event finds its items already there. It is woken as soon as an append commits, and
//! also polls, which picks up what a crashed process or another node left behind.

mod apply;

use std::sync::Arc;
use std::time::Duration;

use store::{Durability, InboundEvent, InboundState, Store, StoreError};
use tokio::sync::{Notify, watch};
use wa::webhook::{Notification, ParseReport};

use crate::clock::Clock;
use crate::config::Settings;
use crate::metrics::Metrics;
use apply::{Ingest, Notes};

/// What the worker needs.
#[derive(Debug, Clone)]
pub struct Worker {
    pub store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<dyn Clock>,
    pub wake: Arc<Notify>,
    /// Wakes the media downloader when a batch queued media.
    pub media_wake: Arc<Notify>,
    /// Wakes the bot loop: a batch may have queued customer messages for a bot.
    pub bot_wake: Arc<Notify>,
    /// Tells the agents' live feed that events were written.
    pub live: crate::live::Live,
}

enum Pass {
    /// This many events were handled.
    Did(usize),
    /// The batch failed as a whole; retry event by event.
    Failed(StoreError),
}

impl Worker {
    /// Runs until `stop` turns true, finishing the batch in hand first.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            if *stop.borrow() {
                break;
            }
            match self.drain().await {
                Ok(()) => backoff = Duration::from_millis(100),
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "ingest paused: database unavailable");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.settings.ingest.poll_interval) => {}
                _ = stop.changed() => {}
            }
        }
        tracing::debug!("ingest stopped");
    }

    /// Runs the worker on a thread of its own, at a lower CPU priority than the threads that
    /// answer webhooks. Ingest is long stretches of CPU (and, on SQLite, statements that run
    /// inline); when webhooks pour in faster than both can keep up with, acknowledging Meta comes
    /// first — the stored webhooks wait, durably, and ingest catches up when the burst is over.
    /// Alone, it runs at full speed.
    pub fn spawn(
        self,
        stop: watch::Receiver<bool>,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let runtime = tokio::runtime::Handle::current();
        std::thread::Builder::new()
            .name("guichet-ingest".into())
            .spawn(move || {
                lower_priority();
                runtime.block_on(self.run(stop));
            })
    }

    /// Ingests until nothing is pending. Errors only when the database is unavailable.
    pub async fn drain(&self) -> Result<(), StoreError> {
        loop {
            match self.pass(self.settings.ingest.batch_size).await? {
                Pass::Did(0) => return Ok(()),
                Pass::Did(_) => {}
                Pass::Failed(e) if e.is_transient() => return Err(e),
                Pass::Failed(e) => {
                    tracing::warn!(error = %e, "an ingest batch failed; retrying its events one by one");
                    self.isolate().await?;
                }
            }
        }
    }

    /// One transaction: claim up to `limit` events, apply them, mark them done.
    async fn pass(&self, limit: i64) -> Result<Pass, StoreError> {
        // What ingest writes can always be derived again from the stored webhooks, which were
        // made durable before Meta got its 200: its commits need not wait for the disk.
        let mut tx = self.store.begin_with(Durability::Rederivable).await?;
        let events = tx.claim_inbound(limit).await?;
        if events.is_empty() {
            return Ok(Pass::Did(0));
        }
        let parsed: Vec<_> = events.iter().map(|e| wa::webhook::parse(&e.body)).collect();
        // Lock what the batch touches, in one sorted round: concurrent workers and nodes then
        // never interleave on one message or contact, and never deadlock.
        let mut keys = Vec::new();
        for (notification, _) in parsed.iter().flatten() {
            apply::lock_keys(notification, &self.settings, &mut keys);
        }
        if let Err(e) = tx.lock_keys(&keys).await {
            return Ok(Pass::Failed(e));
        }
        let mut latencies = Vec::with_capacity(events.len());
        let mut media_queued = false;
        for (event, parsed) in events.iter().zip(parsed) {
            let now_ms = self.clock.now_ms();
            match self.apply(tx.as_mut(), event, parsed, now_ms).await {
                Ok(note) => {
                    media_queued |= note.media_queued;
                    let state = if note.unreadable {
                        InboundState::Failed
                    } else {
                        InboundState::Done
                    };
                    tx.finish_inbound(event.id, state, note.text.as_deref(), now_ms)
                        .await?;
                    latencies.push((now_ms - event.received_at_ms).max(0));
                }
                Err(e) => return Ok(Pass::Failed(e)),
            }
        }
        match tx.commit().await {
            Ok(()) => {}
            Err(e) => return Ok(Pass::Failed(e)),
        }
        if media_queued {
            self.media_wake.notify_one();
        }
        if !events.is_empty() {
            self.live.poke();
            self.bot_wake.notify_one();
        }
        for ms in latencies {
            #[expect(clippy::cast_precision_loss, reason = "milliseconds fit in f64")]
            self.metrics.ingest_seconds.observe(ms as f64 / 1000.0);
        }
        Ok(Pass::Did(events.len()))
    }

    /// After a failed batch: the oldest event alone. If it fails alone too, count the attempt,
    /// and set it aside as `failed` (still stored) once it has failed `max_attempts` times.
    async fn isolate(&self) -> Result<(), StoreError> {
        let Pass::Failed(e) = self.pass(1).await? else {
            return Ok(());
        };
        if e.is_transient() {
            return Err(e);
        }
        let mut tx = self.store.begin().await?;
        let Some(event) = tx.claim_inbound(1).await?.pop() else {
            return Ok(());
        };
        let note = format!("ingest failed: {e}");
        if event.attempts + 1 >= self.settings.ingest.max_attempts {
            tracing::error!(event = event.id, error = %e, "a webhook keeps failing ingestion; set aside as failed (kept raw)");
            tx.finish_inbound(
                event.id,
                InboundState::Failed,
                Some(&note),
                self.clock.now_ms(),
            )
            .await?;
        } else {
            tx.retry_inbound(event.id, &note).await?;
        }
        tx.commit().await
    }

    async fn apply(
        &self,
        tx: &mut dyn store::Tx,
        event: &InboundEvent,
        parsed: Result<(Notification, ParseReport), wa::webhook::ParseError>,
        now_ms: i64,
    ) -> Result<Applied, StoreError> {
        let (notification, report) = match parsed {
            Ok(parsed) => parsed,
            Err(e) => {
                self.metrics.parse_failures.inc();
                tracing::warn!(
                    event = event.id,
                    error = e.summary(),
                    "a stored webhook is not a notification; kept as failed"
                );
                return Ok(Applied {
                    unreadable: true,
                    text: Some(e.to_string()),
                    media_queued: false,
                });
            }
        };
        self.metrics.unknown("field", report.unknown_fields.len());
        self.metrics.unknown("kind", report.unknown_kinds.len());
        self.metrics.unknown("change", report.other_changes.len());
        let mut ingest = Ingest {
            tx,
            settings: &self.settings,
            metrics: &self.metrics,
            now_ms,
            notes: Notes::default(),
            media_queued: 0,
        };
        ingest.notification(&notification).await?;
        let media_queued = ingest.media_queued > 0;
        let mut notes = ingest.notes.into_note().into_iter().collect::<Vec<_>>();
        notes.extend(describe(&report));
        Ok(Applied {
            unreadable: false,
            text: (!notes.is_empty()).then(|| notes.join("\n")),
            media_queued,
        })
    }
}

struct Applied {
    unreadable: bool,
    text: Option<String>,
    media_queued: bool,
}

/// Nice 10: under CPU contention this thread gets about a tenth of the share of a thread
/// answering webhooks. Where the platform refuses, ingest simply runs at normal priority.
fn lower_priority() {
    use thread_priority::{ThreadPriority, ThreadPriorityValue};
    // thread-priority maps 0..=99 onto nice 19..=-20 for normal threads; 25 is about nice 10.
    let value = ThreadPriorityValue::try_from(25u8).map(ThreadPriority::Crossplatform);
    if let Ok(priority) = value
        && let Err(e) = thread_priority::set_current_thread_priority(priority)
    {
        tracing::debug!(error = ?e, "ingest runs at normal priority");
    }
}

/// The parse report in a few lines, kept with the event for the operator.
fn describe(report: &ParseReport) -> Vec<String> {
    let list = |label: &str, items: &[String]| {
        (!items.is_empty()).then(|| format!("{label}: {}", items.join(", ")))
    };
    [
        list("unknown fields (kept raw)", &report.unknown_fields),
        list("unknown message kinds (kept raw)", &report.unknown_kinds),
        list("changes kept raw", &report.other_changes),
        list("unreadable items", &report.invalid_items),
    ]
    .into_iter()
    .flatten()
    .collect()
}
