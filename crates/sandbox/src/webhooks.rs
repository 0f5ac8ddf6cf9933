//! Webhook delivery as Meta does it: a JSON envelope with non-ASCII escaped as `\uXXXX`, signed
//! with `X-Hub-Signature-256` over those exact bytes; anything but a 200 is retried, at once and
//! then less and less often, for seven days of emulated time (cloud-api.md §1.2, §2).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::{Notify, Semaphore};

use crate::clock::Clock;
use crate::faults::{self, Faults};
use crate::rules;
use crate::world::Update;

/// Webhook POSTs in flight at once, at most. Meta does not wait for the answer to one POST before
/// making the next; 64 at a time let the sandbox deliver the statuses of thousands of sends a second
/// to a receiver on the same machine (with 16, it fell behind them).
const IN_FLIGHT: usize = 64;

/// Where webhooks go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Callback {
    pub url: String,
    #[serde(skip)]
    pub verify_token: String,
}

/// Counters the control API shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// POSTs answered 200.
    pub delivered_posts: u64,
    /// Updates those POSTs carried.
    pub delivered_updates: u64,
    /// POSTs answered otherwise (or not at all), each retried later.
    pub failed_attempts: u64,
    /// Updates given up after seven days.
    pub dropped_updates: u64,
    /// POSTs sent a second time by the duplication fault.
    pub duplicated_posts: u64,
    /// Updates waiting: new, or for a retry.
    pub pending_updates: u64,
}

/// An update waiting for delivery, its value already serialised: a few hundred bytes in one piece
/// rather than a tree of maps, which matters when tens of thousands wait at once.
#[derive(Debug)]
struct Pending {
    waba_id: String,
    field: &'static str,
    value: Box<RawValue>,
}

impl From<Update> for Pending {
    fn from(u: Update) -> Self {
        // Serialising a `Value` cannot fail: its keys are strings.
        let value =
            serde_json::value::to_raw_value(&u.value).unwrap_or_else(|_| RawValue::NULL.to_owned());
        Self {
            waba_id: u.waba_id,
            field: u.field,
            value,
        }
    }
}

#[derive(Debug)]
struct Batch {
    updates: Vec<Pending>,
    /// Attempts made so far.
    attempts: u32,
    first_ms: i64,
    due_ms: i64,
}

#[derive(Debug, Default)]
struct State {
    callback: Option<Callback>,
    /// The callback's URL, parsed once when it is set rather than for every POST (or why it
    /// does not parse, which every attempt then fails with).
    url: Option<Result<reqwest::Url, String>>,
    /// New updates, each with when it may go (later than now under the delay fault).
    fresh: VecDeque<(Pending, i64)>,
    retries: Vec<Batch>,
    stats: Stats,
    faults: Faults,
}

/// The queue of webhook updates and its delivery loop.
#[derive(Debug)]
pub struct Outbox {
    state: Mutex<State>,
    wake: Notify,
    app_secret: String,
    /// Most updates in one POST.
    batch_max: usize,
    http: reqwest::Client,
    clock: Arc<Clock>,
}

impl Outbox {
    pub fn new(
        app_secret: String,
        callback: Option<Callback>,
        batch_max: usize,
        clock: Arc<Clock>,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self {
            state: Mutex::new(State {
                url: parse_url(callback.as_ref()),
                callback,
                ..State::default()
            }),
            wake: Notify::new(),
            app_secret,
            batch_max: batch_max.max(1),
            http,
            clock,
        }
    }

    /// Sets the faults of webhook delivery (the `webhook_*` ones).
    pub fn set_faults(&self, faults: Faults) {
        self.state().faults = faults;
        self.wake.notify_one();
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn push(&self, updates: impl IntoIterator<Item = Update>) {
        // Serialised before the lock is taken, so that the delivery loop does not wait for it.
        let pending: Vec<Pending> = updates.into_iter().map(Pending::from).collect();
        let mut state = self.state();
        let before = state.fresh.len();
        let delay = i64::try_from(state.faults.webhook_delay_ms).unwrap_or(i64::MAX / 2);
        let due = self.clock.now_ms().saturating_add(delay);
        state.fresh.extend(pending.into_iter().map(|u| (u, due)));
        if state.fresh.len() > before {
            drop(state);
            self.wake.notify_one();
        }
    }

    pub fn stats(&self) -> Stats {
        let state = self.state();
        let mut stats = state.stats;
        stats.pending_updates = (state.fresh.len()
            + state.retries.iter().map(|b| b.updates.len()).sum::<usize>())
            as u64;
        stats
    }

    pub fn callback(&self) -> Option<Callback> {
        self.state().callback.clone()
    }

    /// Sets the callback URL after Meta's verification handshake: a GET with
    /// `hub.mode=subscribe`, the verify token and a challenge, which must come back as the body.
    pub async fn set_callback(&self, callback: Callback) -> Result<(), String> {
        verify(&self.http, &callback).await?;
        let mut state = self.state();
        state.url = parse_url(Some(&callback));
        state.callback = Some(callback);
        drop(state);
        self.wake.notify_one();
        Ok(())
    }

    /// Delivers until the process ends, [`IN_FLIGHT`] POSTs at a time at most.
    pub async fn run(self: Arc<Self>) {
        let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
        loop {
            let batches = self.take(self.clock.now_ms());
            if batches.is_empty() {
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
                continue;
            }
            for batch in batches {
                let Ok(permit) = in_flight.clone().acquire_owned().await else {
                    return;
                };
                let this = self.clone();
                tokio::spawn(async move {
                    this.deliver(batch).await;
                    drop(permit);
                });
            }
        }
    }

    /// New updates grouped into POSTs, and the retries that are due.
    fn take(&self, now_ms: i64) -> Vec<Batch> {
        let mut state = self.state();
        if state.callback.is_none() {
            return Vec::new();
        }
        let (due, later): (Vec<Batch>, Vec<Batch>) = std::mem::take(&mut state.retries)
            .into_iter()
            .partition(|b| b.due_ms <= now_ms);
        state.retries = later;
        let mut batches = due;
        let (mut ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut state.fresh)
            .into_iter()
            .partition(|(_, due)| *due <= now_ms);
        state.fresh = waiting.into();
        if state.faults.webhook_reorder {
            rand::seq::SliceRandom::shuffle(ready.as_mut_slice(), &mut rand::rng());
        }
        let batch_max = state.faults.webhook_batch_max.unwrap_or(self.batch_max);
        let mut ready = ready.into_iter().map(|(u, _)| u).peekable();
        while ready.peek().is_some() {
            batches.push(Batch {
                updates: ready.by_ref().take(batch_max).collect(),
                attempts: 0,
                first_ms: now_ms,
                due_ms: now_ms,
            });
        }
        batches
    }

    async fn deliver(&self, mut batch: Batch) {
        let Some(url) = self.state().url.clone() else {
            self.state().retries.push(batch);
            return;
        };
        let time_s = self.clock.now_ms().div_euclid(1000);
        let body = Bytes::from(write_envelope(
            batch
                .updates
                .iter()
                .map(|u| (u.waba_id.as_str(), u.field, &*u.value)),
            time_s,
        ));
        let outcome = match &url {
            Ok(url) => self.post(url, &body).await,
            Err(why) => Err(why.clone()),
        };
        if let (Ok(url), Ok(())) = (&url, &outcome)
            && faults::happens(self.state().faults.webhook_duplicate_rate)
        {
            let _ = self.post(url, &body).await;
            self.state().stats.duplicated_posts += 1;
        }
        batch.attempts += 1;
        let mut state = self.state();
        match outcome {
            Ok(()) => {
                state.stats.delivered_posts += 1;
                state.stats.delivered_updates += batch.updates.len() as u64;
            }
            Err(why) => {
                state.stats.failed_attempts += 1;
                match rules::retry_at(batch.first_ms, batch.attempts + 1) {
                    Some(at) => {
                        tracing::debug!(attempt = batch.attempts, %why, "webhook not delivered; retrying later");
                        // The first retry is immediate in Meta's words; here it waits for the
                        // next pass of the loop, so that a dead receiver is not spun on.
                        batch.due_ms = at.max(self.clock.now_ms());
                        state.retries.push(batch);
                    }
                    None => {
                        tracing::warn!(updates = batch.updates.len(), %why, "webhook given up after seven days");
                        state.stats.dropped_updates += batch.updates.len() as u64;
                    }
                }
            }
        }
    }
}

impl Outbox {
    /// One signed POST; `Ok` only for a 200.
    async fn post(&self, url: &reqwest::Url, body: &Bytes) -> Result<(), String> {
        let signature = wa::signature::sign(self.app_secret.as_bytes(), body);
        let result = self
            .http
            .post(url.clone())
            .header("content-type", "application/json")
            .header(wa::signature::HEADER, signature)
            .body(body.clone())
            .send()
            .await;
        match result {
            Ok(r) if r.status() == reqwest::StatusCode::OK => Ok(()),
            Ok(r) => Err(format!("answered {}", r.status())),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The body of one POST: the updates grouped by WhatsApp Business Account, in order, serialised
/// as Meta does (compact, non-ASCII as `\uXXXX`). Entries of account and template fields carry
/// the `time` (Unix seconds) Meta gives them; `messages` entries have none.
pub fn envelope(updates: &[Update], time_s: i64) -> String {
    write_envelope(
        updates
            .iter()
            .map(|u| (u.waba_id.as_str(), u.field, &u.value)),
        time_s,
    )
}

/// [`envelope`] of updates given as (account, field, value). The values are written where they
/// are, not copied into a new `Value` first: at thousands of webhooks a second the copy cost more
/// than the rest of the body. The keys come out in the order of a `serde_json` object (sorted),
/// as they did when the envelope was a `Value`.
fn write_envelope<'a, V: Serialize + ?Sized + 'a>(
    updates: impl Iterator<Item = (&'a str, &'static str, &'a V)>,
    time_s: i64,
) -> String {
    let mut entry: Vec<EntryOut<'a, V>> = Vec::new();
    for (waba_id, field, value) in updates {
        let change = ChangeOut { field, value };
        let time = (field != "messages").then_some(time_s);
        match entry.iter_mut().find(|e| e.id == waba_id && e.time == time) {
            Some(e) => e.changes.push(change),
            None => entry.push(EntryOut {
                changes: vec![change],
                id: waba_id,
                time,
            }),
        }
    }
    let body = EnvelopeOut {
        entry,
        object: "whatsapp_business_account",
    };
    // Serialising strings and JSON values into a `String` cannot fail.
    let json = serde_json::to_string(&body).unwrap_or_default();
    if json.is_ascii() {
        json
    } else {
        wa::signature::escape_non_ascii(&json)
    }
}

/// What [`envelope`] writes, field by field in sorted order.
#[derive(Serialize)]
struct EnvelopeOut<'a, V: ?Sized> {
    entry: Vec<EntryOut<'a, V>>,
    object: &'static str,
}

#[derive(Serialize)]
struct EntryOut<'a, V: ?Sized> {
    changes: Vec<ChangeOut<'a, V>>,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<i64>,
}

#[derive(Serialize)]
struct ChangeOut<'a, V: ?Sized> {
    field: &'static str,
    value: &'a V,
}

/// A callback's URL as reqwest takes it.
fn parse_url(callback: Option<&Callback>) -> Option<Result<reqwest::Url, String>> {
    callback.map(|c| {
        reqwest::Url::parse(&c.url)
            .map_err(|e| format!("the callback URL {} is invalid: {e}", c.url))
    })
}

async fn verify(http: &reqwest::Client, callback: &Callback) -> Result<(), String> {
    let challenge = rand::random::<u32>().to_string();
    let response = http
        .get(&callback.url)
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.verify_token", callback.verify_token.as_str()),
            ("hub.challenge", challenge.as_str()),
        ])
        .send()
        .await
        .map_err(|e| format!("the verification request to {} failed: {e}", callback.url))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status != reqwest::StatusCode::OK {
        return Err(format!(
            "the callback answered the verification request with {status}, not 200: check its verify token"
        ));
    }
    if body.trim() != challenge {
        return Err(format!(
            "the callback answered 200 but not with the challenge ({challenge}) as its body"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn update(waba: &str, field: &'static str, value: Value) -> Update {
        Update {
            waba_id: waba.to_owned(),
            field,
            value,
        }
    }

    #[test]
    fn the_envelope_is_the_json_object_meta_sends_with_non_ascii_escaped() {
        let status = json!({
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": "1065" },
            "statuses": [{ "id": "wamid.X/Y+Z==", "status": "sent", "timestamp": "1750000000" }],
        });
        let message = json!({ "messages": [{ "text": { "body": "Ça fuit 💧" } }] });
        let review = json!({ "event": "APPROVED", "message_template_name": "suivi" });
        let updates = [
            update("102", "messages", status.clone()),
            update("102", "message_template_status_update", review.clone()),
            update("103", "messages", message.clone()),
            update("102", "messages", message.clone()),
        ];
        // What serde_json gives for the same envelope built as a `Value` (sorted keys).
        let expected = json!({
            "object": "whatsapp_business_account",
            "entry": [
                { "id": "102", "changes": [
                    { "value": status, "field": "messages" },
                    { "value": message, "field": "messages" },
                ] },
                { "id": "102", "time": 1_750_000_100, "changes": [
                    { "value": review, "field": "message_template_status_update" },
                ] },
                { "id": "103", "changes": [{ "value": message, "field": "messages" }] },
            ],
        })
        .to_string();
        let body = envelope(&updates, 1_750_000_100);
        assert_eq!(body, wa::signature::escape_non_ascii(&expected));
        // The same once the updates wait for delivery, serialised.
        let pending: Vec<Pending> = updates.into_iter().map(Pending::from).collect();
        let waiting = write_envelope(
            pending
                .iter()
                .map(|u| (u.waba_id.as_str(), u.field, &*u.value)),
            1_750_000_100,
        );
        assert_eq!(waiting, body);
        assert!(body.is_ascii());
        assert!(body.contains(r"\u00c7a fuit \ud83d\udca7"));
        assert!(body.starts_with(r#"{"entry":[{"changes":[{"field":"messages","value":{"#));
    }
}
