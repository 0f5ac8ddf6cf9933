//! Volume and faults: a burst to many customers over several numbers stays under Meta's limits,
//! and faults of the Graph API never make a customer see a message twice.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use store::testing::TestDb;

use crate::rig::{self, Rig, Setup};

const NUMBERS: [&str; 4] = [
    "106540352242922",
    "106540352242923",
    "106540352242924",
    "106540352242925",
];

fn phone(i: usize) -> String {
    format!("+3361{i:07}")
}

/// Queues `per_pair` texts from every number to every customer, `parallel` requests at a time.
async fn queue_all(
    rig: &Arc<Rig>,
    numbers: &[&str],
    customers: usize,
    per_pair: usize,
) -> HashMap<String, Vec<i64>> {
    let mut work = Vec::new();
    for round in 0..per_pair {
        for c in 0..customers {
            for n in numbers {
                work.push((round, c, (*n).to_owned()));
            }
        }
    }
    let work = Arc::new(tokio::sync::Mutex::new(work));
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (rig, work) = (rig.clone(), work.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids: Vec<(String, i64)> = Vec::new();
            loop {
                let Some((round, c, from)) = work.lock().await.pop() else {
                    return ids;
                };
                let to = phone(c);
                let body = json!({ "from": from, "to": to, "type": "text",
                                   "text": { "body": format!("update {round}") } });
                let (status, answer) = rig.post("/messages", &body).await;
                assert_eq!(status, StatusCode::ACCEPTED, "[{}] {answer:#}", rig.backend);
                ids.push((to, answer["id"].as_i64().expect("id")));
            }
        }));
    }
    let mut by_customer: HashMap<String, Vec<i64>> = HashMap::new();
    for t in tasks {
        for (to, id) in t.await.expect("task") {
            by_customer.entry(to).or_default().push(id);
        }
    }
    by_customer
}

/// Waits until `n` sends were accepted by the sandbox.
async fn wait_accepted(rig: &Rig, n: usize) {
    let mut accepted = 0.0;
    for _ in 0..2400 {
        accepted = rig
            .metric("guichet_graph_sends_total{outcome=\"accepted\"}")
            .await;
        if accepted >= n as f64 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("[{}] only {accepted} of {n} sends accepted", rig.backend);
}

/// Every queued message reached its customer exactly once.
fn assert_each_once(rig: &Rig, queued: &HashMap<String, Vec<i64>>) {
    for (to, ids) in queued {
        let mut seen: HashMap<i64, usize> = HashMap::new();
        for m in rig.received(to) {
            let opaque = m["message"]["biz_opaque_callback_data"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if let Some(id) = opaque.strip_prefix("g:").and_then(|s| s.parse().ok()) {
                *seen.entry(id).or_default() += 1;
            }
        }
        for id in ids {
            assert_eq!(
                seen.get(id).copied().unwrap_or(0),
                1,
                "[{}] message {id} to {to} arrived {:?} times",
                rig.backend,
                seen.get(id)
            );
        }
        assert_eq!(
            seen.len(),
            ids.len(),
            "[{}] {to}: unexpected messages",
            rig.backend
        );
    }
}

#[tokio::test]
async fn a_burst_to_500_customers_stays_under_meta_limits() {
    let _alone = rig::PACE.write().await;
    for db in TestDb::all().await {
        burst(&db).await;
    }
}

async fn burst(db: &TestDb) {
    let customers = 500;
    let limits = sandbox::Limits {
        throughput_mps: 100,
        ..sandbox::Limits::default()
    };
    let rig = Arc::new(
        Rig::start(
            db,
            Setup {
                numbers: &NUMBERS,
                limits,
                env: &[("GUICHET_OUTBOUND__THROUGHPUT_MPS", "100")],
            },
        )
        .await,
    );
    for c in 0..customers {
        rig.customer(&phone(c));
        for n in NUMBERS {
            rig.say(&phone(c), n, "hello");
        }
    }
    rig.wait_ingested(customers * NUMBERS.len()).await;

    // 10,000 messages: 5 from each of 4 numbers to each of 500 customers.
    let queued = queue_all(&rig, &NUMBERS, customers, 5).await;
    let total: usize = queued.values().map(Vec::len).sum();
    assert_eq!(total, 10_000);
    wait_accepted(&rig, total).await;
    // Neither Meta's throughput (130429) nor its pair rate (131056) was ever hit.
    assert_eq!(
        rig.metric("guichet_graph_sends_total{outcome=\"refused\"}")
            .await,
        0.0,
        "[{}] the sandbox refused sends",
        rig.backend
    );
    assert_each_once(&rig, &queued);
    match Arc::try_unwrap(rig) {
        Ok(rig) => rig.stop().await,
        Err(_) => panic!("rig still shared"),
    }
}

#[tokio::test]
async fn faults_are_retried_and_never_deliver_twice() {
    let _side = rig::PACE.read().await;
    for db in TestDb::all().await {
        faults(&db).await;
    }
}

async fn faults(db: &TestDb) {
    let numbers = [NUMBERS[0]];
    // Meta's pair rate, shortened on both sides so that retries do not wait minutes.
    let limits = sandbox::Limits {
        pair_interval_ms: 100,
        ..sandbox::Limits::default()
    };
    let rig = Arc::new(
        Rig::start(
            db,
            Setup {
                numbers: &numbers,
                limits,
                env: &[
                    ("GUICHET_POLICY__PAIR_INTERVAL_MS", "100"),
                    ("GUICHET_OUTBOUND__UNKNOWN_GRACE_MS", "1500"),
                    ("GUICHET_OUTBOUND__BACKOFF_BASE_MS", "50"),
                    ("GUICHET_OUTBOUND__REQUEST_TIMEOUT_MS", "400"),
                    ("GUICHET_OUTBOUND__MAX_ATTEMPTS", "30"),
                ],
            },
        )
        .await,
    );
    let customers = 20;
    for c in 0..customers {
        rig.customer(&phone(c));
        rig.say(&phone(c), numbers[0], "hello");
    }
    rig.wait_ingested(customers).await;
    // 5xx, answers cut off after acceptance, and answers slower than guichet waits.
    let faults = json!({ "graph_error_rate": 0.2, "graph_error_code": 131_000,
                         "drop_after_accept_rate": 0.2, "graph_latency_ms": 600 });
    let r = rig
        .http
        .put(format!("{}/_sandbox/faults", rig.sandbox_url))
        .json(&faults)
        .send()
        .await
        .expect("faults");
    assert!(r.status().is_success());
    let queued = queue_all(&rig, &numbers, customers, 10).await;
    // Answers arrive in time again: the rest is retried or reconciled.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let faults = json!({ "graph_error_rate": 0.2, "graph_error_code": 131_000,
                         "drop_after_accept_rate": 0.2 });
    rig.http
        .put(format!("{}/_sandbox/faults", rig.sandbox_url))
        .json(&faults)
        .send()
        .await
        .expect("faults");
    let total: usize = queued.values().map(Vec::len).sum();
    for ids in queued.values() {
        for id in ids {
            rig.wait_message(*id, "sent", |m| m["outbox"]["state"] == "sent")
                .await;
        }
    }
    assert!(
        rig.metric("guichet_graph_sends_total{outcome=\"refused\"}")
            .await
            > 0.0
    );
    assert!(
        rig.metric("guichet_graph_sends_total{outcome=\"no_answer\"}")
            .await
            > 0.0
    );
    assert_each_once(&rig, &queued);
    assert_eq!(total, 200);
    let _ = rig::API;
    match Arc::try_unwrap(rig) {
        Ok(rig) => rig.stop().await,
        Err(_) => panic!("rig still shared"),
    }
}
