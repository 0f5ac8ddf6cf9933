//! Exact replays of a webhook body: Meta retries what got no 200, and a 200 lost on the way
//! makes it send a body guichet already stored. Such a replay is answered `duplicate` and not
//! stored again.
//!
//! guichet remembers the hashes of the latest bodies it stored (loaded from the store at start)
//! rather than keeping a unique index over all of them, which would cost each append a random
//! index page — more than the append itself. A replay older than what is remembered is stored
//! again; ingest then finds every item of it already there, so it changes nothing either way.
//! A body being stored when its replay arrives is not stored twice: the replay waits for the
//! first one's commit and shares its answer.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::appender::AppendError;

type Hash = [u8; 32];
type Outcome = Result<(), AppendError>;

/// How many stored bodies are remembered (about 100 bytes each).
pub const REMEMBERED: usize = 100_000;

#[derive(Debug, Default)]
struct Inner {
    recent: HashSet<Hash>,
    order: VecDeque<Hash>,
    capacity: usize,
    /// Bodies being stored, with the replays waiting for their outcome.
    in_flight: HashMap<Hash, Vec<oneshot::Sender<Outcome>>>,
}

#[derive(Debug, Clone)]
pub struct Replays {
    inner: Arc<Mutex<Inner>>,
}

/// What to do with a body.
#[derive(Debug)]
pub enum Claim {
    /// Stored before: answer `duplicate`.
    Duplicate,
    /// Being stored by another request: wait for its outcome.
    Wait(oneshot::Receiver<Outcome>),
    /// Store it, and settle the ticket with the outcome.
    Store(Ticket),
}

/// The right, and the duty, to settle a body's outcome. Dropped unsettled (the request was
/// abandoned before its commit), it settles as failed, so that no replay waits forever and the
/// next one is stored.
#[derive(Debug)]
pub struct Ticket {
    hash: Hash,
    replays: Replays,
    settled: bool,
}

impl Replays {
    /// Remembers `stored`, oldest first.
    pub fn new(capacity: usize, stored: impl IntoIterator<Item = Hash>) -> Self {
        let replays = Self {
            inner: Arc::new(Mutex::new(Inner {
                capacity,
                ..Inner::default()
            })),
        };
        {
            let mut inner = replays.lock();
            for hash in stored {
                inner.remember(hash);
            }
        }
        replays
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn claim(&self, hash: Hash) -> Claim {
        let mut inner = self.lock();
        if inner.recent.contains(&hash) {
            return Claim::Duplicate;
        }
        if let Some(waiters) = inner.in_flight.get_mut(&hash) {
            let (tx, rx) = oneshot::channel();
            waiters.push(tx);
            return Claim::Wait(rx);
        }
        inner.in_flight.insert(hash, Vec::new());
        Claim::Store(Ticket {
            hash,
            replays: self.clone(),
            settled: false,
        })
    }
}

impl Inner {
    fn remember(&mut self, hash: Hash) {
        if self.recent.insert(hash) {
            self.order.push_back(hash);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.recent.remove(&old);
                }
            }
        }
    }
}

impl Ticket {
    /// Records the outcome of storing the body and tells the replays that waited for it.
    pub fn settle(mut self, outcome: &Outcome) {
        self.finish(outcome);
    }

    fn finish(&mut self, outcome: &Outcome) {
        self.settled = true;
        let waiters = {
            let mut inner = self.replays.lock();
            if outcome.is_ok() {
                inner.remember(self.hash);
            }
            inner.in_flight.remove(&self.hash).unwrap_or_default()
        };
        for waiter in waiters {
            let _ = waiter.send(outcome.clone());
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.settled {
            self.finish(&Err(AppendError::ShuttingDown));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> Hash {
        [n; 32]
    }

    #[test]
    fn a_stored_body_is_a_duplicate_and_the_oldest_are_forgotten() {
        let r = Replays::new(2, [h(1), h(2)]);
        assert!(matches!(r.claim(h(1)), Claim::Duplicate));
        let Claim::Store(t) = r.claim(h(3)) else {
            panic!("new body")
        };
        t.settle(&Ok(()));
        assert!(matches!(r.claim(h(3)), Claim::Duplicate));
        assert!(
            matches!(r.claim(h(1)), Claim::Store(_)),
            "h(1) was forgotten"
        );
    }

    #[tokio::test]
    async fn a_replay_during_the_commit_waits_and_shares_the_outcome() {
        let r = Replays::new(10, []);
        let Claim::Store(t) = r.claim(h(1)) else {
            panic!("new body")
        };
        let Claim::Wait(w) = r.claim(h(1)) else {
            panic!("in flight")
        };
        t.settle(&Ok(()));
        assert!(w.await.expect("answered").is_ok());
        assert!(matches!(r.claim(h(1)), Claim::Duplicate));
    }

    #[tokio::test]
    async fn a_failed_or_abandoned_commit_is_not_remembered() {
        let r = Replays::new(10, []);
        let Claim::Store(t) = r.claim(h(1)) else {
            panic!("new body")
        };
        let Claim::Wait(w) = r.claim(h(1)) else {
            panic!("in flight")
        };
        t.settle(&Err(AppendError::Storage("disk full".into())));
        assert!(w.await.expect("answered").is_err());
        let Claim::Store(t) = r.claim(h(1)) else {
            panic!("stored next time")
        };
        let Claim::Wait(w) = r.claim(h(1)) else {
            panic!("in flight")
        };
        drop(t);
        assert!(
            w.await.expect("answered").is_err(),
            "an abandoned ticket settles as failed"
        );
        assert!(matches!(r.claim(h(1)), Claim::Store(_)));
    }
}
