//! The agent inbox through the real server on a random port, on both backends: the list's tabs,
//! counts, filters and search; taking, labelling, resolving, reopening, handing to the bot and
//! back, with the thread telling each change; private notes; the composer's preflight and sends
//! (inside and outside the 24 h window); the live feed, and how it ends with the session; and
//! ids that are not there (T-24: the same 404 for every kind).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::browser::{ADMIN, ADMIN_PASSWORD, AGENT, AGENT_PASSWORD, Browser, user_id};
use common::{NOW_MS, TestApp, each_backend, messages, text};
use reqwest::StatusCode;
use serde_json::Value;

const ANA: &str = "16505550101";
const BEN: &str = "16505550102";

/// Two customers write: Ana about a broken washer, Ben about an order.
async fn two_customers(app: &TestApp) -> (i64, i64) {
    let now = NOW_MS / 1000;
    app.deliver(&messages(
        ANA,
        "Ana Lima",
        vec![text("wamid.ana1", ANA, now - 60, "my washer is *broken*")],
    ))
    .await;
    app.deliver(&messages(
        BEN,
        "Ben Okafor",
        vec![text("wamid.ben1", BEN, now - 30, "where is order 42?")],
    ))
    .await;
    app.drained().await;
    let (_, list) = app.api("/conversations").await;
    let id_of = |wa: &str| {
        list["data"]
            .as_array()
            .expect("list")
            .iter()
            .find(|c| c["contact"]["wa_id"] == wa)
            .and_then(|c| c["id"].as_i64())
            .expect("conversation")
    };
    (id_of(ANA), id_of(BEN))
}

async fn signed_in(app: &TestApp, user: &str, password: &str) -> Browser {
    let mut b = Browser::new(app);
    let page = b.login(user, password).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    b
}

/// Nothing leaves for Meta in these tests: the outbox queues. Sessions outlive the day the
/// clock jumps to close a window.
async fn app(db: &store::testing::TestDb) -> TestApp {
    let app = TestApp::spawn_with(
        db,
        &[
            ("GUICHET_OUTBOUND__PAUSED", "true"),
            ("GUICHET_UI__SESSION_IDLE_MINUTES", "43200"),
            ("GUICHET_UI__SESSION_MAX_HOURS", "8760"),
        ],
        Arc::new(hub::ManualClock::at_ms(NOW_MS)),
    )
    .await;
    with_users_on(&app).await;
    app
}

async fn with_users_on(app: &TestApp) {
    for (name, display, role, password) in [
        (
            ADMIN,
            "Camille Martin",
            hub::ui::Role::Admin,
            ADMIN_PASSWORD,
        ),
        (AGENT, "João Silva", hub::ui::Role::Agent, AGENT_PASSWORD),
    ] {
        hub::ui::auth::accounts::add_user(
            app.store.as_ref(),
            name,
            display,
            role,
            password,
            NOW_MS,
        )
        .await
        .expect("add user");
    }
}

#[tokio::test]
async fn the_list_has_tabs_counts_filters_and_search() {
    each_backend(|db| async move {
        let app = app(&db).await;
        let (ana, _ben) = two_customers(&app).await;
        let mut camille = signed_in(&app, ADMIN, ADMIN_PASSWORD).await;

        let page = camille.get("/inbox").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(page.body.contains("Ana Lima") && page.body.contains("Ben Okafor"));
        // Both open and unread, nobody holds them.
        assert!(
            page.body.contains(r#"Open<span class="count">2</span>"#),
            "{}",
            page.body
        );
        assert!(
            page.body
                .contains(r#"Unassigned<span class="count">2</span>"#)
        );
        assert!(page.body.contains(r#"title="1 unread""#));

        let found = camille.get("/inbox/list?q=WASHER").await;
        assert!(
            found.body.contains("Ana Lima") && !found.body.contains("Ben Okafor"),
            "{}",
            found.body
        );
        let found = camille.get("/inbox/list?q=%2B1650555010").await;
        assert!(found.body.contains("Ana Lima") && found.body.contains("Ben Okafor"));
        // An empty filter from the form is no filter, not a bad request.
        let found = camille
            .get("/inbox?status=open&who=all&number=&label=&q=")
            .await;
        assert_eq!(found.status, StatusCode::OK);

        // Reading a conversation clears its unread marker for this agent only.
        let opened = camille.get(&format!("/inbox/{ana}")).await;
        assert_eq!(opened.status, StatusCode::OK);
        assert!(opened.body.contains("my washer is "), "{}", opened.body);
        assert!(
            opened.body.contains(r#"<span class="b">broken</span>"#),
            "formatting: {}",
            opened.body
        );
        let list = camille.get("/inbox/list").await;
        assert_eq!(list.body.matches(r#"title="1 unread""#).count(), 1);
        let mut joao = signed_in(&app, AGENT, AGENT_PASSWORD).await;
        let list = joao.get("/inbox/list").await;
        assert_eq!(list.body.matches(r#"title="1 unread""#).count(), 2);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn work_on_a_conversation_is_recorded_and_shown() {
    each_backend(|db| async move {
        let app = app(&db).await;
        let (ana, ben) = two_customers(&app).await;
        let mut camille = signed_in(&app, ADMIN, ADMIN_PASSWORD).await;
        let csrf = camille.token().await;
        let post = |path: String, fields: Vec<(&'static str, String)>| (path, fields);
        let camille_id = user_id(app.store.as_ref(), ADMIN).await;
        let joao_id = user_id(app.store.as_ref(), AGENT).await;
        for (path, fields) in [
            post(format!("/inbox/{ana}/take"), vec![]),
            post(
                format!("/inbox/{ana}/labels"),
                vec![("labels", "warranty, Urgent".into())],
            ),
            post(
                format!("/inbox/{ana}/handler"),
                vec![("handler", "bot".into())],
            ),
            post(format!("/inbox/{ana}/take"), vec![]),
            post(
                format!("/inbox/{ana}/status"),
                vec![("status", "resolved".into())],
            ),
            post(
                format!("/inbox/{ana}/status"),
                vec![("status", "open".into())],
            ),
            post(
                format!("/inbox/{ben}/assign"),
                vec![("assignee", joao_id.to_string())],
            ),
            post(
                format!("/inbox/{ana}/send"),
                vec![("mode", "note".into()), ("text", "call her back".into())],
            ),
        ] {
            let mut f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            f.push(("_csrf", &csrf));
            let page = camille.post(&path, &f).await;
            assert_eq!(page.status, StatusCode::SEE_OTHER, "{path}: {}", page.body);
        }
        let item = app
            .store
            .inbox_item(ana, camille_id)
            .await
            .expect("read")
            .expect("there");
        assert_eq!(item.assignee_id, Some(camille_id));
        assert_eq!(item.handler, "human");
        assert_eq!(item.view.conversation.status, "open");
        assert_eq!(item.labels(), ["Urgent", "warranty"]);
        let ben_item = app
            .store
            .inbox_item(ben, camille_id)
            .await
            .expect("read")
            .expect("there");
        assert_eq!(ben_item.assignee_id, Some(joao_id));

        let thread = camille.get(&format!("/inbox/{ana}/thread")).await;
        for line in [
            "Camille Martin took the conversation",
            "Camille Martin labelled it warranty, Urgent",
            "Camille Martin handed it to the bot",
            "Camille Martin took over from the bot",
            "Camille Martin resolved it",
            "Camille Martin reopened it",
            "call her back",
        ] {
            assert!(thread.body.contains(line), "{line}: {}", thread.body);
        }
        // Assigning to someone who cannot take conversations is refused.
        let page = camille
            .post(
                &format!("/inbox/{ben}/assign"),
                &[("assignee", "999999"), ("_csrf", &csrf)],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        let page = camille
            .post(
                &format!("/inbox/{ben}/status"),
                &[("status", "archived"), ("_csrf", &csrf)],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_composer_checks_before_sending_and_the_window_decides() {
    each_backend(|db| async move {
        let app = app(&db).await;
        let (ana, _) = two_customers(&app).await;
        let mut joao = signed_in(&app, AGENT, AGENT_PASSWORD).await;
        let csrf = joao.token().await;
        let json = [("accept", "application/json")];

        let empty = joao
            .post_with(
                &format!("/inbox/{ana}/preflight"),
                &[("mode", "text"), ("text", " "), ("_csrf", &csrf)],
                &json,
            )
            .await;
        let v: Value = serde_json::from_str(&empty.body).expect("json");
        assert_eq!(v["ok"], false, "{v}");
        assert!(
            v["detail"].as_str().is_some_and(|d| d.contains("empty")),
            "{v}"
        );

        let fine = joao
            .post_with(
                &format!("/inbox/{ana}/preflight"),
                &[("mode", "text"), ("text", "On our way"), ("_csrf", &csrf)],
                &json,
            )
            .await;
        let v: Value = serde_json::from_str(&fine.body).expect("json");
        assert_eq!(v["ok"], true, "{v}");
        assert_eq!(v["price"]["category"], "service", "{v}");

        let sent = joao
            .post_with(
                &format!("/inbox/{ana}/send"),
                &[("mode", "text"), ("text", "On our way"), ("_csrf", &csrf)],
                &json,
            )
            .await;
        assert_eq!(sent.status, StatusCode::OK, "{}", sent.body);
        let v: Value = serde_json::from_str(&sent.body).expect("json");
        let message_id = v["message_id"].as_i64().expect("id");
        let joao_id = user_id(app.store.as_ref(), AGENT).await;
        assert_eq!(
            app.store.authors(&[message_id]).await.expect("authors"),
            [(message_id, "agent".to_owned(), Some(joao_id))]
        );
        // Replying takes an unassigned conversation.
        let item = app
            .store
            .inbox_item(ana, joao_id)
            .await
            .expect("read")
            .expect("there");
        assert_eq!(item.assignee_id, Some(joao_id));
        let thread = joao.get(&format!("/inbox/{ana}/thread")).await;
        assert!(
            thread.body.contains("On our way") && thread.body.contains("João Silva"),
            "{}",
            thread.body
        );

        // 25 hours later the window is closed: free text is refused before and when sending.
        app.clock.advance(25 * 3_600_000);
        let thread = joao.get(&format!("/inbox/{ana}/thread")).await;
        assert!(thread.body.contains("window closed"), "{}", thread.body);
        let refused = joao
            .post_with(
                &format!("/inbox/{ana}/send"),
                &[("mode", "text"), ("text", "Still there?"), ("_csrf", &csrf)],
                &json,
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        let v: Value = serde_json::from_str(&refused.body).expect("json");
        assert!(
            v["next_step"]
                .as_str()
                .is_some_and(|n| n.contains("template")),
            "{v}"
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_live_feed_tells_changes_and_ends_with_the_session() {
    each_backend(|db| async move {
        let app = app(&db).await;
        let (ana, _) = two_customers(&app).await;
        let joao = signed_in(&app, AGENT, AGENT_PASSWORD).await;
        let cookie = joao
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = reqwest::Client::new()
            .get(format!("{}/inbox/events", app.base))
            .header("cookie", cookie)
            .send()
            .await
            .expect("feed");
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|t| t.starts_with("text/event-stream"))
        );
        let mut response = response;
        let mut seen = String::new();
        let mut next_chunk = async |seen: &mut String| {
            let chunk = tokio::time::timeout(Duration::from_secs(20), response.chunk())
                .await
                .expect("the feed says something within 20 s")
                .expect("chunk");
            match chunk {
                Some(c) => {
                    seen.push_str(&String::from_utf8_lossy(&c));
                    true
                }
                None => false,
            }
        };

        // A customer writes: the feed names the change and the conversation.
        app.deliver(&messages(
            ANA,
            "Ana Lima",
            vec![text("wamid.ana2", ANA, NOW_MS / 1000, "hello again")],
        ))
        .await;
        while !seen.contains(&format!(r#""conversation_id":{ana}"#)) {
            assert!(next_chunk(&mut seen).await, "the feed ended early: {seen}");
        }
        assert!(
            seen.contains("event: change") && seen.contains("message.received"),
            "{seen}"
        );

        // The agent is disabled: the feed says so and ends.
        let id = user_id(app.store.as_ref(), AGENT).await;
        app.store.disable_user(id, NOW_MS).await.expect("disable");
        while next_chunk(&mut seen).await {}
        assert!(seen.contains("event: signed_out"), "{seen}");
        app.stop().await;
    })
    .await;
}

/// T-24: every route with an id answers the same 404 for an id that is not there, and for one
/// that is not an id at all.
#[tokio::test]
async fn ids_that_are_not_there_are_not_found() {
    each_backend(|db| async move {
        let app = app(&db).await;
        let mut camille = signed_in(&app, ADMIN, ADMIN_PASSWORD).await;
        let csrf = camille.token().await;
        for path in [
            "/inbox/999999",
            "/inbox/abc",
            "/inbox/0/thread",
            "/inbox/-1/panel",
            "/media/999999",
            "/media/x",
        ] {
            let page = camille.get(path).await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.body);
        }
        for path in [
            "/inbox/999999/take",
            "/inbox/999999/status",
            "/inbox/999999/labels",
            "/inbox/999999/send",
            "/inbox/999999/consent",
            "/settings/canned/999999/delete",
        ] {
            let page = camille
                .post(
                    path,
                    &[
                        ("_csrf", &csrf),
                        ("status", "open"),
                        ("value", "opt_in"),
                        ("source", "chat"),
                    ],
                )
                .await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}: {}", page.body);
        }
        app.stop().await;
    })
    .await;
}

/// Canned replies: saved with a shortcut, offered in the composer, deleted.
#[tokio::test]
async fn canned_replies_are_kept_and_offered() {
    each_backend(|db| async move {
        let app = app(&db).await;
        let (ana, _) = two_customers(&app).await;
        let mut camille = signed_in(&app, ADMIN, ADMIN_PASSWORD).await;
        let csrf = camille.token().await;
        let bad = camille
            .post(
                "/settings/canned",
                &[
                    ("_csrf", &csrf),
                    ("shortcut", "no spaces"),
                    ("title", "x"),
                    ("body", "y"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("The shortcut is"), "{}", bad.body);
        let ok = camille
            .post(
                "/settings/canned",
                &[
                    ("_csrf", &csrf),
                    ("shortcut", "/hours"),
                    ("title", "Opening hours"),
                    ("body", "We open at 9, {{name}}."),
                ],
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
        let conversation = camille.get(&format!("/inbox/{ana}")).await;
        assert!(
            conversation
                .body
                .contains(r#"data-body="We open at 9, {{name}}.""#),
            "{}",
            conversation.body
        );
        let replies = app.store.canned_replies().await.expect("canned");
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].shortcut, "hours");
        let gone = camille
            .post(
                &format!("/settings/canned/{}/delete", replies[0].id),
                &[("_csrf", &csrf)],
            )
            .await;
        assert_eq!(gone.status, StatusCode::SEE_OTHER);
        assert!(app.store.canned_replies().await.expect("canned").is_empty());
        app.stop().await;
    })
    .await;
}

/// T-21 for the inbox's routes: without the token, with a forged one, from another origin,
/// marked cross-site, and as GET — all refused, and the conversation is as it was.
#[tokio::test]
async fn inbox_changes_cannot_be_forged() {
    each_backend(|db| async move {
        let app = app(&db).await;
        let (ana, _) = two_customers(&app).await;
        let mut camille = signed_in(&app, ADMIN, ADMIN_PASSWORD).await;
        let token = camille.token().await;
        let me = user_id(app.store.as_ref(), ADMIN).await;
        let before = app.store.inbox_item(ana, me).await.expect("read");
        let routes: Vec<(String, Vec<(&str, &str)>)> = vec![
            (format!("/inbox/{ana}/take"), vec![]),
            (format!("/inbox/{ana}/assign"), vec![("assignee", "me")]),
            (format!("/inbox/{ana}/status"), vec![("status", "resolved")]),
            (format!("/inbox/{ana}/handler"), vec![("handler", "bot")]),
            (format!("/inbox/{ana}/labels"), vec![("labels", "forged")]),
            (
                format!("/inbox/{ana}/consent"),
                vec![("value", "opt_in"), ("source", "chat")],
            ),
            (
                format!("/inbox/{ana}/send"),
                vec![("mode", "text"), ("text", "forged")],
            ),
            (
                format!("/inbox/{ana}/send"),
                vec![("mode", "note"), ("text", "forged")],
            ),
            (format!("/inbox/{ana}/attach"), vec![]),
            (
                "/settings/canned".into(),
                vec![("shortcut", "x"), ("title", "x"), ("body", "x")],
            ),
        ];
        for (path, fields) in &routes {
            let with_token: Vec<(&str, &str)> = [&[("_csrf", token.as_str())][..], fields].concat();
            camille.forge(path, fields, &token).await;
            let query = serde_urlencoded::to_string(&with_token).expect("query");
            let page = camille.get(&format!("{path}?{query}")).await;
            let expected = if path == "/settings/canned" {
                StatusCode::OK
            } else {
                StatusCode::METHOD_NOT_ALLOWED
            };
            assert_eq!(page.status, expected, "GET {path}");
        }
        assert_eq!(app.store.inbox_item(ana, me).await.expect("read"), before);
        assert!(app.store.notes(ana).await.expect("notes").is_empty());
        assert!(app.store.canned_replies().await.expect("canned").is_empty());
        let c = app
            .store
            .conversation(ana)
            .await
            .expect("read")
            .expect("there");
        assert!(
            app.store
                .consents(c.conversation.contact_id)
                .await
                .expect("consents")
                .is_empty()
        );

        // The transcript is a plain-text download.
        let response = reqwest::Client::new()
            .get(format!("{}/inbox/{ana}/transcript", app.base))
            .header(
                "cookie",
                camille
                    .cookies
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; "),
            )
            .send()
            .await
            .expect("transcript");
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
        assert!(
            headers["content-disposition"]
                .to_str()
                .expect("ascii")
                .starts_with("attachment")
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let body = response.text().await.expect("body");
        assert!(body.contains("Ana Lima: my washer is *broken*"), "{body}");
        app.stop().await;
    })
    .await;
}
