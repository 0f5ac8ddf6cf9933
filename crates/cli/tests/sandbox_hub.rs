//! The hub fed by the sandbox, end to end, on each backend: simulated customers write through the
//! sandbox's control API, the sandbox delivers signed webhooks to the hub's real endpoint, and
//! the conversations appear in the hub's REST API; the business's reply through the sandbox's
//! Graph API comes back to the hub as status webhooks.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use store::testing::TestDb;

const SECRET: &str = "sandbox-app-secret-for-tests";
const VERIFY: &str = "sandbox-verify-token";
const ACCESS: &str = "EAAG-sandbox";
const API: &str = "api-token-for-tests-0123456789";
const NUMBER: &str = "106540352242922";
const WABA: &str = "102290129340398";

#[tokio::test]
async fn the_hub_ingests_what_the_sandbox_sends() {
    for db in TestDb::all().await {
        run(&db).await;
    }
}

async fn run(db: &TestDb) {
    let backend = db.backend.as_str();
    let mut env = [
        ("GUICHET_DATABASE_URL", db.url.as_str()),
        ("GUICHET_APP_SECRET", SECRET),
        ("GUICHET_VERIFY_TOKEN", VERIFY),
        ("GUICHET_PHONE_NUMBER_ID", NUMBER),
        ("GUICHET_WABA_ID", WABA),
        ("GUICHET_ACCESS_TOKEN", ACCESS),
        ("GUICHET_API_TOKEN", API),
        ("GUICHET_INGEST__POLL_INTERVAL_MS", "50"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec();
    if db.backend == store::Backend::Postgres {
        let dir = std::env::temp_dir().join("guichet-test-media");
        env.push(("GUICHET_MEDIA__DIR".into(), dir.display().to_string()));
    }
    let settings = hub::Settings::load_from(None, env).expect("settings");
    let store = db.open().await;
    store.migrate().await.expect("migrate");
    let hub_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hub = format!("http://{}", hub_listener.local_addr().expect("addr"));
    let (stop_hub, hub_stopped) = tokio::sync::oneshot::channel::<()>();
    let hub_task = tokio::spawn(hub::run(
        hub_listener,
        settings,
        store,
        Arc::new(hub::SystemClock::default()),
        async {
            let _ = hub_stopped.await;
        },
    ));

    let sandbox_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let sandbox = format!("http://{}", sandbox_listener.local_addr().expect("addr"));
    let config = sandbox::Config {
        app_secret: SECRET.into(),
        access_token: ACCESS.into(),
        numbers: vec![sandbox::Number {
            phone_number_id: NUMBER.into(),
            waba_id: WABA.into(),
            display_phone_number: "15550783881".into(),
        }],
        callback: None,
        start_ms: None,
        batch_max: 1,
        limits: sandbox::Limits::default(),
    };
    tokio::spawn(sandbox::serve(
        sandbox_listener,
        config,
        std::future::pending(),
    ));
    let http = reqwest::Client::new();

    // The callback is set with Meta's handshake, which the hub answers.
    let mut answer = None;
    for _ in 0..100 {
        let r = http
            .put(format!("{sandbox}/_sandbox/webhook"))
            .json(&json!({ "url": format!("{hub}/webhooks/whatsapp"), "verify_token": VERIFY }))
            .send()
            .await;
        if let Ok(r) = r {
            answer = Some(r.status());
            if r.status().is_success() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        answer,
        Some(reqwest::StatusCode::OK),
        "[{backend}] handshake"
    );

    let r = http
        .post(format!("{sandbox}/_sandbox/customers"))
        .json(
            &json!({ "phone": "+33612345678", "name": "Camille Martin", "country": "FR",
                       "behaviour": { "read_after_s": 0 } }),
        )
        .send()
        .await
        .expect("create customer");
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    let customer: Value = r.json().await.expect("json");
    let r = http
        .post(format!("{sandbox}/_sandbox/customers/33612345678/messages"))
        .json(&json!({ "text": "Ma machine à laver fuit 😮" }))
        .send()
        .await
        .expect("customer writes");
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);

    // The conversation appears in the hub.
    let conversation = poll(|| async {
        let page: Value = http
            .get(format!("{hub}/api/v1/conversations"))
            .bearer_auth(API)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        page["data"].as_array()?.first().cloned()
    })
    .await
    .unwrap_or_else(|| panic!("[{backend}] no conversation in the hub"));
    assert_eq!(conversation["contact"]["wa_id"], "33612345678");
    assert_eq!(conversation["contact"]["user_id"], customer["user_id"]);
    assert_eq!(conversation["contact"]["name"], "Camille Martin");
    assert_eq!(conversation["window"]["state"], "open");
    let id = conversation["id"].as_i64().expect("id");
    let messages: Value = http
        .get(format!("{hub}/api/v1/conversations/{id}/messages"))
        .bearer_auth(API)
        .send()
        .await
        .expect("messages")
        .json()
        .await
        .expect("json");
    assert_eq!(
        messages["data"][0]["content"]["body"], "Ma machine à laver fuit 😮",
        "[{backend}] {messages}"
    );

    // The business replies through the sandbox's Graph API; the statuses come back to the hub.
    let r = http
        .post(format!("{sandbox}/v25.0/{NUMBER}/messages"))
        .bearer_auth(ACCESS)
        .json(
            &json!({ "messaging_product": "whatsapp", "to": "33612345678", "type": "text",
                       "text": { "body": "Un technicien passe demain." } }),
        )
        .send()
        .await
        .expect("reply");
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let delivered = poll(|| async {
        let stats: Value = http
            .get(format!("{sandbox}/_sandbox/webhook"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        // The message, then sent, delivered and read.
        (stats["stats"]["delivered_updates"].as_u64()? >= 4).then_some(stats)
    })
    .await
    .unwrap_or_else(|| panic!("[{backend}] the statuses did not reach the hub"));
    assert_eq!(
        delivered["stats"]["failed_attempts"], 0,
        "[{backend}] {delivered}"
    );

    // Meta on a bad day: every POST twice, updates shuffled, batched and held back. The hub keeps
    // each customer message exactly once, media and places included.
    let r = http
        .put(format!("{sandbox}/_sandbox/faults"))
        .json(
            &json!({ "webhook_duplicate_rate": 1.0, "webhook_reorder": true,
                       "webhook_batch_max": 3, "webhook_delay_ms": 2000 }),
        )
        .send()
        .await
        .expect("faults");
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    for body in [
        json!({ "media": { "type": "image", "caption": "La fuite" } }),
        json!({ "location": { "latitude": 45.764, "longitude": 4.8357, "name": "Chez moi" } }),
        json!({ "media": { "type": "document" } }),
        json!({ "text": "Vous venez à quelle heure ?" }),
    ] {
        let r = http
            .post(format!("{sandbox}/_sandbox/customers/33612345678/messages"))
            .json(&body)
            .send()
            .await
            .expect("customer writes");
        assert_eq!(
            r.status(),
            reqwest::StatusCode::CREATED,
            "[{backend}] {body}"
        );
    }
    http.post(format!("{sandbox}/_sandbox/clock/advance"))
        .json(&json!({ "seconds": 3 }))
        .send()
        .await
        .expect("advance");
    let inbound = poll(|| async {
        let page: Value = http
            .get(format!(
                "{hub}/api/v1/conversations/{id}/messages?order=asc"
            ))
            .bearer_auth(API)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let inbound: Vec<Value> = page["data"]
            .as_array()?
            .iter()
            .filter(|m| m["direction"] == "inbound")
            .cloned()
            .collect();
        (inbound.len() >= 5).then_some(inbound)
    })
    .await
    .unwrap_or_else(|| panic!("[{backend}] the customer's media did not reach the hub"));
    let mut kinds: Vec<&str> = inbound.iter().filter_map(|m| m["kind"].as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["document", "image", "location", "text", "text"],
        "[{backend}] each exactly once"
    );
    let stats: Value = http
        .get(format!("{sandbox}/_sandbox/webhook"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert!(
        stats["stats"]["duplicated_posts"].as_u64() >= Some(1),
        "[{backend}] {stats}"
    );

    let _ = stop_hub.send(());
    hub_task
        .await
        .expect("join")
        .unwrap_or_else(|e| panic!("[{backend}] hub: {e:#}"));
}

async fn poll<T, F, Fut>(mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..400 {
        if let Some(v) = f().await {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}
