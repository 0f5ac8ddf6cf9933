//! Closed-loop HTTP/1.1 load generator for WhatsApp Cloud API webhook receivers.
//!
//! Every body is generated and signed before the clock starts. Then each of `--connections`
//! tasks keeps one keep-alive connection and posts webhooks back to back, first `--warmup`
//! unmeasured ones, then `--requests` measured ones, recording each request's latency and
//! status. Non-200 answers and transport errors are counted and reported, never dropped.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark CLI prints its summary on stdout"
)]
#![expect(
    clippy::print_stderr,
    reason = "a benchmark CLI prints progress on stderr"
)]

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use clap::Parser;
use guichet_bench::client::{self, Sender, Slot, Target};
use guichet_bench::cpu::{cpu_seconds, machine_cpu_seconds, tree_cpu_seconds};
use guichet_bench::payload::{self, EventKind, PayloadConfig};
use guichet_bench::report::{Latency, Report};
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use hyper::{Method, Request, StatusCode};
use rand::Rng as _;
use rand::distr::Alphanumeric;

/// Post signed, realistic WhatsApp webhooks at a receiver and report events/s and latency.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Webhook URL (plain HTTP), e.g. http://127.0.0.1:8080/webhooks/whatsapp.
    #[arg(long)]
    url: String,
    /// App secret the receiver checks `X-Hub-Signature-256` with.
    #[arg(long, env = "BENCH_APP_SECRET", hide_env_values = true)]
    app_secret: String,
    /// Concurrent keep-alive connections, each sending requests back to back.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Measured requests (one webhook POST is one event).
    #[arg(long, default_value_t = 100_000)]
    requests: usize,
    /// Requests sent first, on the same connections, and not measured.
    #[arg(long, default_value_t = 10_000)]
    warmup: usize,
    /// `value.metadata.phone_number_id` of every webhook.
    #[arg(long, default_value = "106540352242922")]
    phone_number_id: String,
    /// `entry[].id` (the WhatsApp Business Account id) of every webhook.
    #[arg(long, default_value = "102290129340398")]
    waba_id: String,
    /// `value.metadata.display_phone_number` of every webhook.
    #[arg(long, default_value = "15550783881")]
    display_phone_number: String,
    /// Distinct customers (`wa_id`) the webhooks are spread over.
    #[arg(long, default_value_t = 1000)]
    customers: usize,
    /// Write the report as JSON to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Name of the target in the report.
    #[arg(long, default_value = "target")]
    label: String,
    /// A request without an answer after this many seconds counts as a transport error.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// Worker threads of the generator (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Before the run, send one webhook with a wrong signature and report the status it got.
    #[arg(long)]
    check_bad_signature: bool,
    /// Makes this run's wamids unique (default: random).
    #[arg(long)]
    run_id: Option<String>,
    /// Seed for customers and message texts.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Process id of the server under test: report the CPU time it and its descendants used
    /// during the measured run (Linux).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Process id of a database server the target uses (e.g. the Postgres postmaster): report
    /// the CPU time it and its descendants used during the measured run (Linux).
    #[arg(long)]
    database_pid: Option<u32>,
}

/// A request ready to go: the body and its signature header.
#[derive(Debug)]
struct Prepared {
    body: Bytes,
    signature: HeaderValue,
}

/// What one connection task saw during one phase.
#[derive(Debug, Default)]
struct Tally {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    transport: BTreeMap<String, u64>,
    reconnects: u64,
}

impl Tally {
    fn merge(&mut self, other: Self) {
        self.latencies_us.extend(other.latencies_us);
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        for (k, v) in other.transport {
            *self.transport.entry(k).or_default() += v;
        }
        self.reconnects += other.reconnects;
    }

    fn transport_error(&mut self, kind: &str) {
        *self.transport.entry(kind.to_owned()).or_default() += 1;
    }
}

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

#[expect(
    clippy::disallowed_methods,
    reason = "webhooks carry the wall clock like Meta's do; this CLI has no injected clock"
)]
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1_750_000_000, |d| d.as_secs())
}

async fn run(args: &Args, threads: usize) -> anyhow::Result<Report> {
    let target = Arc::new(
        Target::resolve(&args.url, Duration::from_secs(args.timeout_secs))
            .await
            .context("--url")?,
    );
    let run_id = args.run_id.clone().unwrap_or_else(|| {
        rand::rng()
            .sample_iter(&Alphanumeric)
            .take(8)
            .map(char::from)
            .collect()
    });

    // Everything is generated and signed before the clock starts. One extra body is kept for
    // the bad-signature check, so that it is unique as well.
    let total = args.warmup + args.requests;
    let span_s = u64::try_from(total / 16).unwrap_or(0);
    let config = PayloadConfig {
        run_id: run_id.clone(),
        waba_id: args.waba_id.clone(),
        phone_number_id: args.phone_number_id.clone(),
        display_phone_number: args.display_phone_number.clone(),
        customers: args.customers,
        base_timestamp: unix_now().saturating_sub(span_s + 60),
        seed: args.seed,
    };
    eprintln!(
        "{}: generating and signing {total} webhooks (run id {run_id})",
        args.label
    );
    let mut hooks = payload::generate(&config, args.app_secret.as_bytes(), total + 1)?;
    let spare = hooks.pop().context("generated no webhooks")?;
    let measured = &hooks[args.warmup..];
    let inbound_messages = measured
        .iter()
        .filter(|h| h.kind == EventKind::Message)
        .count();
    let customers = measured
        .iter()
        .map(|h| h.wa_id.as_str())
        .collect::<HashSet<_>>()
        .len();
    #[expect(clippy::cast_precision_loss, reason = "byte counts are far below 2^52")]
    let mean_body_bytes =
        measured.iter().map(|h| h.body.len()).sum::<usize>() as f64 / measured.len() as f64;
    let status_updates = measured.len() - inbound_messages;
    let prepared: Arc<[Prepared]> = hooks
        .iter()
        .map(|h| {
            Ok(Prepared {
                body: h.body.clone(),
                signature: HeaderValue::from_str(&h.signature)?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?
        .into();
    drop(hooks);

    let bad_signature_status = if args.check_bad_signature {
        let wrong = payload::sign(b"not-the-app-secret", &spare.body);
        let req = Prepared {
            body: spare.body.clone(),
            signature: HeaderValue::from_str(&wrong)?,
        };
        let mut sender = client::connect(&target)
            .await
            .context("connecting for the bad-signature check")?;
        let status = send(&target, &mut sender, &req)
            .await
            .map_err(|kind| anyhow::anyhow!("bad-signature check: {kind}"))?;
        if status == StatusCode::OK {
            eprintln!(
                "{}: WARNING: a webhook with a wrong signature was answered 200",
                args.label
            );
        }
        Some(status.as_u16())
    } else {
        None
    };

    let mut slots: Vec<Slot> = (0..args.connections).map(|_| Slot::default()).collect();
    if args.warmup > 0 {
        eprintln!(
            "{}: warmup, {} requests at {} connections",
            args.label, args.warmup, args.connections
        );
        let (back, tally) = phase(&target, &prepared, 0..args.warmup, slots).await?;
        slots = back;
        let ok = tally.statuses.get(&200).copied().unwrap_or(0);
        if ok == 0 {
            eprintln!(
                "{}: WARNING: no warmup request was answered 200 (statuses {:?}, transport \
                 errors {:?})",
                args.label, tally.statuses, tally.transport
            );
        }
    }

    eprintln!(
        "{}: measuring, {} requests at {} connections",
        args.label, args.requests, args.connections
    );
    let cpu_before = cpu_seconds();
    let server_cpu_before = args.server_pid.and_then(tree_cpu_seconds);
    let database_cpu_before = args.database_pid.and_then(tree_cpu_seconds);
    let machine_before = machine_cpu_seconds();
    let started = Instant::now();
    let (_slots, mut tally) = phase(&target, &prepared, args.warmup..total, slots).await?;
    let wall = started.elapsed().as_secs_f64();
    let machine = machine_cpu_seconds()
        .zip(machine_before)
        .map(|((busy, total), (busy0, total0))| (busy - busy0, total - total0));
    let generator_cpu_s = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let server_cpu_s = args
        .server_pid
        .and_then(tree_cpu_seconds)
        .zip(server_cpu_before)
        .map(|(after, before)| after - before);
    let database_cpu_s = args
        .database_pid
        .and_then(tree_cpu_seconds)
        .zip(database_cpu_before)
        .map(|(after, before)| after - before);

    let successes = tally.statuses.remove(&200).unwrap_or(0);
    let transport_errors = tally.transport.values().sum();
    let requests = u64::try_from(args.requests).unwrap_or(u64::MAX);
    #[expect(clippy::cast_precision_loss, reason = "counts are far below 2^52")]
    let (requests_per_s, events_per_s) = (requests as f64 / wall, successes as f64 / wall);
    Ok(Report {
        label: args.label.clone(),
        url: args.url.clone(),
        connections: args.connections,
        warmup: args.warmup,
        requests,
        successes,
        failures_by_status: tally.statuses,
        transport_errors,
        transport_errors_by_kind: tally.transport,
        reconnects: tally.reconnects,
        wall_time_s: wall,
        requests_per_s,
        events_per_s,
        latency_ms: Latency::from_micros(&mut tally.latencies_us),
        mean_body_bytes,
        inbound_messages: u64::try_from(inbound_messages).unwrap_or(u64::MAX),
        status_updates: u64::try_from(status_updates).unwrap_or(u64::MAX),
        customers,
        generator_cpu_s,
        generator_threads: threads,
        server_cpu_s,
        database_cpu_s,
        machine_busy_cpu_s: machine.map(|(busy, _)| busy),
        machine_cpu_capacity_s: machine.map(|(_, total)| total),
        bad_signature_status,
        run_id,
    })
}

/// Runs requests `range` of `prepared` over the connection slots, one task per slot, and gives
/// the slots back for the next phase.
async fn phase(
    target: &Arc<Target>,
    prepared: &Arc<[Prepared]>,
    range: Range<usize>,
    slots: Vec<Slot>,
) -> anyhow::Result<(Vec<Slot>, Tally)> {
    let next = Arc::new(AtomicUsize::new(range.start));
    let tasks: Vec<_> = slots
        .into_iter()
        .map(|slot| {
            let (target, prepared, next, end) = (
                Arc::clone(target),
                Arc::clone(prepared),
                Arc::clone(&next),
                range.end,
            );
            tokio::spawn(async move { worker(&target, &prepared, &next, end, slot).await })
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

async fn worker(
    target: &Target,
    prepared: &[Prepared],
    next: &AtomicUsize,
    end: usize,
    mut slot: Slot,
) -> (Slot, Tally) {
    let mut tally = Tally {
        latencies_us: Vec::with_capacity(end.saturating_sub(next.load(Ordering::Relaxed)) / 32),
        ..Tally::default()
    };
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= end {
            break;
        }
        let mut sender = match slot.ready(target, &mut tally.reconnects).await {
            Ok(sender) => sender,
            Err(kind) => {
                // The request is lost; back off a little so a dead server does not spin us.
                tally.transport_error(kind);
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let started = Instant::now();
        match send(target, &mut sender, &prepared[i]).await {
            Ok(status) => {
                let micros = started.elapsed().as_micros();
                tally
                    .latencies_us
                    .push(u32::try_from(micros).unwrap_or(u32::MAX));
                *tally.statuses.entry(status.as_u16()).or_default() += 1;
                slot.keep(sender);
            }
            Err(kind) => tally.transport_error(kind),
        }
    }
    (slot, tally)
}

/// Posts one webhook and reads the whole answer.
async fn send(
    target: &Target,
    sender: &mut Sender,
    req: &Prepared,
) -> Result<StatusCode, &'static str> {
    let request = Request::builder()
        .method(Method::POST)
        .uri(target.path.clone())
        .header(HOST, target.host.clone())
        .header(USER_AGENT, HeaderValue::from_static("facebookexternalua"))
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header("x-hub-signature-256", req.signature.clone())
        .body(Full::new(req.body.clone()))
        .map_err(|_| "bad request")?;
    client::exchange(sender, request, target.timeout)
        .await
        .map(|(status, _)| status)
}
