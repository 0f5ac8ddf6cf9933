//! Outbound, end to end against the sandbox on each backend: what guichet refuses, the sandbox
//! refuses too, with the code guichet anticipated; what guichet sends arrives once, paced under
//! Meta's limits, through faults; and what it costs is predicted, then billed by Meta's word.

mod burst;
mod rig;

use reqwest::StatusCode;
use rig::{Rig, Setup};
use serde_json::{Value, json};
use store::testing::TestDb;

const NUMBER: &str = "106540352242922";
const CAMILLE: &str = "+33612345678";
const JOAO: &str = "+5511987654321";
const NOBODY: &str = "+4915112345678";

fn text_to(to: &str, body: &str) -> Value {
    json!({ "messaging_product": "whatsapp", "to": to, "type": "text", "text": { "body": body } })
}

fn template_to(to: &str, name: &str, params: &[&str]) -> Value {
    let parameters: Vec<Value> = params
        .iter()
        .map(|p| json!({ "type": "text", "text": p }))
        .collect();
    json!({ "messaging_product": "whatsapp", "to": to, "type": "template", "template": {
        "name": name, "language": { "code": "en_US" },
        "components": [{ "type": "body", "parameters": parameters }] } })
}

/// What the sandbox says, directly through its Graph API, about a send guichet refused: the
/// Meta code of its synchronous error, or of the `failed` status it recorded.
async fn sandbox_verdict(rig: &Rig, to: &str, body: &Value) -> Option<i64> {
    let r = rig
        .http
        .post(format!("{}/v25.0/{NUMBER}/messages", rig.sandbox_url))
        .bearer_auth(rig::ACCESS)
        .json(body)
        .send()
        .await
        .expect("sandbox send");
    let answer: Value = r.json().await.expect("json");
    if let Some(code) = answer.pointer("/error/code").and_then(Value::as_i64) {
        return Some(code);
    }
    let wamid = answer.pointer("/messages/0/id")?.as_str()?.to_owned();
    rig.received(to)
        .into_iter()
        .find(|m| m["wamid"] == wamid.as_str())
        .and_then(|m| m["error_code"].as_i64())
}

/// guichet refuses `body` with Meta's `code`, and the sandbox, sent the same body directly,
/// answers that code too. guichet's refusal, for more checks.
async fn refused_as_meta_would(rig: &Rig, to: &str, body: &Value, code: i64) -> Value {
    let b = rig.backend;
    let (status, refused) = rig.post("/messages", body).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "[{b}] {refused:#}"
    );
    assert_eq!(refused["meta_code"], code, "[{b}] {refused:#}");
    assert_eq!(sandbox_verdict(rig, to, body).await, Some(code), "[{b}]");
    refused
}

/// `guichet costs` on the test's database: what it printed.
fn guichet_costs(db: &TestDb, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_guichet"))
        .arg("costs")
        .args(args)
        .env_clear()
        .env("GUICHET_DATABASE_URL", &db.url)
        .env("GUICHET_APP_SECRET", rig::SECRET)
        .output()
        .expect("guichet costs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn every_rule_agrees_with_the_sandbox() {
    let _side = rig::PACE.read().await;
    for db in TestDb::all().await {
        rules(&db).await;
    }
}

async fn rules(db: &TestDb) {
    let rig = Rig::start(db, Setup::default()).await;
    let b = rig.backend;
    rig.templates(&[
        (
            "repair_visit",
            "UTILITY",
            "Hello {{1}}, our technician comes on {{2}}.",
        ),
        (
            "spring_offer",
            "MARKETING",
            "Spring: 20 % off servicing, {{1}}.",
        ),
    ]);
    for phone in [CAMILLE, JOAO] {
        rig.customer(phone);
    }
    rig.say(CAMILLE, NUMBER, "My washing machine leaks");
    rig.wait_conversations(1).await;

    // Inside the window: free-form text goes out, once, and is delivered.
    let (status, sent) = rig
        .post(
            "/messages",
            &text_to(CAMILLE, "A technician will call you today."),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "[{b}] {sent:#}");
    assert_eq!(sent["verdict"]["allowed"], true);
    assert_eq!(sent["price"]["category"], "service");
    let id = sent["id"].as_i64().expect("id");
    let shown = rig
        .wait_message(id, "read", |m| m["delivery"]["status"] == "read")
        .await;
    assert_eq!(shown["outbox"]["state"], "sent", "[{b}] {shown:#}");
    let wamid = shown["wamid"].as_str().expect("wamid").to_owned();
    let received = rig.received(CAMILLE);
    assert_eq!(received.len(), 1, "[{b}] {received:#?}");
    assert_eq!(received[0]["wamid"], wamid.as_str());
    assert_eq!(
        received[0]["message"]["biz_opaque_callback_data"],
        format!("g:{id}")
    );

    // Never wrote: free-form is refused, as the sandbox refuses it (131047).
    let refused = refused_as_meta_would(&rig, JOAO, &text_to(JOAO, "Hello"), 131_047).await;
    assert_eq!(refused["code"], "window_closed");
    assert!(
        refused["next_step"]
            .as_str()
            .expect("next step")
            .contains("template")
    );

    // An unknown template (132001), and a known one with a parameter missing (132000).
    let unknown = template_to(JOAO, "no_such_template", &["x"]);
    refused_as_meta_would(&rig, JOAO, &unknown, 132_001).await;
    let short = template_to(JOAO, "repair_visit", &["João"]);
    refused_as_meta_would(&rig, JOAO, &short, 132_000).await;

    // A business-initiated template needs an opt-in, which Meta does not check: guichet does.
    let visit = template_to(JOAO, "repair_visit", &["João", "Monday"]);
    let (status, refused) = rig.post("/messages", &visit).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "[{b}] {refused:#}"
    );
    assert_eq!(refused["code"], "opt_in_missing");
    let (status, _) = rig
        .post(
            "/consents",
            &json!({ "to": JOAO, "value": "opt_in", "source": "web_form", "detail": "booking form" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "[{b}]");
    let (status, preflight) = rig.post("/messages/preflight", &visit).await;
    assert_eq!(status, StatusCode::OK, "[{b}]");
    assert_eq!(preflight["allowed"], true, "[{b}] {preflight:#}");
    assert_eq!(preflight["business_initiated"], true);
    assert_eq!(preflight["price"]["category"], "utility");
    assert_eq!(preflight["price"]["market"], "Brazil");
    let (status, sent) = rig.post("/messages", &visit).await;
    assert_eq!(status, StatusCode::ACCEPTED, "[{b}] {sent:#}");
    let visit_id = sent["id"].as_i64().expect("id");
    rig.wait_message(visit_id, "delivered", |m| {
        matches!(m["delivery"]["status"].as_str(), Some("delivered" | "read"))
    })
    .await;

    // The customer stops marketing with a keyword: guichet's own rule, before Meta's.
    rig.say(JOAO, NUMBER, "STOP");
    let offer = template_to(JOAO, "spring_offer", &["João"]);
    let mut code = Value::Null;
    for _ in 0..100 {
        let (_, answer) = rig.post("/messages/preflight", &offer).await;
        code = answer["code"].clone();
        if code == "marketing_stopped" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(code, "marketing_stopped", "[{b}]");

    // Where they disagree — guichet cannot know a number is not on WhatsApp — the sandbox's
    // answer is recorded and shown with its meaning and next step.
    rig.post(
        "/consents",
        &json!({ "to": NOBODY, "value": "opt_in", "source": "in_store" }),
    )
    .await;
    let (status, sent) = rig
        .post(
            "/messages",
            &template_to(NOBODY, "repair_visit", &["Lukas", "Friday"]),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "[{b}] {sent:#}");
    let failed = rig
        .wait_message(sent["id"].as_i64().expect("id"), "failed", |m| {
            m["delivery"]["status"] == "failed"
        })
        .await;
    let error = &failed["delivery"]["error"];
    assert_eq!(error["code"], 131_026, "[{b}] {failed:#}");
    assert!(error["meaning"].is_string() && error["next_step"].is_string());

    // A day later the window has closed: text is refused with how long ago it closed.
    rig.advance_ms(25 * 3600 * 1000);
    let late = text_to(CAMILLE, "Are you still there?");
    let refused = refused_as_meta_would(&rig, CAMILLE, &late, 131_047).await;
    assert_eq!(refused["code"], "window_closed");
    assert!(
        refused["detail"].as_str().expect("detail").contains("ago"),
        "{refused:#}"
    );

    // Costs: what was predicted, and what Meta billed, by category and market.
    let costs = rig.get("/costs").await;
    let lines = costs["lines"].as_array().expect("lines");
    let line = |category: &str, market: &str| {
        lines
            .iter()
            .find(|l| l["category"] == category && l["market"] == market)
            .unwrap_or_else(|| panic!("[{b}] no {category} {market} line: {costs:#}"))
    };
    let utility = line("utility", "Brazil");
    assert_eq!(utility["messages"], 1);
    assert_eq!(utility["predicted"], utility["billed"], "[{b}] {costs:#}");
    let service = line("service", "France");
    assert_eq!(service["predicted"], service["billed"], "[{b}] {costs:#}");
    assert_eq!(costs["sample_rates"], true);

    // `guichet costs` reads the same report from the database.
    let month = utility["month"].as_str().expect("month").to_owned();
    let cli: Value =
        serde_json::from_str(&guichet_costs(db, &["--json", "--month", &month])).expect("json");
    let api = rig.get(&format!("/costs?month={month}")).await;
    assert_eq!(cli["lines"], api["lines"], "[{b}]");
    let table = guichet_costs(db, &["--month", &month]);
    assert!(
        table.contains("utility") && table.contains("Brazil"),
        "{table}"
    );
    assert!(table.contains("SAMPLE"), "{table}");
    rig.stop().await;
}

#[tokio::test]
async fn media_and_templates_go_through_guichet() {
    let _side = rig::PACE.read().await;
    for db in TestDb::all().await {
        media_and_templates(&db).await;
    }
}

async fn media_and_templates(db: &TestDb) {
    let rig = Rig::start(db, Setup::default()).await;
    let b = rig.backend;
    rig.customer(CAMILLE);
    rig.say(CAMILLE, NUMBER, "Here is the error code");
    rig.wait_conversations(1).await;

    // A photo uploaded through guichet, then sent by its id.
    let png: &[u8] =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    let r = rig
        .http
        .post(format!("{}/api/v1/media?filename=leak.png", rig.hub))
        .bearer_auth(rig::API)
        .header("content-type", "image/png")
        .body(png.to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::OK, "[{b}]");
    let media: Value = r.json().await.expect("json");
    let media_id = media["id"].as_str().expect("media id").to_owned();
    let (status, sent) = rig
        .post(
            "/messages",
            &json!({ "to": CAMILLE, "type": "image",
                     "image": { "id": media_id, "caption": "Is it this part?" } }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "[{b}] {sent:#}");
    rig.wait_message(sent["id"].as_i64().expect("id"), "delivered", |m| {
        matches!(m["delivery"]["status"].as_str(), Some("delivered" | "read"))
    })
    .await;
    let received = rig.received(CAMILLE);
    assert_eq!(
        received[0]["message"]["image"]["id"],
        media_id.as_str(),
        "[{b}]"
    );

    // A template created through guichet: pending, then approved by Meta's review.
    let (status, created) = rig
        .post(
            "/templates",
            &json!({ "name": "order_shipped", "language": "en_US", "category": "UTILITY",
                     "components": [{ "type": "BODY", "text": "Order {{1}} has shipped.",
                                      "example": { "body_text": [["A-1042"]] } }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "[{b}] {created:#}");
    let listed = rig.get("/templates").await;
    let find = |list: &Value| {
        list["data"]
            .as_array()
            .expect("templates")
            .iter()
            .find(|t| t["name"] == "order_shipped")
            .cloned()
            .expect("the template is listed")
    };
    assert_eq!(find(&listed)["status"], "PENDING", "[{b}] {listed:#}");
    rig.advance_ms(10_000);
    let mut status = Value::Null;
    for _ in 0..200 {
        status = find(&rig.get("/templates").await)["status"].clone();
        if status == "APPROVED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, "APPROVED", "[{b}]");
    let (status, sent) = rig
        .post(
            "/messages",
            &template_to(CAMILLE, "order_shipped", &["A-1042"]),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "[{b}] {sent:#}");
    assert_eq!(sent["price"]["category"], "utility");

    // A sync reads them back from Meta.
    let (status, report) = rig.post("/templates/sync", &json!({})).await;
    assert_eq!(status, StatusCode::OK, "[{b}]");
    assert!(
        report["templates"].as_u64().expect("count") >= 1,
        "[{b}] {report:#}"
    );
    rig.stop().await;
}
