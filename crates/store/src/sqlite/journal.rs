//! The journal's writer: a thread of its own, started with the store.
//!
//! Group commits run here rather than on tokio's blocking pool. That pool's threads are created
//! by whichever thread first needs one and inherit its scheduling priority; ingest runs on a
//! thread at a lower priority, so a pool thread it created would then make the fsync a webhook's
//! acknowledgement waits on yield to ingest — the opposite of what its lower priority is for.
//! This thread is created when the store is opened, at the priority of the server.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, params};
use tokio::sync::oneshot;

use super::{APPEND, lock, sqlite_sql, unavailable};
use crate::{NewInboundEvent, Result, StoreError};

type Job = (Vec<NewInboundEvent>, oneshot::Sender<Result<Vec<i64>>>);

/// The handle to the writer thread; the thread ends once the handle is dropped.
#[derive(Debug)]
pub(super) struct JournalWriter {
    jobs: mpsc::Sender<Job>,
}

impl JournalWriter {
    pub(super) fn start(conn: Arc<Mutex<Connection>>) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("guichet-journal".into())
            .spawn(move || {
                for (batch, reply) in queue {
                    // The appender may have stopped waiting (shutdown); the batch is stored anyway.
                    let _ = reply.send(append(&conn, &batch));
                }
            })?;
        Ok(Self { jobs })
    }

    /// Stores the batch in one transaction, durably; the ids in the batch's order.
    pub(super) async fn append(&self, batch: Vec<NewInboundEvent>) -> Result<Vec<i64>> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send((batch, reply))
            .map_err(|_| StoreError::Unavailable("the journal's writer thread stopped".into()))?;
        answer.await.map_err(unavailable)?
    }
}

fn append(conn: &Mutex<Connection>, batch: &[NewInboundEvent]) -> Result<Vec<i64>> {
    let c = lock(conn)?;
    c.execute_batch("BEGIN IMMEDIATE")?;
    let inserted = (|| {
        let mut insert = c.prepare_cached(&sqlite_sql(APPEND))?;
        batch
            .iter()
            .map(|e| {
                let row = params![&e.body_sha256[..], &e.body[..], e.app, e.received_at_ms];
                insert.query_row(row, |r| r.get(0))
            })
            .collect::<rusqlite::Result<Vec<i64>>>()
    })();
    let done = inserted.and_then(|ids| c.execute_batch("COMMIT").map(|()| ids));
    if done.is_err() {
        let _ = c.execute_batch("ROLLBACK");
    }
    done.map_err(StoreError::from)
}
