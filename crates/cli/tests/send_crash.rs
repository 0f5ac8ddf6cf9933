//! The send crash test: 10,000 messages to 500 customers are queued through the REST API of a
//! real `guichet serve` that sends them to the sandbox, and the server is killed with SIGKILL at
//! random moments while it sends, then restarted on the same database. Afterwards every message
//! the API accepted (202) reached its customer exactly once: none lost, none doubled — sends cut
//! off by a kill are `unknown` until the statuses echoing guichet's `biz_opaque_callback_data`
//! settle them, or resent once after the grace period if they never left.
//!
//! `SEND_CRASH_SEED=<seed>` replays a run's kill schedule.

#![allow(
    clippy::print_stdout,
    reason = "the summary printed here is what the CI log shows of the run"
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use store::testing::TestDb;

#[path = "common/server.rs"]
mod server;
use server::{Server, free_port};

const SECRET: &str = "send-crash-app-secret-7d2f";
const VERIFY: &str = "send-crash-verify-token";
const ACCESS: &str = "EAAG-send-crash";
const API: &str = "send-crash-api-token-0123456789abcdef";
const NUMBER: &str = "106540352242922";
const WABA: &str = "102290129340398";
const CUSTOMERS: usize = 500;
const PER_CUSTOMER: usize = 20;

fn phone(i: usize) -> String {
    format!("3361{i:07}")
}

fn spawn(url: &str, port: u16, sandbox: &str, log: &std::path::Path) -> Server {
    let env = [
        ("GUICHET_DATABASE_URL", url.to_owned()),
        ("GUICHET_APP_SECRET", SECRET.to_owned()),
        ("GUICHET_VERIFY_TOKEN", VERIFY.to_owned()),
        ("GUICHET_PHONE_NUMBER_ID", NUMBER.to_owned()),
        ("GUICHET_WABA_ID", WABA.to_owned()),
        ("GUICHET_ACCESS_TOKEN", ACCESS.to_owned()),
        ("GUICHET_API_TOKEN", API.to_owned()),
        ("GUICHET_GRAPH_URL", format!("{sandbox}/v25.0")),
        ("GUICHET_OUTBOUND__THROUGHPUT_MPS", "500".to_owned()),
        ("GUICHET_OUTBOUND__UNKNOWN_GRACE_MS", "3000".to_owned()),
        ("GUICHET_POLICY__PAIR_INTERVAL_MS", "50".to_owned()),
        ("GUICHET_INGEST__POLL_INTERVAL_MS", "50".to_owned()),
    ];
    Server::spawn(port, &env, log.to_path_buf())
}

async fn wait_ready(http: &reqwest::Client, hub: &str) {
    for _ in 0..600 {
        if let Ok(r) = http.get(format!("{hub}/readyz")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("guichet did not become ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_sending_every_accepted_message_arrives_once() {
    for db in TestDb::all().await {
        run(&db).await;
    }
}

async fn run(db: &TestDb) {
    let backend = db.backend.as_str();
    let seed = std::env::var("SEND_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    println!("[{backend}] send crash test, SEND_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    // The schema exists before the first start, so that every start is a restart.
    db.open().await.migrate().await.expect("migrate");

    let port = free_port();
    let hub = format!("http://127.0.0.1:{port}");
    let sandbox_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sandbox_url = format!("http://{}", sandbox_listener.local_addr().expect("addr"));
    let sandbox = sandbox::Sandbox::new(sandbox::Config {
        app_secret: SECRET.into(),
        access_token: ACCESS.into(),
        numbers: vec![sandbox::Number {
            phone_number_id: NUMBER.into(),
            waba_id: WABA.into(),
            display_phone_number: "15550783881".into(),
        }],
        callback: Some(sandbox::Callback {
            url: format!("{hub}/webhooks/whatsapp"),
            verify_token: VERIFY.into(),
        }),
        start_ms: None,
        batch_max: 32,
        limits: sandbox::Limits {
            throughput_mps: 500,
            pair_interval_ms: 50,
            ..sandbox::Limits::default()
        },
    });
    sandbox.start();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(sandbox::serve_with(
        sandbox_listener,
        sandbox.clone(),
        async move {
            let _ = stopped.await;
        },
    ));

    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("guichet.log");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let mut server = spawn(&db.url, port, &sandbox_url, &log);
    wait_ready(&http, &hub).await;

    // Every customer writes first: the window is open for free-form replies.
    for c in 0..CUSTOMERS {
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
            .expect("customer");
        sandbox
            .customer_says(
                &phone(c),
                &sandbox::world::CustomerMessage {
                    text: Some("hello".into()),
                    ..sandbox::world::CustomerMessage::default()
                },
            )
            .expect("writes");
    }
    let started = Instant::now();
    loop {
        let text = match http.get(format!("{hub}/metrics")).send().await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let ingested: f64 = text
            .lines()
            .filter(|l| {
                l.starts_with("guichet_ingest_items_total{item=\"message\",outcome=\"new\"}")
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        if ingested >= CUSTOMERS as f64 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "[{backend}] ingest"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Queue everything from 8 clients while a nemesis kills the server now and then.
    let work: Vec<(usize, usize)> = (0..PER_CUSTOMER)
        .flat_map(|r| (0..CUSTOMERS).map(move |c| (r, c)))
        .collect();
    let work = Arc::new(std::sync::Mutex::new(work));
    let accepted = Arc::new(std::sync::Mutex::new(HashMap::<i64, usize>::new()));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (work, accepted, http, hub) =
            (work.clone(), accepted.clone(), http.clone(), hub.clone());
        clients.push(tokio::spawn(async move {
            loop {
                let next = work.lock().expect("work").last().copied();
                let Some((round, c)) = next else { return };
                let body = json!({ "to": phone(c), "type": "text",
                                   "text": { "body": format!("update {round}") } });
                let r = http
                    .post(format!("{hub}/api/v1/messages"))
                    .bearer_auth(API)
                    .json(&body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == reqwest::StatusCode::ACCEPTED => {
                        let v: Value = r.json().await.expect("json");
                        accepted
                            .lock()
                            .expect("accepted")
                            .insert(v["id"].as_i64().expect("id"), c);
                        work.lock().expect("work").pop();
                    }
                    // The server is down or was killed mid-request: what was not acknowledged
                    // is not accepted; try the next one when it is back.
                    _ => {
                        work.lock().expect("work").pop();
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }));
    }
    let mut kills = 0;
    while kills < 6 || !work.lock().expect("work").is_empty() {
        tokio::time::sleep(Duration::from_millis(rng.random_range(500..2_500))).await;
        server.kill();
        kills += 1;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..300))).await;
        server = spawn(&db.url, port, &sandbox_url, &log);
        wait_ready(&http, &hub).await;
        if kills > 40 {
            break;
        }
    }
    for c in clients {
        c.await.expect("client");
    }
    let accepted = accepted.lock().expect("accepted").clone();
    println!(
        "[{backend}] {kills} kills, {} of {} messages accepted",
        accepted.len(),
        CUSTOMERS * PER_CUSTOMER
    );

    // Every accepted message arrives; then, past two grace periods, none arrives twice.
    let arrivals = |sandbox: &sandbox::Sandbox| {
        let mut seen: HashMap<i64, usize> = HashMap::new();
        for c in 0..CUSTOMERS {
            for m in sandbox.world().transcript(&phone(c)).expect("transcript") {
                let v = serde_json::to_value(&m).expect("json");
                if let Some(id) = v["message"]["biz_opaque_callback_data"]
                    .as_str()
                    .and_then(|o| o.strip_prefix("g:"))
                    .and_then(|s| s.parse::<i64>().ok())
                {
                    *seen.entry(id).or_default() += 1;
                }
            }
        }
        seen
    };
    let started = Instant::now();
    loop {
        let seen = arrivals(&sandbox);
        let missing = accepted.keys().filter(|id| !seen.contains_key(id)).count();
        if missing == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "[{backend}] {missing} accepted messages never arrived (seed {seed})"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(7)).await;
    let seen = arrivals(&sandbox);
    let twice: Vec<(&i64, &usize)> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "[{backend}] sent more than once (seed {seed}): {twice:?}"
    );
    for (id, c) in &accepted {
        assert_eq!(
            seen.get(id),
            Some(&1),
            "[{backend}] message {id} to {}",
            phone(*c)
        );
    }
    server.kill();
    let _ = stop.send(());
}
