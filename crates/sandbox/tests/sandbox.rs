//! The sandbox through HTTP, as a Cloud API client and a webhook receiver see it: the real server
//! on a random port, and a real receiver on another that checks every signature.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use sandbox::world::Number;
use sandbox::{Callback, Config};
use serde_json::{Value, json};
use tokio::net::TcpListener;

const SECRET: &str = "sandbox-app-secret";
const TOKEN: &str = "EAAG-sandbox-token";
const VERIFY: &str = "sandbox-verify-token";
const NUMBER: &str = "106540352242922";
const WABA: &str = "102290129340398";
/// 2026-11-21T00:00:00Z: service messages are charged.
const NOV_2026: i64 = 1_795_219_200_000;
/// 2026-09-01T00:00:00Z: service messages in the window are still free.
const SEP_2026: i64 = 1_788_220_800_000;

/// A webhook receiver that verifies signatures and records what it got.
#[derive(Default)]
struct Receiver {
    bodies: Mutex<Vec<Value>>,
    raw: Mutex<Vec<String>>,
    /// Answer 500 to this many POSTs first.
    fail_next: AtomicUsize,
    posts: AtomicUsize,
}

async fn receiver_get(
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> (StatusCode, String) {
    if q.get("hub.mode").map(String::as_str) == Some("subscribe")
        && q.get("hub.verify_token").map(String::as_str) == Some(VERIFY)
    {
        (
            StatusCode::OK,
            q.get("hub.challenge").cloned().unwrap_or_default(),
        )
    } else {
        (StatusCode::FORBIDDEN, String::new())
    }
}

async fn receiver_post(
    State(r): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    r.posts.fetch_add(1, Ordering::SeqCst);
    let signature = headers
        .get(wa::signature::HEADER)
        .and_then(|v| v.to_str().ok());
    assert!(
        wa::signature::verify(SECRET.as_bytes(), &body, signature).is_ok(),
        "bad signature"
    );
    let failing = r
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.is_ascii(), "non-ASCII must be escaped: {text}");
    r.raw.lock().unwrap().push(text);
    r.bodies
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap());
    StatusCode::OK
}

struct Harness {
    base: String,
    http: reqwest::Client,
    receiver: Arc<Receiver>,
    callback: String,
}

async fn start(start_ms: i64) -> Harness {
    start_with(start_ms, sandbox::Limits::default()).await
}

async fn start_with(start_ms: i64, limits: sandbox::Limits) -> Harness {
    let receiver = Arc::new(Receiver::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!(
        "http://{}/webhooks/whatsapp",
        listener.local_addr().unwrap()
    );
    let app = Router::new()
        .route("/webhooks/whatsapp", get(receiver_get).post(receiver_post))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = Config {
        app_secret: SECRET.into(),
        access_token: TOKEN.into(),
        numbers: vec![Number {
            phone_number_id: NUMBER.into(),
            waba_id: WABA.into(),
            display_phone_number: "15550783881".into(),
        }],
        callback: Some(Callback {
            url: callback.clone(),
            verify_token: VERIFY.into(),
        }),
        start_ms: Some(start_ms),
        batch_max: 1,
        limits,
    };
    tokio::spawn(sandbox::serve(listener, config, std::future::pending()));
    Harness {
        base,
        http: reqwest::Client::new(),
        receiver,
        callback,
    }
}

impl Harness {
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn customer(&self, phone: &str, extra: Value) -> Value {
        let mut body = json!({ "phone": phone, "name": "Camille Martin", "country": "FR" });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        let (status, c) = self.post("/_sandbox/customers", body).await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        c
    }

    async fn customer_says(&self, wa_id: &str, body: Value) -> String {
        let (status, r) = self
            .post(&format!("/_sandbox/customers/{wa_id}/messages"), body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        r["wamid"].as_str().unwrap().to_owned()
    }

    async fn send_text(&self, to: &str, text: &str) -> (StatusCode, Value) {
        self.post(
            &format!("/v25.0/{NUMBER}/messages"),
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": "text",
                "text": { "body": text },
                "biz_opaque_callback_data": "ticket-42",
            }),
        )
        .await
    }

    async fn advance_hours(&self, hours: i64) {
        let (status, _) = self
            .post("/_sandbox/clock/advance", json!({ "hours": hours }))
            .await;
        assert_eq!(status, StatusCode::OK);
    }

    /// Every status the receiver got for `wamid`, in arrival order.
    fn statuses(&self, wamid: &str) -> Vec<Value> {
        self.receiver
            .bodies
            .lock()
            .unwrap()
            .iter()
            .flat_map(changes)
            .filter_map(|v| v.get("statuses").and_then(Value::as_array).cloned())
            .flatten()
            .filter(|s| s["id"] == wamid)
            .collect()
    }

    fn messages(&self) -> Vec<Value> {
        self.receiver
            .bodies
            .lock()
            .unwrap()
            .iter()
            .flat_map(changes)
            .filter_map(|v| v.get("messages").and_then(Value::as_array).cloned())
            .flatten()
            .collect()
    }

    async fn wait_for_messages(&self, n: usize) -> Vec<Value> {
        for _ in 0..400 {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "fewer than {n} customer messages arrived: {:?}",
            self.messages()
        );
    }

    async fn wait_for_status(&self, wamid: &str, status: &str) -> Value {
        for _ in 0..400 {
            if let Some(s) = self
                .statuses(wamid)
                .into_iter()
                .find(|s| s["status"] == status)
            {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!(
            "no `{status}` status for {wamid}; got {:?}",
            self.statuses(wamid)
        );
    }
}

impl Harness {
    /// Creates a one-line template and lets the emulated review approve it.
    async fn approved_template(&self, name: &str, language: &str, category: &str, body: &str) {
        let (status, t) = self
            .post(
                &format!("/{WABA}/message_templates"),
                json!({ "name": name, "language": language, "category": category,
                        "components": [{ "type": "BODY", "text": body }] }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{t}");
        self.post("/_sandbox/clock/advance", json!({ "seconds": 10 }))
            .await;
    }
}

fn changes(body: &Value) -> Vec<Value> {
    body["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["changes"].as_array().cloned().unwrap_or_default())
        .map(|c| c["value"].clone())
        .collect()
}

#[tokio::test]
async fn the_graph_api_answers_with_metas_shapes_and_codes() {
    let h = start(NOV_2026).await;
    let url = format!("{}/v25.0/{NUMBER}/messages", h.base);
    let text = json!({"messaging_product": "whatsapp", "to": "33612345678", "type": "text", "text": {"body": "hi"}});

    let r = h.http.post(&url).json(&text).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], 190);
    assert_eq!(e["error"]["type"], "OAuthException");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("(#190)")
    );

    let r = h
        .http
        .post(&url)
        .bearer_auth("EAAG-wrong")
        .json(&text)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    let (status, e) = h.post("/v25.0/999/messages", text.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["code"], 100);
    assert_eq!(e["error"]["error_subcode"], 33);

    let (status, e) = h
        .post(&format!("/v9.0/{NUMBER}/messages"), text.clone())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");

    let r = h
        .http
        .post(&url)
        .bearer_auth(TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"]["code"], 100);
    assert!(
        e["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("JSON")
    );

    let (status, e) = h
        .post(
            &format!("/{NUMBER}/messages"),
            json!({"to": "33612345678", "type": "text", "text": {"body": "hi"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("messaging_product")
    );

    let long = "a".repeat(4097);
    let (status, e) = h
        .post(&format!("/v25.0/{NUMBER}/messages"), json!({"messaging_product": "whatsapp", "to": "33612345678", "type": "text", "text": {"body": long}}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        e["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("4096")
    );

    let (status, e) = h
        .post(&format!("/v25.0/{NUMBER}/messages"), json!({"messaging_product": "whatsapp", "to": "33612345678", "type": "product", "product": {"id": "1"}}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        e["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("`product`")
    );

    let (status, n) = h
        .get(&format!("/v25.0/{NUMBER}?fields=throughput,quality_rating"))
        .await;
    assert_eq!(status, StatusCode::OK, "{n}");
    assert_eq!(n["throughput"]["level"], "STANDARD");
    assert_eq!(n["quality_rating"], "GREEN");
    let (status, e) = h.get(&format!("/{NUMBER}?fields=nope")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["code"], 100);
}

#[tokio::test]
async fn a_customer_message_arrives_signed_escaped_and_parseable() {
    let h = start(NOV_2026).await;
    let c = h.customer("+33 6 12 34 56 78", json!({})).await;
    assert_eq!(c["wa_id"], "33612345678");
    let text = "Bonjour, ma machine à laver est en panne 😮";
    let wamid = h
        .customer_says("33612345678", json!({ "text": text }))
        .await;
    h.wait_for_messages(1).await;
    let raw = h.receiver.raw.lock().unwrap()[0].clone();
    assert!(
        raw.contains("\\u00e0") && raw.contains("\\ud83d\\ude2e"),
        "{raw}"
    );
    let (notification, report) = wa::webhook::parse(raw.as_bytes()).unwrap();
    assert!(
        report.unknown_fields.is_empty(),
        "{:?}",
        report.unknown_fields
    );
    let value = serde_json::to_value(&h.messages()[0]).unwrap();
    assert_eq!(value["id"], wamid.as_str());
    assert_eq!(value["text"]["body"], text);
    assert_eq!(value["from"], "33612345678");
    assert_eq!(value["from_user_id"], c["user_id"]);
    assert_eq!(notification.entry.len(), 1);

    // The business marks it read; an unknown wamid is refused.
    let (status, r) = h
        .post(&format!("/v25.0/{NUMBER}/messages"), json!({"messaging_product": "whatsapp", "status": "read", "message_id": wamid, "typing_indicator": {"type": "text"}}))
        .await;
    assert_eq!((status, r), (StatusCode::OK, json!({"success": true})));
    let (status, _) = h
        .post(
            &format!("/v25.0/{NUMBER}/messages"),
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.nope"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_reply_goes_sent_delivered_read_with_pricing_and_callback_data() {
    let h = start(NOV_2026).await;
    h.customer(
        "+33612345678",
        json!({ "behaviour": { "online": true, "read_after_s": 0 } }),
    )
    .await;
    h.customer_says("33612345678", json!({ "text": "Bonjour" }))
        .await;
    let (status, r) = h
        .send_text("+33 6 12 34 56 78", "Nous arrivons demain.")
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["messaging_product"], "whatsapp");
    assert_eq!(r["contacts"][0]["input"], "+33 6 12 34 56 78");
    assert_eq!(r["contacts"][0]["wa_id"], "33612345678");
    let wamid = r["messages"][0]["id"].as_str().unwrap().to_owned();
    assert!(wamid.starts_with("wamid."));

    let sent = h.wait_for_status(&wamid, "sent").await;
    let (status, _) = h
        .post("/_sandbox/clock/advance", json!({ "seconds": 5 }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let delivered = h.wait_for_status(&wamid, "delivered").await;
    let read = h.wait_for_status(&wamid, "read").await;
    for s in [&sent, &delivered, &read] {
        assert_eq!(s["recipient_id"], "33612345678");
        assert_eq!(s["biz_opaque_callback_data"], "ticket-42");
        // Since 2026-10-01 a service message is charged.
        assert_eq!(s["pricing"]["billable"], true);
        assert_eq!(s["pricing"]["type"], "regular");
        assert_eq!(s["pricing"]["category"], "service");
        assert_eq!(s["pricing"]["pricing_model"], "PMP");
        assert!(s.get("conversation").is_none());
    }
    let (_, transcript) = h.get("/_sandbox/customers/33612345678/transcript").await;
    assert_eq!(transcript[0]["wamid"], wamid.as_str());
    assert_eq!(transcript[0]["status"], "read");
    assert_eq!(
        transcript[0]["message"]["text"]["body"],
        "Nous arrivons demain."
    );
}

#[tokio::test]
async fn before_october_2026_service_replies_in_the_window_are_free() {
    let h = start(SEP_2026).await;
    h.customer("+5511987654321", json!({})).await;
    h.customer_says("5511987654321", json!({ "text": "Olá" }))
        .await;
    let (_, r) = h.send_text("5511987654321", "Olá!").await;
    let sent = h
        .wait_for_status(r["messages"][0]["id"].as_str().unwrap(), "sent")
        .await;
    assert_eq!(sent["pricing"]["billable"], false);
    assert_eq!(sent["pricing"]["type"], "free_customer_service");
}

#[tokio::test]
async fn outside_the_24_hour_window_a_text_fails_with_131047() {
    let h = start(NOV_2026).await;
    h.customer("+33612345678", json!({})).await;
    h.customer_says("33612345678", json!({ "text": "Bonjour" }))
        .await;
    h.advance_hours(25).await;
    let (status, r) = h.send_text("33612345678", "Désolé du retard").await;
    // Accepted: the failure comes later, by webhook, as Meta does it.
    assert_eq!(status, StatusCode::OK, "{r}");
    let wamid = r["messages"][0]["id"].as_str().unwrap().to_owned();
    let failed = h.wait_for_status(&wamid, "failed").await;
    assert_eq!(failed["errors"][0]["code"], 131_047);
    assert!(failed["errors"][0]["error_data"]["details"].is_string());
    assert!(h.statuses(&wamid).iter().all(|s| s["status"] == "failed"));

    // A number nobody has: 131026.
    let (status, r) = h.send_text("+14155550100", "Hello?").await;
    assert_eq!(status, StatusCode::OK);
    let failed = h
        .wait_for_status(r["messages"][0]["id"].as_str().unwrap(), "failed")
        .await;
    assert_eq!(failed["errors"][0]["code"], 131_026);
    assert_eq!(failed["recipient_id"], "14155550100");
}

#[tokio::test]
async fn offline_customers_get_messages_when_back_and_blocked_ones_never() {
    let h = start(NOV_2026).await;
    h.customer(
        "+33612345678",
        json!({ "behaviour": { "online": false, "read_after_s": null } }),
    )
    .await;
    h.customer(
        "+4915112345678",
        json!({ "country": "DE", "behaviour": { "blocked": true } }),
    )
    .await;
    h.customer_says("33612345678", json!({ "text": "?" })).await;
    h.customer_says("4915112345678", json!({ "text": "?" }))
        .await;
    let (_, a) = h.send_text("33612345678", "Vous êtes là ?").await;
    let (_, b) = h.send_text("4915112345678", "Hallo?").await;
    let (a, b) = (
        a["messages"][0]["id"].as_str().unwrap().to_owned(),
        b["messages"][0]["id"].as_str().unwrap().to_owned(),
    );
    h.wait_for_status(&a, "sent").await;
    h.wait_for_status(&b, "sent").await;
    h.advance_hours(1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.statuses(&a).len(), 1, "{:?}", h.statuses(&a));
    assert_eq!(h.statuses(&b).len(), 1);

    let r = h
        .http
        .patch(format!(
            "{}/_sandbox/customers/33612345678/behaviour",
            h.base
        ))
        .json(&json!({ "online": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    h.wait_for_status(&a, "delivered").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(h.statuses(&a).iter().all(|s| s["status"] != "read"));
    assert_eq!(h.statuses(&b).len(), 1, "blocked: sent, never delivered");

    let r = h
        .http
        .patch(format!(
            "{}/_sandbox/customers/33612345678/behaviour",
            h.base
        ))
        .json(&json!({ "mood": "happy" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_reply_to_an_ad_entry_opens_a_free_entry_point_window() {
    let h = start(NOV_2026).await;
    h.customer("+33612345678", json!({})).await;
    h.customer_says(
        "33612345678",
        json!({
            "text": "Je viens de votre pub",
            "referral": {
                "source_url": "https://fb.me/ad", "source_id": "120210", "source_type": "ad",
                "headline": "Réparation en 24 h", "body": "Votre lave-linge", "ctwa_clid": "ARAkLkA"
            }
        }),
    )
    .await;
    let inbound = h.wait_for_messages(1).await;
    assert_eq!(inbound[0]["referral"]["source_id"], "120210");
    let (_, r) = h
        .send_text("33612345678", "Bonjour, que se passe-t-il ?")
        .await;
    let sent = h
        .wait_for_status(r["messages"][0]["id"].as_str().unwrap(), "sent")
        .await;
    assert_eq!(sent["pricing"]["billable"], false);
    assert_eq!(sent["pricing"]["type"], "free_entry_point");
    assert_eq!(sent["pricing"]["category"], "referral_conversion");
    assert_eq!(
        sent["conversation"]["origin"]["type"],
        "referral_conversion"
    );
    assert!(sent["conversation"]["expiration_timestamp"].is_string());
}

#[tokio::test]
async fn webhooks_are_retried_until_answered_200_and_the_handshake_is_checked() {
    let h = start(NOV_2026).await;
    h.receiver.fail_next.store(2, Ordering::SeqCst);
    h.customer("+33612345678", json!({})).await;
    let wamid = h
        .customer_says("33612345678", json!({ "text": "Allô" }))
        .await;
    // First attempt fails at once; the retries are 10 s and 60 s later in emulated time.
    for _ in 0..200 {
        if h.receiver.posts.load(Ordering::SeqCst) >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(h.messages().is_empty());
    h.advance_hours(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    h.advance_hours(1).await;
    assert_eq!(h.wait_for_messages(1).await[0]["id"], wamid.as_str());
    assert_eq!(h.receiver.posts.load(Ordering::SeqCst), 3);
    let (_, w) = h.get("/_sandbox/webhook").await;
    assert_eq!(w["stats"]["failed_attempts"], 2);
    assert_eq!(w["stats"]["delivered_updates"], 1);
    assert_eq!(w["callback"]["url"], h.callback.as_str());

    // A callback that does not echo the challenge with the verify token is refused.
    let (status, e) = h
        .post(
            "/_sandbox/webhook",
            json!({ "url": h.callback, "verify_token": "not-the-token" }),
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{e}");
    let r = h
        .http
        .put(format!("{}/_sandbox/webhook", h.base))
        .json(&json!({ "url": h.callback, "verify_token": "not-the-token" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["code"], "verification_failed");
    let r = h
        .http
        .put(format!("{}/_sandbox/webhook", h.base))
        .json(&json!({ "url": h.callback, "verify_token": VERIFY }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn templates_are_reviewed_then_sent_with_their_category_and_parameters_checked() {
    let h = start(NOV_2026).await;
    let create = |name: &str, category: &str, body: &str| {
        json!({
            "name": name, "language": "en_US", "category": category,
            "components": [
                { "type": "HEADER", "format": "TEXT", "text": "Order update" },
                { "type": "BODY", "text": body },
                { "type": "BUTTONS", "buttons": [{ "type": "QUICK_REPLY", "text": "OK" }] }
            ]
        })
    };
    let (status, t) = h
        .post(
            &format!("/v25.0/{WABA}/message_templates"),
            create(
                "order_update",
                "utility",
                "Hi {{1}}, order {{2}} ships today.",
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["status"], "PENDING");
    assert_eq!(t["category"], "UTILITY");
    let (status, _) = h
        .post(
            &format!("/{WABA}/message_templates"),
            create("spring_sale", "MARKETING", "Spring sale, {{1}}: 20 % off."),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .post(
            &format!("/{WABA}/message_templates"),
            create("bad_edges", "UTILITY", "{{1}} is ready"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, e) = h
        .post(
            &format!("/{WABA}/message_templates"),
            create("Bad-Name", "UTILITY", "Hello."),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["code"], 100);

    // Not approved yet: 132001, synchronously, as HTTP 404.
    h.customer("+33612345678", json!({})).await;
    let send = |name: &str, params: Value| {
        json!({
            "messaging_product": "whatsapp", "to": "33612345678", "type": "template",
            "template": { "name": name, "language": { "code": "en_US", "policy": "deterministic" },
                "components": [{ "type": "body", "parameters": params }] }
        })
    };
    let two = json!([{ "type": "text", "text": "Camille" }, { "type": "text", "text": "A-42" }]);
    let (status, e) = h
        .post(
            &format!("/v25.0/{NUMBER}/messages"),
            send("order_update", two.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
    assert_eq!(e["error"]["code"], 132_001);

    // Review takes five emulated seconds; the verdicts arrive as template webhooks.
    let (status, _) = h
        .post("/_sandbox/clock/advance", json!({ "seconds": 10 }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut events = Vec::new();
    for _ in 0..400 {
        events = h
            .receiver
            .bodies
            .lock()
            .unwrap()
            .iter()
            .flat_map(|b| {
                b["entry"][0]["changes"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter(|c| c["field"] == "message_template_status_update")
            .map(|c| c["value"].clone())
            .collect();
        if events.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let verdict = |name: &str| {
        events
            .iter()
            .find(|e| e["message_template_name"] == name)
            .map(|e| (e["event"].clone(), e["reason"].clone()))
    };
    assert_eq!(
        verdict("order_update"),
        Some((json!("APPROVED"), json!("NONE")))
    );
    assert_eq!(
        verdict("spring_sale"),
        Some((json!("APPROVED"), json!("NONE")))
    );
    assert_eq!(
        verdict("bad_edges"),
        Some((json!("REJECTED"), json!("INVALID_FORMAT")))
    );
    let (_, list) = h.get(&format!("/v25.0/{WABA}/message_templates")).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 3);
    // What the hub's parser makes of the webhook.
    let raw = h.receiver.raw.lock().unwrap().clone();
    let template_webhook = raw
        .iter()
        .find(|r| r.contains("message_template_status_update"))
        .unwrap();
    wa::webhook::parse(template_webhook.as_bytes()).unwrap();

    // Wrong parameter count: 132000. Templates go out without a window.
    let (status, e) = h
        .post(
            &format!("/v25.0/{NUMBER}/messages"),
            send(
                "order_update",
                json!([{ "type": "text", "text": "Camille" }]),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["code"], 132_000);
    let (status, r) = h
        .post(
            &format!("/v25.0/{NUMBER}/messages"),
            send("order_update", two),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let sent = h
        .wait_for_status(r["messages"][0]["id"].as_str().unwrap(), "sent")
        .await;
    assert_eq!(sent["pricing"]["category"], "utility");
    assert_eq!(sent["pricing"]["billable"], true);

    // A customer who stopped marketing: 131050, by webhook.
    let r = h
        .http
        .patch(format!(
            "{}/_sandbox/customers/33612345678/behaviour",
            h.base
        ))
        .json(&json!({ "stopped_marketing": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, r) = h
        .post(
            &format!("/v25.0/{NUMBER}/messages"),
            send(
                "spring_sale",
                json!([{ "type": "text", "text": "Camille" }]),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let failed = h
        .wait_for_status(r["messages"][0]["id"].as_str().unwrap(), "failed")
        .await;
    assert_eq!(failed["errors"][0]["code"], 131_050);
}

#[tokio::test]
async fn rate_limits_answer_at_once_with_metas_codes() {
    let limits = sandbox::Limits {
        throughput_mps: 3,
        ..sandbox::Limits::default()
    };
    let h = start_with(NOV_2026, limits).await;
    for i in 0..6 {
        let phone = format!("+3361234567{i}");
        h.customer(&phone, json!({})).await;
        h.customer_says(&phone, json!({ "text": "?" })).await;
    }
    let mut refused = Vec::new();
    for i in 0..6 {
        let (status, body) = h.send_text(&format!("3361234567{i}"), "Bonjour").await;
        if status != StatusCode::OK {
            refused.push((status, body));
        }
    }
    assert!(
        !refused.is_empty(),
        "3 messages per second allowed, 6 sent at once"
    );
    for (status, e) in &refused {
        assert_eq!(
            *status,
            StatusCode::BAD_REQUEST,
            "rate limits are 400, not 429"
        );
        assert_eq!(e["error"]["code"], 130_429);
    }

    // The pair rate: 45 in a burst to one customer, then one every 6 s.
    let h = start(NOV_2026).await;
    h.customer("+33612345678", json!({})).await;
    h.customer_says("33612345678", json!({ "text": "?" })).await;
    let mut statuses = Vec::new();
    for _ in 0..46 {
        let (status, body) = h.send_text("33612345678", "Encore un message").await;
        statuses.push((status, body));
        // Stay under the 80 messages per second of the number.
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
    let ok = statuses
        .iter()
        .filter(|(s, _)| *s == StatusCode::OK)
        .count();
    assert_eq!(ok, 45);
    let (status, e) = statuses.last().unwrap();
    assert_eq!(*status, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["code"], 131_056);
    let (status, _) = h
        .post("/_sandbox/clock/advance", json!({ "seconds": 6 }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, r) = h.send_text("33612345678", "Et un dernier").await;
    assert_eq!(status, StatusCode::OK, "{r}");
}

#[tokio::test]
async fn a_customer_gets_at_most_two_marketing_templates_a_day() {
    let h = start(NOV_2026).await;
    h.approved_template(
        "weekly_deals",
        "fr",
        "MARKETING",
        "Les offres de la semaine.",
    )
    .await;
    h.customer("+33612345678", json!({})).await;
    let send = json!({ "messaging_product": "whatsapp", "to": "33612345678", "type": "template",
                       "template": { "name": "weekly_deals", "language": { "code": "fr" } } });
    let mut wamids = Vec::new();
    for _ in 0..3 {
        let (status, r) = h
            .post(&format!("/v25.0/{NUMBER}/messages"), send.clone())
            .await;
        assert_eq!(status, StatusCode::OK, "{r}");
        wamids.push(r["messages"][0]["id"].as_str().unwrap().to_owned());
    }
    h.wait_for_status(&wamids[0], "sent").await;
    h.wait_for_status(&wamids[1], "sent").await;
    let failed = h.wait_for_status(&wamids[2], "failed").await;
    assert_eq!(failed["errors"][0]["code"], 131_049);
    // A day later the cap is free again.
    h.advance_hours(24).await;
    let (_, r) = h.post(&format!("/v25.0/{NUMBER}/messages"), send).await;
    h.wait_for_status(r["messages"][0]["id"].as_str().unwrap(), "sent")
        .await;
}

#[tokio::test]
async fn every_kind_a_business_sends_is_checked_and_reactions_only_get_sent() {
    let h = start(NOV_2026).await;
    h.customer("+33612345678", json!({})).await;
    let quoted = h
        .customer_says("33612345678", json!({ "text": "Bonjour" }))
        .await;
    let kinds = [
        json!({"type": "image", "image": {"link": "https://example.com/receipt.jpg", "caption": "Votre reçu"}}),
        json!({"type": "document", "document": {"id": "1037543291543636", "filename": "devis.pdf"}}),
        json!({"type": "sticker", "sticker": {"id": "1037543291543637"}}),
        json!({"type": "interactive", "interactive": {"type": "button", "body": {"text": "Le technicien peut venir demain à 9 h."},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "ok", "title": "D'accord"}},
                                   {"type": "reply", "reply": {"id": "later", "title": "Un autre jour"}}]}}}),
        json!({"type": "interactive", "interactive": {"type": "list", "body": {"text": "Quel créneau ?"},
            "action": {"button": "Créneaux", "sections": [{"title": "Demain", "rows": [
                {"id": "am", "title": "Matin", "description": "9 h – 12 h"}, {"id": "pm", "title": "Après-midi"}]}]}}}),
        json!({"type": "location", "location": {"latitude": 48.8566, "longitude": 2.3522, "name": "Atelier"}}),
        json!({"type": "contacts", "contacts": [{"name": {"formatted_name": "Service client"}, "phones": [{"phone": "+33 1 23 45 67 89"}]}]}),
        json!({"type": "text", "text": {"body": "Je vous réponds ici."}, "context": {"message_id": quoted}}),
    ];
    for kind in kinds {
        let mut body = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "33612345678"});
        body.as_object_mut()
            .unwrap()
            .extend(kind.as_object().cloned().unwrap());
        let (status, r) = h
            .post(&format!("/v25.0/{NUMBER}/messages"), body.clone())
            .await;
        assert_eq!(status, StatusCode::OK, "{body} -> {r}");
    }
    let too_many = json!({"messaging_product": "whatsapp", "to": "33612345678", "type": "interactive",
        "interactive": {"type": "button", "body": {"text": "?"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "1", "title": "1"}}, {"type": "reply", "reply": {"id": "2", "title": "2"}},
            {"type": "reply", "reply": {"id": "3", "title": "3"}}, {"type": "reply", "reply": {"id": "4", "title": "4"}}]}}});
    let (status, e) = h.post(&format!("/v25.0/{NUMBER}/messages"), too_many).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["code"], 100);

    let (_, r) = h
        .post(
            &format!("/v25.0/{NUMBER}/messages"),
            json!({"messaging_product": "whatsapp", "to": "33612345678",
            "type": "reaction", "reaction": {"message_id": quoted, "emoji": "👍"}}),
        )
        .await;
    let wamid = r["messages"][0]["id"].as_str().unwrap().to_owned();
    h.wait_for_status(&wamid, "sent").await;
    h.post("/_sandbox/clock/advance", json!({ "seconds": 30 }))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.statuses(&wamid).len(), 1, "{:?}", h.statuses(&wamid));
    let (_, transcript) = h.get("/_sandbox/customers/33612345678/transcript").await;
    assert_eq!(transcript.as_array().unwrap().len(), 9);
}

#[tokio::test]
async fn customers_press_buttons_pick_rows_react_and_share_places() {
    let h = start(NOV_2026).await;
    h.customer("+33612345678", json!({})).await;
    h.customer_says("33612345678", json!({ "text": "Bonjour" }))
        .await;
    let send = |kind: Value| {
        let mut body = json!({"messaging_product": "whatsapp", "to": "33612345678"});
        body.as_object_mut()
            .unwrap()
            .extend(kind.as_object().cloned().unwrap());
        body
    };
    let (_, r) = h
        .post(&format!("/v25.0/{NUMBER}/messages"), send(json!({"type": "interactive", "interactive": {
            "type": "button", "body": {"text": "Demain 9 h ?"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "ok", "title": "D'accord"}}]}}})))
        .await;
    let buttons = r["messages"][0]["id"].as_str().unwrap().to_owned();
    let (_, r) = h
        .post(&format!("/v25.0/{NUMBER}/messages"), send(json!({"type": "interactive", "interactive": {
            "type": "list", "body": {"text": "Quel créneau ?"}, "action": {"button": "Créneaux", "sections": [
                {"rows": [{"id": "am", "title": "Matin", "description": "9 h – 12 h"}]}]}}})))
        .await;
    let list = r["messages"][0]["id"].as_str().unwrap().to_owned();
    h.post(
        &format!("/{WABA}/message_templates"),
        json!({"name": "visit_reminder", "language": "fr", "category": "UTILITY", "components": [
            {"type": "BODY", "text": "Rappel : visite demain, {{1}}."},
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Confirmer"}, {"type": "QUICK_REPLY", "text": "Annuler"}]}]}),
    )
    .await;
    h.post("/_sandbox/clock/advance", json!({ "seconds": 10 }))
        .await;
    let (status, r) = h
        .post(&format!("/v25.0/{NUMBER}/messages"), send(json!({"type": "template", "template": {
            "name": "visit_reminder", "language": {"code": "fr"}, "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Camille"}]},
                {"type": "button", "sub_type": "quick_reply", "index": "1", "parameters": [{"type": "payload", "payload": "cancel-42"}]}]}})))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let template = r["messages"][0]["id"].as_str().unwrap().to_owned();

    let says = |body: Value| h.customer_says("33612345678", body);
    says(json!({ "button": "ok", "reply_to": buttons })).await;
    says(json!({ "button": "am", "reply_to": list })).await;
    says(json!({ "button": "cancel-42", "reply_to": template })).await;
    says(json!({ "reaction": { "message_id": buttons, "emoji": "👍" } })).await;
    says(json!({ "reaction": { "message_id": buttons } })).await;
    says(json!({ "location": { "latitude": 48.8566, "longitude": 2.3522, "name": "Chez moi" } }))
        .await;
    let got = h.wait_for_messages(7).await;
    let by_type = |i: usize| (got[i]["type"].clone(), got[i].clone());
    let (kind, m) = by_type(1);
    assert_eq!(kind, "interactive");
    assert_eq!(
        m["interactive"]["button_reply"],
        json!({"id": "ok", "title": "D'accord"})
    );
    assert_eq!(m["context"]["id"], buttons.as_str());
    assert_eq!(m["context"]["from"], "15550783881");
    let (_, m) = by_type(2);
    assert_eq!(m["interactive"]["type"], "list_reply");
    assert_eq!(m["interactive"]["list_reply"]["description"], "9 h – 12 h");
    let (kind, m) = by_type(3);
    assert_eq!(kind, "button");
    assert_eq!(
        m["button"],
        json!({"payload": "cancel-42", "text": "Annuler"})
    );
    assert_eq!(by_type(4).1["reaction"]["emoji"], "👍");
    assert!(by_type(5).1["reaction"].get("emoji").is_none());
    assert_eq!(by_type(6).1["location"]["name"], "Chez moi");
    for raw in h.receiver.raw.lock().unwrap().iter() {
        let (_, report) = wa::webhook::parse(raw.as_bytes()).unwrap();
        assert!(
            report.unknown_kinds.is_empty(),
            "{:?}",
            report.unknown_kinds
        );
    }

    // What cannot be pressed is refused, saying why.
    let (status, e) = h
        .post(
            "/_sandbox/customers/33612345678/messages",
            json!({ "button": "nope", "reply_to": buttons }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(e["detail"].as_str().unwrap().contains("nope"));
    let (status, _) = h
        .post(
            "/_sandbox/customers/33612345678/messages",
            json!({ "text": "a", "button": "ok", "reply_to": buttons }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

impl Harness {
    async fn set_faults(&self, faults: Value) -> (StatusCode, Value) {
        let r = self
            .http
            .put(format!("{}/_sandbox/faults", self.base))
            .json(&faults)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn graph_faults_fail_sends_with_the_chosen_code_and_after_the_chosen_latency() {
    let h = start(NOV_2026).await;
    h.customer("+33612345678", json!({})).await;
    h.customer_says("33612345678", json!({ "text": "Bonjour" }))
        .await;

    let (status, e) = h.set_faults(json!({ "graph_error_rate": 2.0 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    assert!(e["detail"].as_str().unwrap().contains("graph_error_rate"));
    let (status, e) = h.set_faults(json!({ "graph_error_rte": 1.0 })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");

    let (status, f) = h.set_faults(json!({ "graph_error_rate": 1.0 })).await;
    assert_eq!(status, StatusCode::OK, "{f}");
    assert_eq!(f["graph_error_code"], 131_000);
    let (status, e) = h.send_text("33612345678", "Bonjour !").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{e}");
    assert_eq!(e["error"]["code"], 131_000);

    h.set_faults(json!({ "graph_error_rate": 1.0, "graph_error_code": 130429 }))
        .await;
    let (status, e) = h.send_text("33612345678", "Bonjour !").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["error"]["code"], 130_429);
    let (_, transcript) = h.get("/_sandbox/customers/33612345678/transcript").await;
    assert_eq!(transcript.as_array().unwrap().len(), 0, "nothing was sent");

    let (_, f) = h.set_faults(json!({ "graph_latency_ms": 400 })).await;
    assert_eq!(
        f["graph_error_rate"], 0.0,
        "fields left out go back to none"
    );
    let began = std::time::Instant::now();
    let (status, r) = h.send_text("33612345678", "Bonjour !").await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert!(began.elapsed() >= Duration::from_millis(400));
    let (_, f) = h.get("/_sandbox/faults").await;
    assert_eq!(f["graph_latency_ms"], 400);
}

#[tokio::test]
async fn a_send_whose_answer_is_cut_off_still_goes_out() {
    let h = start(NOV_2026).await;
    h.customer("+33612345678", json!({ "behaviour": { "online": true } }))
        .await;
    h.customer_says("33612345678", json!({ "text": "Bonjour" }))
        .await;
    h.set_faults(json!({ "drop_after_accept_rate": 1.0 })).await;
    let sent = h
        .http
        .post(format!("{}/v25.0/{NUMBER}/messages", h.base))
        .bearer_auth(TOKEN)
        .json(&json!({
            "messaging_product": "whatsapp",
            "to": "33612345678",
            "text": { "body": "Votre machine est réparée." },
        }))
        .send()
        .await;
    let answer = match sent {
        Ok(r) => r.bytes().await.map(|b| b.to_vec()),
        Err(e) => Err(e),
    };
    assert!(answer.is_err(), "the client must not get the wamid");

    let (_, transcript) = h.get("/_sandbox/customers/33612345678/transcript").await;
    let wamid = transcript[0]["wamid"].as_str().unwrap().to_owned();
    assert_eq!(
        transcript[0]["message"]["text"]["body"],
        "Votre machine est réparée."
    );
    h.wait_for_status(&wamid, "sent").await;
}

#[tokio::test]
async fn webhooks_are_duplicated_on_demand() {
    let h = start(NOV_2026).await;
    h.set_faults(json!({ "webhook_duplicate_rate": 1.0 })).await;
    h.customer("+33612345678", json!({})).await;
    let wamid = h
        .customer_says("33612345678", json!({ "text": "Allô" }))
        .await;
    let messages = h.wait_for_messages(2).await;
    assert!(messages.iter().all(|m| m["id"] == wamid.as_str()));
    let raw = h.receiver.raw.lock().unwrap().clone();
    assert_eq!(raw.len(), 2);
    assert_eq!(raw[0], raw[1], "the same bytes, the same signature");
    let (_, w) = h.get("/_sandbox/webhook").await;
    assert_eq!(w["stats"]["duplicated_posts"], 1);
}

#[tokio::test]
async fn webhooks_are_delayed_then_batched_and_reordered_on_demand() {
    let h = start(NOV_2026).await;
    h.set_faults(json!({
        "webhook_delay_ms": 60_000,
        "webhook_batch_max": 25,
        "webhook_reorder": true,
    }))
    .await;
    h.customer("+33612345678", json!({})).await;
    let mut sent = Vec::new();
    for i in 0..20 {
        sent.push(
            h.customer_says("33612345678", json!({ "text": format!("message {i}") }))
                .await,
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        h.messages().is_empty(),
        "held for a minute of emulated time"
    );
    let (_, w) = h.get("/_sandbox/webhook").await;
    assert_eq!(w["stats"]["pending_updates"], 20);

    h.post("/_sandbox/clock/advance", json!({ "seconds": 61 }))
        .await;
    let arrived: Vec<String> = h
        .wait_for_messages(20)
        .await
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(h.receiver.raw.lock().unwrap().len(), 1, "one POST of 20");
    let mut sorted_arrived = arrived.clone();
    sorted_arrived.sort();
    let mut sorted_sent = sent.clone();
    sorted_sent.sort();
    assert_eq!(sorted_arrived, sorted_sent, "nothing lost, nothing added");
    assert_ne!(
        arrived, sent,
        "shuffled (1 chance in 20! of the same order)"
    );
}

fn upload_form(mime: &str, bytes: Vec<u8>) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("messaging_product", "whatsapp")
        .text("type", mime.to_owned())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes)
                .file_name("photo.png")
                .mime_str(mime)
                .unwrap(),
        )
}

impl Harness {
    async fn upload(&self, form: reqwest::multipart::Form) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/v25.0/{NUMBER}/media", self.base))
            .bearer_auth(TOKEN)
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// A 1×1 png(), the sandbox's own sample image.
fn png() -> &'static [u8] {
    sandbox::media::sample("image").unwrap().1
}

#[tokio::test]
async fn media_are_uploaded_described_downloaded_with_the_token_for_five_minutes_and_deleted() {
    let h = start(NOV_2026).await;
    h.customer("+33612345678", json!({ "behaviour": { "online": true } }))
        .await;
    h.customer_says("33612345678", json!({ "text": "Une photo ?" }))
        .await;

    let (status, r) = h.upload(upload_form("image/png", png().to_vec())).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let id = r["id"].as_str().unwrap().to_owned();

    let (status, m) = h.get(&format!("/v25.0/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["messaging_product"], "whatsapp");
    assert_eq!(m["mime_type"], "image/png");
    assert_eq!(m["file_size"], png().len().to_string());
    assert_eq!(m["id"], id.as_str());
    assert!(m["sha256"].as_str().unwrap().ends_with('='), "base64: {m}");
    let url = m["url"].as_str().unwrap().to_owned();

    let anonymous = h.http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let e: Value = anonymous.json().await.unwrap();
    assert_eq!(e["error"]["code"], 190);
    let file = h.http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.headers()["content-type"], "image/png");
    assert_eq!(file.bytes().await.unwrap().as_ref(), png());

    let (status, r) = h
        .post(
            &format!("/v25.0/{NUMBER}/messages"),
            json!({ "messaging_product": "whatsapp", "to": "33612345678", "type": "image",
                    "image": { "id": id, "caption": "Votre reçu" } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    h.wait_for_status(r["messages"][0]["id"].as_str().unwrap(), "sent")
        .await;

    // Five emulated minutes later the URL is dead; a new GET gives a new one.
    h.post("/_sandbox/clock/advance", json!({ "seconds": 301 }))
        .await;
    let expired = h.http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(expired.status(), StatusCode::NOT_FOUND);
    let (_, m) = h.get(&format!("/{id}")).await;
    let fresh = m["url"].as_str().unwrap();
    assert_ne!(fresh, url);
    let file = h.http.get(fresh).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(file.status(), StatusCode::OK);

    let deleted = h
        .http
        .delete(format!("{}/v25.0/{id}", h.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    assert_eq!(deleted.json::<Value>().await.unwrap()["success"], true);
    let (status, e) = h.get(&format!("/v25.0/{id}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["error"]["error_subcode"], 33);
    let gone = h.http.get(fresh).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    // Sending a deleted media id is accepted, then fails with 131053.
    let (status, r) = h
        .post(
            &format!("/v25.0/{NUMBER}/messages"),
            json!({ "messaging_product": "whatsapp", "to": "33612345678", "type": "image",
                    "image": { "id": id } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let failed = h
        .wait_for_status(r["messages"][0]["id"].as_str().unwrap(), "failed")
        .await;
    assert_eq!(failed["errors"][0]["code"], 131_053);
}

#[tokio::test]
async fn uploads_are_checked_for_type_size_and_form() {
    let h = start(NOV_2026).await;
    let (status, e) = h.upload(upload_form("image/gif", b"GIF89a".to_vec())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["error"]["code"], 131_053);
    assert!(
        e["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("image/jpeg")
    );

    let too_big = vec![0_u8; 5 * 1024 * 1024 + 1];
    let (status, e) = h.upload(upload_form("image/jpeg", too_big)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    assert!(
        e["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("at most 5242880")
    );

    let no_product = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png().to_vec())
            .mime_str("image/png")
            .unwrap(),
    );
    let (status, e) = h.upload(no_product).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    assert_eq!(e["error"]["code"], 100);

    // The part's own content type is enough when `type` is absent.
    let untyped = reqwest::multipart::Form::new()
        .text("messaging_product", "whatsapp")
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"%PDF-1.4".to_vec())
                .file_name("devis.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    let (status, r) = h.upload(untyped).await;
    assert_eq!(status, StatusCode::OK, "{r}");

    let (status, e) = h.post(&format!("/v25.0/{NUMBER}/media"), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    assert!(
        e["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains("multipart")
    );
}

#[tokio::test]
async fn customers_send_photos_documents_and_voice_notes_a_receiver_can_fetch() {
    let h = start(NOV_2026).await;
    h.customer("+33612345678", json!({})).await;
    h.customer_says(
        "33612345678",
        json!({ "media": { "type": "image", "caption": "La fuite" } }),
    )
    .await;
    h.customer_says("33612345678", json!({ "media": { "type": "document" } }))
        .await;
    h.customer_says("33612345678", json!({ "media": { "type": "audio" } }))
        .await;
    let (status, e) = h
        .post(
            "/_sandbox/customers/33612345678/messages",
            json!({ "media": { "type": "gif" } }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");

    let messages = h.wait_for_messages(3).await;
    assert_eq!(messages[0]["type"], "image");
    assert_eq!(messages[0]["image"]["caption"], "La fuite");
    assert_eq!(messages[1]["document"]["filename"], "facture.pdf");
    assert_eq!(messages[2]["audio"]["voice"], true);
    for raw in h.receiver.raw.lock().unwrap().iter() {
        let (_, report) = wa::webhook::parse(raw.as_bytes()).unwrap();
        assert!(
            report.unknown_kinds.is_empty(),
            "{:?}",
            report.unknown_kinds
        );
        assert!(
            report.unknown_fields.is_empty(),
            "{:?}",
            report.unknown_fields
        );
    }

    let id = messages[0]["image"]["id"].as_str().unwrap();
    let (status, m) = h.get(&format!("/v25.0/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["sha256"], messages[0]["image"]["sha256"]);
    let file = h
        .http
        .get(m["url"].as_str().unwrap())
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(&file.bytes().await.unwrap()[..4], b"\x89PNG");
}

#[tokio::test]
async fn a_customer_sends_a_file_of_their_own_labelled_as_their_app_says() {
    use base64::Engine as _;
    let h = start(NOV_2026).await;
    h.customer("+33612345678", json!({})).await;
    // An HTML page the customer's app labels as a JPEG: Meta relays the label as given.
    let page = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>";
    let data = base64::engine::general_purpose::STANDARD.encode(page);
    h.customer_says(
        "33612345678",
        json!({ "media": { "type": "document", "data_base64": data,
                           "mime_type": "image/jpeg", "filename": "../photo.jpg" } }),
    )
    .await;
    for (body, why) in [
        (
            json!({ "type": "document", "data_base64": data }),
            "mime_type",
        ),
        (
            json!({ "type": "document", "data_base64": "%%%", "mime_type": "image/png" }),
            "base64",
        ),
        (
            json!({ "type": "image", "mime_type": "image/png" }),
            "data_base64",
        ),
    ] {
        let (status, e) = h
            .post(
                "/_sandbox/customers/33612345678/messages",
                json!({ "media": body }),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
        assert!(e["detail"].as_str().unwrap().contains(why), "{e}");
    }
    let messages = h.wait_for_messages(1).await;
    let document = &messages[0]["document"];
    assert_eq!(document["mime_type"], "image/jpeg");
    assert_eq!(document["filename"], "../photo.jpg");
    let id = document["id"].as_str().unwrap();

    // The faults fail descriptions and downloads, each on its own.
    let (status, m) = h.get(&format!("/v25.0/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["sha256"], document["sha256"]);
    let url = m["url"].as_str().unwrap().to_owned();
    let fetch = || h.http.get(&url).bearer_auth(TOKEN).send();
    assert_eq!(&fetch().await.unwrap().bytes().await.unwrap()[..], page);
    let (status, _) = h
        .set_faults(json!({ "media_download_error_rate": 1.0 }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        fetch().await.unwrap().status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    h.set_faults(json!({ "media_info_error_rate": 1.0 })).await;
    assert_eq!(fetch().await.unwrap().status(), StatusCode::OK);
    let (status, e) = h.get(&format!("/v25.0/{id}")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{e}");
    assert_eq!(e["error"]["code"], 131_000);
    h.set_faults(json!({})).await;
    let (status, _) = h.get(&format!("/v25.0/{id}")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_portfolio_messaging_limit_counts_unique_customers_outside_a_window_and_grows() {
    let limits = sandbox::Limits {
        messaging_tier: sandbox::tiers::Tier::T250,
        throughput_mps: 100_000,
        ..sandbox::Limits::default()
    };
    let h = start_with(NOV_2026, limits).await;
    h.approved_template(
        "visit_reminder",
        "fr",
        "UTILITY",
        "Le technicien passe demain.",
    )
    .await;
    let phone = |i: usize| format!("336{i:08}");
    for i in 0..=251 {
        h.customer(&format!("+{}", phone(i)), json!({})).await;
    }
    // Customer 0 wrote in: a template inside the window does not count.
    h.customer_says(&phone(0), json!({ "text": "Bonjour" }))
        .await;
    let send = |i: usize| {
        json!({ "messaging_product": "whatsapp", "to": phone(i), "type": "template",
                "template": { "name": "visit_reminder", "language": { "code": "fr" } } })
    };
    let mut wamids = Vec::new();
    for i in 0..=251 {
        let (status, r) = h.post(&format!("/v25.0/{NUMBER}/messages"), send(i)).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        wamids.push(r["messages"][0]["id"].as_str().unwrap().to_owned());
    }
    h.wait_for_status(&wamids[0], "sent").await;
    h.wait_for_status(&wamids[250], "sent").await;
    let failed = h.wait_for_status(&wamids[251], "failed").await;
    assert_eq!(failed["errors"][0]["code"], 131_048);
    // Customer 1 was reached today already: not counted again.
    let (_, r) = h.post(&format!("/v25.0/{NUMBER}/messages"), send(1)).await;
    h.wait_for_status(r["messages"][0]["id"].as_str().unwrap(), "sent")
        .await;

    let (_, n) = h
        .get(&format!(
            "/v25.0/{NUMBER}?fields=whatsapp_business_manager_messaging_limit"
        ))
        .await;
    assert_eq!(n["whatsapp_business_manager_messaging_limit"], "TIER_250");
    let (_, overview) = h.get("/_sandbox").await;
    assert_eq!(
        overview["messaging_limit"]["unique_customers_reached_outside_a_window_in_24h"],
        250
    );

    // More than half the limit used this week: one level up six hours later, announced.
    h.advance_hours(7).await;
    for _ in 0..400 {
        let announced = h
            .receiver
            .bodies
            .lock()
            .unwrap()
            .iter()
            .flat_map(|b| {
                b["entry"][0]["changes"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .any(|c| {
                c["field"] == "business_capability_update"
                    && c["value"]["max_daily_conversations_per_business"] == 2_000
            });
        if announced {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let (_, n) = h
        .get(&format!(
            "/v25.0/{NUMBER}?fields=whatsapp_business_manager_messaging_limit,messaging_limit_tier"
        ))
        .await;
    assert_eq!(n["whatsapp_business_manager_messaging_limit"], "TIER_2K");
    assert_eq!(n["messaging_limit_tier"], "TIER_2K");
    let (_, r) = h
        .post(&format!("/v25.0/{NUMBER}/messages"), send(251))
        .await;
    h.wait_for_status(r["messages"][0]["id"].as_str().unwrap(), "sent")
        .await;
}

/// What third-party clients were found to rely on (docs/COMPATIBILITY.md).
#[tokio::test]
async fn what_third_party_clients_rely_on_is_there() {
    let h = start(NOV_2026).await;
    h.customer("+33612345678", json!({ "username": "camille" }))
        .await;
    h.customer_says("33612345678", json!({ "text": "Bonjour" }))
        .await;

    // pywa's default version, and the fields it asks for.
    let fields = "id,verified_name,display_phone_number,conversational_automation,status,\
                  quality_rating,quality_score,webhook_configuration,name_status,new_name_status,\
                  code_verification_status,account_mode,is_on_biz_app,is_official_business_account,\
                  is_pin_enabled,is_preverified_number,search_visibility,platform_type,throughput,\
                  eligibility_for_api_business_global_search,health_status,certificate,\
                  new_certificate,last_onboarded_time,country_code,country_dial_code,\
                  whatsapp_business_manager_messaging_limit";
    let (status, n) = h.get(&format!("/v26.0/{NUMBER}?fields={fields}")).await;
    assert_eq!(status, StatusCode::OK, "{n}");
    assert_eq!(n["country_dial_code"], "1");
    assert!(n.get("certificate").is_none(), "no value, left out: {n}");
    let (status, e) = h
        .get(&format!("/v26.0/{NUMBER}?fields=no_such_field"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");

    // Contacts JSON-encoded in a string, as whatsapp-api-js sends them.
    let card = json!([{ "name": { "formatted_name": "Atelier", "first_name": "Atelier" },
                        "phones": [{ "phone": "+33100000000", "type": "WORK" }] }]);
    let (status, r) = h
        .post(
            &format!("/v26.0/{NUMBER}/messages"),
            json!({ "messaging_product": "whatsapp", "to": "33612345678", "type": "contacts",
                    "contacts": card.to_string() }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let wamid = r["messages"][0]["id"].as_str().unwrap().to_owned();
    h.wait_for_status(&wamid, "sent").await;
    let (_, transcript) = h.get("/_sandbox/customers/33612345678/transcript").await;
    assert_eq!(transcript[0]["message"]["contacts"], card);

    // Status webhooks carry the recipient in `contacts`, failed ones too.
    let (_, r) = h.send_text("33699999999", "Nobody here").await;
    let unknown = r["messages"][0]["id"].as_str().unwrap().to_owned();
    h.wait_for_status(&unknown, "failed").await;
    let values: Vec<Value> = h
        .receiver
        .bodies
        .lock()
        .unwrap()
        .iter()
        .flat_map(changes)
        .collect();
    let contact_of = |id: &str| {
        values
            .iter()
            .find(|v| v["statuses"][0]["id"] == id)
            .map(|v| v["contacts"][0].clone())
            .unwrap()
    };
    assert_eq!(contact_of(&wamid)["wa_id"], "33612345678");
    assert!(contact_of(&wamid)["user_id"].is_string());
    assert_eq!(contact_of(&unknown)["wa_id"], "33699999999");
    for raw in h.receiver.raw.lock().unwrap().iter() {
        let (_, report) = wa::webhook::parse(raw.as_bytes()).unwrap();
        assert!(
            report.unknown_fields.is_empty(),
            "{:?}",
            report.unknown_fields
        );
    }

    // Template webhooks have the entry's `time` and a numeric template id.
    h.approved_template("visit", "fr", "UTILITY", "À demain.")
        .await;
    let mut entry = Value::Null;
    for _ in 0..400 {
        if let Some(e) = h.receiver.bodies.lock().unwrap().iter().find_map(|b| {
            (b["entry"][0]["changes"][0]["field"] == "message_template_status_update")
                .then(|| b["entry"][0].clone())
        }) {
            entry = e;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(entry["time"].is_i64(), "{entry}");
    let (_, list) = h
        .get(&format!(
            "/v26.0/{WABA}/message_templates?name=VIS&status=APPROVED&summary=total_count"
        ))
        .await;
    assert_eq!(list["data"][0]["name"], "visit", "{list}");
    assert_eq!(list["summary"]["total_count"], 1);
    let (_, none) = h
        .get(&format!("/{WABA}/message_templates?status=REJECTED"))
        .await;
    assert_eq!(none["data"].as_array().unwrap().len(), 0);
    assert!(none.get("summary").is_none());
    assert!(
        entry["changes"][0]["value"]["message_template_id"].is_u64(),
        "{entry}"
    );

    // whatsapp-api-js puts `messaging_product` in the query string of an upload.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png().to_vec())
            .file_name("a.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let r = h
        .http
        .post(format!(
            "{}/v24.0/{NUMBER}/media?messaging_product=whatsapp",
            h.base
        ))
        .bearer_auth(TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}
