//! The media queue, told against every backend: a media is queued with its message or not at
//! all, claims are leases that never hand one row to two nodes, outcomes are written by the
//! holder only, and the reads the API and the conversation view use.

use std::collections::HashSet;
use std::sync::Arc;

use store::testing::TestDb;
use store::*;

const PN: &str = "106540352242922";

fn inbound(conversation_id: i64, wamid: &str, kind: &str) -> NewMessage {
    NewMessage {
        conversation_id,
        wamid: Some(wamid.into()),
        direction: Direction::Inbound,
        kind: kind.into(),
        meta_at: 1_000,
        received_at_ms: 1_000_000,
        preview: None,
        content: format!(r#"{{"kind":"{kind}"}}"#),
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

fn new_media(message_id: i64, meta_id: &str, at_ms: i64) -> NewMedia {
    NewMedia {
        message_id,
        meta_media_id: meta_id.into(),
        phone_number_id: PN.into(),
        kind: "document".into(),
        declared_mime: Some("application/pdf".into()),
        declared_sha256: Some("SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=".into()),
        filename: Some("facture mars.pdf".into()),
        created_at_ms: at_ms,
    }
}

/// A customer's conversation, for messages to belong to.
async fn conversation(store: &Arc<dyn Store>) -> i64 {
    let mut tx = store.begin().await.expect("begin");
    let contact = tx
        .insert_contact(
            &ContactFields {
                portfolio: "default".into(),
                wa_id: Some("16505551234".into()),
                ..ContactFields::default()
            },
            1,
        )
        .await
        .expect("contact");
    let conv = tx
        .conversation_for(PN, contact, 1)
        .await
        .expect("conversation");
    tx.commit().await.expect("commit");
    conv.id
}

/// A message and its media, queued in one transaction as ingest does: (message id, media id).
async fn received(store: &Arc<dyn Store>, conv: i64, n: u32, at_ms: i64) -> (i64, i64) {
    let mut tx = store.begin().await.expect("begin");
    let message = tx
        .insert_message(&inbound(conv, &format!("wamid.{n}"), "document"))
        .await
        .expect("message")
        .expect("new");
    let media = tx
        .queue_media(&new_media(message, &format!("meta-{n}"), at_ms))
        .await
        .expect("queue")
        .expect("new");
    tx.commit().await.expect("commit");
    (message, media)
}

async fn row(store: &Arc<dyn Store>, id: i64) -> MediaRow {
    store
        .media(id)
        .await
        .expect("read")
        .expect("the media exists")
}

fn ids(rows: &[MediaRow]) -> Vec<i64> {
    rows.iter().map(|r| r.id).collect()
}

#[tokio::test]
async fn a_media_is_queued_with_its_message_or_not_at_all() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let conv = conversation(&store).await;
        let (message, media) = received(&store, conv, 1, 5_000).await;

        let r = row(&store, media).await;
        assert_eq!(
            r,
            MediaRow {
                id: media,
                message_id: message,
                meta_media_id: "meta-1".into(),
                phone_number_id: PN.into(),
                kind: "document".into(),
                state: "queued".into(),
                attempts: 0,
                next_attempt_at_ms: 5_000,
                locked_until_ms: None,
                locked_by: None,
                declared_mime: Some("application/pdf".into()),
                declared_sha256: Some("SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=".into()),
                sniffed_mime: None,
                has_markup: false,
                size_bytes: None,
                filename: Some("facture mars.pdf".into()),
                storage_key: None,
                last_error: None,
                created_at_ms: 5_000,
                updated_at_ms: 5_000,
                stored_at_ms: None,
            },
            "{b:?}"
        );
        assert_eq!(r.state(), Some(MediaState::Queued));

        // Queued again (a replayed webhook): nothing changes.
        let mut tx = store.begin().await.expect("begin");
        let again = tx
            .queue_media(&new_media(message, "meta-1", 9_000))
            .await
            .expect("queue");
        tx.commit().await.expect("commit");
        assert_eq!(again, None, "{b:?}");
        assert_eq!(row(&store, media).await.next_attempt_at_ms, 5_000);

        // A message and its media rolled back together: neither is there.
        let mut tx = store.begin().await.expect("begin");
        let lost = tx
            .insert_message(&inbound(conv, "wamid.lost", "image"))
            .await
            .expect("message")
            .expect("new");
        let lost_media = tx
            .queue_media(&new_media(lost, "meta-lost", 6_000))
            .await
            .expect("queue")
            .expect("new");
        drop(tx);
        assert_eq!(store.message(lost).await.expect("read"), None, "{b:?}");
        assert_eq!(store.media(lost_media).await.expect("read"), None, "{b:?}");
        assert_eq!(
            ids(&store
                .claim_media("a", 10_000, 20_000, 10)
                .await
                .expect("claim")),
            vec![media],
            "{b:?}: only the committed media is queued"
        );
    }
}

#[tokio::test]
async fn a_claim_takes_due_rows_oldest_first_and_holds_them_for_its_lease() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let conv = conversation(&store).await;
        let (_, late) = received(&store, conv, 1, 3_000).await;
        let (_, early) = received(&store, conv, 2, 1_000).await;
        let (_, future) = received(&store, conv, 3, 50_000).await;

        assert!(
            store
                .claim_media("a", 500, 10_500, 10)
                .await
                .expect("claim")
                .is_empty(),
            "{b:?}: nothing is due before its time"
        );
        let first = store
            .claim_media("a", 10_000, 20_000, 1)
            .await
            .expect("claim");
        assert_eq!(
            ids(&first),
            vec![early],
            "{b:?}: oldest due first, up to the limit"
        );
        assert_eq!(first[0].attempts, 1);
        assert_eq!(first[0].locked_by.as_deref(), Some("a"));
        assert_eq!(first[0].locked_until_ms, Some(20_000));
        let second = store
            .claim_media("b", 10_000, 20_000, 10)
            .await
            .expect("claim");
        assert_eq!(
            ids(&second),
            vec![late],
            "{b:?}: a held row is not claimed again"
        );
        assert!(
            store
                .claim_media("c", 19_999, 30_000, 10)
                .await
                .expect("claim")
                .is_empty(),
            "{b:?}: the leases run and `future` is not due"
        );

        // Node `a` dies: once its lease has run out, `c` takes the row, as a second attempt.
        let taken = store
            .claim_media("c", 20_000, 30_000, 10)
            .await
            .expect("claim");
        assert_eq!(ids(&taken), vec![early, late], "{b:?}");
        assert_eq!(taken[0].attempts, 2);
        assert_eq!(taken[0].locked_by.as_deref(), Some("c"));
        // `a` comes back with an outcome: it no longer holds the row, nothing is written.
        let stale = MediaOutcome::Failed {
            error: "late".into(),
        };
        assert!(
            !store
                .finish_media(early, "a", &stale, 20_500)
                .await
                .expect("finish"),
            "{b:?}"
        );
        assert_eq!(row(&store, early).await.state, "queued");
        assert_eq!(row(&store, early).await.last_error, None);
        let _ = future;
    }
}

#[tokio::test]
async fn the_holder_records_what_became_of_a_download() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let conv = conversation(&store).await;
        let (message, stored) = received(&store, conv, 1, 1_000).await;
        let (_, retried) = received(&store, conv, 2, 1_000).await;
        let (_, failed) = received(&store, conv, 3, 1_000).await;
        let (_, released) = received(&store, conv, 4, 1_000).await;
        assert_eq!(
            store
                .claim_media("n", 2_000, 60_000, 10)
                .await
                .expect("claim")
                .len(),
            4
        );

        let key = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let outcome = MediaOutcome::Stored {
            storage_key: key.into(),
            size_bytes: 1234,
            sniffed_mime: Some("application/pdf".into()),
            has_markup: true,
        };
        assert!(
            store
                .finish_media(stored, "n", &outcome, 3_000)
                .await
                .expect("finish")
        );
        let r = row(&store, stored).await;
        assert_eq!(
            (
                r.state(),
                r.storage_key.as_deref(),
                r.size_bytes,
                r.sniffed_mime.as_deref(),
                r.has_markup,
                r.stored_at_ms,
                r.locked_by.as_deref(),
                r.locked_until_ms,
            ),
            (
                Some(MediaState::Stored),
                Some(key),
                Some(1234),
                Some("application/pdf"),
                true,
                Some(3_000),
                None,
                None
            ),
            "{b:?}"
        );
        assert!(
            !store
                .finish_media(stored, "n", &outcome, 3_100)
                .await
                .expect("finish"),
            "{b:?}: a stored media is finished once"
        );

        let retry = MediaOutcome::Retry {
            next_attempt_at_ms: 9_000,
            error: "HTTP 500".into(),
        };
        assert!(
            store
                .finish_media(retried, "n", &retry, 3_000)
                .await
                .expect("finish")
        );
        let r = row(&store, retried).await;
        assert_eq!(
            (
                r.state(),
                r.next_attempt_at_ms,
                r.last_error.as_deref(),
                r.locked_by
            ),
            (Some(MediaState::Queued), 9_000, Some("HTTP 500"), None),
            "{b:?}"
        );

        let gone = MediaOutcome::Failed {
            error: "Meta no longer has this file".into(),
        };
        assert!(
            store
                .finish_media(failed, "n", &gone, 3_000)
                .await
                .expect("finish")
        );
        assert_eq!(row(&store, failed).await.state(), Some(MediaState::Failed));

        // Released by a stopping node: due at once, and the attempt does not count.
        assert!(
            store
                .release_media(released, "n", 4_000)
                .await
                .expect("release")
        );
        let r = row(&store, released).await;
        assert_eq!(
            (r.attempts, r.next_attempt_at_ms, r.locked_by),
            (0, 4_000, None),
            "{b:?}"
        );
        assert!(
            !store
                .release_media(released, "n", 4_000)
                .await
                .expect("release")
        );

        // Only the queued rows come back, each when due.
        assert_eq!(
            ids(&store
                .claim_media("m", 5_000, 60_000, 10)
                .await
                .expect("claim")),
            vec![released],
            "{b:?}"
        );
        assert_eq!(
            ids(&store
                .claim_media("m", 9_000, 60_000, 10)
                .await
                .expect("claim")),
            vec![retried],
            "{b:?}"
        );
        let again = row(&store, retried).await;
        assert_eq!(again.attempts, 2);
        assert_eq!(
            again.last_error.as_deref(),
            Some("HTTP 500"),
            "kept until the next outcome"
        );

        // The reads of the conversation view.
        let of = store.media_of_message(message).await.expect("read");
        assert_eq!(ids(&of), vec![stored], "{b:?}");
        assert!(store.media_of_message(-1).await.expect("read").is_empty());
        let many = store
            .media_of_messages(&[message, row(&store, failed).await.message_id, 999_999])
            .await
            .expect("read");
        assert_eq!(ids(&many), vec![stored, failed], "{b:?}");
        assert!(store.media_of_messages(&[]).await.expect("read").is_empty());
        assert_eq!(store.media(999_999).await.expect("read"), None);
    }
}

#[tokio::test]
async fn concurrent_claims_never_take_one_row_twice() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let conv = conversation(&store).await;
        let mut queued = HashSet::new();
        for n in 0..40 {
            queued.insert(received(&store, conv, n, 1_000).await.1);
        }
        let claims = (0..8).map(|node| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let rows = store
                        .claim_media(&format!("node-{node}"), 2_000, 60_000, 3)
                        .await
                        .expect("claim");
                    if rows.is_empty() {
                        return mine;
                    }
                    mine.extend(rows.into_iter().map(|r| r.id));
                }
            })
        });
        let mut seen = Vec::new();
        for claim in claims {
            seen.extend(claim.await.expect("claimer"));
        }
        let unique: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(seen.len(), unique.len(), "{b:?}: a row was claimed twice");
        assert_eq!(unique, queued, "{b:?}: every row was claimed");
    }
}
