//! `guichet sandbox <command>`: drives a running sandbox's simulated customers, clock and
//! faults from the command line, through its control API under `/_sandbox/`. Each command makes
//! one request and prints the sandbox's JSON answer.

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

/// Where the sandbox is.
#[derive(Debug, Args)]
pub struct Target {
    /// The running sandbox.
    #[arg(long, env = "SANDBOX_URL", default_value = "http://127.0.0.1:9090")]
    url: String,
}

#[derive(Debug, Subcommand)]
pub enum Control {
    /// What the sandbox emulates now: clock, numbers, customers, messaging limit, webhooks.
    State(Target),
    /// A new simulated customer.
    AddCustomer(AddCustomer),
    /// The simulated customers.
    Customers(Target),
    /// A customer writes, presses a button, reacts, shares a place or sends a file.
    Say(Say),
    /// Changes how a customer behaves.
    Behave(Behave),
    /// What the business sent a customer, with each message's status.
    Transcript(Customer),
    /// Moves the emulated clock forward: windows close, statuses and retries fall due.
    Advance(Advance),
    /// Sets the faults in force (those not given are off), or shows them.
    Faults(Faults),
}

#[derive(Debug, Args)]
pub struct AddCustomer {
    #[command(flatten)]
    target: Target,
    /// International number, with or without `+`.
    #[arg(long)]
    phone: String,
    #[arg(long)]
    name: Option<String>,
    /// ISO 3166 alpha-2, for the made-up business-scoped user id.
    #[arg(long)]
    country: Option<String>,
    #[arg(long)]
    username: Option<String>,
    /// Business-scoped user id; made up when absent.
    #[arg(long)]
    user_id: Option<String>,
    /// Offline: messages are delivered only once the customer comes online.
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    reading: Reading,
}

/// When a customer reads what was delivered.
#[derive(Debug, Args)]
pub struct Reading {
    /// Reads what was delivered after this many seconds (the sandbox's default: 2).
    #[arg(long, value_name = "SECONDS")]
    read_after: Option<u64>,
    /// Never reads.
    #[arg(long, conflicts_with = "read_after")]
    never_reads: bool,
}

impl Reading {
    /// `read_after_s` as the control API takes it (`null`: never), when one was given.
    fn read_after_s(&self) -> Option<Value> {
        if self.never_reads {
            Some(Value::Null)
        } else {
            self.read_after.map(|s| json!(s))
        }
    }
}

#[derive(Debug, Args)]
pub struct Customer {
    #[command(flatten)]
    target: Target,
    /// The customer's `wa_id` (phone digits) or business-scoped user id.
    customer: String,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).multiple(false))]
pub struct Say {
    #[command(flatten)]
    target: Target,
    /// The customer's `wa_id` or business-scoped user id.
    customer: String,
    /// A text message.
    #[arg(group = "what")]
    text: Option<String>,
    /// Presses this reply button, list row or template quick reply of `--reply-to`.
    #[arg(long, group = "what", requires = "reply_to", value_name = "ID")]
    button: Option<String>,
    /// Reacts to this business message (with `--emoji`; without, removes the reaction).
    #[arg(long, group = "what", value_name = "WAMID")]
    react: Option<String>,
    #[arg(long, requires = "react")]
    emoji: Option<String>,
    /// Shares a place, `LATITUDE,LONGITUDE`.
    #[arg(
        long,
        group = "what",
        value_name = "LAT,LON",
        allow_hyphen_values = true
    )]
    location: Option<String>,
    /// Sends a sample file: image, document, audio, video or sticker.
    #[arg(long, group = "what", value_name = "KIND")]
    media: Option<String>,
    #[arg(long, requires = "media")]
    caption: Option<String>,
    /// The business message this one answers.
    #[arg(long, value_name = "WAMID")]
    reply_to: Option<String>,
    /// Comes in through a Click-to-WhatsApp ad with this URL (opens a free entry point window
    /// once the business replies).
    #[arg(long, value_name = "URL")]
    from_ad: Option<String>,
}

#[derive(Debug, Args)]
pub struct Behave {
    #[command(flatten)]
    target: Target,
    customer: String,
    #[arg(long, conflicts_with = "offline")]
    online: bool,
    #[arg(long)]
    offline: bool,
    #[command(flatten)]
    reading: Reading,
    #[arg(long, conflicts_with = "unblock")]
    block: bool,
    #[arg(long)]
    unblock: bool,
    #[arg(long, conflicts_with = "resume_marketing")]
    stop_marketing: bool,
    #[arg(long)]
    resume_marketing: bool,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("by").required(true).multiple(true))]
pub struct Advance {
    #[command(flatten)]
    target: Target,
    #[arg(long, group = "by")]
    hours: Option<i64>,
    #[arg(long, group = "by")]
    seconds: Option<i64>,
}

#[derive(Debug, Args)]
pub struct Faults {
    #[command(flatten)]
    target: Target,
    /// Shows the faults in force instead of setting them.
    #[arg(long, conflicts_with_all = [
        "graph_error_rate", "graph_error_code", "graph_latency_ms", "drop_after_accept_rate",
        "webhook_duplicate_rate", "webhook_reorder", "webhook_batch_max", "webhook_delay_ms",
        "media_info_error_rate", "media_download_error_rate",
    ])]
    show: bool,
    /// Share of Graph API sends answered with an error (0 to 1).
    #[arg(long, value_name = "RATE")]
    graph_error_rate: Option<f64>,
    /// The error they get (131000 by default).
    #[arg(long, value_name = "CODE")]
    graph_error_code: Option<i64>,
    #[arg(long, value_name = "MS")]
    graph_latency_ms: Option<u64>,
    /// Share of accepted sends whose answer is cut off.
    #[arg(long, value_name = "RATE")]
    drop_after_accept_rate: Option<f64>,
    /// Share of webhook POSTs sent twice.
    #[arg(long, value_name = "RATE")]
    webhook_duplicate_rate: Option<f64>,
    #[arg(long)]
    webhook_reorder: bool,
    #[arg(long, value_name = "N")]
    webhook_batch_max: Option<usize>,
    #[arg(long, value_name = "MS")]
    webhook_delay_ms: Option<u64>,
    /// Share of `GET /{media-id}` answered with an error (131000).
    #[arg(long, value_name = "RATE")]
    media_info_error_rate: Option<f64>,
    /// Share of media downloads answered with HTTP 500.
    #[arg(long, value_name = "RATE")]
    media_download_error_rate: Option<f64>,
}

/// Runs one command; the sandbox's answer, pretty-printed.
pub async fn run(command: Control) -> anyhow::Result<String> {
    let http = reqwest::Client::new();
    let (target, method, path, body) = request(command)?;
    let url = format!("{}{path}", target.url.trim_end_matches('/'));
    let mut builder = http.request(method, &url);
    if let Some(body) = body {
        builder = builder.json(&body);
    }
    let response = builder.send().await.with_context(|| {
        format!(
            "cannot reach the sandbox at {}: is `guichet sandbox` running? (--url, SANDBOX_URL)",
            target.url
        )
    })?;
    let status = response.status();
    let answer: Value = response
        .json()
        .await
        .with_context(|| format!("{url} answered {status} without JSON"))?;
    if !status.is_success() {
        let detail = answer["detail"]
            .as_str()
            .map_or_else(|| answer.to_string(), str::to_owned);
        bail!("the sandbox refused it ({status}): {detail}");
    }
    Ok(format!("{}\n", serde_json::to_string_pretty(&answer)?))
}

type Request = (Target, reqwest::Method, String, Option<Value>);

fn request(command: Control) -> anyhow::Result<Request> {
    use reqwest::Method;
    Ok(match command {
        Control::State(target) => (target, Method::GET, "/_sandbox".into(), None),
        Control::Customers(target) => (target, Method::GET, "/_sandbox/customers".into(), None),
        Control::AddCustomer(c) => {
            let mut body = json!({ "phone": c.phone });
            for (key, value) in [
                ("name", c.name),
                ("country", c.country),
                ("username", c.username),
                ("user_id", c.user_id),
            ] {
                if let Some(v) = value {
                    body[key] = json!(v);
                }
            }
            // What is not given keeps the sandbox's default behaviour.
            let mut behaviour = json!({});
            if c.offline {
                behaviour["online"] = json!(false);
            }
            if let Some(read_after_s) = c.reading.read_after_s() {
                behaviour["read_after_s"] = read_after_s;
            }
            body["behaviour"] = behaviour;
            (
                c.target,
                Method::POST,
                "/_sandbox/customers".into(),
                Some(body),
            )
        }
        Control::Say(s) => {
            let path = format!("/_sandbox/customers/{}/messages", s.customer);
            let mut body = json!({});
            if let Some(text) = s.text {
                body["text"] = json!(text);
            } else if let Some(button) = s.button {
                body["button"] = json!(button);
            } else if let Some(wamid) = s.react {
                body["reaction"] = json!({ "message_id": wamid });
                if let Some(emoji) = s.emoji {
                    body["reaction"]["emoji"] = json!(emoji);
                }
            } else if let Some(place) = s.location {
                body["location"] = location(&place)?;
            } else if let Some(kind) = s.media {
                body["media"] = json!({ "type": kind });
                if let Some(caption) = s.caption {
                    body["media"]["caption"] = json!(caption);
                }
            }
            if let Some(wamid) = s.reply_to {
                body["reply_to"] = json!(wamid);
            }
            if let Some(url) = s.from_ad {
                body["referral"] = json!({
                    "source_url": url,
                    "source_type": "ad",
                    "source_id": "sandbox-ad",
                    "headline": "guichet sandbox ad",
                });
            }
            (s.target, Method::POST, path, Some(body))
        }
        Control::Behave(b) => {
            let path = format!("/_sandbox/customers/{}/behaviour", b.customer);
            let mut body = json!({});
            if b.online || b.offline {
                body["online"] = json!(b.online);
            }
            if let Some(read_after_s) = b.reading.read_after_s() {
                body["read_after_s"] = read_after_s;
            }
            if b.block || b.unblock {
                body["blocked"] = json!(b.block);
            }
            if b.stop_marketing || b.resume_marketing {
                body["stopped_marketing"] = json!(b.stop_marketing);
            }
            if body.as_object().is_some_and(serde_json::Map::is_empty) {
                bail!(
                    "say what changes: --online, --offline, --read-after, --never-reads, --block, --unblock, --stop-marketing or --resume-marketing"
                );
            }
            (b.target, Method::PATCH, path, Some(body))
        }
        Control::Transcript(c) => {
            let path = format!("/_sandbox/customers/{}/transcript", c.customer);
            (c.target, Method::GET, path, None)
        }
        Control::Advance(a) => {
            let body = json!({ "hours": a.hours.unwrap_or(0), "seconds": a.seconds.unwrap_or(0) });
            (
                a.target,
                Method::POST,
                "/_sandbox/clock/advance".into(),
                Some(body),
            )
        }
        Control::Faults(f) if f.show => (f.target, Method::GET, "/_sandbox/faults".into(), None),
        Control::Faults(f) => {
            let mut body = json!({ "webhook_reorder": f.webhook_reorder });
            for (key, value) in [
                ("graph_error_rate", f.graph_error_rate.map(|v| json!(v))),
                ("graph_error_code", f.graph_error_code.map(|v| json!(v))),
                ("graph_latency_ms", f.graph_latency_ms.map(|v| json!(v))),
                (
                    "drop_after_accept_rate",
                    f.drop_after_accept_rate.map(|v| json!(v)),
                ),
                (
                    "webhook_duplicate_rate",
                    f.webhook_duplicate_rate.map(|v| json!(v)),
                ),
                ("webhook_batch_max", f.webhook_batch_max.map(|v| json!(v))),
                ("webhook_delay_ms", f.webhook_delay_ms.map(|v| json!(v))),
                (
                    "media_info_error_rate",
                    f.media_info_error_rate.map(|v| json!(v)),
                ),
                (
                    "media_download_error_rate",
                    f.media_download_error_rate.map(|v| json!(v)),
                ),
            ] {
                if let Some(v) = value {
                    body[key] = v;
                }
            }
            (f.target, Method::PUT, "/_sandbox/faults".into(), Some(body))
        }
    })
}

/// `LATITUDE,LONGITUDE` as the location object of a customer message.
fn location(place: &str) -> anyhow::Result<Value> {
    let parse = |s: &str| s.trim().parse::<f64>().ok();
    match place.split_once(',') {
        Some((lat, lon)) if parse(lat).is_some() && parse(lon).is_some() => {
            Ok(json!({ "latitude": parse(lat), "longitude": parse(lon) }))
        }
        _ => bail!(
            "--location takes LATITUDE,LONGITUDE in degrees, e.g. 45.764,4.8357; got `{place}`"
        ),
    }
}
