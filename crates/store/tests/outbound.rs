//! The outbound side of the store, told against every backend: queueing a message with its
//! outbox row and price, the send leases, claiming and finishing outbox rows, reconciling with
//! status webhooks, the facts preflight reads, the cost ledger and template syncs.

use store::testing::TestDb;
use store::*;

/// The business number most tests send from, and a second one.
const PN: &str = "106540352242922";
const PN2: &str = "106540352242923";

fn contact(portfolio: &str, wa_id: &str) -> ContactFields {
    ContactFields {
        portfolio: portfolio.into(),
        wa_id: Some(wa_id.into()),
        phone: Some(format!("+{wa_id}")),
        profile_name: Some("Ana".into()),
        ..ContactFields::default()
    }
}

fn inbound(conversation_id: i64, wamid: &str, meta_at: i64) -> NewMessage {
    NewMessage {
        conversation_id,
        wamid: Some(wamid.into()),
        direction: Direction::Inbound,
        kind: "text".into(),
        meta_at,
        received_at_ms: meta_at * 1000,
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

/// An outbound message as the hub records it when it queues a send: no wamid yet.
fn outbound(
    conversation_id: i64,
    meta_at: i64,
    category: &str,
    business_initiated: bool,
) -> NewMessage {
    NewMessage {
        conversation_id,
        wamid: None,
        direction: Direction::Outbound,
        kind: "template".into(),
        meta_at,
        received_at_ms: meta_at * 1000,
        preview: Some("Your order shipped".into()),
        content: r#"{"kind":"template","name":"order_shipped"}"#.into(),
        raw: None,
        context_wamid: None,
        referral: None,
        errors: None,
        delivery: Some("pending".into()),
        category: Some(category.into()),
        business_initiated,
        biz_opaque: Some(format!("guichet:{conversation_id}:{meta_at}")),
    }
}

fn request(recipient: &str) -> String {
    format!(
        r#"{{"messaging_product":"whatsapp","to":"{recipient}","type":"template","template":{{"name":"order_shipped","language":{{"code":"en_US"}}}}}}"#
    )
}

fn new_outbox(message_id: i64, phone: &str, recipient: &str, not_before_ms: i64) -> NewOutbox {
    NewOutbox {
        message_id,
        phone_number_id: phone.into(),
        recipient: recipient.into(),
        request: request(recipient),
        not_before_ms,
        created_at_ms: 10,
    }
}

fn new_cost(message_id: i64, phone: &str, m: &NewMessage, predicted: Option<i64>) -> NewCost {
    NewCost {
        message_id,
        phone_number_id: phone.into(),
        market: "US".into(),
        sent_at: m.meta_at,
        pricing_model: "PMP".into(),
        category: m.category.clone().unwrap_or_else(|| "service".into()),
        pricing_type: "regular".into(),
        currency: Some("USD".into()),
        predicted_micros: predicted,
    }
}

/// Queues an outbound message the way the hub does, in the caller's transaction: the message,
/// its outbox row and its predicted cost. Returns the message id.
async fn queue(
    tx: &mut Box<dyn Tx>,
    m: &NewMessage,
    phone: &str,
    recipient: &str,
    not_before_ms: i64,
    predicted: Option<i64>,
) -> i64 {
    let id = tx
        .insert_message(m)
        .await
        .expect("insert message")
        .expect("an outbound message without wamid never conflicts");
    tx.insert_outbox(&new_outbox(id, phone, recipient, not_before_ms))
        .await
        .expect("insert outbox");
    tx.insert_cost(&new_cost(id, phone, m, predicted))
        .await
        .expect("insert cost");
    id
}

/// A contact of the portfolio and its conversation with a business number.
async fn customer(
    tx: &mut Box<dyn Tx>,
    portfolio: &str,
    wa_id: &str,
    phone: &str,
) -> (i64, ConversationRow) {
    let c = tx
        .insert_contact(&contact(portfolio, wa_id), 1)
        .await
        .expect("insert contact");
    let conv = tx
        .conversation_for(phone, c, 1)
        .await
        .expect("conversation");
    (c, conv)
}

async fn outbox_of(store: &std::sync::Arc<dyn Store>, id: i64) -> OutboxRow {
    store
        .outbox(id)
        .await
        .expect("read outbox")
        .expect("outbox row")
}

async fn message_of(store: &std::sync::Arc<dyn Store>, id: i64) -> MessageRow {
    store
        .message(id)
        .await
        .expect("read message")
        .expect("message")
}

fn ids(rows: &[OutboxRow]) -> Vec<i64> {
    rows.iter().map(|r| r.message_id).collect()
}

// ---- 1. Enqueue ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_queued_message_is_written_with_its_outbox_row_and_cost_or_not_at_all() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let mut tx = store.begin().await.expect("begin");
        let (c, conv) = customer(&mut tx, "default", "16505551234", PN).await;
        let m = outbound(conv.id, 1_000, "utility", true);
        let id = queue(&mut tx, &m, PN, "16505551234", 1_000_500, Some(4_000)).await;
        tx.commit().await.expect("commit");

        let o = outbox_of(&store, id).await;
        assert_eq!(
            o,
            OutboxRow {
                message_id: id,
                phone_number_id: PN.into(),
                recipient: "16505551234".into(),
                request: request("16505551234"),
                state: "queued".into(),
                not_before_ms: 1_000_500,
                attempts: 0,
                resent: 0,
                sent_ms: None,
                last_error: None,
                created_at_ms: 10,
                updated_at_ms: 10,
            },
            "{b:?}"
        );
        assert_eq!(OutboxState::parse(&o.state), Some(OutboxState::Queued));
        let msg = message_of(&store, id).await;
        assert_eq!(msg.wamid, None, "{b:?}: no wamid before Meta answers");
        assert_eq!(msg.direction, "outbound");
        assert_eq!(msg.conversation_id, conv.id);
        assert_eq!(msg.category.as_deref(), Some("utility"));
        assert_eq!(msg.delivery.as_deref(), Some("pending"));
        assert_eq!(msg.biz_opaque, m.biz_opaque);
        let costs = store.costs(0, 10_000).await.expect("costs");
        assert_eq!(costs.len(), 1, "{b:?}");
        let k = &costs[0];
        assert_eq!(
            (
                k.message_id,
                k.phone_number_id.as_str(),
                k.market.as_str(),
                k.sent_at,
                k.category.as_str(),
                k.predicted_micros,
                k.currency.as_deref(),
                k.billed_at,
                k.wamid.as_deref(),
            ),
            (
                id,
                PN,
                "US",
                1_000,
                "utility",
                Some(4_000),
                Some("USD"),
                None,
                None
            ),
            "{b:?}"
        );
        assert!(store.conversation_of(PN, c).await.expect("read").is_some());

        // The same writes, rolled back: none of them is there.
        let mut tx = store.begin().await.expect("begin");
        let (c2, conv2) = customer(&mut tx, "default", "16505550000", PN).await;
        let m2 = outbound(conv2.id, 1_001, "marketing", true);
        let id2 = queue(&mut tx, &m2, PN, "16505550000", 1_001_000, Some(25_000)).await;
        assert!(
            tx.contact_by_id(c2).await.expect("read").is_some(),
            "the transaction sees its own writes"
        );
        drop(tx);

        assert_eq!(store.message(id2).await.expect("read"), None, "{b:?}");
        assert_eq!(store.outbox(id2).await.expect("read"), None, "{b:?}");
        assert_eq!(store.contact(c2).await.expect("read"), None, "{b:?}");
        assert_eq!(store.conversation_of(PN, c2).await.expect("read"), None);
        assert_eq!(
            store
                .find_contacts("default", None, Some("16505550000"))
                .await
                .expect("find"),
            ContactMatches::default()
        );
        assert_eq!(store.costs(0, 10_000).await.expect("costs").len(), 1);
        // And the store still writes after a rollback.
        let mut tx = store.begin().await.expect("begin after rollback");
        assert!(tx.take_lease(PN, "a", 0, 1).await.expect("lease"));
        tx.commit().await.expect("commit");
    }
}

// ---- 2. Leases ----------------------------------------------------------------------------------

#[tokio::test]
async fn one_holder_at_a_time_runs_a_numbers_send_loop() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let mut tx = store.begin().await.expect("begin");
        assert!(tx.take_lease(PN, "A", 1_000, 2_000).await.expect("take"));
        tx.commit().await.expect("commit");

        let mut tx = store.begin().await.expect("begin");
        assert!(
            !tx.take_lease(PN, "B", 1_500, 2_500).await.expect("take"),
            "{b:?}: A's lease runs"
        );
        assert!(
            !tx.take_lease(PN, "B", 2_000, 3_000).await.expect("take"),
            "{b:?}: not expired at its very end"
        );
        assert!(
            tx.take_lease(PN2, "B", 1_500, 2_500).await.expect("take"),
            "{b:?}: each number has its own lease"
        );
        assert!(
            tx.take_lease(PN, "A", 1_900, 2_900).await.expect("renew"),
            "{b:?}: A renews its own"
        );
        assert!(
            !tx.take_lease(PN, "B", 2_500, 3_500).await.expect("take"),
            "{b:?}: the renewal holds until 2900"
        );
        tx.commit().await.expect("commit");

        let mut tx = store.begin().await.expect("begin");
        assert!(
            tx.take_lease(PN, "B", 2_901, 3_901).await.expect("take"),
            "{b:?}: expired (now > until): B takes it"
        );
        assert!(
            !tx.take_lease(PN, "A", 3_000, 4_000).await.expect("take"),
            "{b:?}: now B's"
        );
        // Releasing someone else's lease does nothing.
        tx.release_lease(PN, "A").await.expect("release");
        assert!(!tx.take_lease(PN, "A", 3_000, 4_000).await.expect("take"));
        tx.release_lease(PN, "B").await.expect("release");
        tx.commit().await.expect("commit");

        let mut tx = store.begin().await.expect("begin");
        assert!(
            tx.take_lease(PN, "A", 3_000, 4_000).await.expect("take"),
            "{b:?}: released, free long before B's lease would have ended"
        );
        tx.commit().await.expect("commit");

        // A lease taken in a rolled-back transaction was never taken.
        let mut tx = store.begin().await.expect("begin");
        tx.release_lease(PN, "A").await.expect("release");
        assert!(tx.take_lease(PN, "C", 3_100, 9_000).await.expect("take"));
        drop(tx);
        let mut tx = store.begin().await.expect("begin");
        assert!(
            !tx.take_lease(PN, "C", 3_200, 9_000).await.expect("take"),
            "{b:?}: A's lease (until 4000) is back"
        );
        assert!(tx.take_lease(PN, "A", 3_200, 5_000).await.expect("renew"));
    }
}

// ---- 3. Claim -----------------------------------------------------------------------------------

#[tokio::test]
async fn a_claim_takes_the_due_rows_of_its_number_oldest_first() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let mut tx = store.begin().await.expect("begin");
        let (_, conv) = customer(&mut tx, "default", "111", PN).await;
        let (_, other) = customer(&mut tx, "default", "222", PN2).await;
        let q = |at| outbound(conv.id, at, "utility", false);
        let m300 = queue(&mut tx, &q(1), PN, "111", 300, None).await;
        let m100 = queue(&mut tx, &q(2), PN, "111", 100, None).await;
        let m200 = queue(&mut tx, &q(3), PN, "111", 200, None).await;
        let m100b = queue(&mut tx, &q(4), PN, "111", 100, None).await;
        let later = queue(&mut tx, &q(5), PN, "111", 5_000, None).await;
        let elsewhere = queue(
            &mut tx,
            &outbound(other.id, 6, "utility", false),
            PN2,
            "222",
            50,
            None,
        )
        .await;
        tx.commit().await.expect("commit");

        let mut tx = store.begin().await.expect("begin");
        let first = tx.claim_outbox(PN, 1_000, 3).await.expect("claim");
        assert_eq!(
            ids(&first),
            [m100, m100b, m200],
            "{b:?}: by not_before, then id; at most `limit`"
        );
        for r in &first {
            assert_eq!(r.state, "sending", "{b:?}");
            assert_eq!((r.attempts, r.resent), (1, 0));
            assert_eq!(r.sent_ms, Some(1_000));
            assert_eq!(r.updated_at_ms, 1_000);
            assert_eq!(r.phone_number_id, PN);
            assert_eq!(r.request, request("111"));
        }
        let second = tx.claim_outbox(PN, 1_000, 10).await.expect("claim");
        assert_eq!(ids(&second), [m300], "{b:?}: the rest of what is due");
        assert!(
            tx.claim_outbox(PN, 1_000, 10)
                .await
                .expect("claim")
                .is_empty(),
            "{b:?}: claimed rows are not claimed again"
        );
        tx.commit().await.expect("commit");

        assert_eq!(outbox_of(&store, m300).await.state, "sending");
        assert_eq!(outbox_of(&store, later).await.state, "queued");
        assert_eq!(outbox_of(&store, elsewhere).await.state, "queued");

        let mut tx = store.begin().await.expect("begin");
        assert!(
            tx.claim_outbox(PN, 4_999, 10)
                .await
                .expect("claim")
                .is_empty(),
            "{b:?}: not yet due"
        );
        let due = tx.claim_outbox(PN, 5_000, 10).await.expect("claim");
        assert_eq!(ids(&due), [later], "{b:?}: due at not_before itself");
        let theirs = tx.claim_outbox(PN2, 5_000, 10).await.expect("claim");
        assert_eq!(ids(&theirs), [elsewhere], "{b:?}");
        assert!(
            tx.claim_outbox(PN2, 5_000, 0)
                .await
                .expect("claim")
                .is_empty()
        );
        drop(tx);

        // A rolled-back claim leaves the rows queued.
        assert_eq!(outbox_of(&store, later).await.state, "queued", "{b:?}");
        assert_eq!(outbox_of(&store, later).await.attempts, 0);
        assert_eq!(outbox_of(&store, elsewhere).await.sent_ms, None);
    }
}

// ---- 4. Finish ----------------------------------------------------------------------------------

#[tokio::test]
async fn finishing_a_claimed_row_records_what_became_of_it() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let mut tx = store.begin().await.expect("begin");
        let (_, conv) = customer(&mut tx, "default", "111", PN).await;
        let q = |at| outbound(conv.id, at, "utility", true);
        let sent = queue(&mut tx, &q(1), PN, "111", 100, Some(4_000)).await;
        let retry = queue(&mut tx, &q(2), PN, "111", 101, Some(4_000)).await;
        let unknown = queue(&mut tx, &q(3), PN, "111", 102, Some(4_000)).await;
        let failed = queue(&mut tx, &q(4), PN, "111", 103, Some(4_000)).await;
        let settled = queue(&mut tx, &q(5), PN, "111", 104, Some(4_000)).await;
        let waiting = queue(&mut tx, &q(6), PN, "111", 9_000, Some(4_000)).await;
        tx.commit().await.expect("commit");

        let mut tx = store.begin().await.expect("begin");
        let claimed = tx.claim_outbox(PN, 1_000, 10).await.expect("claim");
        assert_eq!(ids(&claimed), [sent, retry, unknown, failed, settled]);
        tx.finish_outbox(
            sent,
            &OutboxOutcome::Sent {
                wamid: "wamid.sent".into(),
            },
            1_100,
        )
        .await
        .expect("finish");
        tx.finish_outbox(
            retry,
            &OutboxOutcome::Retry {
                not_before_ms: 2_000,
                error: "131056: pair rate".into(),
            },
            1_100,
        )
        .await
        .expect("finish");
        tx.finish_outbox(
            unknown,
            &OutboxOutcome::Unknown {
                not_before_ms: 3_000,
                error: "timed out".into(),
            },
            1_100,
        )
        .await
        .expect("finish");
        tx.finish_outbox(
            failed,
            &OutboxOutcome::Failed {
                code: Some(132_001),
                class: "permanent".into(),
                details: "Template name does not exist in the translation".into(),
                at: 1_234,
            },
            1_100,
        )
        .await
        .expect("finish");
        // A status webhook settles `settled` before the sender records Meta's answer.
        assert_eq!(
            tx.attach_wamid(settled, "wamid.settled", 1_050)
                .await
                .expect("attach")
                .as_deref(),
            Some("wamid.settled")
        );
        tx.commit().await.expect("commit");

        // Sent: the row is sent, the message has its wamid.
        let o = outbox_of(&store, sent).await;
        assert_eq!(
            (o.state.as_str(), o.last_error.as_deref(), o.updated_at_ms),
            ("sent", None, 1_100),
            "{b:?}"
        );
        assert_eq!(
            message_of(&store, sent).await.wamid.as_deref(),
            Some("wamid.sent"),
            "{b:?}"
        );
        assert_eq!(
            store
                .message_by_wamid("wamid.sent")
                .await
                .expect("read")
                .map(|m| m.id),
            Some(sent)
        );

        // Retry: queued again, after the new not_before.
        let o = outbox_of(&store, retry).await;
        assert_eq!(
            (
                o.state.as_str(),
                o.not_before_ms,
                o.last_error.as_deref(),
                o.attempts
            ),
            ("queued", 2_000, Some("131056: pair rate"), 1),
            "{b:?}"
        );
        assert_eq!(message_of(&store, retry).await.wamid, None);

        // Unknown: waits for statuses until its not_before.
        let o = outbox_of(&store, unknown).await;
        assert_eq!(
            (o.state.as_str(), o.not_before_ms, o.last_error.as_deref()),
            ("unknown", 3_000, Some("timed out")),
            "{b:?}"
        );

        // Failed: the row and the message.
        let o = outbox_of(&store, failed).await;
        assert_eq!(o.state, "failed", "{b:?}");
        assert_eq!(
            o.last_error.as_deref(),
            Some("Template name does not exist in the translation")
        );
        let m = message_of(&store, failed).await;
        assert_eq!(
            (
                m.delivery.as_deref(),
                m.failed_at,
                m.error_code,
                m.error_class.as_deref(),
                m.error_details.as_deref(),
                m.wamid.as_deref(),
            ),
            (
                Some("failed"),
                Some(1_234),
                Some(132_001),
                Some("permanent"),
                Some("Template name does not exist in the translation"),
                None,
            ),
            "{b:?}"
        );

        // Settled by attach_wamid: a late finish, whatever it says, changes nothing.
        let before = outbox_of(&store, settled).await;
        assert_eq!(
            (before.state.as_str(), before.updated_at_ms),
            ("sent", 1_050)
        );
        let mut tx = store.begin().await.expect("begin");
        for outcome in [
            OutboxOutcome::Sent {
                wamid: "wamid.other".into(),
            },
            OutboxOutcome::Retry {
                not_before_ms: 5,
                error: "late".into(),
            },
            OutboxOutcome::Unknown {
                not_before_ms: 5,
                error: "late".into(),
            },
            OutboxOutcome::Failed {
                code: Some(131_000),
                class: "transient".into(),
                details: "late".into(),
                at: 1_300,
            },
        ] {
            tx.finish_outbox(settled, &outcome, 1_200)
                .await
                .expect("finish");
        }
        // Retry and Unknown only finish a row being sent: a queued row stays as it is.
        tx.finish_outbox(
            waiting,
            &OutboxOutcome::Retry {
                not_before_ms: 5,
                error: "late".into(),
            },
            1_200,
        )
        .await
        .expect("finish");
        tx.finish_outbox(
            waiting,
            &OutboxOutcome::Unknown {
                not_before_ms: 5,
                error: "late".into(),
            },
            1_200,
        )
        .await
        .expect("finish");
        tx.commit().await.expect("commit");
        assert_eq!(outbox_of(&store, settled).await, before, "{b:?}");
        let m = message_of(&store, settled).await;
        assert_eq!(
            (
                m.wamid.as_deref(),
                m.delivery.as_deref(),
                m.error_code,
                m.failed_at
            ),
            (Some("wamid.settled"), Some("pending"), None, None),
            "{b:?}: the message keeps its wamid and delivery"
        );
        let w = outbox_of(&store, waiting).await;
        assert_eq!(
            (w.state.as_str(), w.not_before_ms, w.last_error.as_deref()),
            ("queued", 9_000, None),
            "{b:?}"
        );

        // Claimable again: the retried row after its not_before, the unknown one after its
        // grace, counted as a resend.
        let mut tx = store.begin().await.expect("begin");
        assert!(
            tx.claim_outbox(PN, 1_999, 10)
                .await
                .expect("claim")
                .is_empty(),
            "{b:?}: neither is due yet"
        );
        let again = tx.claim_outbox(PN, 2_000, 10).await.expect("claim");
        assert_eq!(ids(&again), [retry], "{b:?}");
        assert_eq!((again[0].attempts, again[0].resent), (2, 0));
        assert!(
            tx.claim_outbox(PN, 2_999, 10)
                .await
                .expect("claim")
                .is_empty(),
            "{b:?}: unknown waits for its grace"
        );
        let resend = tx.claim_outbox(PN, 3_000, 10).await.expect("claim");
        assert_eq!(ids(&resend), [unknown], "{b:?}");
        assert_eq!(
            (
                resend[0].state.as_str(),
                resend[0].attempts,
                resend[0].resent,
                resend[0].sent_ms
            ),
            ("sending", 2, 1, Some(3_000)),
            "{b:?}"
        );
        tx.finish_outbox(
            unknown,
            &OutboxOutcome::Sent {
                wamid: "wamid.resent".into(),
            },
            3_100,
        )
        .await
        .expect("finish");
        // Sent, failed and settled rows are never claimed again.
        assert!(
            tx.claim_outbox(PN, 8_999, 10)
                .await
                .expect("claim")
                .is_empty(),
            "{b:?}"
        );
        tx.commit().await.expect("commit");
        let o = outbox_of(&store, unknown).await;
        assert_eq!((o.state.as_str(), o.resent), ("sent", 1), "{b:?}");
        assert_eq!(
            message_of(&store, unknown).await.wamid.as_deref(),
            Some("wamid.resent")
        );
    }
}

// ---- 5. Orphans ---------------------------------------------------------------------------------

#[tokio::test]
async fn rows_left_sending_by_a_previous_holder_become_unknown() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let mut tx = store.begin().await.expect("begin");
        let (_, conv) = customer(&mut tx, "default", "111", PN).await;
        let (_, other) = customer(&mut tx, "default", "222", PN2).await;
        let q = |at| outbound(conv.id, at, "utility", false);
        let orphan = queue(&mut tx, &q(1), PN, "111", 100, None).await;
        let orphan2 = queue(&mut tx, &q(2), PN, "111", 101, None).await;
        let done = queue(&mut tx, &q(3), PN, "111", 102, None).await;
        let queued = queue(&mut tx, &q(4), PN, "111", 2_000, None).await;
        let theirs = queue(
            &mut tx,
            &outbound(other.id, 5, "utility", false),
            PN2,
            "222",
            100,
            None,
        )
        .await;
        let claimed = tx.claim_outbox(PN, 1_000, 10).await.expect("claim");
        assert_eq!(ids(&claimed), [orphan, orphan2, done]);
        tx.finish_outbox(
            done,
            &OutboxOutcome::Sent {
                wamid: "wamid.done".into(),
            },
            1_000,
        )
        .await
        .expect("finish");
        assert_eq!(
            ids(&tx.claim_outbox(PN2, 1_000, 10).await.expect("claim")),
            [theirs]
        );
        tx.commit().await.expect("commit");

        let mut tx = store.begin().await.expect("begin");
        assert_eq!(
            tx.orphans_unknown(PN, 5_000, 1_200).await.expect("orphans"),
            2,
            "{b:?}"
        );
        assert_eq!(
            tx.orphans_unknown(PN, 6_000, 1_300).await.expect("again"),
            0
        );
        tx.commit().await.expect("commit");

        for id in [orphan, orphan2] {
            let o = outbox_of(&store, id).await;
            assert_eq!(
                (o.state.as_str(), o.not_before_ms, o.updated_at_ms),
                ("unknown", 5_000, 1_200),
                "{b:?}"
            );
            assert!(o.last_error.is_some(), "{b:?}: says why");
            assert_eq!((o.attempts, o.sent_ms), (1, Some(1_000)));
        }
        assert_eq!(outbox_of(&store, done).await.state, "sent", "{b:?}");
        assert_eq!(outbox_of(&store, queued).await.state, "queued", "{b:?}");
        assert_eq!(
            outbox_of(&store, theirs).await.state,
            "sending",
            "{b:?}: another number's rows are its own holder's"
        );

        let mut tx = store.begin().await.expect("begin");
        let due = tx.claim_outbox(PN, 4_999, 10).await.expect("claim");
        assert_eq!(
            ids(&due),
            [queued],
            "{b:?}: the orphans wait for their grace"
        );
        let resend = tx.claim_outbox(PN, 5_000, 10).await.expect("claim");
        assert_eq!(ids(&resend), [orphan, orphan2], "{b:?}");
        assert!(resend.iter().all(|r| r.resent == 1 && r.attempts == 2));
        tx.commit().await.expect("commit");
    }
}

// ---- 6. attach_wamid ----------------------------------------------------------------------------

#[tokio::test]
async fn a_status_naming_a_message_gives_it_its_wamid_and_settles_it() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let mut tx = store.begin().await.expect("begin");
        let (_, conv) = customer(&mut tx, "default", "111", PN).await;
        let q = |at| outbound(conv.id, at, "utility", false);
        let queued = queue(&mut tx, &q(1), PN, "111", 5_000, None).await;
        let sending = queue(&mut tx, &q(2), PN, "111", 100, None).await;
        let unknown = queue(&mut tx, &q(3), PN, "111", 101, None).await;
        let resent = queue(&mut tx, &q(4), PN, "111", 102, None).await;
        let failed = queue(&mut tx, &q(5), PN, "111", 103, None).await;
        let incoming = tx
            .insert_message(&inbound(conv.id, "wamid.in", 6))
            .await
            .expect("insert")
            .expect("new");
        tx.claim_outbox(PN, 1_000, 10).await.expect("claim");
        tx.finish_outbox(
            unknown,
            &OutboxOutcome::Unknown {
                not_before_ms: 4_000,
                error: "timed out".into(),
            },
            1_000,
        )
        .await
        .expect("finish");
        tx.finish_outbox(
            resent,
            &OutboxOutcome::Sent {
                wamid: "wamid.second".into(),
            },
            1_000,
        )
        .await
        .expect("finish");
        tx.finish_outbox(
            failed,
            &OutboxOutcome::Failed {
                code: Some(131_026),
                class: "permanent".into(),
                details: "undeliverable".into(),
                at: 7,
            },
            1_000,
        )
        .await
        .expect("finish");
        tx.commit().await.expect("commit");

        let mut tx = store.begin().await.expect("begin");
        for (id, wamid) in [
            (queued, "wamid.queued"),
            (sending, "wamid.sending"),
            (unknown, "wamid.unknown"),
        ] {
            assert_eq!(
                tx.attach_wamid(id, wamid, 1_500)
                    .await
                    .expect("attach")
                    .as_deref(),
                Some(wamid),
                "{b:?}"
            );
        }
        // Resent, and the first attempt's status came too: the message keeps its wamid.
        assert_eq!(
            tx.attach_wamid(resent, "wamid.first", 1_500)
                .await
                .expect("attach")
                .as_deref(),
            Some("wamid.second"),
            "{b:?}"
        );
        assert_eq!(
            tx.attach_wamid(incoming, "wamid.x", 1_500)
                .await
                .expect("attach"),
            None,
            "{b:?}: not an outbound message"
        );
        assert_eq!(
            tx.attach_wamid(failed + 1_000, "wamid.nobody", 1_500)
                .await
                .expect("attach"),
            None,
            "{b:?}: no such message"
        );
        tx.commit().await.expect("commit");

        for (id, wamid) in [
            (queued, "wamid.queued"),
            (sending, "wamid.sending"),
            (unknown, "wamid.unknown"),
            (resent, "wamid.second"),
        ] {
            let o = outbox_of(&store, id).await;
            assert_eq!(o.state, "sent", "{b:?}: {wamid}");
            assert_eq!(
                message_of(&store, id).await.wamid.as_deref(),
                Some(wamid),
                "{b:?}"
            );
        }
        assert_eq!(outbox_of(&store, queued).await.updated_at_ms, 1_500);
        assert_eq!(
            outbox_of(&store, unknown).await.last_error,
            None,
            "{b:?}: settled, no error left"
        );
        assert_eq!(
            store.message_by_wamid("wamid.first").await.expect("read"),
            None
        );
        assert_eq!(
            message_of(&store, incoming).await.wamid.as_deref(),
            Some("wamid.in")
        );
        assert_eq!(store.message_by_wamid("wamid.x").await.expect("read"), None);
        assert_eq!(
            outbox_of(&store, failed).await.state,
            "failed",
            "{b:?}: a failed row stays failed"
        );

        // Settled rows are not sent again.
        let mut tx = store.begin().await.expect("begin");
        assert!(
            tx.claim_outbox(PN, 10_000, 10)
                .await
                .expect("claim")
                .is_empty(),
            "{b:?}"
        );
    }
}

// ---- 7. send_facts ------------------------------------------------------------------------------

/// Message ids of the facts story, by what they are.
struct Story {
    x: i64,
    y: i64,
    z: i64,
    cx: i64,
}

/// Customer X writes to PN at 1000 and gets business-initiated templates before and after;
/// customer Y and customer Z (another portfolio) get one each. Times in seconds (Meta's), outbox
/// times in ms.
async fn facts_story(store: &std::sync::Arc<dyn Store>) -> Story {
    let mut tx = store.begin().await.expect("begin");
    let (x, cx) = customer(&mut tx, "default", "111", PN).await;
    let cx2 = tx.conversation_for(PN2, x, 1).await.expect("conversation");
    let (y, cy) = customer(&mut tx, "default", "222", PN).await;
    let (z, cz) = customer(&mut tx, "other", "333", PN).await;
    let cx = cx.id;

    tx.insert_message(&inbound(cx, "wamid.in", 1_000))
        .await
        .expect("insert");
    let mut echo = inbound(cx, "wamid.echo", 1_060);
    echo.direction = Direction::Echo;
    tx.insert_message(&echo).await.expect("insert");

    let mk = |conv, at| outbound(conv, at, "marketing", true);
    let ut = |conv, at| outbound(conv, at, "utility", true);
    // Before X last wrote.
    let early = queue(&mut tx, &mk(cx, 900), PN, "111", 900_000, Some(25_000)).await;
    // After: unanswered.
    queue(&mut tx, &ut(cx, 1_100), PN, "111", 1_100_000, Some(4_000)).await;
    queue(&mut tx, &mk(cx, 1_200), PN, "111", 1_200_000, Some(25_000)).await;
    // Inside the window: not business-initiated.
    queue(
        &mut tx,
        &outbound(cx, 1_150, "service", false),
        PN,
        "111",
        1_150_000,
        None,
    )
    .await;
    queue(
        &mut tx,
        &outbound(cx, 1_180, "marketing", false),
        PN,
        "111",
        1_180_000,
        Some(25_000),
    )
    .await;
    // Held back by Meta (131049, from a status webhook): its outbox row was sent.
    let held = queue(&mut tx, &mk(cx, 1_300), PN, "111", 1_300_000, Some(25_000)).await;
    tx.set_delivery(
        held,
        &DeliveryColumns {
            delivery: Some("failed".into()),
            failed_at: Some(1_310),
            error_code: Some(131_049),
            error_class: Some("retry_later".into()),
            error_details: Some("healthy ecosystem engagement".into()),
            ..DeliveryColumns::default()
        },
    )
    .await
    .expect("set delivery");
    // Failed before it left, later, with another code.
    let refused = queue(&mut tx, &mk(cx, 1_320), PN, "111", 1_320_000, Some(25_000)).await;
    tx.finish_outbox(
        refused,
        &OutboxOutcome::Failed {
            code: Some(131_026),
            class: "permanent".into(),
            details: "undeliverable".into(),
            at: 1_500,
        },
        1_320_000,
    )
    .await
    .expect("finish");
    // From another number, to the same customer.
    queue(
        &mut tx,
        &mk(cx2.id, 1_250),
        PN2,
        "111",
        1_250_000,
        Some(25_000),
    )
    .await;
    // Other customers.
    queue(&mut tx, &ut(cy.id, 950), PN, "222", 950_000, Some(4_000)).await;
    queue(&mut tx, &mk(cz.id, 1_400), PN, "333", 1_400_000, None).await;

    // The oldest due row of PN leaves at 1_000_000 ms: its pair time is when it was sent.
    let claimed = tx.claim_outbox(PN, 1_000_000, 1).await.expect("claim");
    assert_eq!(ids(&claimed), [early]);
    tx.finish_outbox(
        early,
        &OutboxOutcome::Sent {
            wamid: "wamid.early".into(),
        },
        1_000_100,
    )
    .await
    .expect("finish");
    tx.commit().await.expect("commit");
    Story { x, y, z, cx }
}

fn facts_query(s: &Story) -> FactsQuery {
    FactsQuery {
        portfolio: "default".into(),
        phone_number_id: PN.into(),
        contact_id: s.x,
        recipient: "111".into(),
        conversation_id: Some(s.cx),
        last_inbound_at: Some(1_000),
        marketing_since: 0,
        reach_since: 0,
        pair_since_ms: 0,
        spend_between: Some((0, 2_000)),
        last_referral_at: None,
    }
}

#[tokio::test]
async fn send_facts_read_what_preflight_needs() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let s = facts_story(&store).await;
        let q = facts_query(&s);
        let facts = |q: FactsQuery| {
            let store = store.clone();
            async move {
                let mut f = store.send_facts(&q).await.expect("facts");
                f.spend.sort();
                f
            }
        };

        let f = facts(q.clone()).await;
        assert_eq!(
            f,
            FactsRow {
                // 1100 and 1200: not 900 (before X wrote), nor the failed ones, nor those
                // sent inside the window, nor PN2's.
                unanswered: 2,
                marketing_sent: vec![900, 1_200, 1_250],
                marketing_held_at: Some(1_310),
                reached: 2,
                recipient_counted: true,
                // The earliest of each reached customer's latest business-initiated message.
                first_reach_at: Some(950),
                spend: vec![("marketing".into(), 100_000), ("utility".into(), 8_000)],
                pair_times_ms: vec![
                    1_000_000, 1_100_000, 1_150_000, 1_180_000, 1_200_000, 1_300_000
                ],
                first_reply_after_referral: None,
            },
            "{b:?}"
        );

        // Unanswered: all of the conversation's when the customer never wrote; none without a
        // conversation.
        let f = facts(FactsQuery {
            last_inbound_at: None,
            ..q.clone()
        })
        .await;
        assert_eq!(f.unanswered, 3, "{b:?}");
        let f = facts(FactsQuery {
            last_inbound_at: Some(1_200),
            ..q.clone()
        })
        .await;
        assert_eq!(
            f.unanswered, 0,
            "{b:?}: strictly after the customer's message"
        );
        let f = facts(FactsQuery {
            conversation_id: None,
            last_referral_at: Some(0),
            ..q.clone()
        })
        .await;
        assert_eq!(
            (f.unanswered, f.first_reply_after_referral),
            (0, None),
            "{b:?}"
        );

        // Marketing since.
        let f = facts(FactsQuery {
            marketing_since: 1_200,
            ..q.clone()
        })
        .await;
        assert_eq!(f.marketing_sent, [1_200, 1_250], "{b:?}: since, inclusive");

        // Reach: strictly after reach_since, per portfolio.
        let f = facts(FactsQuery {
            reach_since: 900,
            ..q.clone()
        })
        .await;
        assert_eq!(
            (f.reached, f.recipient_counted, f.first_reach_at),
            (2, true, Some(950)),
            "{b:?}"
        );
        let f = facts(FactsQuery {
            reach_since: 1_000,
            contact_id: s.y,
            recipient: "222".into(),
            conversation_id: None,
            ..q.clone()
        })
        .await;
        assert_eq!(
            (f.reached, f.recipient_counted, f.first_reach_at),
            (1, false, Some(1_250)),
            "{b:?}: Y's only message is older; X counts until 24 h after their latest"
        );
        assert_eq!(
            (f.marketing_sent.len(), f.marketing_held_at),
            (0, None),
            "{b:?}: X's marketing is not Y's"
        );
        assert_eq!(f.pair_times_ms, [950_000], "{b:?}: the pair is PN × 222");
        let f = facts(FactsQuery {
            reach_since: 1_250,
            ..q.clone()
        })
        .await;
        assert_eq!(
            (f.reached, f.recipient_counted, f.first_reach_at),
            (0, false, None),
            "{b:?}: nobody reached since (the failed ones do not count)"
        );
        let f = facts(FactsQuery {
            portfolio: "other".into(),
            contact_id: s.z,
            ..q.clone()
        })
        .await;
        assert_eq!(
            (f.reached, f.recipient_counted, f.first_reach_at),
            (1, true, Some(1_400)),
            "{b:?}"
        );

        // Spend: over [from, to), failed messages left out; none asked, none read.
        let f = facts(FactsQuery {
            spend_between: Some((950, 1_200)),
            ..q.clone()
        })
        .await;
        assert_eq!(
            f.spend,
            [("marketing".into(), 25_000), ("utility".into(), 8_000)],
            "{b:?}"
        );
        let f = facts(FactsQuery {
            spend_between: None,
            ..q.clone()
        })
        .await;
        assert!(f.spend.is_empty(), "{b:?}");

        // The pair's times since, by when they left (or are due).
        let f = facts(FactsQuery {
            pair_since_ms: 950_000,
            ..q.clone()
        })
        .await;
        assert_eq!(
            f.pair_times_ms[0], 1_000_000,
            "{b:?}: sent_ms, not not_before"
        );
        let f = facts(FactsQuery {
            pair_since_ms: 1_180_000,
            ..q.clone()
        })
        .await;
        assert_eq!(f.pair_times_ms, [1_180_000, 1_200_000, 1_300_000], "{b:?}");
        let f = facts(FactsQuery {
            phone_number_id: PN2.into(),
            ..q.clone()
        })
        .await;
        assert_eq!(f.pair_times_ms, [1_250_000], "{b:?}");

        // The first outbound or echo message at or after the referral, failed ones left out.
        for (referral, reply) in [
            (1_000, Some(1_060)),
            (1_060, Some(1_060)),
            (1_061, Some(1_100)),
            (1_101, Some(1_150)),
            (1_300, None),
        ] {
            let f = facts(FactsQuery {
                last_referral_at: Some(referral),
                ..q.clone()
            })
            .await;
            assert_eq!(
                f.first_reply_after_referral, reply,
                "{b:?}: referral at {referral}"
            );
        }
    }
}

/// The hub turns `first_reach_at` into the portfolio's `next_release_at` (first_reach_at + 24 h):
/// when the first customer stops counting and frees a place. A customer counts for 24 h after
/// their *latest* business-initiated message (`domain::policy::PortfolioReach::usage`: the
/// earliest of the customers' latest times).
#[tokio::test]
async fn reach_frees_a_place_when_the_first_customer_stops_counting() {
    // Every backend's answer, compared at the end, so that a failure shows them all.
    let mut seen = Vec::new();
    for db in TestDb::all().await {
        let store = db.open().await;
        let mut tx = store.begin().await.expect("begin");
        let (x, cx) = customer(&mut tx, "default", "111", PN).await;
        let (_, cy) = customer(&mut tx, "default", "222", PN).await;
        queue(
            &mut tx,
            &outbound(cx.id, 900, "marketing", true),
            PN,
            "111",
            900_000,
            None,
        )
        .await;
        queue(
            &mut tx,
            &outbound(cy.id, 950, "utility", true),
            PN,
            "222",
            950_000,
            None,
        )
        .await;
        queue(
            &mut tx,
            &outbound(cx.id, 1_100, "utility", true),
            PN,
            "111",
            1_100_000,
            None,
        )
        .await;
        tx.commit().await.expect("commit");
        let f = store
            .send_facts(&FactsQuery {
                portfolio: "default".into(),
                phone_number_id: PN.into(),
                contact_id: x,
                recipient: "111".into(),
                conversation_id: Some(cx.id),
                last_inbound_at: None,
                marketing_since: 0,
                reach_since: 0,
                pair_since_ms: 0,
                spend_between: None,
                last_referral_at: None,
            })
            .await
            .expect("facts");
        assert_eq!(f.reached, 2, "{:?}", db.backend);
        seen.push((db.backend, f.first_reach_at));
    }
    assert!(
        seen.iter().all(|(_, at)| *at == Some(950)),
        "X still counts after 900 + 24 h (reached again at 1100); Y (950) stops first: {seen:?}"
    );
}

// ---- 8. Recent sends and the cost ledger --------------------------------------------------------

#[tokio::test]
async fn recent_sends_and_the_cost_ledger() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let mut tx = store.begin().await.expect("begin");
        let (_, conv) = customer(&mut tx, "default", "111", PN).await;
        let (_, other) = customer(&mut tx, "default", "222", PN2).await;
        let q = |at| outbound(conv.id, at, "utility", true);
        let sending = queue(&mut tx, &q(100), PN, "r1", 100, Some(1_000)).await;
        let sent = queue(&mut tx, &q(200), PN, "r2", 200, Some(2_000)).await;
        let unknown = queue(&mut tx, &q(300), PN, "r3", 300, Some(3_000)).await;
        let retried = queue(&mut tx, &q(400), PN, "r4", 400, Some(4_000)).await;
        let failed = queue(&mut tx, &q(500), PN, "r5", 500, Some(5_000)).await;
        let queued = queue(&mut tx, &q(600), PN, "r6", 1_000_000, None).await;
        let theirs = queue(
            &mut tx,
            &outbound(other.id, 700, "marketing", true),
            PN2,
            "r7",
            100,
            Some(7_000),
        )
        .await;
        tx.commit().await.expect("commit");

        let mut tx = store.begin().await.expect("begin");
        for (now, id) in [
            (1_000, sending),
            (2_000, sent),
            (3_000, unknown),
            (4_000, retried),
            (5_000, failed),
        ] {
            assert_eq!(
                ids(&tx.claim_outbox(PN, now, 1).await.expect("claim")),
                [id],
                "{b:?}"
            );
        }
        assert_eq!(
            ids(&tx.claim_outbox(PN2, 1_500, 5).await.expect("claim")),
            [theirs]
        );
        tx.finish_outbox(
            sent,
            &OutboxOutcome::Sent {
                wamid: "wamid.sent".into(),
            },
            2_100,
        )
        .await
        .expect("finish");
        tx.finish_outbox(
            unknown,
            &OutboxOutcome::Unknown {
                not_before_ms: 60_000,
                error: "timed out".into(),
            },
            3_100,
        )
        .await
        .expect("finish");
        tx.finish_outbox(
            retried,
            &OutboxOutcome::Retry {
                not_before_ms: 60_000,
                error: "503".into(),
            },
            4_100,
        )
        .await
        .expect("finish");
        tx.finish_outbox(
            failed,
            &OutboxOutcome::Failed {
                code: Some(100),
                class: "permanent".into(),
                details: "invalid parameter".into(),
                at: 500,
            },
            5_100,
        )
        .await
        .expect("finish");
        tx.commit().await.expect("commit");

        let pairs = |rows: Vec<RecentSend>| {
            rows.into_iter()
                .map(|r| (r.recipient, r.sent_ms))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            pairs(store.recent_sends(PN, 0).await.expect("recent")),
            [
                ("r1".to_owned(), 1_000),
                ("r2".to_owned(), 2_000),
                ("r3".to_owned(), 3_000)
            ],
            "{b:?}: what went to the Graph API (or may have), oldest first"
        );
        assert_eq!(
            pairs(store.recent_sends(PN, 2_000).await.expect("recent")),
            [("r2".to_owned(), 2_000), ("r3".to_owned(), 3_000)],
            "{b:?}"
        );
        assert_eq!(
            pairs(store.recent_sends(PN2, 0).await.expect("recent")),
            [("r7".to_owned(), 1_500)]
        );
        assert_eq!(outbox_of(&store, queued).await.sent_ms, None);

        // The ledger: [from, to), failed messages left out, the wamid once known.
        let all = store.costs(0, 10_000).await.expect("costs");
        let keyed: Vec<_> = all
            .iter()
            .map(|k| {
                (
                    k.message_id,
                    k.sent_at,
                    k.predicted_micros,
                    k.wamid.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            keyed,
            [
                (sending, 100, Some(1_000), None),
                (sent, 200, Some(2_000), Some("wamid.sent")),
                (unknown, 300, Some(3_000), None),
                (retried, 400, Some(4_000), None),
                (queued, 600, None, None),
                (theirs, 700, Some(7_000), None),
            ],
            "{b:?}"
        );
        let window: Vec<_> = store
            .costs(200, 400)
            .await
            .expect("costs")
            .iter()
            .map(|k| k.message_id)
            .collect();
        assert_eq!(
            window,
            [sent, unknown],
            "{b:?}: from inclusive, to exclusive"
        );

        // Meta's bill: the first one wins.
        let bill = CostBill {
            message_id: sent,
            model: Some("PMP".into()),
            category: Some("utility".into()),
            pricing_type: Some("regular".into()),
            billable: Some(true),
            billed_micros: Some(2_500),
            billed_at: 210,
        };
        let mut tx = store.begin().await.expect("begin");
        assert!(tx.bill_cost(&bill).await.expect("bill"), "{b:?}");
        assert!(
            !tx.bill_cost(&CostBill {
                category: Some("marketing".into()),
                billable: Some(false),
                billed_micros: Some(0),
                billed_at: 220,
                ..bill.clone()
            })
            .await
            .expect("bill"),
            "{b:?}: billed before"
        );
        assert!(
            !tx.bill_cost(&CostBill {
                message_id: sent + 1_000,
                ..bill.clone()
            })
            .await
            .expect("bill"),
            "{b:?}: no such cost"
        );
        tx.commit().await.expect("commit");
        let k = store
            .costs(200, 201)
            .await
            .expect("costs")
            .pop()
            .expect("row");
        assert_eq!(
            (
                k.billed_model.as_deref(),
                k.billed_category.as_deref(),
                k.billed_type.as_deref(),
                k.billable,
                k.billed_micros,
                k.billed_at,
            ),
            (
                Some("PMP"),
                Some("utility"),
                Some("regular"),
                Some(1),
                Some(2_500),
                Some(210)
            ),
            "{b:?}"
        );
        assert_eq!(
            (k.category.as_str(), k.predicted_micros),
            ("utility", Some(2_000)),
            "{b:?}: the prediction stays beside the bill"
        );
    }
}

// ---- 9. Templates -------------------------------------------------------------------------------

fn sync(name: &str, language: &str, status: &str, category: &str, at_ms: i64) -> TemplateSync {
    TemplateSync {
        waba_id: "waba".into(),
        meta_id: format!("meta-{name}-{language}"),
        name: name.into(),
        language: language.into(),
        status: status.into(),
        category: category.into(),
        previous_category: None,
        quality: Some("GREEN".into()),
        reason: None,
        components: r#"[{"type":"BODY","text":"Hello {{1}}"}]"#.into(),
        parameter_format: Some("POSITIONAL".into()),
        synced_at_ms: at_ms,
    }
}

fn status_event(name: &str, language: &str, value: &str, meta_at: i64) -> TemplateEvent {
    TemplateEvent {
        waba_id: "waba".into(),
        meta_id: format!("meta-{name}-{language}"),
        name: name.into(),
        language: language.into(),
        field: TemplateField::Status,
        value: value.into(),
        category: None,
        reason: None,
        detail: None,
        meta_at,
        received_at_ms: meta_at * 1000,
    }
}

#[tokio::test]
async fn template_syncs_and_webhooks_keep_the_newest_word() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let template = |name: &'static str, language: &'static str| {
            let store = store.clone();
            async move {
                store
                    .template("waba", name, language)
                    .await
                    .expect("read")
                    .expect("template")
            }
        };

        let mut tx = store.begin().await.expect("begin");
        tx.sync_template(&sync("order", "en_US", "APPROVED", "UTILITY", 100_000))
            .await
            .expect("sync");
        tx.commit().await.expect("commit");
        let t = template("order", "en_US").await;
        assert_eq!(
            (
                t.meta_id.as_deref(),
                t.status.as_deref(),
                t.category.as_deref(),
                t.previous_category.as_deref(),
                t.quality.as_deref(),
                t.components.as_deref(),
                t.parameter_format.as_deref(),
                t.synced_at_ms,
            ),
            (
                Some("meta-order-en_US"),
                Some("APPROVED"),
                Some("UTILITY"),
                None,
                Some("GREEN"),
                Some(r#"[{"type":"BODY","text":"Hello {{1}}"}]"#),
                Some("POSITIONAL"),
                Some(100_000),
            ),
            "{b:?}"
        );

        // A later sync updates what changed.
        let mut tx = store.begin().await.expect("begin");
        tx.sync_template(&TemplateSync {
            components: r#"[{"type":"BODY","text":"Hello {{name}}"}]"#.into(),
            parameter_format: Some("NAMED".into()),
            quality: Some("YELLOW".into()),
            ..sync("order", "en_US", "APPROVED", "UTILITY", 200_000)
        })
        .await
        .expect("sync");
        tx.commit().await.expect("commit");
        let t = template("order", "en_US").await;
        assert_eq!(
            (
                t.components.as_deref(),
                t.parameter_format.as_deref(),
                t.synced_at_ms,
                t.quality.as_deref(),
                t.previous_category.as_deref(),
            ),
            (
                Some(r#"[{"type":"BODY","text":"Hello {{name}}"}]"#),
                Some("NAMED"),
                Some(200_000),
                Some("YELLOW"),
                None,
            ),
            "{b:?}"
        );

        // Meta recategorised it: the old category is kept as the previous one.
        let mut tx = store.begin().await.expect("begin");
        tx.sync_template(&sync("order", "en_US", "APPROVED", "MARKETING", 300_000))
            .await
            .expect("sync");
        tx.commit().await.expect("commit");
        let t = template("order", "en_US").await;
        assert_eq!(
            (t.category.as_deref(), t.previous_category.as_deref()),
            (Some("MARKETING"), Some("UTILITY")),
            "{b:?}"
        );
        // Synced again unchanged: the previous category stays.
        let mut tx = store.begin().await.expect("begin");
        tx.sync_template(&sync("order", "en_US", "APPROVED", "MARKETING", 310_000))
            .await
            .expect("sync");
        tx.commit().await.expect("commit");
        let t = template("order", "en_US").await;
        assert_eq!(
            (t.category.as_deref(), t.previous_category.as_deref()),
            (Some("MARKETING"), Some("UTILITY")),
            "{b:?}"
        );

        // Webhooks against the sync (310 s): older ones lose, newer ones win.
        let mut tx = store.begin().await.expect("begin");
        assert!(
            tx.apply_template_event(&status_event("order", "en_US", "REJECTED", 309))
                .await
                .expect("event")
        );
        tx.commit().await.expect("commit");
        assert_eq!(
            template("order", "en_US").await.status.as_deref(),
            Some("APPROVED"),
            "{b:?}: the webhook is older than the sync"
        );
        let mut tx = store.begin().await.expect("begin");
        assert!(
            tx.apply_template_event(&status_event("order", "en_US", "PAUSED", 350))
                .await
                .expect("event")
        );
        tx.commit().await.expect("commit");
        assert_eq!(
            template("order", "en_US").await.status.as_deref(),
            Some("PAUSED"),
            "{b:?}: the webhook is newer than the sync"
        );
        // A sync older than that webhook does not undo it, but still brings its components.
        let mut tx = store.begin().await.expect("begin");
        tx.sync_template(&TemplateSync {
            parameter_format: Some("POSITIONAL".into()),
            ..sync("order", "en_US", "APPROVED", "MARKETING", 320_000)
        })
        .await
        .expect("sync");
        tx.commit().await.expect("commit");
        let t = template("order", "en_US").await;
        assert_eq!(
            (
                t.status.as_deref(),
                t.parameter_format.as_deref(),
                t.synced_at_ms
            ),
            (Some("PAUSED"), Some("POSITIONAL"), Some(320_000)),
            "{b:?}"
        );
        // A sync newer than it wins.
        let mut tx = store.begin().await.expect("begin");
        tx.sync_template(&sync("order", "en_US", "APPROVED", "MARKETING", 400_000))
            .await
            .expect("sync");
        tx.commit().await.expect("commit");
        assert_eq!(
            template("order", "en_US").await.status.as_deref(),
            Some("APPROVED"),
            "{b:?}"
        );

        // A template first known from a webhook, then synced.
        let mut tx = store.begin().await.expect("begin");
        assert!(
            tx.apply_template_event(&status_event("order", "fr", "PENDING", 50))
                .await
                .expect("event")
        );
        tx.sync_template(&sync("order", "fr", "APPROVED", "UTILITY", 60_000))
            .await
            .expect("sync");
        tx.sync_template(&sync("welcome", "en_US", "APPROVED", "MARKETING", 60_000))
            .await
            .expect("sync");
        tx.sync_template(&TemplateSync {
            waba_id: "other-waba".into(),
            ..sync("order", "de", "APPROVED", "UTILITY", 60_000)
        })
        .await
        .expect("sync");
        tx.commit().await.expect("commit");
        let t = template("order", "fr").await;
        assert_eq!(
            (
                t.status.as_deref(),
                t.category.as_deref(),
                t.components.is_some()
            ),
            (Some("APPROVED"), Some("UTILITY"), true),
            "{b:?}"
        );

        let listed: Vec<_> = store
            .templates("waba")
            .await
            .expect("templates")
            .into_iter()
            .map(|t| (t.name, t.language))
            .collect();
        assert_eq!(
            listed,
            [
                ("order".to_owned(), "en_US".to_owned()),
                ("order".to_owned(), "fr".to_owned()),
                ("welcome".to_owned(), "en_US".to_owned()),
            ],
            "{b:?}: by name and language, this WABA's only"
        );
        let named: Vec<_> = store
            .templates_named("waba", "order")
            .await
            .expect("templates")
            .into_iter()
            .map(|t| t.language)
            .collect();
        assert_eq!(named, ["en_US", "fr"], "{b:?}");
        assert!(
            store
                .templates_named("waba", "nothing")
                .await
                .expect("templates")
                .is_empty()
        );
        assert_eq!(
            store
                .templates("other-waba")
                .await
                .expect("templates")
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn contacts_and_conversations_are_found_once_committed() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let mut tx = store.begin().await.expect("begin");
        let fields = ContactFields {
            user_id: Some("US.13491208655302741918".into()),
            ..contact("default", "16505551234")
        };
        let c = tx.insert_contact(&fields, 5).await.expect("contact");
        let only_bsuid = tx
            .insert_contact(
                &ContactFields {
                    portfolio: "default".into(),
                    user_id: Some("US.999".into()),
                    ..ContactFields::default()
                },
                5,
            )
            .await
            .expect("contact");
        let conv = tx.conversation_for(PN, c, 6).await.expect("conversation");
        // Not visible to reads before the commit.
        assert_eq!(
            store.conversation_of(PN, c).await.expect("read"),
            None,
            "{b:?}"
        );
        assert_eq!(
            store
                .find_contacts("default", None, Some("16505551234"))
                .await
                .expect("find"),
            ContactMatches::default(),
            "{b:?}"
        );
        tx.commit().await.expect("commit");

        let both = store
            .find_contacts(
                "default",
                Some("US.13491208655302741918"),
                Some("16505551234"),
            )
            .await
            .expect("find");
        assert_eq!(both.by_user_id.as_ref().map(|k| k.id), Some(c), "{b:?}");
        assert_eq!(both.by_wa_id.as_ref().map(|k| k.id), Some(c), "{b:?}");
        let k = both.by_wa_id.expect("contact");
        assert_eq!(
            (
                k.portfolio.as_str(),
                k.phone.as_deref(),
                k.profile_name.as_deref(),
                k.created_at_ms
            ),
            ("default", Some("+16505551234"), Some("Ana"), 5)
        );
        let by_wa = store
            .find_contacts("default", None, Some("16505551234"))
            .await
            .expect("find");
        assert_eq!(
            (by_wa.by_user_id, by_wa.by_wa_id.map(|k| k.id)),
            (None, Some(c)),
            "{b:?}"
        );
        let split = store
            .find_contacts("default", Some("US.999"), Some("16505551234"))
            .await
            .expect("find");
        assert_eq!(
            (split.by_user_id.map(|k| k.id), split.by_wa_id.map(|k| k.id)),
            (Some(only_bsuid), Some(c)),
            "{b:?}: two contacts, one per key"
        );
        assert_eq!(
            store
                .find_contacts("other", Some("US.999"), Some("16505551234"))
                .await
                .expect("find"),
            ContactMatches::default(),
            "{b:?}: ids are per portfolio"
        );
        assert_eq!(
            store
                .find_contacts("default", None, None)
                .await
                .expect("find"),
            ContactMatches::default()
        );

        let found = store
            .conversation_of(PN, c)
            .await
            .expect("read")
            .expect("conversation");
        assert_eq!(found, conv, "{b:?}");
        assert_eq!(
            (
                found.status.as_str(),
                found.created_at_ms,
                found.message_count
            ),
            ("open", 6, 0)
        );
        assert_eq!(store.conversation_of(PN2, c).await.expect("read"), None);
        assert_eq!(
            store.conversation_of(PN, only_bsuid).await.expect("read"),
            None
        );
    }
}
