//! The agent inbox under a realistic book of conversations: how long its pages take, and how long
//! a customer's message takes to reach an open inbox through the live feed.
//!
//! 1. `guichet serve` (the binary given) starts on a fresh SQLite file (or the Postgres URL
//!    given); `--conversations` customers write `--messages` messages each, through signed
//!    webhooks, and ingest drains them.
//! 2. An agent is added with `guichet user add` and signs in.
//! 3. One client requests, `--requests` times each and one at a time: the REST API's page of 50
//!    conversations (the baseline: the same rows without the inbox's markers and counts), the
//!    inbox page, the list filtered by a word of the messages, and a conversation.
//! 4. The live feed: the inbox's event stream is open; a customer writes `--live` times, one at a
//!    time; each time, from the webhook's POST to the event reaching the stream.
//!
//! It prints one JSON object (latencies in ms).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark's report and progress"
)]

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use guichet_bench::payload::sign;
use guichet_bench::process::{Server, free_port};
use guichet_bench::report::Latency;
use serde_json::{Value, json};

const SECRET: &str = "bench-inbox-app-secret";
const API: &str = "bench-inbox-api-token-0123456789";
const NUMBER: &str = "106540352242922";
const WABA: &str = "102290129340398";
const USER: &str = "bench-agent";
const PASSWORD: &str = "amber-lighthouse-meadow-73";

#[derive(Debug, Parser)]
struct Args {
    /// The guichet binary.
    #[arg(long)]
    guichet: String,
    /// `sqlite:<path>` (default: a fresh file) or a Postgres URL of an empty database.
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long, default_value_t = 5_000)]
    conversations: usize,
    #[arg(long, default_value_t = 10)]
    messages: usize,
    #[arg(long, default_value_t = 200)]
    requests: usize,
    #[arg(long, default_value_t = 100)]
    live: usize,
}

const WORDS: &[&str] = &[
    "washer", "dryer", "order", "refund", "delivery", "invoice", "booking", "warranty", "leak",
    "noise",
];

fn webhook(customers: std::ops::Range<usize>, per: usize, at: i64) -> Value {
    let mut contacts = Vec::new();
    let mut messages = Vec::new();
    for c in customers {
        let wa = format!("1555{c:07}");
        contacts.push(json!({ "profile": { "name": format!("Customer {c}") }, "wa_id": wa }));
        for m in 0..per {
            let word = WORDS[(c + m) % WORDS.len()];
            messages.push(json!({
                "from": wa, "id": format!("wamid.bench.{c}.{m}"),
                "timestamp": (at + m as i64).to_string(), "type": "text",
                "text": { "body": format!("Message {m} about my {word}, customer {c}") }
            }));
        }
    }
    json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "changes": [{
        "field": "messages", "value": { "messaging_product": "whatsapp",
        "metadata": { "display_phone_number": "15550783881", "phone_number_id": NUMBER },
        "contacts": contacts, "messages": messages } }] }] })
}

async fn post_webhook(http: &reqwest::Client, base: &str, body: &Value) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec(body)?;
    let r = http
        .post(format!("{base}/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(SECRET.as_bytes(), &bytes))
        .body(bytes)
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("webhook answered {}", r.status());
    }
    Ok(())
}

fn cookie_of(r: &reqwest::Response, jar: &mut Vec<(String, String)>) {
    for v in r.headers().get_all("set-cookie") {
        if let Some((pair, _)) = v.to_str().unwrap_or_default().split_once(';')
            && let Some((k, val)) = pair.split_once('=')
        {
            jar.retain(|(name, _)| name != k);
            if !val.is_empty() {
                jar.push((k.to_owned(), val.to_owned()));
            }
        }
    }
}

fn header(jar: &[(String, String)]) -> String {
    jar.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

async fn timed(
    http: &reqwest::Client,
    url: &str,
    cookie: &str,
    bearer: bool,
    n: usize,
) -> anyhow::Result<Latency> {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let mut req = http.get(url).header("accept", "text/html");
        req = if bearer {
            req.bearer_auth(API)
        } else {
            req.header("cookie", cookie)
        };
        let start = Instant::now();
        let r = req.send().await?;
        let status = r.status();
        let _ = r.bytes().await?;
        samples.push(start.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
        if !status.is_success() {
            bail!("{url} answered {status}");
        }
    }
    Ok(Latency::from_micros(&mut samples))
}

fn ms(l: &Latency) -> Value {
    json!({ "p50": l.p50, "p99": l.p99, "mean": l.mean, "max": l.max })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("guichet-inbox-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite:{}", dir.join("inbox.db").display()));
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let env = [
        ("GUICHET_DATABASE_URL", db.clone()),
        ("GUICHET_APP_SECRET", SECRET.to_owned()),
        ("GUICHET_VERIFY_TOKEN", "bench-verify".to_owned()),
        ("GUICHET_PHONE_NUMBER_ID", NUMBER.to_owned()),
        ("GUICHET_WABA_ID", WABA.to_owned()),
        ("GUICHET_API_TOKEN", API.to_owned()),
        (
            "GUICHET_MEDIA__DIR",
            dir.join("media").display().to_string(),
        ),
        ("GUICHET_OUTBOUND__PAUSED", "true".to_owned()),
    ];
    let _server = Server(
        Command::new(&args.guichet)
            .arg("serve")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("GUICHET_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .context("start guichet serve")?,
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    for _ in 0..400 {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // 1. The book of conversations.
    let seeded = Instant::now();
    let at = 1_795_219_200 - 3600;
    let per_hook = 50;
    let mut start = 0;
    while start < args.conversations {
        let end = (start + per_hook).min(args.conversations);
        post_webhook(&http, &base, &webhook(start..end, args.messages, at)).await?;
        start = end;
    }
    let expected = (args.conversations * args.messages) as f64;
    loop {
        let metrics = http
            .get(format!("{base}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        let backlog = metrics
            .lines()
            .find(|l| l.starts_with("guichet_ingest_backlog "))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(1.0);
        let new = metrics
            .lines()
            .filter(|l| {
                l.starts_with("guichet_ingest_items_total")
                    && l.contains("item=\"message\"")
                    && l.contains("outcome=\"new\"")
            })
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            .sum::<f64>();
        if backlog == 0.0 && new >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "seeded {} conversations x {} messages in {:.1} s",
        args.conversations,
        args.messages,
        seeded.elapsed().as_secs_f64()
    );

    // 2. An agent signs in.
    let mut child = Command::new(&args.guichet)
        .args([
            "user",
            "add",
            USER,
            "--name",
            "Bench Agent",
            "--role",
            "agent",
            "--password-stdin",
        ])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(PASSWORD.as_bytes())?;
    if !child.wait()?.success() {
        bail!("guichet user add failed");
    }
    let mut jar = Vec::new();
    let form = http.get(format!("{base}/login")).send().await?;
    cookie_of(&form, &mut jar);
    let page = form.text().await?;
    let csrf = page
        .split_once(r#"name="_csrf" value=""#)
        .and_then(|(_, r)| r.split_once('"'))
        .map(|(v, _)| v.to_owned())
        .context("the sign-in form's token")?;
    let r = http
        .post(format!("{base}/login"))
        .header("cookie", header(&jar))
        .header("origin", &base)
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", USER),
            ("password", PASSWORD),
            ("next", ""),
        ])
        .send()
        .await?;
    cookie_of(&r, &mut jar);
    if r.status() != reqwest::StatusCode::SEE_OTHER {
        bail!("sign-in answered {}", r.status());
    }
    let cookie = header(&jar);

    // 3. Pages.
    let (_, list): (u16, Value) = {
        let r = http
            .get(format!("{base}/api/v1/conversations?limit=1"))
            .bearer_auth(API)
            .send()
            .await?;
        (r.status().as_u16(), r.json().await?)
    };
    let one = list["data"][0]["id"].as_i64().context("a conversation")?;
    let n = args.requests;
    let api = timed(
        &http,
        &format!("{base}/api/v1/conversations?limit=50"),
        &cookie,
        true,
        n,
    )
    .await?;
    let inbox = timed(
        &http,
        &format!("{base}/inbox?status=open"),
        &cookie,
        false,
        n,
    )
    .await?;
    let search = timed(
        &http,
        &format!("{base}/inbox/list?q=invoice"),
        &cookie,
        false,
        n,
    )
    .await?;
    let conversation = timed(&http, &format!("{base}/inbox/{one}"), &cookie, false, n).await?;

    // 4. The live feed.
    let mut feed = http
        .get(format!("{base}/inbox/events"))
        .header("cookie", &cookie)
        .send()
        .await?;
    let mut samples = Vec::with_capacity(args.live);
    let mut buffer = String::new();
    for i in 0..args.live {
        let wamid = format!("wamid.live.{i}");
        let body = json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "changes": [{
            "field": "messages", "value": { "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": NUMBER },
            "contacts": [{ "profile": { "name": "Live" }, "wa_id": "15559999999" }],
            "messages": [{ "from": "15559999999", "id": wamid, "timestamp": (at + 7200 + i as i64).to_string(),
              "type": "text", "text": { "body": "are you there?" } }] } }] }] });
        let start = Instant::now();
        post_webhook(&http, &base, &body).await?;
        buffer.clear();
        while !buffer.contains("message.received") {
            let chunk = tokio::time::timeout(Duration::from_secs(10), feed.chunk())
                .await
                .context("no event within 10 s")??
                .context("the feed ended")?;
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
        samples.push(start.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
    }
    let live = Latency::from_micros(&mut samples);

    let report = json!({
        "database": if db.starts_with("sqlite") { "sqlite" } else { "postgres" },
        "conversations": args.conversations,
        "messages_per_conversation": args.messages,
        "requests_each": n,
        "api_conversations_page_ms": ms(&api),
        "inbox_page_ms": ms(&inbox),
        "inbox_search_ms": ms(&search),
        "conversation_page_ms": ms(&conversation),
        "live_feed_ms": ms(&live),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
