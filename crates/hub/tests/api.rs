//! The read API, auth, health and metrics, and several apps and numbers in one guichet — through
//! the real server, on SQLite and Postgres.

mod common;

use std::sync::Arc;

use common::*;
use hub::{ManualClock, Settings};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn the_api_needs_a_known_bearer_token() {
    let db = store::testing::TestDb::sqlite().await;
    let app = TestApp::spawn(&db).await;
    let url = format!("{}/api/v1/conversations", app.base);
    for (name, auth) in [
        ("none", None),
        ("wrong", Some("Bearer nope-nope-nope-nope")),
        ("basic", Some("Basic Zm9vOmJhcg==")),
    ] {
        let mut req = app.client.get(&url);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let r = req.send().await.expect("request");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        let e: Value = r.json().await.expect("json");
        assert_eq!(e["code"], "unauthorized", "{name}");
    }
    let (status, body) = app.api("/conversations").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"data": [], "next_cursor": null}));
    app.stop().await;
}

#[tokio::test]
async fn conversations_are_listed_newest_first_filtered_and_paginated() {
    each_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        for i in 0..5_i64 {
            let from = format!("3361234567{i}");
            app.deliver(&messages(
                &from,
                &format!("C{i}"),
                vec![text(&format!("wamid.L{i}"), &from, 1_795_000_000 + i, "hi")],
            ))
            .await;
        }
        app.drained().await;
        let (s, page1) = app.api("/conversations?limit=2").await;
        assert_eq!(s, StatusCode::OK);
        let names = |page: &Value| -> Vec<String> {
            page["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|c| c["contact"]["name"].as_str().unwrap_or_default().to_owned())
                .collect()
        };
        assert_eq!(names(&page1), ["C4", "C3"], "{:?}", db.backend);
        let cursor = page1["next_cursor"].as_str().expect("more pages");
        let (_, page2) = app
            .api(&format!("/conversations?limit=2&cursor={cursor}"))
            .await;
        assert_eq!(names(&page2), ["C2", "C1"]);
        let (_, page3) = app
            .api(&format!(
                "/conversations?limit=2&cursor={}",
                page2["next_cursor"].as_str().expect("more")
            ))
            .await;
        assert_eq!(names(&page3), ["C0"]);
        assert_eq!(page3["next_cursor"], Value::Null);

        let (_, open) = app
            .api(&format!(
                "/conversations?status=open&phone_number_id={NUMBER}"
            ))
            .await;
        assert_eq!(open["data"].as_array().map(Vec::len), Some(5));
        let (_, none) = app.api("/conversations?status=resolved").await;
        assert_eq!(none["data"].as_array().map(Vec::len), Some(0));
        let (_, other) = app.api("/conversations?phone_number_id=999").await;
        assert_eq!(other["data"].as_array().map(Vec::len), Some(0));

        let c = &page1["data"][0];
        assert_eq!(c["phone_number_id"], NUMBER);
        assert_eq!(c["status"], "open");
        assert_eq!(c["unread_count"], 1);
        assert_eq!(c["contact"]["phone"], "+33612345674");
        assert_eq!(c["last_message_at"], "2026-11-18T11:06:44Z");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn bad_queries_and_unknown_ids_get_errors_in_one_shape() {
    let db = store::testing::TestDb::sqlite().await;
    let app = TestApp::spawn(&db).await;
    for (path, status, code) in [
        (
            "/conversations?status=closed",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/conversations?limit=0",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/conversations?limit=lots",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/conversations?cursor=garbage",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "/conversations?colour=blue",
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        ("/conversations/999", StatusCode::NOT_FOUND, "not_found"),
        ("/conversations/abc", StatusCode::NOT_FOUND, "not_found"),
        (
            "/conversations/-1/messages",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/conversations/999/messages",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        ("/contacts/999", StatusCode::NOT_FOUND, "not_found"),
        ("/nothing-here", StatusCode::NOT_FOUND, "not_found"),
    ] {
        let (s, body) = app.api(path).await;
        assert_eq!(s, status, "{path}");
        assert_eq!(body["code"], code, "{path}: {body}");
        assert!(
            body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{path}"
        );
    }
    let (_, body) = app.api("/conversations?status=closed").await;
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("open, pending, resolved")),
        "{body}"
    );
    app.stop().await;
}

/// Messages are shown in Meta's order, whatever order their webhooks arrived in.
#[tokio::test]
async fn messages_in_metas_order_with_their_window() {
    each_backend(|db| async move {
        let clock = Arc::new(ManualClock::at_ms(1_795_000_000_000 + 3_600_000));
        let app = TestApp::spawn_with(&db, &[], clock.clone()).await;
        let from = "16505551234";
        for (wamid, ts) in [
            ("wamid.M3", 1_795_000_030),
            ("wamid.M1", 1_795_000_010),
            ("wamid.M2", 1_795_000_020),
        ] {
            app.deliver(&messages(from, "Ana", vec![text(wamid, from, ts, wamid)]))
                .await;
        }
        app.drained().await;
        let (_, list) = app.api("/conversations").await;
        let conv = &list["data"][0];
        let id = conv["id"].as_i64().expect("id");
        assert_eq!(conv["window"]["state"], "open");
        assert_eq!(conv["window"]["closes_at"], "2026-11-19T11:07:10Z");
        assert_eq!(conv["window"]["remaining_seconds"], 86_400 - 3600 + 30);
        let (_, msgs) = app.api(&format!("/conversations/{id}/messages")).await;
        let order: Vec<_> = msgs["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|m| m["wamid"].clone())
            .collect();
        assert_eq!(
            order,
            [json!("wamid.M1"), json!("wamid.M2"), json!("wamid.M3")],
            "{:?}",
            db.backend
        );
        let (_, desc) = app
            .api(&format!("/conversations/{id}/messages?order=desc&limit=2"))
            .await;
        let order: Vec<_> = desc["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|m| m["wamid"].clone())
            .collect();
        assert_eq!(order, [json!("wamid.M3"), json!("wamid.M2")]);
        let (_, rest) = app
            .api(&format!(
                "/conversations/{id}/messages?order=desc&cursor={}",
                desc["next_cursor"].as_str().expect("cursor")
            ))
            .await;
        assert_eq!(rest["data"][0]["wamid"], "wamid.M1");
        let m = &msgs["data"][0];
        assert_eq!(m["direction"], "inbound");
        assert_eq!(m["content"], json!({"kind": "text", "body": "wamid.M1"}));
        assert_eq!(m["timestamp"], "2026-11-18T11:06:50Z");

        // A day later the window has closed, and the API says what to do.
        clock.advance(86_400_000);
        let (_, c) = app.api(&format!("/conversations/{id}")).await;
        assert_eq!(c["window"]["state"], "closed");
        assert!(
            c["window"]["next_step"]
                .as_str()
                .is_some_and(|s| s.contains("send an approved template")),
            "{c}"
        );
        app.stop().await;
    })
    .await;
}

/// A failed status carries its classified error onto the message, with Meta's meaning and the
/// next step.
#[tokio::test]
async fn failures_are_shown_with_their_meaning_and_next_step() {
    each_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        app.deliver(&echo("wamid.F", "16505551234", 1_795_000_000, "Big sale!"))
            .await;
        app.deliver(&statuses(vec![
            status("wamid.F", "sent", 1_795_000_001),
            status("wamid.F", "failed", 1_795_000_002),
        ]))
        .await;
        app.drained().await;
        let (_, list) = app.api("/conversations").await;
        let id = list["data"][0]["id"].as_i64().expect("id");
        let (_, msgs) = app.api(&format!("/conversations/{id}/messages")).await;
        let d = &msgs["data"][0]["delivery"];
        assert_eq!(d["status"], "failed", "{:?}: {d}", db.backend);
        assert_eq!(d["error"]["code"], 131_049);
        assert_eq!(d["error"]["class"], "retry_later");
        assert!(
            d["error"]["meaning"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        assert!(
            d["error"]["next_step"]
                .as_str()
                .is_some_and(|m| m.contains("24")),
            "{d}"
        );
        assert!(
            d["error"]["details"]
                .as_str()
                .is_some_and(|m| m.contains("healthy ecosystem"))
        );
        assert_eq!(msgs["data"][0]["direction"], "echo");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn contacts_show_identity_and_consent_history() {
    each_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        let msg = envelope(json!({
            "messaging_product": "whatsapp",
            "metadata": metadata(),
            "contacts": [{ "profile": { "name": "Ana", "username": "@ana" }, "wa_id": "16505551234", "user_id": "US.134912", "parent_user_id": "US.ENT.1" }],
            "messages": [text("wamid.K", "16505551234", 1_795_000_000, "stop promos please")],
        }));
        app.deliver(&msg).await;
        let pref = |value: &str, ts: i64| {
            json!({
                "object": "whatsapp_business_account",
                "entry": [{ "id": WABA, "changes": [{ "field": "user_preferences", "value": {
                    "messaging_product": "whatsapp",
                    "metadata": metadata(),
                    "contacts": [{ "profile": { "name": "Ana" }, "wa_id": "16505551234", "user_id": "US.134912" }],
                    "user_preferences": [{ "wa_id": "16505551234", "detail": "User requested to stop marketing messages",
                        "category": "marketing_messages", "value": value, "timestamp": ts }]
                }}]}]
            })
        };
        app.deliver(&pref("stop", 1_795_000_100)).await;
        app.deliver(&pref("stop", 1_795_000_100)).await;
        app.deliver(&pref("resume", 1_795_000_050)).await;
        app.drained().await;
        let (_, list) = app.api("/conversations").await;
        let contact_id = list["data"][0]["contact"]["id"].as_i64().expect("id");
        let (s, c) = app.api(&format!("/contacts/{contact_id}")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(c["user_id"], "US.134912", "{:?}: {c}", db.backend);
        assert_eq!(c["parent_user_id"], "US.ENT.1");
        assert_eq!(c["username"], "@ana");
        assert_eq!(c["phone"], "+16505551234");
        assert_eq!(c["marketing"]["value"], "stop", "the older `resume` does not win");
        let consents = c["consents"].as_array().expect("consents");
        assert_eq!(consents.len(), 2, "the duplicate is stored once: {consents:?}");
        assert_eq!(consents[0]["value"], "resume");
        assert_eq!(consents[1]["value"], "stop");
        app.stop().await;
    })
    .await;
}

/// A customer known by phone before 2026 keeps one record when their BSUID appears, and a user
/// with a username (no phone) is a contact of its own.
#[tokio::test]
async fn contacts_are_keyed_by_bsuid_with_phone_as_an_attribute() {
    each_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        app.deliver(&messages("16505551234", "Ana", vec![text("wamid.B1", "16505551234", 1_795_000_000, "before")])).await;
        let with_bsuid = envelope(json!({
            "messaging_product": "whatsapp", "metadata": metadata(),
            "contacts": [{ "profile": { "name": "Ana B." }, "wa_id": "16505551234", "user_id": "US.777" }],
            "messages": [text("wamid.B2", "16505551234", 1_795_000_001, "after")],
        }));
        app.deliver(&with_bsuid).await;
        let username_only = envelope(json!({
            "messaging_product": "whatsapp", "metadata": metadata(),
            "contacts": [{ "profile": { "name": "Zed", "username": "@zed" }, "user_id": "US.888" }],
            "messages": [{ "from_user_id": "US.888", "id": "wamid.B3", "timestamp": "1795000002", "type": "text", "text": { "body": "hi" } }],
        }));
        app.deliver(&username_only).await;
        app.drained().await;
        let (_, list) = app.api("/conversations").await;
        let convs = list["data"].as_array().expect("data");
        assert_eq!(convs.len(), 2, "{:?}: {list}", db.backend);
        let zed = &convs[0]["contact"];
        assert_eq!((zed["user_id"].clone(), zed["phone"].clone(), zed["username"].clone()), (json!("US.888"), Value::Null, json!("@zed")));
        let ana = &convs[1];
        assert_eq!(ana["contact"]["user_id"], "US.777");
        assert_eq!(ana["contact"]["name"], "Ana B.");
        assert_eq!(ana["message_count"], 2);
        app.stop().await;
    })
    .await;
}

/// Several Meta apps, each with its own secret, and numbers in different portfolios.
#[tokio::test]
async fn several_apps_and_numbers_in_one_guichet() {
    each_backend(|db| async move {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("guichet.toml");
        std::fs::write(
            &path,
            r#"
[[apps]]
name = "shop"
secret = "shop-secret"
[[apps]]
name = "clinic"
secret = "clinic-secret"
[[numbers]]
phone_number_id = "111"
waba_id = "1000"
app = "shop"
portfolio = "shop-co"
[[numbers]]
phone_number_id = "222"
waba_id = "2000"
app = "clinic"
portfolio = "clinic-co"
"#,
        )
        .expect("write");
        let mut env = [
            ("GUICHET_DATABASE_URL", db.url.as_str()),
            ("GUICHET_API_TOKEN", API_TOKEN),
            ("GUICHET_INGEST__POLL_INTERVAL_MS", "50"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec();
        env.extend(shared_media_dir(&db.url).map(|d| ("GUICHET_MEDIA__DIR".to_owned(), d)));
        let settings = Settings::load_from(Some(&path), env).expect("valid");
        let app = TestApp::spawn_settings(&db.url, settings, Arc::new(ManualClock::at_ms(NOW_MS))).await;
        let for_number = |number: &str, wamid: &str| {
            json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "1555", "phone_number_id": number},
                "contacts": [{"profile": {"name": "Same person"}, "wa_id": "16505551234", "user_id": "US.1"}],
                "messages": [text(wamid, "16505551234", 1_795_000_000, "hi")]}}]}]})
            .to_string()
        };
        let shop = for_number("111", "wamid.S");
        let clinic = for_number("222", "wamid.C");
        let sign = |secret: &str, body: &str| wa::signature::sign(secret.as_bytes(), body.as_bytes());
        assert_eq!(app.post_raw(shop.as_bytes(), Some(&sign("shop-secret", &shop))).await.status(), StatusCode::OK);
        assert_eq!(app.post_raw(clinic.as_bytes(), Some(&sign("clinic-secret", &clinic))).await.status(), StatusCode::OK);
        let wrong = for_number("222", "wamid.X");
        assert_eq!(app.post_raw(wrong.as_bytes(), Some(&sign("nobody", &wrong))).await.status(), StatusCode::UNAUTHORIZED);
        app.drained().await;
        let (_, list) = app.api("/conversations").await;
        let convs = list["data"].as_array().expect("data");
        assert_eq!(convs.len(), 2, "{:?}", db.backend);
        let contacts: Vec<_> = convs.iter().map(|c| c["contact"]["id"].clone()).collect();
        assert_ne!(contacts[0], contacts[1], "a BSUID is scoped to one portfolio: two contacts");
        let (_, only_shop) = app.api("/conversations?phone_number_id=111").await;
        assert_eq!(only_shop["data"].as_array().map(Vec::len), Some(1));
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    each_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
        let ready = app.get("/readyz").await;
        assert_eq!(ready.status(), StatusCode::OK);
        app.deliver(&messages(
            "1555000",
            "A",
            vec![text("wamid.H", "1555000", 1, "x")],
        ))
        .await;
        app.deliver(&messages(
            "1555000",
            "A",
            vec![text("wamid.H", "1555000", 1, "x")],
        ))
        .await;
        app.drained().await;
        // Ingest counts its latency just after its commit, which is what `drained` sees.
        for _ in 0..200 {
            if app.metric("guichet_ingest_latency_seconds_count").await >= 1.0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let metrics = app.get("/metrics").await;
        assert!(
            metrics.headers()["content-type"]
                .to_str()
                .expect("ascii")
                .starts_with("application/openmetrics-text")
        );
        let text = metrics.text().await.expect("text");
        for name in [
            "guichet_webhook_requests_total{outcome=\"accepted\"} 1",
            "guichet_webhook_requests_total{outcome=\"duplicate\"} 1",
            "guichet_ingest_items_total{item=\"message\",outcome=\"new\"} 1",
            "guichet_ingest_backlog 0",
            "guichet_ingest_latency_seconds_count 1",
            "guichet_webhook_ack_seconds_count 2",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
        assert!(!text.contains("1555000"), "no phone number in metrics");
        app.stop().await;
    })
    .await;
}

/// Graceful shutdown: what was acknowledged before the stop is stored, and ingested after.
#[tokio::test]
async fn shutdown_finishes_in_flight_work() {
    each_backend(|db| async move {
        let app = TestApp::spawn(&db).await;
        let bodies: Vec<String> = (0..40)
            .map(|i| {
                messages(
                    "16505551234",
                    "Ana",
                    vec![text(
                        &format!("wamid.G{i}"),
                        "16505551234",
                        1_795_000_000 + i,
                        "g",
                    )],
                )
                .to_string()
            })
            .collect();
        let answers = futures::future::join_all(bodies.iter().map(|b| app.post_signed(b))).await;
        assert!(answers.iter().all(|r| r.status() == StatusCode::OK));
        app.stop().await;
        let app = TestApp::spawn(&db).await;
        app.drained().await;
        for i in 0..40 {
            assert!(
                app.store
                    .message_by_wamid(&format!("wamid.G{i}"))
                    .await
                    .expect("read")
                    .is_some(),
                "G{i} ({:?})",
                db.backend
            );
        }
        app.stop().await;
    })
    .await;
}
