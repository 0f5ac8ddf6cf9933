//! A hub and a sandbox wired together in one process, sharing the sandbox's emulated clock: the
//! hub sends through the sandbox's Graph API and hears back through its signed webhooks.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use store::testing::TestDb;

pub const SECRET: &str = "sandbox-app-secret-for-tests";
pub const VERIFY: &str = "sandbox-verify-token";
pub const ACCESS: &str = "EAAG-sandbox";
pub const API: &str = "api-token-for-tests-0123456789";
pub const WABA: &str = "102290129340398";

/// The burst measures pacing against the sandbox's real-time limits: it runs alone, the other
/// tests of this binary beside one another (CPU starvation bunches requests in flight, which
/// Meta, and the sandbox, would count as a burst).
pub static PACE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The hub reads the sandbox's clock, so that moving one moves both.
#[derive(Debug)]
struct SharedClock(Arc<sandbox::Clock>);

impl hub::Clock for SharedClock {
    fn now_ms(&self) -> i64 {
        self.0.now_ms()
    }
}

pub struct Rig {
    pub hub: String,
    pub sandbox_url: String,
    pub sandbox: Arc<sandbox::Sandbox>,
    pub http: reqwest::Client,
    pub backend: &'static str,
    stop: tokio::sync::watch::Sender<bool>,
    hub_task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub struct Setup<'a> {
    pub numbers: &'a [&'a str],
    pub limits: sandbox::Limits,
    /// Extra `GUICHET_*` settings.
    pub env: &'a [(&'a str, &'a str)],
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Self {
            numbers: &["106540352242922"],
            limits: sandbox::Limits::default(),
            env: &[],
        }
    }
}

impl Rig {
    pub async fn start(db: &TestDb, setup: Setup<'_>) -> Self {
        let hub_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let hub = format!("http://{}", hub_listener.local_addr().expect("addr"));
        let sandbox_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let sandbox_url = format!("http://{}", sandbox_listener.local_addr().expect("addr"));
        let sandbox = sandbox::Sandbox::new(sandbox::Config {
            app_secret: SECRET.into(),
            access_token: ACCESS.into(),
            numbers: setup
                .numbers
                .iter()
                .enumerate()
                .map(|(i, n)| sandbox::Number {
                    phone_number_id: (*n).into(),
                    waba_id: WABA.into(),
                    display_phone_number: format!("1555078388{i}"),
                })
                .collect(),
            callback: Some(sandbox::Callback {
                url: format!("{hub}/webhooks/whatsapp"),
                verify_token: VERIFY.into(),
            }),
            start_ms: None,
            batch_max: 16,
            limits: setup.limits,
        });
        sandbox.start();

        let mut env: Vec<(String, String)> = vec![
            ("GUICHET_DATABASE_URL".into(), db.url.clone()),
            ("GUICHET_APP_SECRET".into(), SECRET.into()),
            ("GUICHET_VERIFY_TOKEN".into(), VERIFY.into()),
            ("GUICHET_GRAPH_URL".into(), format!("{sandbox_url}/v25.0")),
            ("GUICHET_API_TOKEN".into(), API.into()),
            ("GUICHET_INGEST__POLL_INTERVAL_MS".into(), "50".into()),
        ];
        let numbers: Vec<Value> = setup
            .numbers
            .iter()
            .map(|n| json!({"phone_number_id": n, "waba_id": WABA, "app": "main", "access_token": ACCESS}))
            .collect();
        env.push(("GUICHET_NUMBERS".into(), Value::Array(numbers).to_string()));
        env.push((
            "GUICHET_APPS".into(),
            json!([{"name": "main", "secret": SECRET}]).to_string(),
        ));
        env.retain(|(k, _)| k != "GUICHET_APP_SECRET");
        if db.backend == store::Backend::Postgres {
            // No database file to keep customers' media beside; files are named by content.
            let dir = std::env::temp_dir().join("guichet-test-media");
            env.push(("GUICHET_MEDIA__DIR".into(), dir.display().to_string()));
        }
        for (k, v) in setup.env {
            env.push(((*k).to_owned(), (*v).to_owned()));
        }
        let settings = hub::Settings::load_from(None, env).expect("settings");
        let store = db.open().await;
        store.migrate().await.expect("migrate");
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut hub_stop = stopped.clone();
        let hub_task = tokio::spawn(hub::run(
            hub_listener,
            settings,
            store,
            Arc::new(SharedClock(sandbox.clock.clone())),
            async move {
                let _ = hub_stop.wait_for(|s| *s).await;
            },
        ));
        let mut sandbox_stop = stopped;
        tokio::spawn(sandbox::serve_with(
            sandbox_listener,
            sandbox.clone(),
            async move {
                let _ = sandbox_stop.wait_for(|s| *s).await;
            },
        ));
        let rig = Self {
            hub,
            sandbox_url,
            sandbox,
            http: reqwest::Client::new(),
            backend: db.backend.as_str(),
            stop,
            hub_task,
        };
        rig.wait_ready().await;
        rig
    }

    async fn wait_ready(&self) {
        for _ in 0..200 {
            if let Ok(r) = self.http.get(format!("{}/readyz", self.hub)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the hub did not become ready");
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.hub_task.await;
    }

    /// Approved templates, reviewed on the sandbox's clock.
    pub fn templates(&self, templates: &[(&str, &str, &str)]) {
        let now = self.sandbox.clock.now_ms();
        for (name, category, body) in templates {
            self.sandbox
                .world()
                .create_template(
                    WABA,
                    &json!({ "name": name, "language": "en_US", "category": category,
                             "components": [{ "type": "BODY", "text": body }] }),
                    now,
                )
                .expect("template");
        }
        self.advance_ms(10_000);
    }

    pub fn advance_ms(&self, ms: i64) {
        self.sandbox.clock.advance(ms);
        self.sandbox.tick();
    }

    pub fn customer(&self, phone: &str) {
        self.sandbox
            .world()
            .add_customer(sandbox::world::NewCustomer {
                phone: phone.into(),
                user_id: None,
                username: None,
                name: Some("Customer".into()),
                country: None,
                behaviour: Some(sandbox::world::Behaviour {
                    read_after_s: Some(0),
                    ..sandbox::world::Behaviour::default()
                }),
            })
            .expect("customer");
    }

    pub fn say(&self, phone: &str, number: &str, text: &str) {
        self.sandbox
            .customer_says(
                phone.trim_start_matches('+'),
                &sandbox::world::CustomerMessage {
                    text: Some(text.into()),
                    phone_number_id: Some(number.into()),
                    ..sandbox::world::CustomerMessage::default()
                },
            )
            .expect("customer writes");
    }

    pub async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/api/v1{path}", self.hub))
            .bearer_auth(API)
            .json(body)
            .send()
            .await
            .expect("post");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}/api/v1{path}", self.hub))
            .bearer_auth(API)
            .send()
            .await
            .expect("get");
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.expect("json")
    }

    /// Polls a message until `done` holds of it.
    pub async fn wait_message(&self, id: i64, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        for _ in 0..1200 {
            last = self.get(&format!("/messages/{id}")).await;
            if done(&last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "[{}] message {id}: {what} never happened: {last:#}",
            self.backend
        );
    }

    /// Waits until the hub knows the customer wrote (their conversation exists).
    pub async fn wait_conversations(&self, n: usize) {
        for _ in 0..600 {
            let list = self.get("/conversations?limit=200").await;
            if list["data"].as_array().map_or(0, Vec::len) >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("[{}] {n} conversations never appeared", self.backend);
    }

    /// What the sandbox received for a customer: each message's `biz_opaque_callback_data`.
    pub fn received(&self, phone: &str) -> Vec<Value> {
        self.sandbox
            .world()
            .transcript(phone.trim_start_matches('+'))
            .expect("transcript")
            .into_iter()
            .map(|s| serde_json::to_value(&s).expect("json"))
            .collect()
    }

    /// Waits until the hub ingested `n` customer messages.
    pub async fn wait_ingested(&self, n: usize) {
        let mut seen = 0.0;
        for _ in 0..1200 {
            seen = self
                .metric("guichet_ingest_items_total{item=\"message\",outcome=\"new\"}")
                .await;
            if seen >= n as f64 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "[{}] only {seen} of {n} customer messages ingested",
            self.backend
        );
    }

    pub async fn metric(&self, line_prefix: &str) -> f64 {
        let text = self
            .http
            .get(format!("{}/metrics", self.hub))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        text.lines()
            .filter(|l| l.starts_with(line_prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}
