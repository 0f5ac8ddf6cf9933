//! The real server on 127.0.0.1:0, on a fresh database of each backend.

#![allow(dead_code, reason = "each test file uses a different part of this kit")]
#![allow(
    clippy::needless_pass_by_value,
    reason = "payload builders read best taking values"
)]
#![allow(
    clippy::print_stderr,
    reason = "a test server that stops on an error says why"
)]

pub mod browser;

use std::sync::Arc;
use std::time::Duration;

use hub::{ManualClock, Settings};
use reqwest::StatusCode;
use serde_json::{Value, json};
use store::Store;
use store::testing::TestDb;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const SECRET: &str = "app-secret-for-tests";
pub const VERIFY_TOKEN: &str = "verify-token-for-tests";
pub const API_TOKEN: &str = "api-token-for-tests-0123456789";
pub const WABA: &str = "102290129340398";
pub const NUMBER: &str = "106540352242922";
/// 2026-11-21T00:00:00Z, in ms.
pub const NOW_MS: i64 = 1_795_219_200_000;

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// The settings of a test server: the quick start from env, plus `extra`.
pub fn settings(db_url: &str, extra: &[(&str, &str)]) -> Settings {
    let mut env: Vec<(String, String)> = [
        ("GUICHET_DATABASE_URL", db_url),
        ("GUICHET_APP_SECRET", SECRET),
        ("GUICHET_VERIFY_TOKEN", VERIFY_TOKEN),
        ("GUICHET_PHONE_NUMBER_ID", NUMBER),
        ("GUICHET_WABA_ID", WABA),
        ("GUICHET_ACCESS_TOKEN", "EAAG-test"),
        ("GUICHET_API_TOKEN", API_TOKEN),
        ("GUICHET_INGEST__POLL_INTERVAL_MS", "50"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    if let Some(dir) = shared_media_dir(db_url) {
        env.push(("GUICHET_MEDIA__DIR".to_owned(), dir));
    }
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Settings::load_from(None, env).expect("test settings are valid")
}

/// Postgres has no database file for customers' media to sit beside: tests on it share one
/// folder (files are named by their content, so tests never clash).
pub fn shared_media_dir(db_url: &str) -> Option<String> {
    db_url.starts_with("postgres").then(|| {
        std::env::temp_dir()
            .join("guichet-test-media")
            .display()
            .to_string()
    })
}

impl TestApp {
    pub async fn spawn(db: &TestDb) -> Self {
        Self::spawn_with(db, &[], Arc::new(ManualClock::at_ms(NOW_MS))).await
    }

    pub async fn spawn_with(db: &TestDb, extra: &[(&str, &str)], clock: Arc<ManualClock>) -> Self {
        let settings = settings(&db.url, extra);
        Self::spawn_settings(&db.url, settings, clock).await
    }

    pub async fn spawn_settings(url: &str, settings: Settings, clock: Arc<ManualClock>) -> Self {
        let options = store::Options {
            lock_timeout: settings.database.lock_timeout,
            ..store::Options::default()
        };
        let store = store::connect(url, &options).await.expect("open store");
        store.migrate().await.expect("migrate");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let run = hub::run(listener, settings, store.clone(), clock.clone(), async {
            let _ = rx.await;
        });
        let task = tokio::spawn(async move {
            let result = run.await;
            if let Err(e) = &result {
                eprintln!("the server stopped with an error: {e:#}");
            }
            result
        });
        let app = Self {
            base,
            client: reqwest::Client::new(),
            store,
            clock,
            url: url.to_owned(),
            shutdown: Some(tx),
            task: Some(task),
        };
        app.ready().await;
        app
    }

    /// Waits until the server answers `/readyz`.
    async fn ready(&self) {
        for _ in 0..200 {
            let answer = self
                .client
                .get(format!("{}/readyz", self.base))
                .send()
                .await;
            if answer.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the server did not become ready");
    }

    /// Graceful shutdown, as on SIGTERM.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ran");
        }
    }

    pub async fn post_signed(&self, body: &str) -> reqwest::Response {
        let sig = wa::signature::sign(SECRET.as_bytes(), body.as_bytes());
        self.post_raw(body.as_bytes(), Some(&sig)).await
    }

    pub async fn post_raw(&self, body: &[u8], signature: Option<&str>) -> reqwest::Response {
        let mut req = self
            .client
            .post(format!("{}/webhooks/whatsapp", self.base))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(sig) = signature {
            req = req.header("x-hub-signature-256", sig);
        }
        req.send().await.expect("request")
    }

    /// Posts a signed webhook and expects it acknowledged.
    pub async fn deliver(&self, body: &Value) {
        let response = self.post_signed(&body.to_string()).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap_or_default()
        );
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
    }

    /// GET on the API with the token; the status and the JSON body.
    pub async fn api(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .client
            .get(format!("{}/api/v1{path}", self.base))
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .expect("request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Waits until every stored webhook is ingested.
    pub async fn drained(&self) {
        for _ in 0..400 {
            let counts = self.store.inbound_counts().await.expect("counts");
            if counts.pending == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("ingest did not drain in 10 s");
    }

    pub async fn metric(&self, name_and_labels: &str) -> f64 {
        let text = self.get("/metrics").await.text().await.expect("metrics");
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name_and_labels)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0.0)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

// ---- payloads, shaped like Meta's (cloud-api.md §1.3–1.4) ----

pub fn envelope(value: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": WABA, "changes": [{ "value": value, "field": "messages" }] }]
    })
}

pub fn metadata() -> Value {
    json!({ "display_phone_number": "15550783881", "phone_number_id": NUMBER })
}

pub fn text(wamid: &str, from: &str, ts: i64, body: &str) -> Value {
    json!({
        "from": from, "id": wamid, "timestamp": ts.to_string(), "type": "text", "text": { "body": body }
    })
}

pub fn messages(from: &str, name: &str, messages: Vec<Value>) -> Value {
    envelope(json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(),
        "contacts": [{ "profile": { "name": name }, "wa_id": from }],
        "messages": messages,
    }))
}

pub fn status(wamid: &str, status: &str, ts: i64) -> Value {
    let mut s = json!({ "id": wamid, "status": status, "timestamp": ts.to_string(), "recipient_id": "16505551234" });
    if status == "failed" {
        s["errors"] = json!([{
            "code": 131_049,
            "title": "This message was not delivered to maintain healthy ecosystem engagement.",
            "message": "This message was not delivered to maintain healthy ecosystem engagement.",
            "error_data": { "details": "In order to maintain a healthy ecosystem engagement, the message failed to be delivered." }
        }]);
    }
    if status == "sent" {
        s["pricing"] = json!({ "billable": true, "pricing_model": "PMP", "type": "regular", "category": "utility" });
    }
    s
}

pub fn statuses(statuses: Vec<Value>) -> Value {
    envelope(
        json!({ "messaging_product": "whatsapp", "metadata": metadata(), "statuses": statuses }),
    )
}

/// A message the business sent from the WhatsApp Business app (coexistence), so that statuses
/// have a message to apply to before the outbound API exists.
pub fn echo(wamid: &str, to: &str, ts: i64, body: &str) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": WABA, "changes": [{ "field": "smb_message_echoes", "value": {
            "messaging_product": "whatsapp",
            "metadata": metadata(),
            "message_echoes": [{
                "from": "15550783881", "to": to, "id": wamid, "timestamp": ts.to_string(),
                "type": "text", "text": { "body": body }
            }]
        }}]}]
    })
}

/// Runs `test` against a fresh database of each backend.
pub async fn each_backend<F, Fut>(test: F)
where
    F: Fn(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in TestDb::all().await {
        test(db).await;
    }
}
