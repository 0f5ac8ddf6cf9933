//! The inbox side of the store, told against every backend: the list's filters, counts and
//! per-agent unread markers, assignment and status changes, labels, notes, read positions and
//! canned replies.

use store::testing::TestDb;
use store::*;

const PN: &str = "106540352242922";
const PN2: &str = "106540352242923";
const ANA: i64 = 1;
const BEN: i64 = 2;

fn message(conversation_id: i64, wamid: &str, meta_at: i64, text: &str) -> NewMessage {
    NewMessage {
        conversation_id,
        wamid: Some(wamid.into()),
        direction: Direction::Inbound,
        kind: "text".into(),
        meta_at,
        received_at_ms: meta_at * 1000,
        preview: Some(text.into()),
        content: "{}".into(),
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

/// A customer named `name` who wrote `text` to `phone` at `at`; returns the conversation and the
/// message ids.
async fn customer(
    store: &std::sync::Arc<dyn Store>,
    phone: &str,
    wa_id: &str,
    name: &str,
    text: &str,
    at: i64,
) -> (i64, i64) {
    let mut tx = store.begin().await.expect("begin");
    let c = tx
        .insert_contact(
            &ContactFields {
                portfolio: "default".into(),
                wa_id: Some(wa_id.into()),
                phone: Some(format!("+{wa_id}")),
                profile_name: Some(name.into()),
                ..ContactFields::default()
            },
            1,
        )
        .await
        .expect("contact");
    let conv = tx
        .conversation_for(phone, c, 1)
        .await
        .expect("conversation");
    let m = tx
        .insert_message(&message(conv.id, &format!("wamid.{wa_id}.{at}"), at, text))
        .await
        .expect("insert")
        .expect("new");
    tx.update_conversation(
        conv.id,
        &ConversationUpdate {
            status: "open".into(),
            last_message_at: at,
            last_inbound_at: Some(at),
            last_referral_at: None,
            new_unread: 1,
            new_messages: 1,
            updated_at_ms: at * 1000,
        },
    )
    .await
    .expect("update");
    tx.commit().await.expect("commit");
    (conv.id, m)
}

fn query(user_id: i64) -> InboxQuery {
    InboxQuery {
        user_id,
        limit: 50,
        ..InboxQuery::default()
    }
}

async fn ids(store: &std::sync::Arc<dyn Store>, q: &InboxQuery) -> Vec<i64> {
    store
        .inbox(q)
        .await
        .expect("inbox")
        .iter()
        .map(|i| i.view.conversation.id)
        .collect()
}

#[tokio::test]
async fn the_list_filters_by_status_assignment_number_label_and_text() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let (broken, _) = customer(&store, PN, "111", "Ana Lima", "my washer is broken", 100).await;
        let (order, _) = customer(&store, PN, "222", "Ben", "where is order 50%_off?", 200).await;
        let (other, _) = customer(&store, PN2, "333", "Chloé", "Bonjour", 300).await;

        assert_eq!(
            ids(&store, &query(ANA)).await,
            [other, order, broken],
            "{b:?}"
        );

        let mut tx = store.begin().await.expect("begin");
        assert!(tx.set_assignee(broken, Some(ANA), 5).await.expect("assign"));
        assert!(!tx.set_assignee(broken, Some(ANA), 6).await.expect("again"));
        assert!(tx.set_status(order, "resolved", 5).await.expect("resolve"));
        tx.set_labels(other, &["Urgent".into(), " VIP ".into()], 5)
            .await
            .expect("labels");
        tx.set_labels(broken, &["urgent".into()], 5)
            .await
            .expect("labels");
        tx.commit().await.expect("commit");

        let mine = InboxQuery {
            assignment: Some(Assignment::Mine),
            ..query(ANA)
        };
        assert_eq!(ids(&store, &mine).await, [broken], "{b:?}");
        let bens = InboxQuery {
            assignment: Some(Assignment::Mine),
            ..query(BEN)
        };
        assert!(ids(&store, &bens).await.is_empty(), "{b:?}");
        let unassigned = InboxQuery {
            assignment: Some(Assignment::Unassigned),
            ..query(ANA)
        };
        assert_eq!(ids(&store, &unassigned).await, [other, order], "{b:?}");
        let resolved = InboxQuery {
            status: Some("resolved".into()),
            ..query(ANA)
        };
        assert_eq!(ids(&store, &resolved).await, [order], "{b:?}");
        let second = InboxQuery {
            phone_number_id: Some(PN2.into()),
            ..query(ANA)
        };
        assert_eq!(ids(&store, &second).await, [other], "{b:?}");

        // "Urgent" and "urgent" are one label.
        let labels = store.labels().await.expect("labels");
        assert_eq!(
            labels.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
            ["Urgent", "VIP"],
            "{b:?}"
        );
        let urgent = InboxQuery {
            label_id: Some(labels[0].id),
            ..query(ANA)
        };
        assert_eq!(ids(&store, &urgent).await, [other, broken], "{b:?}");
        let item = store
            .inbox_item(other, ANA)
            .await
            .expect("item")
            .expect("there");
        assert_eq!(item.labels(), ["Urgent", "VIP"], "{b:?}");

        for (text, expected) in [
            ("WASHER", vec![broken]),
            ("lima", vec![broken]),
            ("+333", vec![other]),
            ("50%_", vec![order]),
            // Wildcards are literal: `%` alone matches only texts that contain it.
            ("%", vec![order]),
            ("_", vec![order]),
            ("nothing like this", vec![]),
        ] {
            let q = InboxQuery {
                search: Some(text.into()),
                ..query(ANA)
            };
            assert_eq!(ids(&store, &q).await, expected, "{b:?}: {text:?}");
        }

        let counts = store.inbox_counts(&query(ANA)).await.expect("counts");
        assert_eq!(
            counts,
            InboxCounts {
                open: 2,
                pending: 0,
                resolved: 1,
                mine: 1,
                unassigned: 2,
                all: 3
            },
            "{b:?}"
        );
        // Each tab counts under the other filters.
        let counts = store.inbox_counts(&mine).await.expect("counts");
        assert_eq!(
            (counts.open, counts.resolved, counts.all),
            (1, 0, 3),
            "{b:?}"
        );
        let counts = store.inbox_counts(&resolved).await.expect("counts");
        assert_eq!((counts.open, counts.mine, counts.all), (2, 0, 1), "{b:?}");

        // Paging continues after the cursor.
        let first = InboxQuery {
            limit: 2,
            ..query(ANA)
        };
        let page = store.inbox(&first).await.expect("page");
        let last = &page[1].view.conversation;
        let next = InboxQuery {
            after: Some((last.last_message_at, last.id)),
            ..query(ANA)
        };
        assert_eq!(ids(&store, &next).await, [broken], "{b:?}");
    }
}

#[tokio::test]
async fn unread_markers_are_per_agent_and_only_move_forward() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let (conv, first) = customer(&store, PN, "111", "Ana", "hello", 100).await;
        let mut tx = store.begin().await.expect("begin");
        let second = tx
            .insert_message(&message(conv, "wamid.second", 101, "anyone?"))
            .await
            .expect("insert")
            .expect("new");
        tx.commit().await.expect("commit");

        let unread = |user| {
            let store = store.clone();
            async move {
                store
                    .inbox_item(conv, user)
                    .await
                    .expect("item")
                    .expect("there")
                    .unread
            }
        };
        assert_eq!((unread(ANA).await, unread(BEN).await), (2, 2), "{b:?}");
        let mut tx = store.begin().await.expect("begin");
        tx.mark_read(ANA, conv, second, 5).await.expect("read");
        tx.mark_read(ANA, conv, first, 6).await.expect("older read");
        tx.commit().await.expect("commit");
        assert_eq!((unread(ANA).await, unread(BEN).await), (0, 2), "{b:?}");
        let item = store
            .inbox_item(conv, ANA)
            .await
            .expect("item")
            .expect("there");
        assert_eq!(item.last_preview.as_deref(), Some("anyone?"), "{b:?}");
        assert_eq!(item.last_direction.as_deref(), Some("inbound"), "{b:?}");
    }
}

#[tokio::test]
async fn notes_handlers_authors_and_canned_replies() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let b = db.backend;
        let (conv, msg) = customer(&store, PN, "111", "Ana", "hello", 100).await;
        let mut tx = store.begin().await.expect("begin");
        let note = tx
            .insert_note(conv, ANA, "called her back", 7)
            .await
            .expect("note");
        assert!(tx.set_handler(conv, "bot", 7).await.expect("handler"));
        assert!(!tx.set_handler(conv, "bot", 8).await.expect("same handler"));
        tx.set_author(msg, Author::Agent(BEN))
            .await
            .expect("author");
        let canned = tx
            .save_canned("hours", "Opening hours", "We open at 9, {{name}}.", 7)
            .await
            .expect("canned");
        let again = tx
            .save_canned("hours", "Opening hours", "We open at 8, {{name}}.", 8)
            .await
            .expect("replace");
        assert_eq!(canned, again, "{b:?}: one reply per shortcut");
        tx.commit().await.expect("commit");

        let notes = store.notes(conv).await.expect("notes");
        assert_eq!(notes.len(), 1);
        assert_eq!(
            (notes[0].id, notes[0].body.as_str()),
            (note, "called her back")
        );
        let item = store
            .inbox_item(conv, ANA)
            .await
            .expect("item")
            .expect("there");
        assert_eq!(item.handler, "bot", "{b:?}");
        assert_eq!(
            store.authors(&[msg, msg + 1000]).await.expect("authors"),
            [(msg, "agent".to_owned(), Some(BEN))],
            "{b:?}"
        );
        let replies = store.canned_replies().await.expect("canned");
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].body, "We open at 8, {{name}}.", "{b:?}");
        let mut tx = store.begin().await.expect("begin");
        assert!(tx.delete_canned(canned).await.expect("delete"));
        assert!(!tx.delete_canned(canned).await.expect("gone"));
        tx.commit().await.expect("commit");
        assert!(store.canned_replies().await.expect("canned").is_empty());
    }
}
