//! Send rate: how close guichet's sender gets to a number's throughput cap against the sandbox,
//! without Meta's 130429 or 131056, and how long queuing a message takes.
//!
//! 1. The sandbox runs in this process with `--numbers` business numbers capped at `--mps`
//!    messages per second each; `--customers` simulated customers write to every number, so
//!    that free-form replies are allowed.
//! 2. `guichet serve` (the binary given) starts with sending paused; `--messages` texts are
//!    queued through `POST /api/v1/messages` by `--concurrency` clients: the enqueue latency.
//! 3. guichet restarts with sending on and drains the outbox: the sustained rate is measured
//!    between 5 % and 95 % of the messages accepted by the sandbox (from guichet's
//!    `guichet_graph_sends_total` counter, sampled every 50 ms), against the cap
//!    (`--numbers` × `--mps`).
//!
//! It prints one JSON object.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark's report and progress"
)]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use guichet_bench::process::{Server, free_port};
use serde_json::{Value, json};

const SECRET: &str = "bench-send-app-secret";
const VERIFY: &str = "bench-send-verify";
const ACCESS: &str = "EAAG-bench-send";
const API: &str = "bench-send-api-token-0123456789";
const WABA: &str = "102290129340398";

#[derive(Debug, Parser)]
struct Args {
    /// The guichet binary.
    #[arg(long)]
    guichet: String,
    /// `sqlite:<path>` (default: a fresh file) or a Postgres URL of an empty database.
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long, default_value_t = 4)]
    numbers: usize,
    /// The cap of each number, on both sides.
    #[arg(long, default_value_t = 80)]
    mps: u32,
    #[arg(long, default_value_t = 10_000)]
    messages: usize,
    #[arg(long, default_value_t = 500)]
    customers: usize,
    /// `outbound.headroom`: the share of the cap guichet paces at.
    #[arg(long, default_value_t = 0.97)]
    headroom: f64,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

fn number(i: usize) -> String {
    format!("1065403522429{i:02}")
}

fn phone(i: usize) -> String {
    format!("3361{i:07}")
}

fn spawn(args: &Args, url: &str, port: u16, sandbox: &str, paused: bool) -> anyhow::Result<Server> {
    let numbers: Vec<Value> = (0..args.numbers)
        .map(|i| json!({"phone_number_id": number(i), "waba_id": WABA, "app": "main", "access_token": ACCESS}))
        .collect();
    let child = Command::new(&args.guichet)
        .arg("serve")
        .env("RUST_LOG", "warn")
        .env("GUICHET_LISTEN", format!("127.0.0.1:{port}"))
        .env("GUICHET_DATABASE_URL", url)
        .env(
            "GUICHET_APPS",
            json!([{"name": "main", "secret": SECRET}]).to_string(),
        )
        .env("GUICHET_NUMBERS", Value::Array(numbers).to_string())
        .env("GUICHET_VERIFY_TOKEN", VERIFY)
        .env("GUICHET_API_TOKEN", API)
        .env("GUICHET_GRAPH_URL", format!("{sandbox}/v25.0"))
        .env("GUICHET_OUTBOUND__THROUGHPUT_MPS", args.mps.to_string())
        .env("GUICHET_OUTBOUND__HEADROOM", args.headroom.to_string())
        .env("GUICHET_OUTBOUND__PAUSED", paused.to_string())
        .env("GUICHET_INGEST__POLL_INTERVAL_MS", "50")
        .stdout(Stdio::null())
        .spawn()
        .context("starting guichet")?;
    Ok(Server(child))
}

async fn wait_ready(http: &reqwest::Client, hub: &str) -> anyhow::Result<()> {
    for _ in 0..600 {
        if let Ok(r) = http.get(format!("{hub}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("guichet did not become ready")
}

async fn metric(http: &reqwest::Client, hub: &str, prefix: &str) -> f64 {
    let Ok(r) = http.get(format!("{hub}/metrics")).send().await else {
        return 0.0;
    };
    r.text()
        .await
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a short list"
    )]
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("guichet-send-rate-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", dir.join("bench.db").display()));
    let port = free_port()?;
    let hub = format!("http://127.0.0.1:{port}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sandbox_url = format!("http://{}", listener.local_addr()?);
    let sandbox = sandbox::Sandbox::new(sandbox::Config {
        app_secret: SECRET.into(),
        access_token: ACCESS.into(),
        numbers: (0..args.numbers)
            .map(|i| sandbox::Number {
                phone_number_id: number(i),
                waba_id: WABA.into(),
                display_phone_number: format!("155507838{i:02}"),
            })
            .collect(),
        callback: Some(sandbox::Callback {
            url: format!("{hub}/webhooks/whatsapp"),
            verify_token: VERIFY.into(),
        }),
        start_ms: None,
        batch_max: 64,
        limits: sandbox::Limits {
            throughput_mps: args.mps,
            ..sandbox::Limits::default()
        },
    });
    sandbox.start();
    tokio::spawn(sandbox::serve_with(
        listener,
        sandbox.clone(),
        std::future::pending(),
    ));
    let http = reqwest::Client::new();

    // Customers write first, with sending paused.
    let server = spawn(&args, &url, port, &sandbox_url, true)?;
    wait_ready(&http, &hub).await?;
    for c in 0..args.customers {
        sandbox
            .world()
            .add_customer(sandbox::world::NewCustomer {
                phone: phone(c),
                user_id: None,
                username: None,
                name: None,
                country: None,
                behaviour: None,
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for n in 0..args.numbers {
            sandbox
                .customer_says(
                    &phone(c),
                    &sandbox::world::CustomerMessage {
                        text: Some("hello".into()),
                        phone_number_id: Some(number(n)),
                        ..sandbox::world::CustomerMessage::default()
                    },
                )
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    let inbound = args.customers * args.numbers;
    let started = Instant::now();
    while metric(
        &http,
        &hub,
        "guichet_ingest_items_total{item=\"message\",outcome=\"new\"}",
    )
    .await
        < inbound as f64
    {
        if started.elapsed() > Duration::from_secs(120) {
            bail!("the customers' messages were not ingested");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "{inbound} customer messages ingested; queuing {}",
        args.messages
    );

    // Queue every message: the enqueue latency.
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    let queue_started = Instant::now();
    for _ in 0..args.concurrency {
        let (http, hub, next) = (http.clone(), hub.clone(), next.clone());
        let (messages, numbers, customers) = (args.messages, args.numbers, args.customers);
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= messages {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let body = json!({ "from": number(i % numbers), "to": phone((i / numbers) % customers),
                                   "type": "text", "text": { "body": format!("update {i}") } });
                let t = Instant::now();
                let r = http
                    .post(format!("{hub}/api/v1/messages"))
                    .bearer_auth(API)
                    .json(&body)
                    .send()
                    .await?;
                if r.status() != reqwest::StatusCode::ACCEPTED {
                    bail!("enqueue: {} {}", r.status(), r.text().await.unwrap_or_default());
                }
                latencies.push(t.elapsed());
            }
        }));
    }
    let mut latencies = Vec::new();
    for c in clients {
        latencies.extend(c.await??);
    }
    let queue_secs = queue_started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    server.stop().await?;

    // Send: the sustained rate against the cap.
    let server = spawn(&args, &url, port, &sandbox_url, false)?;
    wait_ready(&http, &hub).await?;
    let accepted = "guichet_graph_sends_total{outcome=\"accepted\"}";
    let total = args.messages as f64;
    let (mut at_5, mut at_95) = (None, None);
    let send_started = Instant::now();
    loop {
        let n = metric(&http, &hub, accepted).await;
        let now = send_started.elapsed().as_secs_f64();
        if at_5.is_none() && n >= total * 0.05 {
            at_5 = Some((now, n));
        }
        if n >= total * 0.95 {
            at_95 = Some((now, n));
        }
        if n >= total {
            break;
        }
        if send_started.elapsed() > Duration::from_secs(600) {
            bail!("only {n} of {total} sends accepted");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let drain_secs = send_started.elapsed().as_secs_f64();
    let refused = metric(
        &http,
        &hub,
        "guichet_graph_sends_total{outcome=\"refused\"}",
    )
    .await;
    server.stop().await?;
    let (Some((t5, n5)), Some((t95, n95))) = (at_5, at_95) else {
        bail!("no measurement window");
    };
    let rate = (n95 - n5) / (t95 - t5);
    let cap = f64::from(args.mps) * args.numbers as f64;
    let report = json!({
        "database": if url.starts_with("sqlite:") { "sqlite" } else { "postgres" },
        "numbers": args.numbers,
        "mps_per_number": args.mps,
        "headroom": args.headroom,
        "messages": args.messages,
        "customers": args.customers,
        "enqueue": {
            "concurrency": args.concurrency,
            "per_second": args.messages as f64 / queue_secs,
            "p50_ms": percentile(&latencies, 0.50),
            "p99_ms": percentile(&latencies, 0.99),
            "max_ms": percentile(&latencies, 1.0),
        },
        "send": {
            "sustained_per_second": rate,
            "cap_per_second": cap,
            "fraction_of_cap": rate / cap,
            "drain_seconds": drain_secs,
            "refused_by_meta": refused,
        },
    });
    println!("{report}");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
