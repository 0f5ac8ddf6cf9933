//! One story, told against every backend: what the hub relies on the store for.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use store::testing::TestDb;
use store::*;

fn event(body: &str) -> NewInboundEvent {
    NewInboundEvent {
        body_sha256: Sha256::digest(body.as_bytes()).into(),
        body: Bytes::copy_from_slice(body.as_bytes()),
        app: "main".into(),
        received_at_ms: 1_000,
    }
}

fn contact(wa_id: &str) -> ContactFields {
    ContactFields {
        portfolio: "default".into(),
        wa_id: Some(wa_id.into()),
        phone: Some(format!("+{wa_id}")),
        profile_name: Some("Ana".into()),
        ..ContactFields::default()
    }
}

fn message(conversation_id: i64, wamid: &str, meta_at: i64) -> NewMessage {
    NewMessage {
        conversation_id,
        wamid: Some(wamid.into()),
        direction: Direction::Inbound,
        kind: "text".into(),
        meta_at,
        received_at_ms: 2_000,
        preview: Some("hello".into()),
        content: r#"{"kind":"text","body":"hello"}"#.into(),
        raw: None,
        context_wamid: None,
        referral: None,
        errors: None,
        delivery: None,
        category: None,
        business_initiated: false,
        biz_opaque: None,
    }
}

fn status(wamid: &str, status: &str, meta_at: i64) -> NewStatus {
    NewStatus {
        wamid: wamid.into(),
        status: status.into(),
        meta_at,
        phone_number_id: "106540352242922".into(),
        recipient_id: Some("16505551234".into()),
        recipient_user_id: None,
        error_code: None,
        errors: None,
        pricing_model: Some("PMP".into()),
        pricing_type: Some("regular".into()),
        pricing_category: Some("utility".into()),
        billable: Some(true),
        conversation: None,
        biz_opaque: None,
        received_at_ms: 3_000,
    }
}

#[tokio::test]
async fn inbound_journal_appends_and_claims_in_order() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let ids = store
            .append_inbound(&[event("one"), event("two")])
            .await
            .expect("append");
        assert_eq!(ids.len(), 2, "{b:?}");
        assert!(ids[0] < ids[1], "{b:?}: ids follow the batch's order");
        let more = store
            .append_inbound(&[event("three-a"), event("three-b"), event("three-c")])
            .await
            .expect("append");
        assert!(
            more.windows(2).all(|w| w[0] < w[1]) && more[0] > ids[1],
            "{b:?}: {more:?}"
        );
        assert_eq!(
            store.inbound_event_count().await.expect("count"),
            5,
            "{b:?}"
        );
        let hashes = store.latest_inbound_hashes(2).await.expect("hashes");
        assert_eq!(
            hashes,
            [event("three-b").body_sha256, event("three-c").body_sha256],
            "{b:?}: the latest, oldest first"
        );

        let mut tx = store.begin().await.expect("begin");
        let claimed = tx.claim_inbound(2).await.expect("claim");
        let bodies: Vec<_> = claimed.iter().map(|e| e.body.as_slice()).collect();
        assert_eq!(
            bodies,
            vec![&b"one"[..], &b"two"[..]],
            "{b:?}: oldest first"
        );
        tx.finish_inbound(claimed[0].id, InboundState::Done, None, 5)
            .await
            .expect("finish");
        tx.finish_inbound(claimed[1].id, InboundState::Failed, Some("bad"), 5)
            .await
            .expect("finish");
        tx.commit().await.expect("commit");
        let counts = store.inbound_counts().await.expect("counts");
        assert_eq!((counts.pending, counts.failed), (3, 1), "{b:?}");

        // A rolled-back claim leaves its events pending; a retry counts an attempt.
        let mut tx = store.begin().await.expect("begin");
        let claimed = tx.claim_inbound(10).await.expect("claim");
        assert_eq!(claimed.len(), 3);
        drop(tx);
        assert_eq!(
            store.inbound_counts().await.expect("counts").pending,
            3,
            "{b:?}"
        );
        // On Postgres a dropped transaction rolls back when its connection is next used: until
        // then its rows are locked, and a claim skips them.
        let (mut tx, first) = loop {
            let mut tx = store.begin().await.expect("begin");
            if let Some(e) = tx.claim_inbound(1).await.expect("claim").into_iter().next() {
                break (tx, e);
            }
            drop(tx);
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        };
        tx.retry_inbound(first.id, "boom").await.expect("retry");
        tx.commit().await.expect("commit");
        let mut tx = store.begin().await.expect("begin");
        let again = tx.claim_inbound(1).await.expect("claim").remove(0);
        assert_eq!((again.id, again.attempts), (first.id, 1), "{b:?}");
        for e in tx.claim_inbound(10).await.expect("claim") {
            tx.finish_inbound(e.id, InboundState::Done, None, 6)
                .await
                .expect("finish");
        }
        tx.commit().await.expect("commit");
        assert_eq!(
            store.inbound_counts().await.expect("counts").pending,
            0,
            "{b:?}"
        );
    }
}

#[tokio::test]
async fn contacts_conversations_and_messages() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let mut tx = store.begin().await.expect("begin");
        let id = tx
            .insert_contact(&contact("16505551234"), 10)
            .await
            .expect("insert contact");
        let found = tx
            .contact_matches("default", None, Some("16505551234"))
            .await
            .expect("find");
        assert_eq!(found.by_wa_id.map(|c| c.id), Some(id));
        assert_eq!(found.by_user_id, None);
        let elsewhere = tx
            .contact_matches("other-portfolio", None, Some("16505551234"))
            .await
            .expect("find");
        assert_eq!(elsewhere, ContactMatches::default());
        let mut with_bsuid = contact("16505551234");
        with_bsuid.user_id = Some("US.1".into());
        tx.update_contact(id, &with_bsuid, 11)
            .await
            .expect("update");
        let both = tx
            .contact_matches("default", Some("US.1"), Some("16505551234"))
            .await
            .expect("find");
        assert_eq!(both.by_user_id.map(|c| c.id), Some(id));
        assert_eq!(both.by_wa_id.map(|c| c.id), Some(id));

        let conv = tx
            .conversation_for("pn1", id, 20)
            .await
            .expect("conversation");
        let again = tx
            .conversation_for("pn1", id, 21)
            .await
            .expect("conversation");
        assert_eq!(
            conv.id, again.id,
            "{b:?}: one conversation per number and contact"
        );
        assert_eq!(conv.status, "open");
        let other_number = tx
            .conversation_for("pn2", id, 22)
            .await
            .expect("conversation");
        assert_ne!(other_number.id, conv.id);

        let m1 = tx
            .insert_message(&message(conv.id, "wamid.1", 100))
            .await
            .expect("insert");
        assert!(m1.is_some());
        assert_eq!(
            tx.insert_message(&message(conv.id, "wamid.1", 100))
                .await
                .expect("insert"),
            None
        );
        assert!(tx.message_exists("wamid.1").await.expect("exists"));
        tx.insert_message(&message(conv.id, "wamid.0", 50))
            .await
            .expect("insert");
        tx.insert_message(&message(conv.id, "wamid.2", 150))
            .await
            .expect("insert");
        tx.update_conversation(
            conv.id,
            &ConversationUpdate {
                status: "open".into(),
                last_message_at: 150,
                last_inbound_at: Some(150),
                last_referral_at: None,
                new_unread: 3,
                new_messages: 3,
                updated_at_ms: 30,
            },
        )
        .await
        .expect("update conversation");
        tx.commit().await.expect("commit");

        let view = store
            .conversation(conv.id)
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(view.conversation.unread_count, 3);
        assert_eq!(view.contact_user_id.as_deref(), Some("US.1"));
        assert_eq!(view.contact_phone.as_deref(), Some("+16505551234"));

        // Meta's order, whatever the arrival order; keyset pages both ways.
        let fwd = store
            .messages(
                conv.id,
                &MessageQuery::Forward {
                    after: None,
                    limit: 2,
                },
            )
            .await
            .expect("messages");
        let wamids: Vec<_> = fwd.iter().filter_map(|m| m.wamid.as_deref()).collect();
        assert_eq!(wamids, ["wamid.0", "wamid.1"], "{b:?}");
        let last = fwd.last().expect("row");
        let rest = store
            .messages(
                conv.id,
                &MessageQuery::Forward {
                    after: Some((last.meta_at, last.id)),
                    limit: 10,
                },
            )
            .await
            .expect("messages");
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].wamid.as_deref(), Some("wamid.2"));
        let back = store
            .messages(
                conv.id,
                &MessageQuery::Backward {
                    before: None,
                    limit: 1,
                },
            )
            .await
            .expect("messages");
        assert_eq!(back[0].wamid.as_deref(), Some("wamid.2"));
        assert!(
            store
                .message_by_wamid("wamid.2")
                .await
                .expect("read")
                .is_some()
        );
        assert!(store.contact(id).await.expect("read").is_some());
        assert!(store.contact(id + 1000).await.expect("read").is_none());
    }
}

#[tokio::test]
async fn conversation_list_is_newest_first_filtered_and_paginated() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let mut tx = store.begin().await.expect("begin");
        for i in 0..5_i64 {
            let c = tx
                .insert_contact(&contact(&format!("3361234567{i}")), 1)
                .await
                .expect("contact");
            let number = if i % 2 == 0 { "even" } else { "odd" };
            let conv = tx
                .conversation_for(number, c, 1)
                .await
                .expect("conversation");
            tx.update_conversation(
                conv.id,
                &ConversationUpdate {
                    status: if i == 4 {
                        "resolved".into()
                    } else {
                        "open".into()
                    },
                    last_message_at: 1000 + i * 10,
                    last_inbound_at: None,
                    last_referral_at: None,
                    new_unread: 0,
                    new_messages: 1,
                    updated_at_ms: 1,
                },
            )
            .await
            .expect("update");
        }
        tx.commit().await.expect("commit");
        let page = |status: Option<&str>, number: Option<&str>, after: Option<(i64, i64)>| {
            let q = ConversationQuery {
                status: status.map(Into::into),
                phone_number_id: number.map(Into::into),
                after,
                limit: 2,
            };
            let store = store.clone();
            async move { store.conversations(&q).await.expect("list") }
        };
        let first = page(None, None, None).await;
        let times: Vec<_> = first
            .iter()
            .map(|c| c.conversation.last_message_at)
            .collect();
        assert_eq!(times, [1040, 1030], "{:?}", db.backend);
        let cursor = first
            .last()
            .map(|c| (c.conversation.last_message_at, c.conversation.id));
        let second = page(None, None, cursor).await;
        assert_eq!(
            second
                .iter()
                .map(|c| c.conversation.last_message_at)
                .collect::<Vec<_>>(),
            [1020, 1010]
        );
        assert_eq!(page(Some("resolved"), None, None).await.len(), 1);
        let odd = page(Some("open"), Some("odd"), None).await;
        assert!(odd.iter().all(|c| c.conversation.phone_number_id == "odd"));
        assert_eq!(odd.len(), 2);
        assert!(page(Some("open"), Some("nobody"), None).await.is_empty());
    }
}

#[tokio::test]
async fn statuses_are_stored_once_and_delivery_is_written_back() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let mut tx = store.begin().await.expect("begin");
        assert_eq!(
            tx.record_status(&status("wamid.out", "sent", 10))
                .await
                .expect("record"),
            StatusRecorded::New(None),
            "{b:?}: stored, no such message yet"
        );
        assert_eq!(
            tx.record_status(&status("wamid.out", "sent", 10))
                .await
                .expect("record"),
            StatusRecorded::Duplicate
        );
        assert!(tx.delivery("wamid.out").await.expect("delivery").is_none());
        let c = tx
            .insert_contact(&contact("16505551234"), 1)
            .await
            .expect("contact");
        let conv = tx.conversation_for("pn", c, 1).await.expect("conversation");
        let mut m = message(conv.id, "wamid.out", 9);
        m.direction = Direction::Echo;
        let id = tx.insert_message(&m).await.expect("insert").expect("new");
        let d = DeliveryColumns {
            delivery: Some("read".into()),
            sent_at: Some(10),
            delivered_at: Some(12),
            read_at: Some(12),
            ..DeliveryColumns::default()
        };
        tx.set_delivery(id, &d).await.expect("set");
        let got = tx
            .delivery("wamid.out")
            .await
            .expect("delivery")
            .expect("exists");
        assert_eq!(
            (got.message_id, got.conversation_id, got.columns.clone()),
            (id, conv.id, d.clone())
        );
        // A new status of a known message comes back with the message's delivery.
        let recorded = tx
            .record_status(&status("wamid.out", "read", 12))
            .await
            .expect("record");
        assert_eq!(recorded, StatusRecorded::New(Some(got)), "{b:?}");
        assert_eq!(
            tx.statuses_of("wamid.out").await.expect("statuses").len(),
            2,
            "the statuses of a message, for replay"
        );
        tx.commit().await.expect("commit");
        let rows = store.statuses("wamid.out").await.expect("statuses");
        assert_eq!(
            rows.iter().map(|s| s.status.as_str()).collect::<Vec<_>>(),
            ["sent", "read"]
        );
        assert_eq!(rows[0].billable, Some(1));
        assert_eq!(rows[0].pricing_category.as_deref(), Some("utility"));
    }
}

/// Conversation times only move forward, whatever order the updates come in.
#[tokio::test]
async fn conversation_times_never_move_backwards() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let mut tx = store.begin().await.expect("begin");
        let c = tx
            .insert_contact(&contact("16505551234"), 1)
            .await
            .expect("contact");
        let conv = tx.conversation_for("pn", c, 1).await.expect("conversation");
        let update = |at: i64, inbound: Option<i64>, referral: Option<i64>| ConversationUpdate {
            status: "open".into(),
            last_message_at: at,
            last_inbound_at: inbound,
            last_referral_at: referral,
            new_unread: 1,
            new_messages: 1,
            updated_at_ms: 2,
        };
        tx.update_conversation(conv.id, &update(200, Some(200), Some(150)))
            .await
            .expect("update");
        tx.update_conversation(conv.id, &update(100, Some(100), None))
            .await
            .expect("update");
        tx.update_conversation(conv.id, &update(150, None, Some(120)))
            .await
            .expect("update");
        tx.commit().await.expect("commit");
        let c = store
            .conversation(conv.id)
            .await
            .expect("read")
            .expect("exists")
            .conversation;
        assert_eq!(
            (
                c.last_message_at,
                c.last_inbound_at,
                c.last_referral_at,
                c.message_count
            ),
            (200, Some(200), Some(150), 3),
            "{:?}",
            db.backend
        );
    }
}

#[tokio::test]
async fn events_templates_and_consents() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let mut tx = store.begin().await.expect("begin");
        let e1 = tx
            .insert_event(&NewEvent {
                kind: "message.received".into(),
                conversation_id: Some(1),
                message_id: Some(2),
                payload: "{}".into(),
                created_at_ms: 1,
            })
            .await
            .expect("event");
        let template = |field, value: &str, meta_at| TemplateEvent {
            waba_id: "waba".into(),
            meta_id: "42".into(),
            name: "order_confirmation".into(),
            language: "en_US".into(),
            field,
            value: value.into(),
            category: Some("UTILITY".into()),
            reason: None,
            detail: None,
            meta_at,
            received_at_ms: 1,
        };
        assert!(
            tx.apply_template_event(&template(TemplateField::Status, "APPROVED", 20))
                .await
                .expect("t")
        );
        assert!(
            !tx.apply_template_event(&template(TemplateField::Status, "APPROVED", 20))
                .await
                .expect("t")
        );
        // An older event arriving late is recorded but does not overwrite the newer state.
        assert!(
            tx.apply_template_event(&template(TemplateField::Status, "PENDING", 10))
                .await
                .expect("t")
        );
        assert!(
            tx.apply_template_event(&template(TemplateField::Quality, "YELLOW", 30))
                .await
                .expect("t")
        );
        let mut recat = template(TemplateField::Category, "MARKETING", 40);
        recat.category = None;
        assert!(tx.apply_template_event(&recat).await.expect("t"));
        let c = tx
            .insert_contact(&contact("16505551234"), 1)
            .await
            .expect("contact");
        let consent = NewConsent {
            contact_id: c,
            phone_number_id: Some("pn".into()),
            category: "marketing_messages".into(),
            value: "stop".into(),
            source: "user_preferences".into(),
            detail: None,
            meta_at: 100,
            received_at_ms: 1,
        };
        assert!(tx.insert_consent(&consent).await.expect("consent"));
        assert!(!tx.insert_consent(&consent).await.expect("consent"));
        tx.set_marketing(c, "stop", 100).await.expect("marketing");
        tx.set_marketing(c, "resume", 50)
            .await
            .expect("older preference is ignored");
        tx.commit().await.expect("commit");

        let t = store
            .template("waba", "order_confirmation", "en_US")
            .await
            .expect("read")
            .expect("t");
        assert_eq!(t.status.as_deref(), Some("APPROVED"), "{b:?}");
        assert_eq!(t.quality.as_deref(), Some("YELLOW"));
        assert_eq!(t.category.as_deref(), Some("MARKETING"));
        assert_eq!(t.previous_category.as_deref(), Some("UTILITY"));
        assert_eq!(store.consents(c).await.expect("consents").len(), 1);
        assert_eq!(
            store
                .contact(c)
                .await
                .expect("contact")
                .and_then(|c| c.marketing)
                .as_deref(),
            Some("stop")
        );
        let events = store.events_after(0, 10).await.expect("events");
        assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), [e1]);
        assert!(store.events_after(e1, 10).await.expect("events").is_empty());
    }
}

#[tokio::test]
async fn urls_choose_the_backend_and_bad_ones_say_what_is_expected() {
    assert_eq!(
        Backend::of_url("sqlite:x.db").expect("sqlite"),
        Backend::Sqlite
    );
    assert_eq!(
        Backend::of_url("postgres://u@h/db").expect("pg"),
        Backend::Postgres
    );
    let err = Backend::of_url("mysql://root:hunter2@h/db").expect_err("unsupported");
    let msg = err.to_string();
    assert!(
        msg.contains("sqlite:<path>") && msg.contains("postgres://"),
        "{msg}"
    );
    assert!(
        !msg.contains("hunter2"),
        "the password is not repeated: {msg}"
    );
}

/// A batch of large webhooks names tens of thousands of keys: locking them must not run
/// Postgres' shared lock table out (6,400 places by default), which stalled ingest for good.
#[tokio::test]
async fn a_transaction_locks_tens_of_thousands_of_keys() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let keys: Vec<String> = (0..40_000).map(|i| format!("wamid.many.{i}")).collect();
        let mut tx = store.begin().await.expect("begin");
        tx.lock_keys(&keys).await.expect("lock 40,000 keys");
        tx.commit().await.expect("commit");
    }
}
