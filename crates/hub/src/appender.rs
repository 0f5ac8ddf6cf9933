//! Group commit: webhook handlers hand their verified bodies to a writer task, which stores all
//! that have queued up in one transaction, makes it durable (fsync) and answers each handler.
//! While one batch is being committed the next one queues, so the cost of an fsync is shared by
//! every webhook that arrived meanwhile instead of paid by each. Exact replays are recognised
//! before they reach the writer (see [`crate::replays`]).

use std::sync::Arc;

use store::{NewInboundEvent, Store, StoreError};
use tokio::sync::{Mutex, Notify, mpsc, oneshot};

use crate::metrics::Metrics;
use crate::replays::{self, Claim, Replays, Ticket};

/// Why a body could not be stored. Either way Meta gets a 5xx and retries.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppendError {
    #[error("the database could not store the webhook: {0}")]
    Storage(String),
    #[error("guichet is shutting down")]
    ShuttingDown,
}

/// What became of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Stored now, durably.
    New,
    /// Stored before: nothing changed.
    Duplicate,
}

struct Request {
    event: NewInboundEvent,
    ticket: Ticket,
    reply: oneshot::Sender<Result<Appended, AppendError>>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Request")
    }
}

/// The handle webhook handlers use.
#[derive(Debug, Clone)]
pub struct Appender {
    queue: mpsc::Sender<Request>,
    replays: Replays,
}

impl Appender {
    /// Loads what replays to recognise and starts the writer tasks: one per write transaction
    /// the store can run at once (at most four), so that on Postgres batches fill while
    /// others commit. They stop once every handle is dropped and the queue is drained.
    pub async fn start(
        store: &Arc<dyn Store>,
        metrics: &Arc<Metrics>,
        ingest: &Arc<Notify>,
        max_batch: usize,
    ) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        // Only an optimisation: without it, replays of older bodies are stored again and change
        // nothing.
        let stored = match store
            .latest_inbound_hashes(replays::REMEMBERED as i64)
            .await
        {
            Ok(stored) => stored,
            Err(e) => {
                tracing::warn!(error = %e, "could not load the latest webhooks' hashes; their replays will be stored again (and change nothing)");
                Vec::new()
            }
        };
        let replays = Replays::new(replays::REMEMBERED, stored);
        let (queue, rx) = mpsc::channel(max_batch.saturating_mul(8).max(64));
        let rx = Arc::new(Mutex::new(rx));
        let writers = store.concurrent_writers().clamp(1, 4);
        let tasks = (0..writers)
            .map(|_| {
                let loop_ = WriteLoop {
                    rx: rx.clone(),
                    store: store.clone(),
                    metrics: metrics.clone(),
                    ingest: ingest.clone(),
                    max_batch,
                };
                tokio::spawn(loop_.run())
            })
            .collect();
        (Self { queue, replays }, tasks)
    }

    /// Stores the body durably; returns once it is on disk (or known to be a replay).
    pub async fn append(&self, event: NewInboundEvent) -> Result<Appended, AppendError> {
        let ticket = match self.replays.claim(event.body_sha256) {
            Claim::Duplicate => return Ok(Appended::Duplicate),
            Claim::Wait(first) => {
                // The same body is being stored by another request: share its outcome.
                return match first.await {
                    Ok(Ok(())) => Ok(Appended::Duplicate),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(AppendError::ShuttingDown),
                };
            }
            Claim::Store(ticket) => ticket,
        };
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Request {
                event,
                ticket,
                reply,
            })
            .await
            .map_err(|_| AppendError::ShuttingDown)?;
        answer.await.map_err(|_| AppendError::ShuttingDown)?
    }
}

struct WriteLoop {
    rx: Arc<Mutex<mpsc::Receiver<Request>>>,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    ingest: Arc<Notify>,
    max_batch: usize,
}

impl WriteLoop {
    async fn run(self) {
        let mut batch: Vec<Request> = Vec::with_capacity(self.max_batch);
        loop {
            // Take everything queued (up to a batch), then let the next writer wait for more.
            let taken = self
                .rx
                .lock()
                .await
                .recv_many(&mut batch, self.max_batch)
                .await;
            if taken == 0 {
                return;
            }
            self.write(&mut batch).await;
        }
    }

    async fn write(&self, batch: &mut Vec<Request>) {
        let events: Vec<NewInboundEvent> = batch.iter().map(|r| r.event.clone()).collect();
        let result = self.store.append_inbound(&events).await;
        self.metrics.append_batches.inc();
        self.metrics.append_events.inc_by(events.len() as u64);
        let outcome = match &result {
            Ok(_) => Ok(()),
            Err(e) => {
                log_failure(e, events.len());
                Err(AppendError::Storage(e.to_string()))
            }
        };
        for request in batch.drain(..) {
            // Settled before the handler hears of it: a replay arriving right after the 200 is
            // already recognised.
            request.ticket.settle(&outcome);
            let _ = request.reply.send(outcome.clone().map(|()| Appended::New));
        }
        if result.is_ok() {
            self.ingest.notify_waiters();
            self.ingest.notify_one();
        }
    }
}

fn log_failure(e: &StoreError, n: usize) {
    if e.is_transient() {
        tracing::warn!(error = %e, webhooks = n, "could not store webhooks; answering 503 so that Meta retries");
    } else {
        tracing::error!(error = %e, webhooks = n, "could not store webhooks; answering 503 so that Meta retries");
    }
}
