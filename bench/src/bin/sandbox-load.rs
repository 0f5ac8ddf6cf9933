//! Load generator for the sandbox's Graph API, with its own webhook receiver.
//!
//! Set-up, not measured: a webhook receiver is started on a free port and registered with the
//! sandbox (`PUT /_sandbox/webhook`, with Meta's verification handshake); `--customers`
//! simulated customers are created through the control API, online and reading at once, and each
//! writes one message so that its 24-hour window is open. Every send body is built before the
//! clock starts.
//!
//! Then each of `--connections` tasks keeps one keep-alive connection and posts text sends
//! (`POST /{version}/{phone-number-id}/messages` with the bearer token), round robin over the
//! customers: first `--warmup` unmeasured ones, then `--requests` measured ones. Closed loop by
//! default (a task sends as soon as it has its previous answer); with `--rate`, send *i* leaves
//! *i* / rate seconds after the start of its phase, whichever task is free (an open loop). Each
//! answer is counted by status and Graph error code, and the wamid of each accepted send is kept.
//! Meanwhile the receiver checks `X-Hub-Signature-256` on every webhook POST and records when
//! each (wamid, status) first arrived. After the last answer the generator waits until every
//! accepted send has the statuses asked for (`--statuses`), or until none arrives for
//! `--status-timeout` seconds, and reports.
//!
//! With `--baseline` there is no set-up and no webhook: only the sends are measured, e.g. against
//! `plain-handler`, the ceiling of the machine for this request.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark CLI prints its summary on stdout"
)]
#![expect(
    clippy::print_stderr,
    reason = "a benchmark CLI prints progress on stderr"
)]

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use guichet_bench::client::{self, Sender, Slot, Target};
use guichet_bench::cpu::{cpu_seconds, machine_cpu_seconds, tree_cpu_seconds};
use guichet_bench::report::{Latency, SendReport};
use hmac::{Hmac, Mac as _};
use http_body_util::Full;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;

/// Load the sandbox's Graph API with text sends and count the status webhooks that follow.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Base URL of the sandbox (plain HTTP), e.g. http://127.0.0.1:9090.
    #[arg(long)]
    url: String,
    /// Graph API version in the send path.
    #[arg(long, default_value = "v25.0")]
    api_version: String,
    /// Phone-number id the sends are made from.
    #[arg(long, default_value = "106540352242922")]
    phone_number_id: String,
    /// Bearer token of the Graph API.
    #[arg(
        long,
        env = "BENCH_ACCESS_TOKEN",
        hide_env_values = true,
        default_value = "sandbox-access-token"
    )]
    access_token: String,
    /// App secret the sandbox signs webhooks with.
    #[arg(
        long,
        env = "BENCH_APP_SECRET",
        hide_env_values = true,
        default_value = "sandbox-app-secret"
    )]
    app_secret: String,
    /// Verify token the receiver expects in the sandbox's verification handshake.
    #[arg(long, default_value = "bench-verify-token")]
    verify_token: String,
    /// Concurrent keep-alive connections, each sending back to back.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Measured sends.
    #[arg(long, default_value_t = 200_000)]
    requests: usize,
    /// Sends made first, on the same connections, and not measured.
    #[arg(long, default_value_t = 20_000)]
    warmup: usize,
    /// Simulated customers the sends go to, round robin (default: enough for the pair rate, at
    /// most 40 sends each, and at least 2,000). Their numbers are +336 followed by 8 digits,
    /// from +33600000001 on.
    #[arg(long)]
    customers: Option<usize>,
    /// The statuses every accepted send must get before the run ends (`read` implies the other
    /// two). A send that fails (status `failed`) is complete too, and counted as such.
    #[arg(long, value_enum, default_value_t = Wait::Read)]
    statuses: Wait,
    /// Send at this rate (sends per second, spread evenly) instead of as fast as the answers
    /// come: an open loop, as a load test that drives the sandbox at a given pace.
    #[arg(long)]
    rate: Option<f64>,
    /// Give up waiting for statuses when none arrived for this many seconds.
    #[arg(long, default_value_t = 30)]
    status_timeout: u64,
    /// Only measure the sends: no customers, no webhooks (for the plain handler).
    #[arg(long)]
    baseline: bool,
    /// Address the webhook receiver listens on (port 0: a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    receiver_listen: SocketAddr,
    /// Write the report as JSON to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Name of the target in the report.
    #[arg(long, default_value = "sandbox")]
    label: String,
    /// A request without an answer after this many seconds counts as a transport error.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// Worker threads of the generator and its receiver (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Process id of the server under test: report the CPU time it and its descendants used
    /// (Linux).
    #[arg(long)]
    server_pid: Option<u32>,
}

/// The statuses waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Wait {
    /// `sent` only.
    Sent,
    /// `sent` and `delivered`.
    Delivered,
    /// `sent`, `delivered` and `read`.
    Read,
}

impl Wait {
    fn names(self) -> &'static [&'static str] {
        match self {
            Self::Sent => &["sent"],
            Self::Delivered => &["sent", "delivered"],
            Self::Read => &["sent", "delivered", "read"],
        }
    }

    /// The bits of [`STATUS_NAMES`] waited for.
    fn mask(self) -> u8 {
        match self {
            Self::Sent => 0b0001,
            Self::Delivered => 0b0011,
            Self::Read => 0b0111,
        }
    }
}

/// The statuses the receiver records, in the order of their bits.
const STATUS_NAMES: [&str; 4] = ["sent", "delivered", "read", "failed"];
const FAILED_BIT: u8 = 0b1000;

fn status_index(status: &str) -> Option<usize> {
    STATUS_NAMES.iter().position(|s| *s == status)
}

/// Service replies of a shop, in French like the customers (with non-ASCII characters).
const TEXTS: &[&str] = &[
    "Bonjour, votre commande n° {n} est partie ce matin.",
    "Merci pour votre message ! Un conseiller vous répond dans la journée.",
    "Votre rendez-vous est confirmé pour jeudi à 14 h 30.",
    "Le remboursement de la commande {n} a été effectué.",
    "Pouvez-vous nous envoyer une photo de l'étiquette ?",
    "Le technicien passe demain entre 8 h et 12 h.",
];

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.connections == 0 || args.requests == 0 {
        bail!("--connections and --requests must be at least 1");
    }
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    let report = runtime.block_on(run(&args, threads))?;
    println!("{}", report.summary());
    if let Some(path) = &args.json_out {
        let json = serde_json::to_vec_pretty(&report).context("serialising the report")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The `wa_id` of customer `i`.
fn wa_id(i: usize) -> String {
    format!("336{:08}", i + 1)
}

/// What a send needs that does not change from one to the next.
#[derive(Debug)]
struct Sends {
    target: Target,
    authorization: HeaderValue,
    bodies: Vec<Bytes>,
    /// Sends per second, when paced.
    rate: Option<f64>,
    /// What times are measured from (the receiver's arrival times too).
    origin: Instant,
}

#[expect(
    clippy::too_many_lines,
    reason = "the run reads best as one sequence of phases"
)]
async fn run(args: &Args, threads: usize) -> anyhow::Result<SendReport> {
    let base = args.url.trim_end_matches('/');
    let timeout = Duration::from_secs(args.timeout_secs);
    let total = args.warmup + args.requests;
    let customers = args
        .customers
        .unwrap_or_else(|| total.div_ceil(40).max(2000));
    if customers == 0 || customers > 99_999_999 {
        bail!("--customers must be between 1 and 99,999,999 (eight digits of +336…)");
    }

    if args.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        bail!("--rate must be a positive number of sends per second");
    }
    let origin = Instant::now();
    let receiver = if args.baseline {
        None
    } else {
        let receiver = Receiver::start(args, origin).await?;
        let control = Arc::new(Target::resolve(base, timeout).await.context("--url")?);
        eprintln!(
            "{}: registering the webhook receiver {} with the sandbox",
            args.label, receiver.url
        );
        register(&control, &receiver.url, &args.verify_token).await?;
        eprintln!(
            "{}: creating {customers} customers, each writing first",
            args.label
        );
        create_customers(&control, customers, args.connections).await?;
        wait_for(Duration::from_secs(60), || {
            receiver.inbound.load(Ordering::Relaxed) >= customers as u64
        })
        .await
        .context("the customers' messages did not all arrive as webhooks within 60 s")?;
        Some(receiver)
    };
    let setup_s = origin.elapsed().as_secs_f64();

    // Every body is built before the clock starts.
    let send_url = format!(
        "{base}/{}/{}/messages",
        args.api_version, args.phone_number_id
    );
    let bodies: Vec<Bytes> = (0..total)
        .map(|i| {
            let text = TEXTS[i % TEXTS.len()].replace("{n}", &format!("{}", 100_000 + i));
            let body = json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": wa_id(i % customers),
                "type": "text",
                "text": { "preview_url": false, "body": text },
            });
            Bytes::from(body.to_string())
        })
        .collect();
    #[expect(clippy::cast_precision_loss, reason = "byte counts are far below 2^52")]
    let mean_body_bytes =
        bodies[args.warmup..].iter().map(Bytes::len).sum::<usize>() as f64 / args.requests as f64;
    let sends = Arc::new(Sends {
        target: Target::resolve(&send_url, timeout).await?,
        authorization: HeaderValue::from_str(&format!("Bearer {}", args.access_token))
            .context("--access-token")?,
        bodies,
        rate: args.rate,
        origin,
    });

    let mut slots: Vec<Slot> = (0..args.connections).map(|_| Slot::default()).collect();
    let mut warmup_ok = 0;
    if args.warmup > 0 {
        eprintln!(
            "{}: warmup, {} sends at {} connections",
            args.label, args.warmup, args.connections
        );
        let (back, tally) = phase(&sends, 0..args.warmup, slots).await?;
        slots = back;
        warmup_ok = tally.ok;
        if tally.ok == 0 {
            eprintln!(
                "{}: WARNING: no warmup send was accepted (answers {:?}, transport errors {:?})",
                args.label, tally.failures, tally.transport
            );
        }
    }

    eprintln!(
        "{}: measuring, {} sends at {} connections",
        args.label, args.requests, args.connections
    );
    let posts_before = receiver
        .as_ref()
        .map_or(0, |r| r.posts.load(Ordering::Relaxed));
    let updates_before = receiver
        .as_ref()
        .map_or(0, |r| r.updates.load(Ordering::Relaxed));
    let cpu_before = cpu_seconds();
    let server_cpu_before = args.server_pid.and_then(tree_cpu_seconds);
    let machine_before = machine_cpu_seconds();
    let started = Instant::now();
    let (_slots, mut tally) = phase(&sends, args.warmup..total, slots).await?;
    let wall = started.elapsed().as_secs_f64();
    let server_cpu_sends_s = args
        .server_pid
        .and_then(tree_cpu_seconds)
        .zip(server_cpu_before)
        .map(|(after, before)| after - before);

    let mut report = SendReport {
        label: args.label.clone(),
        url: send_url.clone(),
        baseline: args.baseline,
        rate: args.rate,
        connections: args.connections,
        warmup: args.warmup,
        requests: args.requests as u64,
        customers: if args.baseline { 0 } else { customers },
        successes: tally.ok,
        transport_errors: tally.transport.values().sum(),
        transport_errors_by_kind: std::mem::take(&mut tally.transport),
        failures: std::mem::take(&mut tally.failures),
        reconnects: tally.reconnects,
        wall_time_s: wall,
        #[expect(clippy::cast_precision_loss, reason = "counts are far below 2^52")]
        sends_per_s: tally.ok as f64 / wall,
        latency_ms: Latency::from_micros(&mut tally.latencies_us),
        mean_body_bytes,
        generator_threads: threads,
        server_cpu_sends_s,
        setup_s,
        ..SendReport::default()
    };

    if let Some(receiver) = &receiver {
        report.statuses_waited = args
            .statuses
            .names()
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let expected = warmup_ok + tally.ok;
        eprintln!(
            "{}: {} sends/s; waiting for the statuses ({})",
            args.label,
            report.sends_per_s.round(),
            report.statuses_waited.join(", ")
        );
        let complete =
            wait_statuses(receiver, expected, Duration::from_secs(args.status_timeout)).await;
        if !complete {
            eprintln!(
                "{}: WARNING: {} of {expected} sends still miss a status after {} s without \
                 progress",
                args.label,
                expected.saturating_sub(receiver.complete.load(Ordering::Relaxed)),
                args.status_timeout
            );
        }
        report.webhook_posts = receiver.posts.load(Ordering::Relaxed) - posts_before;
        report.webhook_updates = receiver.updates.load(Ordering::Relaxed) - updates_before;
        report.bad_signatures = receiver.bad_signatures.load(Ordering::Relaxed);
        receiver.tally_statuses(&mut report, &tally.wamids, started, args.statuses);
    }
    report.total_time_s = started.elapsed().as_secs_f64();
    report.generator_cpu_s = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    report.server_cpu_s = args
        .server_pid
        .and_then(tree_cpu_seconds)
        .zip(server_cpu_before)
        .map(|(after, before)| after - before);
    let machine = machine_cpu_seconds()
        .zip(machine_before)
        .map(|((busy, total), (busy0, total0))| (busy - busy0, total - total0));
    report.machine_busy_cpu_s = machine.map(|(busy, _)| busy);
    report.machine_cpu_capacity_s = machine.map(|(_, total)| total);
    Ok(report)
}

/// Polls `done` every 10 ms until it holds or `limit` has passed.
async fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> anyhow::Result<()> {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > limit {
            bail!("timed out");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Waits until `expected` sends are complete, or nothing arrived for `stall`; whether they all
/// were.
async fn wait_statuses(receiver: &Receiver, expected: u64, stall: Duration) -> bool {
    let mut last = receiver.updates.load(Ordering::Relaxed);
    let mut last_progress = Instant::now();
    loop {
        if receiver.complete.load(Ordering::Relaxed) >= expected {
            return true;
        }
        let now = receiver.updates.load(Ordering::Relaxed);
        if now != last {
            last = now;
            last_progress = Instant::now();
        } else if last_progress.elapsed() > stall {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The sends.

/// What one connection task saw during one phase.
#[derive(Debug, Default)]
struct Tally {
    latencies_us: Vec<u32>,
    ok: u64,
    failures: BTreeMap<String, u64>,
    transport: BTreeMap<String, u64>,
    reconnects: u64,
    /// The wamids of the accepted sends, with when their answer was read (µs since the origin).
    wamids: Vec<(String, u64)>,
}

impl Tally {
    fn merge(&mut self, other: Self) {
        self.latencies_us.extend(other.latencies_us);
        self.ok += other.ok;
        for (k, v) in other.failures {
            *self.failures.entry(k).or_default() += v;
        }
        for (k, v) in other.transport {
            *self.transport.entry(k).or_default() += v;
        }
        self.reconnects += other.reconnects;
        self.wamids.extend(other.wamids);
    }
}

/// Runs sends `range` over the connection slots, one task per slot, and gives the slots back
/// for the next phase.
async fn phase(
    sends: &Arc<Sends>,
    range: Range<usize>,
    slots: Vec<Slot>,
) -> anyhow::Result<(Vec<Slot>, Tally)> {
    let next = Arc::new(AtomicUsize::new(range.start));
    let schedule = Schedule {
        start: tokio::time::Instant::now(),
        first: range.start,
    };
    let tasks: Vec<_> = slots
        .into_iter()
        .map(|slot| {
            let (sends, next, end) = (Arc::clone(sends), Arc::clone(&next), range.end);
            tokio::spawn(async move { worker(&sends, &next, end, schedule, slot).await })
        })
        .collect();
    let mut slots = Vec::with_capacity(tasks.len());
    let mut total = Tally::default();
    for task in tasks {
        let (slot, tally) = task.await.context("a connection task panicked")?;
        slots.push(slot);
        total.merge(tally);
    }
    Ok((slots, total))
}

/// The part of the Graph API's answer to a send that is kept.
#[derive(Debug, Deserialize)]
struct Accepted {
    messages: Vec<AcceptedMessage>,
}

#[derive(Debug, Deserialize)]
struct AcceptedMessage {
    id: String,
}

/// The part of a Graph API error that is kept.
#[derive(Debug, Deserialize)]
struct GraphError {
    error: GraphErrorBody,
}

#[derive(Debug, Deserialize)]
struct GraphErrorBody {
    code: i64,
}

/// When a paced phase started, and its first send.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    start: tokio::time::Instant,
    first: usize,
}

async fn worker(
    sends: &Sends,
    next: &AtomicUsize,
    end: usize,
    schedule: Schedule,
    mut slot: Slot,
) -> (Slot, Tally) {
    let expected = end.saturating_sub(next.load(Ordering::Relaxed)) / 32;
    let mut tally = Tally {
        latencies_us: Vec::with_capacity(expected),
        wamids: Vec::with_capacity(expected),
        ..Tally::default()
    };
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= end {
            break;
        }
        if let Some(rate) = sends.rate {
            #[expect(clippy::cast_precision_loss, reason = "indexes are far below 2^52")]
            let offset = Duration::from_secs_f64((i - schedule.first) as f64 / rate);
            tokio::time::sleep_until(schedule.start + offset).await;
        }
        let mut sender = match slot.ready(&sends.target, &mut tally.reconnects).await {
            Ok(sender) => sender,
            Err(kind) => {
                // The send is lost; back off a little so a dead server does not spin us.
                *tally.transport.entry(kind.to_owned()).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let started = Instant::now();
        match send(sends, &mut sender, i).await {
            Ok((status, body)) => {
                let micros = started.elapsed().as_micros();
                tally
                    .latencies_us
                    .push(u32::try_from(micros).unwrap_or(u32::MAX));
                slot.keep(sender);
                let wamid = (status == StatusCode::OK)
                    .then(|| serde_json::from_slice::<Accepted>(&body).ok())
                    .flatten()
                    .and_then(|a| a.messages.into_iter().next());
                if let Some(message) = wamid {
                    tally.ok += 1;
                    let answered = u64::try_from(sends.origin.elapsed().as_micros()).unwrap_or(0);
                    tally.wamids.push((message.id, answered));
                } else {
                    let kind = match serde_json::from_slice::<GraphError>(&body) {
                        Ok(e) => format!("HTTP {} #{}", status.as_u16(), e.error.code),
                        Err(_) if status == StatusCode::OK => "HTTP 200 without a wamid".into(),
                        Err(_) => format!("HTTP {}", status.as_u16()),
                    };
                    *tally.failures.entry(kind).or_default() += 1;
                }
            }
            Err(kind) => *tally.transport.entry(kind.to_owned()).or_default() += 1,
        }
    }
    (slot, tally)
}

/// Posts send `i` and reads the whole answer.
async fn send(
    sends: &Sends,
    sender: &mut Sender,
    i: usize,
) -> Result<(StatusCode, Bytes), &'static str> {
    let target = &sends.target;
    let request = Request::builder()
        .method(Method::POST)
        .uri(target.path.clone())
        .header(HOST, target.host.clone())
        .header(AUTHORIZATION, sends.authorization.clone())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .body(Full::new(sends.bodies[i].clone()))
        .map_err(|_| "bad request")?;
    client::exchange(sender, request, target.timeout).await
}

// ---------------------------------------------------------------------------------------------
// The set-up, through the sandbox's control API.

/// One control request on `sender`; the status and body of the answer.
async fn control(
    target: &Target,
    sender: &mut Sender,
    method: Method,
    path: &str,
    body: &serde_json::Value,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, target.host.clone())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .body(Full::new(Bytes::from(body.to_string())))?;
    client::exchange(sender, request, target.timeout)
        .await
        .map_err(|kind| anyhow::anyhow!("{path}: {kind}"))
}

/// Points the sandbox's webhooks at the receiver (the sandbox checks it with Meta's handshake).
async fn register(control_api: &Target, url: &str, verify_token: &str) -> anyhow::Result<()> {
    let mut sender = client::connect(control_api).await?;
    let (status, body) = control(
        control_api,
        &mut sender,
        Method::PUT,
        "/_sandbox/webhook",
        &json!({ "url": url, "verify_token": verify_token }),
    )
    .await?;
    if status != StatusCode::OK {
        bail!(
            "PUT /_sandbox/webhook answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(())
}

/// Creates customers `0..count`, online and reading at once, each writing one message (which
/// opens its 24-hour window); a customer who exists already only writes.
async fn create_customers(
    control_api: &Arc<Target>,
    count: usize,
    connections: usize,
) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..connections.clamp(1, 16))
        .map(|_| {
            let (control_api, next) = (Arc::clone(control_api), Arc::clone(&next));
            tokio::spawn(async move { create_some(&control_api, &next, count).await })
        })
        .collect();
    for task in tasks {
        task.await.context("a set-up task panicked")??;
    }
    Ok(())
}

async fn create_some(control_api: &Target, next: &AtomicUsize, count: usize) -> anyhow::Result<()> {
    let mut sender = client::connect(control_api).await?;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= count {
            return Ok(());
        }
        let wa_id = wa_id(i);
        let (status, body) = control(
            control_api,
            &mut sender,
            Method::POST,
            "/_sandbox/customers",
            &json!({
                "phone": format!("+{wa_id}"),
                "name": format!("Client {}", i + 1),
                "country": "FR",
                "behaviour": { "online": true, "read_after_s": 0 },
            }),
        )
        .await?;
        if status != StatusCode::CREATED && status != StatusCode::CONFLICT {
            bail!(
                "creating customer +{wa_id}: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let (status, body) = control(
            control_api,
            &mut sender,
            Method::POST,
            &format!("/_sandbox/customers/{wa_id}/messages"),
            &json!({ "text": "Bonjour, où en est ma commande ?" }),
        )
        .await?;
        if status != StatusCode::CREATED {
            bail!(
                "customer +{wa_id} writing: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The webhook receiver.

/// When a wamid's statuses first arrived, in microseconds since the receiver started plus one
/// (0: not yet), by the index of [`STATUS_NAMES`].
#[derive(Debug, Default, Clone, Copy)]
struct Arrivals {
    at_us: [u64; 4],
}

impl Arrivals {
    fn mask(&self) -> u8 {
        self.at_us
            .iter()
            .enumerate()
            .filter(|(_, at)| **at > 0)
            .fold(0, |mask, (i, _)| mask | (1 << i))
    }
}

#[derive(Debug, Default)]
struct Seen {
    by_wamid: HashMap<String, Arrivals>,
    duplicates: u64,
}

/// Counts what the sandbox's webhooks carry, after checking their signature.
#[derive(Debug)]
struct Receiver {
    url: String,
    mac: Hmac<Sha256>,
    verify_token: String,
    origin: Instant,
    /// The statuses that make a send complete.
    wanted: u8,
    seen: Mutex<Seen>,
    /// Sends complete: all statuses waited for, or failed.
    complete: AtomicU64,
    posts: AtomicU64,
    updates: AtomicU64,
    inbound: AtomicU64,
    bad_signatures: AtomicU64,
}

/// The parts of a webhook the receiver reads.
#[derive(Debug, Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    entry: Vec<Entry<'a>>,
}

#[derive(Debug, Deserialize)]
struct Entry<'a> {
    #[serde(borrow)]
    changes: Vec<Change<'a>>,
}

#[derive(Debug, Deserialize)]
struct Change<'a> {
    #[serde(borrow)]
    value: ChangeValue<'a>,
}

#[derive(Debug, Deserialize)]
struct ChangeValue<'a> {
    #[serde(default, borrow)]
    statuses: Vec<StatusUpdate<'a>>,
    #[serde(default)]
    messages: Vec<serde::de::IgnoredAny>,
}

#[derive(Debug, Deserialize)]
struct StatusUpdate<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    status: Cow<'a, str>,
}

impl Receiver {
    /// Starts the receiver on `--receiver-listen`, in the background.
    async fn start(args: &Args, origin: Instant) -> anyhow::Result<Arc<Self>> {
        let listener = tokio::net::TcpListener::bind(args.receiver_listen)
            .await
            .with_context(|| format!("binding {}", args.receiver_listen))?;
        let addr = listener.local_addr()?;
        let receiver = Arc::new(Self::new(
            format!("http://{addr}/webhooks/whatsapp"),
            &args.app_secret,
            &args.verify_token,
            origin,
            args.statuses,
        )?);
        let app = axum::Router::new()
            .route("/webhooks/whatsapp", post(receive).get(handshake))
            .with_state(Arc::clone(&receiver));
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("the webhook receiver stopped: {e}");
            }
        });
        Ok(receiver)
    }

    fn new(
        url: String,
        app_secret: &str,
        verify_token: &str,
        origin: Instant,
        wait: Wait,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            url,
            mac: Hmac::new_from_slice(app_secret.as_bytes())
                .context("HMAC accepts any key length")?,
            verify_token: verify_token.to_owned(),
            origin,
            wanted: wait.mask(),
            seen: Mutex::new(Seen::default()),
            complete: AtomicU64::new(0),
            posts: AtomicU64::new(0),
            updates: AtomicU64::new(0),
            inbound: AtomicU64::new(0),
            bad_signatures: AtomicU64::new(0),
        })
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX - 1) + 1
    }

    fn signed(&self, headers: &HeaderMap, body: &[u8]) -> bool {
        let Some(tag) = headers
            .get("x-hub-signature-256")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("sha256="))
            .and_then(|hex_tag| hex::decode(hex_tag).ok())
        else {
            return false;
        };
        let mut mac = self.mac.clone();
        mac.update(body);
        mac.verify_slice(&tag).is_ok()
    }

    fn record(&self, envelope: &Envelope<'_>) {
        let at = self.now_us();
        let mut inbound = 0;
        let mut updates = 0;
        let mut completed = 0;
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        for change in envelope.entry.iter().flat_map(|e| &e.changes) {
            inbound += change.value.messages.len() as u64;
            for status in &change.value.statuses {
                updates += 1;
                let Some(index) = status_index(&status.status) else {
                    continue;
                };
                let arrivals = seen.by_wamid.entry(status.id.to_string()).or_default();
                if arrivals.at_us[index] != 0 {
                    seen.duplicates += 1;
                    continue;
                }
                let was = self.is_complete(arrivals.mask());
                arrivals.at_us[index] = at;
                if !was && self.is_complete(arrivals.mask()) {
                    completed += 1;
                }
            }
        }
        drop(seen);
        self.inbound.fetch_add(inbound, Ordering::Relaxed);
        self.updates.fetch_add(updates, Ordering::Relaxed);
        self.complete.fetch_add(completed, Ordering::Relaxed);
    }

    fn is_complete(&self, mask: u8) -> bool {
        mask & self.wanted == self.wanted || mask & FAILED_BIT != 0
    }

    /// Fills in the report's statuses for the measured sends `wamids` (with when their answer
    /// was read), measured from `started`.
    fn tally_statuses(
        &self,
        report: &mut SendReport,
        wamids: &[(String, u64)],
        started: Instant,
        wait: Wait,
    ) {
        let start_us = u64::try_from(started.duration_since(self.origin).as_micros())
            .unwrap_or(0)
            .saturating_add(1);
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let mut counts = [0_u64; 4];
        let (mut last_sent, mut last_wanted, mut missing) = (0, 0, 0);
        let mut sent_lags = Vec::with_capacity(wamids.len());
        let mut all_lags = Vec::with_capacity(wamids.len());
        // Arrival times are stored plus one; answers are not.
        let lag = |at: u64, answered: u64| {
            u32::try_from(at.saturating_sub(answered + 1)).unwrap_or(u32::MAX)
        };
        for (wamid, answered) in wamids {
            let arrivals = seen.by_wamid.get(wamid).copied().unwrap_or_default();
            for (i, at) in arrivals.at_us.iter().enumerate() {
                if *at > 0 {
                    counts[i] += 1;
                }
            }
            if !self.is_complete(arrivals.mask()) {
                missing += 1;
                continue;
            }
            let sent = arrivals.at_us[0];
            let wanted = arrivals
                .at_us
                .iter()
                .enumerate()
                .filter(|(i, _)| wait.mask() & (1 << i) != 0)
                .map(|(_, at)| *at)
                .max()
                .unwrap_or(0);
            if sent > 0 {
                sent_lags.push(lag(sent, *answered));
                last_sent = last_sent.max(sent);
            }
            if arrivals.mask() & wait.mask() == wait.mask() {
                all_lags.push(lag(wanted, *answered));
                last_wanted = last_wanted.max(wanted);
            }
        }
        report.duplicate_statuses = seen.duplicates;
        drop(seen);
        report.statuses = STATUS_NAMES
            .iter()
            .zip(counts)
            .filter(|(name, n)| *n > 0 || **name != "failed")
            .map(|(name, n)| ((*name).to_owned(), n))
            .collect();
        report.statuses_missing = missing;
        report.sent_status_lag_ms = Some(Latency::from_micros(&mut sent_lags));
        report.last_status_lag_ms = Some(Latency::from_micros(&mut all_lags));
        #[expect(
            clippy::cast_precision_loss,
            reason = "microseconds are far below 2^52"
        )]
        let seconds = |at: u64| at.saturating_sub(start_us) as f64 / 1e6;
        let received: u64 = counts.iter().sum();
        if missing == 0 && !wamids.is_empty() {
            let all = seconds(last_wanted);
            report.all_sent_s = Some(seconds(last_sent));
            report.all_statuses_s = Some(all);
            report.status_lag_s = Some(all - report.wall_time_s);
            #[expect(clippy::cast_precision_loss, reason = "counts are far below 2^52")]
            if all > 0.0 {
                report.statuses_per_s = Some(received as f64 / all);
                report.sends_with_statuses_per_s = Some(report.successes as f64 / all);
            }
        }
    }
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> AxumStatus {
    receiver.posts.fetch_add(1, Ordering::Relaxed);
    if !receiver.signed(&headers, &body) {
        receiver.bad_signatures.fetch_add(1, Ordering::Relaxed);
        return AxumStatus::UNAUTHORIZED;
    }
    match serde_json::from_slice::<Envelope<'_>>(&body) {
        Ok(envelope) => {
            receiver.record(&envelope);
            AxumStatus::OK
        }
        Err(_) => AxumStatus::BAD_REQUEST,
    }
}

/// Meta's verification handshake: the challenge back when the verify token matches.
async fn handshake(
    State(receiver): State<Arc<Receiver>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<String, AxumStatus> {
    let mode = query.get("hub.mode").map(String::as_str);
    let token = query.get("hub.verify_token").map(String::as_str);
    match (mode, token, query.get("hub.challenge")) {
        (Some("subscribe"), Some(t), Some(challenge)) if t == receiver.verify_token => {
            Ok(challenge.clone())
        }
        _ => Err(AxumStatus::FORBIDDEN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receiver(wait: Wait) -> Receiver {
        Receiver::new(
            "http://127.0.0.1:1/webhooks/whatsapp".to_owned(),
            "secret",
            "token",
            Instant::now(),
            wait,
        )
        .unwrap()
    }

    fn status(wamid: &str, status: &str) -> String {
        json!({
            "object": "whatsapp_business_account",
            "entry": [{ "id": "1", "changes": [{ "field": "messages", "value": {
                "messaging_product": "whatsapp",
                "statuses": [{ "id": wamid, "status": status, "timestamp": "1750000000" }],
            } }] }],
        })
        .to_string()
    }

    fn receive(r: &Receiver, body: &str) {
        let envelope: Envelope<'_> = serde_json::from_str(body).unwrap();
        r.record(&envelope);
    }

    #[test]
    fn a_send_is_complete_with_every_status_waited_for_or_failed() {
        let r = receiver(Wait::Read);
        // Meta escapes `/` as `\/`, and wamids are base64.
        let escaped = |s: String| s.replace('/', r"\/");
        receive(&r, &escaped(status("wamid.A/1", "sent")));
        receive(&r, &escaped(status("wamid.A/1", "delivered")));
        assert_eq!(r.complete.load(Ordering::Relaxed), 0);
        receive(&r, &escaped(status("wamid.A/1", "read")));
        assert_eq!(r.complete.load(Ordering::Relaxed), 1);
        // Once only, however often a status comes again.
        receive(&r, &status("wamid.A/1", "read"));
        assert_eq!(r.complete.load(Ordering::Relaxed), 1);
        receive(&r, &status("wamid.B", "failed"));
        assert_eq!(r.complete.load(Ordering::Relaxed), 2);
        assert_eq!(r.updates.load(Ordering::Relaxed), 5);
        let seen = r.seen.lock().unwrap();
        assert_eq!(seen.duplicates, 1);
        // Escaped or not, the same wamid.
        assert_eq!(seen.by_wamid["wamid.A/1"].mask(), 0b0111);
    }

    #[test]
    fn waiting_for_sent_only() {
        let r = receiver(Wait::Sent);
        receive(&r, &status("wamid.A", "sent"));
        assert_eq!(r.complete.load(Ordering::Relaxed), 1);
        assert_eq!(Wait::Delivered.names(), ["sent", "delivered"]);
    }

    #[test]
    fn only_webhooks_signed_with_the_app_secret_count() {
        let r = receiver(Wait::Read);
        let body = status("wamid.A", "sent");
        let mut headers = HeaderMap::new();
        let signature = guichet_bench::payload::sign(b"secret", body.as_bytes());
        headers.insert("x-hub-signature-256", signature.parse().unwrap());
        assert!(r.signed(&headers, body.as_bytes()));
        assert!(!r.signed(&headers, b"{}"));
        let wrong = guichet_bench::payload::sign(b"other", body.as_bytes());
        headers.insert("x-hub-signature-256", wrong.parse().unwrap());
        assert!(!r.signed(&headers, body.as_bytes()));
        assert!(!r.signed(&HeaderMap::new(), body.as_bytes()));
    }
}
