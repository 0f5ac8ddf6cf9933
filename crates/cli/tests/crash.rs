//! The crash test: under a steady stream of signed webhooks, `guichet serve` is killed with
//! SIGKILL at random moments and restarted on the same database, many times. Afterwards every
//! event that got a 200 is stored exactly once: none lost, none doubled. It runs the real binary
//! on SQLite and on Postgres (`store::testing` says which Postgres server and how to skip it).
//!
//! Like Meta, the senders retry every delivery that did not get a 200 with the same body until
//! it does, and now and then deliver an acknowledged body again or re-batch an acknowledged
//! message with a new one.
//!
//! Replaying a failure: `CRASH_SEED=<the seed printed by the run>`. `CRASH_KILLS` sets the least
//! number of kills (default 20), `CRASH_SECS` how long the nemesis goes on at least (default 25).

#![allow(
    clippy::print_stdout,
    reason = "the summary printed here is what the CI log shows of the run"
)]

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use store::Backend;

#[path = "common/server.rs"]
mod server;
use server::{Server, free_port};
use store::testing::TestDb;

const APP_SECRET: &str = "crash-test-app-secret-5f0c9e1d";
const VERIFY_TOKEN: &str = "crash-test-verify-token";
const API_TOKEN: &str = "crash-test-api-token-0123456789abcdef";
const ACCESS_TOKEN: &str = "EAAG-crash-test";
const PHONE_NUMBER_ID: &str = "106540352242922";
const WABA_ID: &str = "102290129340398";
/// Concurrent senders, as Meta delivers concurrently.
const SENDERS: usize = 8;
/// Distinct customers the messages come from.
const CUSTOMERS: u64 = 40;
/// Meta's timestamps of the generated messages start here (2026-11-17).
const BASE_TS: i64 = 1_795_000_000;
/// How long the server may take to become ready after a start.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the last phase (retries, then ingest) may take once the killing is over.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// The test binary runs both backends; one at a time, so that each has the (two) cores to
/// itself and its timings mean something.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_sqlite() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let db = TestDb::sqlite().await;
    crash(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_postgres() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(db) = TestDb::postgres().await else {
        println!("crash[postgres]: skipped (Postgres deliberately skipped, see store::testing)");
        return;
    };
    crash(&db).await;
}

// ---------------------------------------------------------------------------------------------
// What is sent, and what came of it.

/// One inbound text message.
#[derive(Debug, Clone)]
struct Msg {
    wamid: String,
    customer: u64,
    text: String,
    ts: i64,
}

/// One webhook delivery: its exact bytes and signature never change, retries included.
#[derive(Debug)]
struct Body {
    id: usize,
    msgs: Vec<Msg>,
    bytes: Vec<u8>,
    signature: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The first delivery of a body never sent before.
    First,
    /// A body whose earlier deliveries got no 200.
    Retry,
    /// An acknowledged body delivered again.
    Resend,
}

#[derive(Debug)]
enum Outcome {
    /// HTTP 200; `Some(true)` when guichet said it had the body already.
    Ok(Option<bool>),
    /// Connection refused: the server is down.
    Refused,
    /// The request timed out.
    Timeout,
    /// The connection broke (reset, closed mid-request).
    Broken,
    /// A 5xx.
    ServerError(u16),
    /// Anything else: never expected.
    Unexpected(u16, String),
}

#[derive(Debug, Default)]
struct Stats {
    requests: u64,
    first: u64,
    retries: u64,
    resends: u64,
    rebatched: u64,
    answered_accepted: u64,
    answered_duplicate: u64,
    /// Retries answered "duplicate": the earlier attempt was stored but its 200 was lost.
    stored_without_ack: u64,
    refused: u64,
    timeouts: u64,
    broken: u64,
    unavailable_503: u64,
    other_5xx: u64,
    unexpected: u64,
}

#[derive(Debug, Default)]
struct Ledger {
    /// Every body made, by id.
    bodies: Vec<Arc<Body>>,
    acked: Vec<bool>,
    acked_ids: Vec<usize>,
    /// Messages of acknowledged bodies, to re-batch.
    acked_msgs: Vec<Msg>,
    /// Bodies waiting for a retry.
    retry: VecDeque<Arc<Body>>,
    stats: Stats,
    /// Evidence of a broken promise, seen from the outside: bodies that got a 200 and, delivered
    /// again, were stored as new (so the 200 was given for a body that was not stored)…
    acked_then_new: Vec<usize>,
    /// …bodies answered `duplicate` on their very first delivery…
    first_duplicate: Vec<usize>,
    /// …and answers that are neither 200 nor 5xx.
    unexpected: Vec<String>,
}

#[derive(Debug)]
struct Shared {
    port: AtomicU16,
    stop: AtomicBool,
    in_flight: AtomicUsize,
    ledger: Mutex<Ledger>,
}

impl Shared {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().expect("the ledger lock")
    }

    /// A new body of 1 to 3 messages from one customer, plus `old` (already acknowledged) first.
    fn new_body(&self, rng: &mut StdRng, old: Option<Msg>) -> Arc<Body> {
        let mut ledger = self.ledger();
        let id = ledger.bodies.len();
        let customer = old
            .as_ref()
            .map_or_else(|| rng.random_range(0..CUSTOMERS), |m| m.customer);
        let fresh = if old.is_some() {
            1
        } else {
            rng.random_range(1..=3)
        };
        let mut msgs: Vec<Msg> = old.into_iter().collect();
        for k in 0..fresh {
            let wamid = format!("wamid.CRASH{id:06}x{k}");
            msgs.push(Msg {
                text: format!("crash test {wamid}: is it still in stock?"),
                wamid,
                customer,
                ts: BASE_TS + i64::try_from(id).expect("id fits"),
            });
        }
        let bytes = envelope(customer, &msgs);
        let body = Arc::new(Body {
            id,
            signature: wa::signature::sign(APP_SECRET.as_bytes(), &bytes),
            msgs,
            bytes,
        });
        ledger.bodies.push(body.clone());
        ledger.acked.push(false);
        body
    }

    fn record(&self, kind: Kind, body: &Arc<Body>, outcome: &Outcome) {
        let mut guard = self.ledger();
        let ledger = &mut *guard;
        let s = &mut ledger.stats;
        s.requests += 1;
        match kind {
            Kind::First => s.first += 1,
            Kind::Retry => s.retries += 1,
            Kind::Resend => s.resends += 1,
        }
        let failed = match outcome {
            Outcome::Ok(duplicate) => {
                match duplicate {
                    Some(true) => s.answered_duplicate += 1,
                    Some(false) => s.answered_accepted += 1,
                    None => {}
                }
                if ledger.acked[body.id] {
                    if *duplicate == Some(false) {
                        ledger.acked_then_new.push(body.id);
                    }
                } else {
                    ledger.acked[body.id] = true;
                    ledger.acked_ids.push(body.id);
                    ledger.acked_msgs.extend(body.msgs.iter().cloned());
                    if *duplicate == Some(true) {
                        if kind == Kind::First {
                            ledger.first_duplicate.push(body.id);
                        } else {
                            s.stored_without_ack += 1;
                        }
                    }
                }
                false
            }
            Outcome::Refused => {
                s.refused += 1;
                true
            }
            Outcome::Timeout => {
                s.timeouts += 1;
                true
            }
            Outcome::Broken => {
                s.broken += 1;
                true
            }
            Outcome::ServerError(503) => {
                s.unavailable_503 += 1;
                true
            }
            Outcome::ServerError(_) => {
                s.other_5xx += 1;
                true
            }
            Outcome::Unexpected(status, text) => {
                s.unexpected += 1;
                ledger.unexpected.push(format!(
                    "body {} ({}) got HTTP {status}: {text}",
                    body.id,
                    wamids(body)
                ));
                true
            }
        };
        if failed && !ledger.acked[body.id] {
            ledger.retry.push_back(body.clone());
        }
    }
}

fn wamids(body: &Body) -> String {
    body.msgs
        .iter()
        .map(|m| m.wamid.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first few of `ids`, with their wamids.
fn some_bodies(ledger: &Ledger, ids: &[usize]) -> String {
    let first: Vec<String> = ids
        .iter()
        .take(5)
        .map(|&id| format!("body {id} ({})", wamids(&ledger.bodies[id])))
        .collect();
    format!("first: {}", first.join(", "))
}

fn wa_id(customer: u64) -> String {
    format!("1650555{customer:04}")
}

/// Meta's envelope for inbound text messages (cloud-api.md §1.3–1.4).
fn envelope(customer: u64, msgs: &[Msg]) -> Vec<u8> {
    let wa_id = wa_id(customer);
    let messages: Vec<_> = msgs
        .iter()
        .map(|m| {
            json!({
                "from": wa_id,
                "id": m.wamid,
                "timestamp": m.ts.to_string(),
                "type": "text",
                "text": { "body": m.text },
            })
        })
        .collect();
    let notification = json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": WABA_ID,
            "changes": [{
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {
                        "display_phone_number": "15550783881",
                        "phone_number_id": PHONE_NUMBER_ID,
                    },
                    "contacts": [{ "profile": { "name": "Ana" }, "wa_id": wa_id }],
                    "messages": messages,
                },
                "field": "messages",
            }],
        }],
    });
    serde_json::to_vec(&notification).expect("serialize a notification")
}

async fn post(client: &reqwest::Client, port: u16, body: &Body) -> Outcome {
    let sent = client
        .post(format!("http://127.0.0.1:{port}/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header(wa::signature::HEADER, &body.signature)
        .body(body.bytes.clone())
        .send()
        .await;
    let response = match sent {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Outcome::Timeout,
        Err(e) if e.is_connect() => return Outcome::Refused,
        Err(_) => return Outcome::Broken,
    };
    let status = response.status().as_u16();
    // A 200 is the server's promise, whether or not the rest of the answer arrives.
    let text = response.text().await.unwrap_or_default();
    match status {
        200 => Outcome::Ok(
            serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(str::to_owned))
                .map(|s| s == "duplicate"),
        ),
        500..=599 => Outcome::ServerError(status),
        _ => Outcome::Unexpected(status, text),
    }
}

/// One of Meta's delivery workers: new bodies, retries of failed ones, and duplicates.
async fn sender(shared: Arc<Shared>, client: reqwest::Client, mut rng: StdRng) {
    while !shared.stop.load(Ordering::SeqCst) {
        let roll = rng.random_range(0..100);
        let mut pick: Option<(Kind, Arc<Body>)> = None;
        if roll < 40 {
            pick = shared.ledger().retry.pop_front().map(|b| (Kind::Retry, b));
        } else if roll < 45 {
            let ledger = shared.ledger();
            if !ledger.acked_ids.is_empty() {
                let i = ledger.acked_ids[rng.random_range(0..ledger.acked_ids.len())];
                pick = Some((Kind::Resend, ledger.bodies[i].clone()));
            }
        } else if roll < 48 {
            let old = {
                let ledger = shared.ledger();
                (!ledger.acked_msgs.is_empty()).then(|| {
                    ledger.acked_msgs[rng.random_range(0..ledger.acked_msgs.len())].clone()
                })
            };
            if let Some(old) = old {
                shared.ledger().stats.rebatched += 1;
                pick = Some((Kind::First, shared.new_body(&mut rng, Some(old))));
            }
        }
        let (kind, body) = match pick {
            Some(p) => p,
            None => (Kind::First, shared.new_body(&mut rng, None)),
        };
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let outcome = post(&client, shared.port.load(Ordering::SeqCst), &body).await;
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        shared.record(kind, &body, &outcome);
        // A steady stream, not a flood: a few hundred webhooks a second in all, which guichet
        // should ingest as fast as it takes them. After a failure Meta backs off too, and so
        // the senders do not spin while the server is down.
        let pause = if matches!(outcome, Outcome::Ok(_)) {
            rng.random_range(10..50)
        } else {
            rng.random_range(5..40)
        };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The server under test, and the nemesis that kills it.

#[derive(Debug, Default)]
struct NemesisStats {
    /// Kills of a ready server.
    kills: u32,
    /// Kills during start-up (before or around readiness).
    early_kills: u32,
    /// Kills that found webhook requests in flight.
    kills_mid_request: u32,
    /// Restarts that found stored webhooks not yet ingested (left by the kill before).
    restarts_with_backlog: u32,
    /// Start to ready, per start.
    startups: Vec<Duration>,
    /// Exits the nemesis did not cause (each with its log).
    unexpected_exits: Vec<String>,
    port_changes: u32,
}

#[derive(Debug)]
struct Nemesis {
    url: String,
    logs: PathBuf,
    shared: Arc<Shared>,
    client: reqwest::Client,
    rng: StdRng,
    starts: u32,
    server: Option<Server>,
    stats: NemesisStats,
}

impl Nemesis {
    fn spawn(&mut self) {
        self.starts += 1;
        let log = self.logs.join(format!("guichet-{:03}.log", self.starts));
        let port = self.shared.port.load(Ordering::SeqCst);
        let env = [
            ("GUICHET_DATABASE_URL", self.url.clone()),
            ("GUICHET_APP_SECRET", APP_SECRET.to_owned()),
            ("GUICHET_VERIFY_TOKEN", VERIFY_TOKEN.to_owned()),
            ("GUICHET_PHONE_NUMBER_ID", PHONE_NUMBER_ID.to_owned()),
            ("GUICHET_WABA_ID", WABA_ID.to_owned()),
            ("GUICHET_ACCESS_TOKEN", ACCESS_TOKEN.to_owned()),
            ("GUICHET_API_TOKEN", API_TOKEN.to_owned()),
        ];
        self.server = Some(Server::spawn(port, &env, log));
    }

    fn kill(&mut self) {
        if let Some(mut server) = self.server.take() {
            if let Some(status) = server.exited() {
                self.unexpected_exit(&server, status);
            }
            server.kill();
        }
    }

    fn unexpected_exit(&mut self, server: &Server, status: ExitStatus) {
        let tail = server.log_tail();
        if tail.contains("cannot listen") {
            // Someone else took the port while guichet was down: move to another.
            self.stats.port_changes += 1;
            self.shared.port.store(free_port(), Ordering::SeqCst);
        } else {
            self.stats
                .unexpected_exits
                .push(format!("guichet exited on its own ({status}):\n{tail}"));
        }
    }

    /// Starts guichet and waits until `/readyz` answers 200.
    async fn start(&mut self) {
        for _ in 0..5 {
            self.spawn();
            let started = Instant::now();
            loop {
                let server = self.server.as_mut().expect("a server was just started");
                if let Some(status) = server.exited() {
                    let server = self.server.take().expect("the server");
                    self.unexpected_exit(&server, status);
                    break;
                }
                assert!(
                    started.elapsed() < READY_TIMEOUT,
                    "guichet was not ready {READY_TIMEOUT:?} after a restart; its log:\n{}",
                    server.log_tail()
                );
                if self.get("/readyz").await.is_some_and(|(s, _)| s == 200) {
                    self.stats.startups.push(started.elapsed());
                    return;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        panic!(
            "guichet would not start:\n{}",
            self.stats.unexpected_exits.join("\n\n")
        );
    }

    async fn get(&self, path: &str) -> Option<(u16, String)> {
        let port = self.shared.port.load(Ordering::SeqCst);
        let response = self
            .client
            .get(format!("http://127.0.0.1:{port}{path}"))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    /// `guichet_ingest_backlog` from `/metrics`.
    async fn backlog(&self) -> Option<i64> {
        let (status, text) = self.get("/metrics").await?;
        if status != 200 {
            return None;
        }
        text.lines()
            .find_map(|l| l.strip_prefix("guichet_ingest_backlog "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as i64)
    }

    /// One round: let the ready server work for a random while, kill it, and bring it back
    /// (sometimes killing it again while it starts).
    async fn round(&mut self) {
        let up = self.rng.random_range(50..=600);
        tokio::time::sleep(Duration::from_millis(up)).await;
        // Mostly aim at a moment when webhooks are on their way in (being appended, committed,
        // answered); otherwise strike blind, which lands more often in an ingest transaction.
        if self.rng.random_bool(0.7) {
            let aim = Instant::now();
            while self.shared.in_flight.load(Ordering::SeqCst) == 0
                && aim.elapsed() < Duration::from_millis(100)
            {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        if self.shared.in_flight.load(Ordering::SeqCst) > 0 {
            self.stats.kills_mid_request += 1;
        }
        self.kill();
        self.stats.kills += 1;
        if self.rng.random_bool(0.3) {
            let down = self.rng.random_range(0..200);
            tokio::time::sleep(Duration::from_millis(down)).await;
        }
        if self.rng.random_bool(0.15) {
            self.spawn();
            let early = self.rng.random_range(0..150);
            tokio::time::sleep(Duration::from_millis(early)).await;
            self.kill();
            self.stats.early_kills += 1;
        }
        self.start().await;
        if self.backlog().await.is_some_and(|n| n > 0) {
            self.stats.restarts_with_backlog += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The test.

fn seed() -> u64 {
    match std::env::var("CRASH_SEED") {
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse(),
            };
            parsed.unwrap_or_else(|e| panic!("CRASH_SEED={s:?} is not a u64: {e}"))
        }
        Err(_) => rand::random(),
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| {
        v.trim()
            .parse()
            .unwrap_or_else(|e| panic!("{name}={v:?} is not a number: {e}"))
    })
}

async fn crash(db: &TestDb) {
    let backend = db.backend.as_str();
    let seed = seed();
    let min_kills = u32::try_from(env_number("CRASH_KILLS", 20)).expect("CRASH_KILLS fits");
    let budget = Duration::from_secs(env_number("CRASH_SECS", 25));
    println!("crash[{backend}]: seed {seed} (replay with CRASH_SEED={seed})");
    let started = Instant::now();
    let logs = tempfile::tempdir().expect("a directory for the server logs");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("an HTTP client");
    let shared = Arc::new(Shared {
        port: AtomicU16::new(free_port()),
        stop: AtomicBool::new(false),
        in_flight: AtomicUsize::new(0),
        ledger: Mutex::new(Ledger::default()),
    });
    let mut nemesis = Nemesis {
        url: db.url.clone(),
        logs: logs.path().to_owned(),
        shared: shared.clone(),
        client: client.clone(),
        rng: StdRng::seed_from_u64(seed),
        starts: 0,
        server: None,
        stats: NemesisStats::default(),
    };
    nemesis.start().await;

    let senders: Vec<_> = (0..SENDERS as u64)
        .map(|i| {
            let rng = StdRng::seed_from_u64(seed ^ (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            tokio::spawn(sender(shared.clone(), client.clone(), rng))
        })
        .collect();

    // Chaos.
    let chaos = Instant::now();
    while nemesis.stats.kills < min_kills || chaos.elapsed() < budget {
        nemesis.round().await;
    }
    let chaos_time = chaos.elapsed();
    // The last start stays up: let it take traffic for a moment, then stop making new bodies.
    tokio::time::sleep(Duration::from_millis(300)).await;
    shared.stop.store(true, Ordering::SeqCst);
    for s in senders {
        s.await.expect("a sender task");
    }

    // Meta keeps retrying what got no 200.
    let drain = Instant::now();
    let mut late_failures = 0_u32;
    loop {
        let next = shared.ledger().retry.pop_front();
        let Some(body) = next else { break };
        if drain.elapsed() > DRAIN_TIMEOUT {
            shared.ledger().retry.push_front(body);
            break;
        }
        let outcome = post(&client, shared.port.load(Ordering::SeqCst), &body).await;
        if !matches!(outcome, Outcome::Ok(_)) {
            late_failures += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        shared.record(Kind::Retry, &body, &outcome);
    }
    let retried_in = drain.elapsed();

    // Ingest catches up.
    let ingest = Instant::now();
    let mut backlog = nemesis.backlog().await;
    let backlog_at_end = backlog;
    while backlog != Some(0) && ingest.elapsed() < DRAIN_TIMEOUT {
        tokio::time::sleep(Duration::from_millis(50)).await;
        backlog = nemesis.backlog().await;
    }
    let ingested_in = ingest.elapsed();
    // The last kill: everything is durable by now, so it must change nothing.
    nemesis.kill();

    let ledger = std::mem::take(&mut *shared.ledger());
    let n = &nemesis.stats;
    let s = &ledger.stats;
    let acked_wamids: usize = ledger
        .acked_ids
        .iter()
        .map(|&i| ledger.bodies[i].msgs.len())
        .sum();
    let startup_avg = n.startups.iter().sum::<Duration>() / n.startups.len().max(1) as u32;
    let startup_max = n.startups.iter().max().copied().unwrap_or_default();
    println!(
        "crash[{backend}]: {} kills ({} of a ready server, {} during start-up, {} with requests \
         in flight) in {chaos_time:.1?}; {} restarts found a backlog to resume; start to ready \
         avg {startup_avg:.0?}, max {startup_max:.0?}; {} port changes",
        n.kills + n.early_kills,
        n.kills,
        n.early_kills,
        n.kills_mid_request,
        n.restarts_with_backlog,
        n.port_changes,
    );
    println!(
        "crash[{backend}]: {} requests: {} first deliveries ({} re-batching an acked message), \
         {} retries, {} duplicates of acked bodies re-sent; answered 200 accepted {}, 200 \
         duplicate {} ({} retries had been stored without their 200); refused {}, broken {}, \
         timed out {}, 503 {}, other 5xx {}, unexpected {}",
        s.requests,
        s.first,
        s.rebatched,
        s.retries,
        s.resends,
        s.answered_accepted,
        s.answered_duplicate,
        s.stored_without_ack,
        s.refused,
        s.broken,
        s.timeouts,
        s.unavailable_503,
        s.other_5xx,
        s.unexpected,
    );
    println!(
        "crash[{backend}]: {} bodies made, {} acked, carrying {acked_wamids} messages; after the \
         kills: retries done in {retried_in:.1?} ({late_failures} failed), ingest went from \
         a backlog of {} to {} in {ingested_in:.1?}",
        ledger.bodies.len(),
        ledger.acked_ids.len(),
        backlog_at_end.map_or_else(|| "?".to_owned(), |n| n.to_string()),
        backlog.map_or_else(|| "?".to_owned(), |n| n.to_string()),
    );
    report_logs(backend, logs.path());

    let mut problems = Vec::new();
    if !ledger.acked_then_new.is_empty() {
        problems.push(format!(
            "LOST: {} deliveries of a body that had got a 200 before were stored as new, so that \
             200 was given for a body that was not stored; {}",
            ledger.acked_then_new.len(),
            some_bodies(&ledger, &ledger.acked_then_new)
        ));
    }
    if !ledger.first_duplicate.is_empty() {
        problems.push(format!(
            "{} bodies were answered `duplicate` on their very first delivery; {}",
            ledger.first_duplicate.len(),
            some_bodies(&ledger, &ledger.first_duplicate)
        ));
    }
    if !ledger.unexpected.is_empty() {
        problems.push(format!(
            "{} unexpected answers, first: {}",
            ledger.unexpected.len(),
            ledger.unexpected[..ledger.unexpected.len().min(5)].join("; ")
        ));
    }
    problems.extend(n.unexpected_exits.iter().cloned());
    problems.extend(check(db, &ledger).await);
    if problems.is_empty() {
        println!("crash[{backend}]: passed in {:.1?}", started.elapsed());
    } else {
        // Keep the evidence: the server's logs and, on SQLite, the database itself.
        let kept = logs.keep();
        if let Some(path) = db.url.strip_prefix("sqlite:") {
            for suffix in ["", "-wal", "-shm"] {
                let from = PathBuf::from(format!("{path}{suffix}"));
                if let Some(name) = from.file_name() {
                    let _ = std::fs::copy(&from, kept.join(name));
                }
            }
        }
        println!(
            "crash[{backend}]: FAILED in {:.1?}; server logs kept in {}",
            started.elapsed(),
            kept.display()
        );
    }
    assert!(
        problems.is_empty(),
        "crash[{backend}] (CRASH_SEED={seed}): {} problem(s):\n- {}",
        problems.len(),
        problems.join("\n- ")
    );
}

/// The server's warnings and errors, grouped, so that the CI log shows what it went through.
fn report_logs(backend: &str, dir: &Path) {
    let mut groups: BTreeMap<String, u32> = BTreeMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for line in text.lines() {
            // `<timestamp>  WARN target: message key=value…`: keep level, target and message.
            let rest = line.split_once(' ').map_or(line, |(_, r)| r).trim_start();
            let message = rest.split(" error=").next().unwrap_or(rest);
            let key: String = message.chars().take(140).collect();
            *groups.entry(key).or_default() += 1;
        }
    }
    if groups.is_empty() {
        println!("crash[{backend}]: the server logged no warning or error");
        return;
    }
    println!("crash[{backend}]: the server's warnings and errors:");
    let mut sorted: Vec<_> = groups.into_iter().collect();
    sorted.sort_by_key(|(_, count)| std::cmp::Reverse(*count));
    for (line, count) in sorted.iter().take(12) {
        println!("  {count:>6} × {line}");
    }
}

/// Raw SQL for what the `Store` trait does not tell.
#[derive(Debug)]
enum Raw {
    Sqlite(rusqlite::Connection),
    Postgres(sqlx::PgPool),
}

impl Raw {
    async fn open(db: &TestDb) -> Self {
        match db.backend {
            Backend::Sqlite => Self::Sqlite(
                rusqlite::Connection::open(db.url.trim_start_matches("sqlite:"))
                    .expect("open the SQLite database"),
            ),
            Backend::Postgres => Self::Postgres(
                store::PgStore::connect(&db.url, &store::Options::default())
                    .await
                    .expect("open the Postgres database")
                    .pool()
                    .clone(),
            ),
        }
    }

    /// How many different bodies the inbound journal holds (on SQLite, a file of its own).
    async fn distinct_bodies(db: &TestDb) -> i64 {
        const SQL: &str = "SELECT COUNT(DISTINCT body_sha256) FROM inbound_events";
        let mut raw = match db.backend {
            Backend::Sqlite => {
                let path = store::SqliteStore::journal_path(&db.url).expect("journal path");
                Self::Sqlite(rusqlite::Connection::open(path).expect("open the SQLite journal"))
            }
            Backend::Postgres => Self::open(db).await,
        };
        let n = raw.count(SQL).await;
        raw.close().await;
        n
    }

    async fn count(&mut self, sql: &'static str) -> i64 {
        let result = match self {
            Self::Sqlite(c) => c
                .query_row(sql, [], |r| r.get(0))
                .map_err(|e| e.to_string()),
            Self::Postgres(p) => sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&*p)
                .await
                .map_err(|e| e.to_string()),
        };
        result.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn strings(&mut self, sql: &'static str) -> Vec<Option<String>> {
        let result = match self {
            Self::Sqlite(c) => sqlite_column(c, sql),
            Self::Postgres(p) => sqlx::query_scalar(sql)
                .fetch_all(&*p)
                .await
                .map_err(|e| e.to_string()),
        };
        result.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn close(self) {
        match self {
            Self::Sqlite(c) => drop(c),
            Self::Postgres(p) => p.close().await,
        }
    }
}

/// The first column of every row, as text.
fn sqlite_column(c: &rusqlite::Connection, sql: &str) -> Result<Vec<Option<String>>, String> {
    let mut stmt = c.prepare(sql).map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map([], |r| r.get::<_, Option<String>>(0))
        .map_err(|e| e.to_string())?;
    rows.collect::<Result<_, _>>().map_err(|e| e.to_string())
}

/// Everything acknowledged is stored exactly once, and nothing else is.
async fn check(db: &TestDb, ledger: &Ledger) -> Vec<String> {
    let mut problems = Vec::new();
    let never_acked: Vec<usize> = ledger
        .bodies
        .iter()
        .filter(|b| !ledger.acked[b.id])
        .map(|b| b.id)
        .collect();
    if !never_acked.is_empty() {
        problems.push(format!(
            "{} bodies never got a 200 despite retries (first: {:?})",
            never_acked.len(),
            &never_acked[..never_acked.len().min(10)]
        ));
    }
    let mut expected: HashMap<&str, &Msg> = HashMap::new();
    let mut customers: HashSet<u64> = HashSet::new();
    for &id in &ledger.acked_ids {
        for m in &ledger.bodies[id].msgs {
            expected.insert(m.wamid.as_str(), m);
            customers.insert(m.customer);
        }
    }

    let store = store::connect(&db.url, &store::Options::default())
        .await
        .expect("open the store");
    let counts = store.inbound_counts().await.expect("inbound counts");
    if counts.pending != 0 || counts.failed != 0 {
        problems.push(format!(
            "inbound events left pending: {}, failed: {} (expected none)",
            counts.pending, counts.failed
        ));
    }
    // The journal holds each acknowledged body; a body whose commit raced a kill (it reached
    // the database, its 200 never left) may be stored a second time when Meta's retry arrives
    // before the dying connection's commit is visible. Ingest makes such a copy change nothing,
    // which the message, contact and conversation counts below check.
    let events = store.inbound_event_count().await.expect("inbound count");
    let distinct = Raw::distinct_bodies(db).await;
    if distinct != ledger.acked_ids.len() as i64 || events < distinct {
        problems.push(format!(
            "{events} inbound events ({distinct} distinct bodies) stored for {} distinct acknowledged bodies",
            ledger.acked_ids.len()
        ));
    }
    if events > distinct {
        println!(
            "crash[{}]: {} replayed bodies were stored a second time (ingest ignored them)",
            db.backend.as_str(),
            events - distinct
        );
    }
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    for (wamid, m) in &expected {
        match store
            .message_by_wamid(wamid)
            .await
            .expect("message_by_wamid")
        {
            None => missing.push(*wamid),
            Some(row) => {
                if row.direction != "inbound"
                    || row.kind != "text"
                    || row.preview.as_deref() != Some(m.text.as_str())
                    || row.meta_at != m.ts
                {
                    wrong.push(format!("{wamid}: {row:?}"));
                }
            }
        }
    }
    if !wrong.is_empty() {
        problems.push(format!(
            "{} messages are stored with other content than was sent, first: {}",
            wrong.len(),
            wrong[..wrong.len().min(3)].join("; ")
        ));
    }
    if !missing.is_empty() {
        missing.sort_unstable();
        let why = if counts.pending > 0 {
            "lost, or still in a pending event"
        } else {
            "LOST"
        };
        problems.push(format!(
            "{why}: {} acknowledged messages are not in `messages` (first: {:?})",
            missing.len(),
            &missing[..missing.len().min(10)]
        ));
    }

    let mut raw = Raw::open(db).await;
    let stored = raw.strings("SELECT wamid FROM messages").await;
    let mut seen: HashSet<&str> = HashSet::new();
    let mut unknown = Vec::new();
    let mut doubled = Vec::new();
    for w in &stored {
        let w = w.as_deref().unwrap_or("<no wamid>");
        if !seen.insert(w) {
            doubled.push(w.to_owned());
        } else if !expected.contains_key(w) {
            unknown.push(w.to_owned());
        }
    }
    if stored.len() != expected.len() || !doubled.is_empty() || !unknown.is_empty() {
        problems.push(format!(
            "{} rows in `messages` for {} acknowledged messages; {} doubled (first: {:?}); {} \
             never acknowledged (first: {:?})",
            stored.len(),
            expected.len(),
            doubled.len(),
            &doubled[..doubled.len().min(10)],
            unknown.len(),
            &unknown[..unknown.len().min(10)]
        ));
    }
    let counters = raw
        .count(
            "SELECT COUNT(*) FROM conversations c WHERE c.message_count <> \
             (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id)",
        )
        .await;
    if counters != 0 {
        problems.push(format!(
            "{counters} conversations whose message_count differs from their messages"
        ));
    }
    let received = raw
        .count("SELECT COUNT(*) FROM events WHERE kind = 'message.received'")
        .await;
    if received != stored.len() as i64 {
        problems.push(format!(
            "{received} `message.received` events for {} messages",
            stored.len()
        ));
    }
    let contacts = raw.count("SELECT COUNT(*) FROM contacts").await;
    let conversations = raw.count("SELECT COUNT(*) FROM conversations").await;
    if contacts != customers.len() as i64 || conversations != customers.len() as i64 {
        problems.push(format!(
            "{contacts} contacts and {conversations} conversations for {} customers",
            customers.len()
        ));
    }
    if let Raw::Sqlite(conn) = &mut raw {
        let integrity =
            sqlite_column(conn, "PRAGMA integrity_check").expect("PRAGMA integrity_check");
        if integrity != [Some("ok".to_owned())] {
            problems.push(format!("PRAGMA integrity_check: {integrity:?}"));
        }
        let mut stmt = conn
            .prepare("PRAGMA foreign_key_check")
            .expect("PRAGMA foreign_key_check");
        let dangling = stmt.query_map([], |_| Ok(())).expect("rows").count();
        if dangling > 0 {
            problems.push(format!(
                "PRAGMA foreign_key_check: {dangling} dangling references"
            ));
        }
    }
    raw.close().await;
    problems
}
