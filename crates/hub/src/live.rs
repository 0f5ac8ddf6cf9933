//! Live updates for the agent UI: the domain events every node writes to the `events` table,
//! read back in order and fanned out to the browsers connected to this node.
//!
//! Reading the table (rather than passing events in memory) is what makes it work across nodes:
//! an event written by another node on the same Postgres reaches this node's agents too. A
//! change made on this node wakes the reader at once; others are seen within [`POLL`].

use std::sync::Arc;
use std::time::Duration;

use store::Store;
use tokio::sync::{Notify, broadcast, watch};

/// How often the events table is read while someone is listening.
const POLL: Duration = Duration::from_millis(250);
/// Events kept for a slow browser before it is told to reload (`lagged`).
const BUFFER: usize = 1024;
/// On Postgres, ids are taken when a transaction writes and become visible when it commits, so
/// a lower id can appear after a higher one was read. Each read looks this far back again, and
/// skips the ids it has already sent.
const LOOKBACK: i64 = 256;

/// One event, as the browsers get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    pub id: i64,
    pub kind: String,
    pub conversation_id: Option<i64>,
}

/// The fan-out of this node.
#[derive(Debug, Clone)]
pub struct Live {
    tx: broadcast::Sender<LiveEvent>,
    wake: Arc<Notify>,
    /// Turns true when the server shuts down: open feeds end so that it can.
    closing: Arc<watch::Sender<bool>>,
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

impl Live {
    pub fn new() -> Self {
        Self {
            tx: broadcast::channel(BUFFER).0,
            wake: Arc::new(Notify::new()),
            closing: Arc::new(watch::channel(false).0),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.tx.subscribe()
    }

    /// The server is shutting down: every open feed ends.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves when the server shuts down.
    pub async fn closed(&self) {
        let mut rx = self.closing.subscribe();
        let _ = rx.wait_for(|closing| *closing).await;
    }

    /// Something was just written: read the table now rather than at the next tick.
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    /// Reads new events and broadcasts them until `stop` turns true.
    pub async fn run(self, store: Arc<dyn Store>, mut stop: watch::Receiver<bool>) {
        // Where reading stands: `None` while nobody listens (nothing is read then, however
        // often ingest wakes this task); set to the newest event when a first browser comes, so
        // that it gets no backlog. Events up to `floor` happened before anyone listened.
        let mut position: Option<(i64, i64)> = None;
        let mut sent = std::collections::BTreeSet::new();
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
                _ = stop.changed() => return,
            }
            if self.tx.receiver_count() == 0 {
                position = None;
                continue;
            }
            let (mut last, floor) = match position {
                Some(p) => p,
                None => match store.last_event_id().await {
                    Ok(id) => {
                        sent.clear();
                        (id, id)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "live updates: cannot read the events table");
                        continue;
                    }
                },
            };
            loop {
                let from = (last - LOOKBACK).max(0);
                let rows = match store.events_after(from, 500).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        tracing::warn!(error = %e, "live updates: cannot read events");
                        break;
                    }
                };
                let full = rows.len() == 500;
                for row in rows {
                    if row.id <= floor || !sent.insert(row.id) {
                        continue;
                    }
                    last = last.max(row.id);
                    let _ = self.tx.send(LiveEvent {
                        id: row.id,
                        kind: row.kind,
                        conversation_id: row.conversation_id,
                    });
                }
                sent = sent.split_off(&(last - LOOKBACK));
                if !full {
                    break;
                }
            }
            position = Some((last, floor));
        }
    }
}
