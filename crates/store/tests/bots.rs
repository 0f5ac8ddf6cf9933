//! Bots' storage, told against every backend: a job is queued with its message, a conversation's
//! jobs are claimed one at a time and in order, leases keep two nodes off one job, sessions and
//! decisions are kept, and the summary and the idle hand-back read what was written.

use std::sync::Arc;

use store::testing::TestDb;
use store::*;

const PN: &str = "106540352242922";

fn message(conversation_id: i64, wamid: &str, direction: Direction, at_ms: i64) -> NewMessage {
    NewMessage {
        conversation_id,
        wamid: Some(wamid.into()),
        direction,
        kind: "text".into(),
        meta_at: at_ms / 1000,
        received_at_ms: at_ms,
        preview: None,
        content: r#"{"kind":"text"}"#.into(),
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

async fn conversation(store: &Arc<dyn Store>, wa_id: &str) -> i64 {
    let mut tx = store.begin().await.expect("begin");
    let contact = tx
        .insert_contact(
            &ContactFields {
                portfolio: "default".into(),
                wa_id: Some(wa_id.into()),
                ..ContactFields::default()
            },
            1,
        )
        .await
        .expect("contact");
    let conv = tx.conversation_for(PN, contact, 1).await.expect("conv");
    tx.commit().await.expect("commit");
    conv.id
}

/// A customer's message and its job, in one transaction as ingest does: (message, job).
async fn received(store: &Arc<dyn Store>, conv: i64, wamid: &str, at_ms: i64) -> (i64, i64) {
    let mut tx = store.begin().await.expect("begin");
    let m = tx
        .insert_message(&message(conv, wamid, Direction::Inbound, at_ms))
        .await
        .expect("message")
        .expect("new");
    let job = tx.queue_bot_job(conv, m, at_ms).await.expect("queue");
    assert!(
        tx.queue_bot_job(conv, m, at_ms)
            .await
            .expect("again")
            .is_none(),
        "one job per message"
    );
    tx.commit().await.expect("commit");
    (m, job.expect("new job"))
}

async fn finish(store: &Arc<dyn Store>, job: i64, node: &str, now: i64) -> bool {
    let mut tx = store.begin().await.expect("begin");
    let done = tx.finish_bot_job(job, node, now).await.expect("finish");
    tx.commit().await.expect("commit");
    done
}

#[tokio::test]
async fn a_conversations_jobs_run_one_at_a_time_in_order() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let ana = conversation(&store, "33600000001").await;
        let bob = conversation(&store, "33600000002").await;
        let (_, a1) = received(&store, ana, "wamid.a1", 1_000).await;
        let (_, a2) = received(&store, ana, "wamid.a2", 1_100).await;
        let (_, b1) = received(&store, bob, "wamid.b1", 1_200).await;
        assert_eq!(store.queued_bot_jobs().await.unwrap(), 3, "{b:?}");

        let claimed = store.claim_bot_jobs("n1", 2_000, 32_000, 10).await.unwrap();
        let ids: Vec<i64> = claimed.iter().map(|j| j.id).collect();
        assert_eq!(
            ids,
            [a1, b1],
            "{b:?}: Ana's second message waits for her first"
        );
        assert_eq!(claimed[0].attempts, 1);
        assert!(
            store
                .claim_bot_jobs("n2", 2_000, 32_000, 10)
                .await
                .unwrap()
                .is_empty(),
            "{b:?}: held jobs are not claimed twice, and a2 waits behind a1"
        );
        assert!(
            !finish(&store, a1, "n2", 2_500).await,
            "{b:?}: only the holder finishes"
        );
        assert!(finish(&store, a1, "n1", 2_500).await, "{b:?}");
        let next = store.claim_bot_jobs("n2", 3_000, 33_000, 10).await.unwrap();
        assert_eq!(next.iter().map(|j| j.id).collect::<Vec<_>>(), [a2], "{b:?}");

        // A lease that ran out lets another node take the job; the first holder lost it.
        let again = store
            .claim_bot_jobs("n3", 40_000, 70_000, 10)
            .await
            .unwrap();
        let ids: Vec<i64> = again.iter().map(|j| j.id).collect();
        assert_eq!(ids, [a2, b1], "{b:?}");
        assert!(!finish(&store, b1, "n1", 40_000).await, "{b:?}");
        // A retry is due later; a failure lets the conversation's next job run.
        assert!(
            store
                .retry_bot_job(b1, "n3", 90_000, "back-end down", 40_100)
                .await
                .unwrap()
        );
        assert!(
            store
                .claim_bot_jobs("n3", 60_000, 99_000, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .fail_bot_job(a2, "n3", "gave up", 40_200)
                .await
                .unwrap(),
            "{b:?}"
        );
        assert_eq!(store.queued_bot_jobs().await.unwrap(), 1, "{b:?}");
    }
}

#[tokio::test]
async fn sessions_decisions_and_handoffs_are_kept_and_summarised() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let conv = conversation(&store, "33600000003").await;
        let (m1, _) = received(&store, conv, "wamid.s1", 1_000).await;
        let (m2, _) = received(&store, conv, "wamid.s2", 2_000).await;

        let mut tx = store.begin().await.unwrap();
        let holder = tx.holder(conv).await.unwrap().unwrap();
        assert_eq!(
            (holder.status.as_str(), holder.handler.as_str()),
            ("open", "human")
        );
        let session = BotSessionRow {
            conversation_id: conv,
            flow: "shop".into(),
            flow_version: "3+ab12cd34".into(),
            state: r#"{"at":"menu","vars":{}}"#.into(),
            updated_at_ms: 1_000,
        };
        tx.save_bot_session(&session).await.unwrap();
        let moved = BotSessionRow {
            state: r#"{"at":"ask_order","vars":{}}"#.into(),
            updated_at_ms: 2_000,
            ..session.clone()
        };
        tx.save_bot_session(&moved).await.unwrap();
        let decision = |message_id, decision: &str, outcome: &str| GuardDecisionRow {
            id: 0,
            conversation_id: conv,
            message_id,
            phone_number_id: PN.into(),
            flow: "shop".into(),
            flow_version: "3+ab12cd34".into(),
            tier: "embedding".into(),
            decision: decision.into(),
            intent: Some("track_order".into()),
            score: 0.625,
            threshold: 0.5,
            general_request: decision == "out_of_scope",
            outcome: outcome.into(),
            decided_at_ms: message_id * 10,
        };
        assert!(
            tx.record_decision(&decision(m1, "in_scope", "answered"))
                .await
                .unwrap()
        );
        assert!(
            tx.record_decision(&decision(m2, "out_of_scope", "deflected"))
                .await
                .unwrap()
        );
        assert!(
            !tx.record_decision(&decision(m2, "in_scope", "answered"))
                .await
                .unwrap(),
            "one decision per message"
        );
        tx.record_handoff(&NewHandoff {
            conversation_id: conv,
            phone_number_id: PN.into(),
            flow: "shop".into(),
            cause: "customer_asks_human".into(),
            at_ms: 3_000,
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();

        assert_eq!(store.bot_session(conv).await.unwrap(), Some(moved), "{b:?}");
        let mut tx = store.begin().await.unwrap();
        tx.end_bot_session(conv).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.bot_session(conv).await.unwrap(), None, "{b:?}");

        let listed = store
            .guard_decisions(&DecisionQuery {
                from_ms: 0,
                to_ms: i64::MAX,
                phone_number_id: Some(PN.into()),
                before_id: None,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(listed.len(), 2, "{b:?}");
        assert_eq!(listed[0].message_id, m2, "{b:?}: newest first");
        assert!(listed[0].general_request);
        assert!((listed[1].score - 0.625).abs() < 1e-9);
        let older = store
            .guard_decisions(&DecisionQuery {
                from_ms: 0,
                to_ms: i64::MAX,
                phone_number_id: None,
                before_id: Some(listed[0].id),
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(older.len(), 1, "{b:?}");
        assert_eq!(
            store
                .guard_decision_of(m1)
                .await
                .unwrap()
                .map(|d| d.outcome),
            Some("answered".into())
        );

        let (decisions, handoffs) = store.bot_summary(0, i64::MAX).await.unwrap();
        let counts: Vec<(&str, &str, i64)> = decisions
            .iter()
            .map(|d| (d.decision.as_str(), d.outcome.as_str(), d.count))
            .collect();
        assert_eq!(
            counts,
            [
                ("in_scope", "answered", 1),
                ("out_of_scope", "deflected", 1)
            ]
        );
        assert_eq!(handoffs.len(), 1);
        assert_eq!(handoffs[0].cause, "customer_asks_human");
        let (none, _) = store.bot_summary(0, 1).await.unwrap();
        assert!(none.is_empty(), "{b:?}: the period bounds the summary");
    }
}

#[tokio::test]
async fn idle_conversations_are_those_no_human_touched_since() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let quiet = conversation(&store, "33600000011").await;
        let answered = conversation(&store, "33600000012").await;
        let phone = conversation(&store, "33600000013").await;
        let bot = conversation(&store, "33600000014").await;
        let mut tx = store.begin().await.unwrap();
        for c in [quiet, answered, phone] {
            tx.set_handler(c, "bot", 500).await.unwrap();
            tx.set_handler(c, "human", 1_000).await.unwrap();
        }
        tx.set_handler(bot, "bot", 1_000).await.unwrap();
        let agent = tx
            .insert_message(&message(answered, "wamid.out", Direction::Outbound, 50_000))
            .await
            .unwrap()
            .unwrap();
        tx.set_author(agent, Author::Agent(7)).await.unwrap();
        tx.insert_message(&message(phone, "wamid.echo", Direction::Echo, 50_000))
            .await
            .unwrap();
        // A customer's message is not a human act of the business.
        tx.insert_message(&message(quiet, "wamid.in", Direction::Inbound, 50_000))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let idle = store
            .idle_human_conversations(PN, 40_000, 10)
            .await
            .unwrap();
        assert_eq!(idle, [quiet], "{b:?}");
        assert!(
            store
                .idle_human_conversations(PN, 900, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .idle_human_conversations("other", 40_000, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
