//! The sender: one loop per business number, owned by one node at a time through a lease
//! (ARCHITECTURE.md, "Several nodes"), so that its pacing holds globally.
//!
//! Each loop claims due outbox rows (marking them `sending` durably before any request leaves),
//! spaces them with a throughput bucket set a little under the number's limit and a pair limiter
//! per customer, and hands them to the Graph API with a bounded number of requests in flight.
//! Answers are written back in batches:
//!
//! - accepted: `sent`, with the wamid;
//! - refused: by the class of Meta's code — retried with backoff and jitter (4^n seconds for the
//!   pair rate, as Meta asks), retried once much later, or failed with the code's meaning and
//!   next step;
//! - not sent at all (connection refused): retried like a transient error;
//! - no answer (timeout, connection cut after the request): `unknown`. Meta echoes guichet's
//!   `biz_opaque_callback_data` on the statuses of a message it accepted, which settles it as
//!   sent (see ingest); after the grace period without a status it is resent, once.
//!
//! A row left `sending` by a node that died is `unknown` to the next holder of the lease, for
//! the same reason: it may have left.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use domain::policy::{Millis, PairLimiter, Throughput, ThroughputBucket};
use serde_json::json;
use store::{NewEvent, OutboxOutcome, OutboxRow, Store};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::time::Instant;
use wa::error_codes::{ErrorClass, class_of, lookup};

use crate::Clock;
use crate::config::{NumberSettings, Settings};
use crate::graph::{Graph, SendOutcome};
use crate::metrics::Metrics;

/// How long a lease lasts without renewal (ms); renewed every third of it.
const LEASE_MS: i64 = 15_000;
/// How far back the pair limiters are rebuilt from when a loop starts (ms).
const PAIR_HISTORY_MS: i64 = 30 * 60 * 1000;
/// How often an idle loop looks for rows that became due.
const IDLE_POLL: Duration = Duration::from_millis(200);
/// How early a message may leave before its slot (ms).
const EARLY_MS: i64 = 3;
/// Outcomes written in one transaction at most.
const WRITE_BATCH: usize = 512;

/// What the send loops share.
#[derive(Debug, Clone)]
pub struct Sender {
    pub store: Arc<dyn Store>,
    pub settings: Arc<Settings>,
    pub clock: Arc<dyn Clock>,
    pub graph: Graph,
    pub metrics: Arc<Metrics>,
    /// This node's name in the leases.
    pub node: String,
}

impl Sender {
    /// Starts one loop per configured number; they stop when `stop` turns true.
    pub fn start(
        self,
        wakers: &super::Wakers,
        stop: &watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        if self.settings.outbound.paused {
            tracing::warn!("sending is paused (`outbound.paused`): messages are queued, not sent");
            return Vec::new();
        }
        self.settings
            .numbers
            .iter()
            .filter(|n| !n.access_token.is_empty())
            .map(|n| {
                let wake = wakers.of(&n.phone_number_id).unwrap_or_default();
                tokio::spawn(self.clone().run(n.clone(), wake, stop.clone()))
            })
            .collect()
    }

    async fn run(self, number: NumberSettings, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(self.clone().write_outcomes(done_rx));
        let pacer = Pacer::new(&self.settings, &number);
        // Claimed rows wait here for their slot: the next claim (and its commit) overlaps the
        // sending of the previous one.
        let (rows_tx, rows_rx) = mpsc::channel(pacer.claim_batch);
        let pacing = tokio::spawn(self.clone().pace(number.clone(), pacer, rows_rx, done_tx));
        let mut lease_until: Option<i64> = None;
        loop {
            if *stop.borrow() {
                break;
            }
            let pause = match self.claim(&number, &mut lease_until, &rows_tx).await {
                Ok(Turn::Busy) => None,
                Ok(Turn::Idle) => Some(IDLE_POLL),
                Ok(Turn::NoLease) => Some(Duration::from_millis(1_000)),
                Err(e) => {
                    tracing::warn!(number = %number.phone_number_id, error = %e, "send loop: database error, retrying");
                    Some(Duration::from_millis(500))
                }
            };
            if let Some(pause) = pause {
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        // Send what was claimed; the writer ends once every request in flight has answered
        // (each holds a sender of its channel) and their outcomes are written.
        drop(rows_tx);
        let _ = pacing.await;
        let _ = writer.await;
        if lease_until.is_some()
            && let Ok(mut tx) = self.store.begin().await
            && tx
                .release_lease(&number.phone_number_id, &self.node)
                .await
                .is_ok()
        {
            let _ = tx.commit().await;
        }
    }

    /// One round of the claimer: keep the lease, claim what is due, hand it to the pacer.
    async fn claim(
        &self,
        number: &NumberSettings,
        lease_until: &mut Option<i64>,
        rows: &mpsc::Sender<Paced>,
    ) -> store::Result<Turn> {
        let now_ms = self.clock.now_ms();
        let renew = lease_until.is_none_or(|until| until - now_ms < LEASE_MS * 2 / 3);
        if renew {
            let mut tx = self.store.begin().await?;
            let taken = tx
                .take_lease(
                    &number.phone_number_id,
                    &self.node,
                    now_ms,
                    now_ms + LEASE_MS,
                )
                .await?;
            if !taken {
                *lease_until = None;
                return Ok(Turn::NoLease);
            }
            let first = lease_until.is_none();
            if first {
                let grace = duration_ms(self.settings.outbound.unknown_grace);
                let orphans = tx
                    .orphans_unknown(&number.phone_number_id, now_ms + grace, now_ms)
                    .await?;
                if orphans > 0 {
                    tracing::warn!(number = %number.phone_number_id, orphans, "messages left sending by a stopped sender are unknown until reconciled");
                }
            }
            tx.commit().await?;
            if first {
                let history = self
                    .store
                    .recent_sends(&number.phone_number_id, now_ms - PAIR_HISTORY_MS)
                    .await?;
                let _ = rows.send(Paced::Restart(history)).await;
            }
            *lease_until = Some(now_ms + LEASE_MS);
        }
        let room = rows.capacity();
        if room == 0 {
            // The pacer has a full queue: wait until it takes one.
            let Ok(permit) = rows.reserve().await else {
                return Ok(Turn::Idle);
            };
            drop(permit);
            return Ok(Turn::Busy);
        }
        let mut tx = self.store.begin().await?;
        let claimed = tx
            .claim_outbox(
                &number.phone_number_id,
                now_ms,
                i64::try_from(room).unwrap_or(i64::MAX),
            )
            .await?;
        tx.commit().await?;
        if claimed.is_empty() {
            return Ok(Turn::Idle);
        }
        for row in claimed {
            if rows.send(Paced::Row(row)).await.is_err() {
                break;
            }
        }
        Ok(Turn::Busy)
    }

    /// The pacer: spaces the claimed rows by the throughput bucket and the pair limiters, and
    /// hands each to the Graph API, with a bounded number of requests in flight.
    async fn pace(
        self,
        number: NumberSettings,
        mut state: Pacer,
        mut rows: mpsc::Receiver<Paced>,
        done: mpsc::UnboundedSender<(OutboxRow, OutboxOutcome)>,
    ) {
        let pair_rate = self.settings.policy.pair_rate;
        let retry = Retry::of(&self.settings);
        while let Some(next) = rows.recv().await {
            let row = match next {
                Paced::Restart(history) => {
                    // The last holder may have sent until a moment ago: start a second later,
                    // so that the two do not add up within Meta's one-second window.
                    let mono = state.mono_ms();
                    state.bucket = ThroughputBucket::default();
                    state.bucket.reserve(state.rate, Millis(mono + 1_000));
                    state.pairs.clear();
                    for s in history {
                        state
                            .pairs
                            .entry(s.recipient)
                            .or_default()
                            .record(&pair_rate, Millis(s.sent_ms));
                    }
                    continue;
                }
                Paced::Row(row) => row,
            };
            let now_ms = self.clock.now_ms();
            let mono_now = state.mono_ms();
            let pair = state.pairs.entry(row.recipient.clone()).or_default();
            let pair_at = pair.earliest(&pair_rate, Millis(now_ms));
            if pair_at.0 > now_ms + 1_000 {
                // Queued behind others to the same customer: back in line, in time.
                let _ = done.send((
                    row,
                    OutboxOutcome::Retry {
                        not_before_ms: pair_at.0,
                        error: "paced for the pair rate (one message every 6 s per customer)"
                            .into(),
                    },
                ));
                continue;
            }
            let slot = state
                .bucket
                .reserve(state.rate, Millis(mono_now + (pair_at.0 - now_ms).max(0)));
            pair.record(&pair_rate, Millis(now_ms + (slot.0 - mono_now).max(0)));
            // Timers tick in milliseconds: at 1,000 messages/s a sleep per message would halve
            // the rate. A message up to a few ms early stays inside the headroom.
            // So: sleep only for a slot more than a few ms away, and then until the slot itself,
            // after which the next few slots are due and leave without sleeping.
            if slot.0 > state.mono_ms() + EARLY_MS {
                let at = state.started + Duration::from_millis(u64::try_from(slot.0).unwrap_or(0));
                tokio::time::sleep_until(at).await;
            }
            let Ok(permit) = state.in_flight.clone().acquire_owned().await else {
                break;
            };
            let graph = self.graph.clone();
            let token = number.access_token.clone();
            let phone = number.phone_number_id.clone();
            let done = done.clone();
            let clock = self.clock.clone();
            let metrics = self.metrics.clone();
            tokio::spawn(async move {
                let answer = graph.send(&phone, &token, &row.request).await;
                metrics.send(label(&answer));
                let outcome = retry.decide(&row, answer, clock.now_ms());
                let _ = done.send((row, outcome));
                drop(permit);
            });
        }
    }

    /// Writes outcomes in batches, in order, until the channel closes.
    async fn write_outcomes(self, mut rx: mpsc::UnboundedReceiver<(OutboxRow, OutboxOutcome)>) {
        let mut batch = Vec::with_capacity(WRITE_BATCH);
        while rx.recv_many(&mut batch, WRITE_BATCH).await > 0 {
            loop {
                match self.write(&batch).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot record send outcomes yet, retrying");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
            batch.clear();
        }
    }

    async fn write(&self, batch: &[(OutboxRow, OutboxOutcome)]) -> store::Result<()> {
        let now_ms = self.clock.now_ms();
        let mut tx = self.store.begin().await?;
        for (row, outcome) in batch {
            tx.finish_outbox(row.message_id, outcome, now_ms).await?;
            if let OutboxOutcome::Failed {
                code,
                class,
                details,
                ..
            } = outcome
            {
                tx.insert_event(&NewEvent {
                    kind: "message.send_failed".into(),
                    conversation_id: None,
                    message_id: Some(row.message_id),
                    payload: json!({
                        "message_id": row.message_id,
                        "code": code,
                        "class": class,
                        "details": details,
                    })
                    .to_string(),
                    created_at_ms: now_ms,
                })
                .await?;
            }
        }
        tx.commit().await
    }
}

fn label(answer: &SendOutcome) -> &'static str {
    match answer {
        SendOutcome::Accepted { .. } => "accepted",
        SendOutcome::Refused { .. } => "refused",
        SendOutcome::NotSent(_) => "not_sent",
        SendOutcome::NoAnswer(_) => "no_answer",
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

enum Turn {
    Busy,
    Idle,
    NoLease,
}

/// What the claimer hands the pacer.
enum Paced {
    /// The lease was (re)taken: the sends of the last minutes, to rebuild the pair limiters.
    Restart(Vec<store::RecentSend>),
    Row(OutboxRow),
}

/// The pacing state of one number.
struct Pacer {
    rate: Throughput,
    bucket: ThroughputBucket,
    pairs: HashMap<String, PairLimiter>,
    in_flight: Arc<Semaphore>,
    claim_batch: usize,
    started: Instant,
}

impl Pacer {
    fn new(settings: &Settings, number: &NumberSettings) -> Self {
        let paced = f64::from(number.throughput_mps) * settings.outbound.headroom;
        // Truncation intended: whole messages per second, at least one.
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "bounded by config validation"
        )]
        let per_second = (paced.floor() as u32).max(1);
        Self {
            // A burst of half the headroom lets the pacer catch up after a late timer or a slow
            // moment without ever exceeding the cap within a second.
            rate: Throughput {
                per_second,
                burst: ((f64::from(number.throughput_mps) - paced) / 2.0)
                    .floor()
                    .max(1.0) as u32,
            },
            bucket: ThroughputBucket::default(),
            pairs: HashMap::new(),
            in_flight: Arc::new(Semaphore::new(settings.outbound.max_in_flight)),
            // A quarter of a second's worth: a crash leaves few rows `sending`.
            claim_batch: (per_second as usize / 4).clamp(1, 256),
            started: Instant::now(),
        }
    }

    /// Monotonic milliseconds since the loop started, for the throughput bucket.
    fn mono_ms(&self) -> i64 {
        i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX)
    }
}

/// How a send's answer becomes the row's next state.
#[derive(Debug, Clone, Copy)]
struct Retry {
    max_attempts: i64,
    base_ms: i64,
    grace_ms: i64,
}

/// Longest wait between two attempts after a transient error.
const MAX_BACKOFF_MS: i64 = 10 * 60 * 1000;
/// The wait before the one retry of a "retry later" error (Meta: 24 h for 131049).
const RETRY_LATER_MS: i64 = 24 * 60 * 60 * 1000;

impl Retry {
    fn of(settings: &Settings) -> Self {
        Self {
            max_attempts: i64::from(settings.outbound.max_attempts),
            base_ms: duration_ms(settings.outbound.backoff_base).max(1),
            grace_ms: duration_ms(settings.outbound.unknown_grace),
        }
    }

    fn decide(&self, row: &OutboxRow, answer: SendOutcome, now_ms: i64) -> OutboxOutcome {
        match answer {
            SendOutcome::Accepted { wamid } => OutboxOutcome::Sent { wamid },
            SendOutcome::Refused { error, .. } => {
                let class = class_of(error.code);
                let details = describe_error(&error);
                match class {
                    ErrorClass::RetrySoon if row.attempts < self.max_attempts => {
                        OutboxOutcome::Retry {
                            not_before_ms: now_ms + self.backoff(row.attempts, error.code),
                            error: details,
                        }
                    }
                    ErrorClass::RetryLater if row.attempts < 2 => OutboxOutcome::Retry {
                        not_before_ms: now_ms + RETRY_LATER_MS,
                        error: details,
                    },
                    _ => OutboxOutcome::Failed {
                        code: Some(error.code),
                        class: class.as_str().to_owned(),
                        details,
                        at: now_ms.div_euclid(1000),
                    },
                }
            }
            SendOutcome::NotSent(why) if row.attempts < self.max_attempts => OutboxOutcome::Retry {
                not_before_ms: now_ms + self.backoff(row.attempts, 0),
                error: format!("not sent: {why}"),
            },
            SendOutcome::NotSent(why) => OutboxOutcome::Failed {
                code: None,
                class: ErrorClass::RetrySoon.as_str().to_owned(),
                details: format!(
                    "the Graph API could not be reached after {} attempts: {why}",
                    row.attempts
                ),
                at: now_ms.div_euclid(1000),
            },
            SendOutcome::NoAnswer(why) if row.resent == 0 => OutboxOutcome::Unknown {
                not_before_ms: now_ms + self.grace_ms,
                error: format!(
                    "no answer from the Graph API ({why}); waiting for status webhooks before \
                     resending once"
                ),
            },
            SendOutcome::NoAnswer(why) => OutboxOutcome::Failed {
                code: None,
                class: "unknown".into(),
                details: format!(
                    "no answer from the Graph API twice ({why}): check the conversation before \
                     sending it again, it may have arrived"
                ),
                at: now_ms.div_euclid(1000),
            },
        }
    }

    /// The wait before attempt `attempts + 1`: Meta's 4^n seconds for the pair rate, else a
    /// doubling from the base; with ±20 % jitter so that retries do not arrive together.
    fn backoff(&self, attempts: i64, code: i64) -> i64 {
        let n = u32::try_from(attempts.clamp(1, 20)).unwrap_or(1);
        let wait = if code == 131_056 {
            4_i64.saturating_pow(n).saturating_mul(1000)
        } else {
            self.base_ms.saturating_mul(2_i64.saturating_pow(n - 1))
        }
        .min(MAX_BACKOFF_MS);
        let jitter = rand::random_range(-wait / 5..=wait / 5);
        (wait + jitter).max(1)
    }
}

/// Meta's code with its meaning and what to do, for the message's failure.
fn describe_error(e: &wa::error_codes::GraphError) -> String {
    let details = e
        .error_data
        .as_ref()
        .and_then(|d| d.details.as_deref())
        .unwrap_or(&e.message);
    match lookup(e.code) {
        Some(entry) => format!(
            "{} ({}): {} {}",
            entry.meaning, e.code, details, entry.next_step
        ),
        None => format!(
            "Meta error {}: {details}. {}",
            e.code,
            class_of(e.code).next_step()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(attempts: i64, resent: i64) -> OutboxRow {
        OutboxRow {
            message_id: 1,
            phone_number_id: "1".into(),
            recipient: "33612345678".into(),
            request: "{}".into(),
            state: "sending".into(),
            not_before_ms: 0,
            attempts,
            resent,
            sent_ms: Some(0),
            last_error: None,
            created_at_ms: 0,
            updated_at_ms: 0,
        }
    }

    fn refused(code: i64) -> SendOutcome {
        SendOutcome::Refused {
            http_status: 400,
            error: wa::error_codes::GraphError {
                message: "x".into(),
                kind: "OAuthException".into(),
                code,
                error_subcode: None,
                error_data: None,
                fbtrace_id: None,
            },
        }
    }

    const RETRY: Retry = Retry {
        max_attempts: 5,
        base_ms: 1_000,
        grace_ms: 60_000,
    };

    #[test]
    fn transient_errors_are_retried_then_given_up() {
        assert!(matches!(
            RETRY.decide(&row(1, 0), refused(131_000), 0),
            OutboxOutcome::Retry { .. }
        ));
        assert!(matches!(
            RETRY.decide(&row(5, 0), refused(131_000), 0),
            OutboxOutcome::Failed { .. }
        ));
    }

    #[test]
    fn the_pair_rate_waits_four_to_the_n_seconds() {
        for n in 1..=3 {
            let wait = RETRY.backoff(n, 131_056);
            let expected = 4_i64.pow(u32::try_from(n).unwrap()) * 1000;
            assert!(
                (expected * 4 / 5..=expected * 6 / 5).contains(&wait),
                "{n}: {wait}"
            );
        }
    }

    #[test]
    fn permanent_errors_fail_with_their_meaning() {
        let OutboxOutcome::Failed {
            code,
            class,
            details,
            ..
        } = RETRY.decide(&row(1, 0), refused(131_026), 0)
        else {
            panic!("not failed")
        };
        assert_eq!(code, Some(131_026));
        assert_eq!(class, "permanent");
        assert!(details.contains("131026"), "{details}");
    }

    #[test]
    fn no_answer_waits_for_statuses_then_resends_once() {
        let first = RETRY.decide(&row(1, 0), SendOutcome::NoAnswer("timeout".into()), 10);
        assert_eq!(
            first,
            OutboxOutcome::Unknown {
                not_before_ms: 60_010,
                error: "no answer from the Graph API (timeout); waiting for status webhooks \
                        before resending once"
                    .into()
            }
        );
        assert!(matches!(
            RETRY.decide(&row(2, 1), SendOutcome::NoAnswer("timeout".into()), 10),
            OutboxOutcome::Failed { .. }
        ));
    }

    #[test]
    fn a_connection_refused_is_retried() {
        assert!(matches!(
            RETRY.decide(&row(1, 0), SendOutcome::NotSent("refused".into()), 0),
            OutboxOutcome::Retry { .. }
        ));
    }
}
