//! Ingest queues customers' media — and the media of coexistence echoes — in the transaction that
//! records their message, through the real server on each backend. (Downloading and serving are
//! told against the sandbox in the `guichet` crate's `media` tests.)

mod common;

use std::sync::Arc;

use common::*;
use hub::ManualClock;
use serde_json::json;
use store::{MediaRow, MediaState, Store};

/// Nothing listens there: downloads fail (and wait for their retry) without leaving the machine.
const NO_GRAPH: &str = "http://127.0.0.1:9/v25.0";

async fn media_of(store: &Arc<dyn Store>, wamid: &str) -> Vec<MediaRow> {
    let message = store
        .message_by_wamid(wamid)
        .await
        .expect("read")
        .expect("the message was ingested");
    store.media_of_message(message.id).await.expect("read")
}

#[tokio::test]
async fn customers_and_echoed_media_are_queued_with_their_message() {
    each_backend(|db| async move {
        let clock = Arc::new(ManualClock::at_ms(NOW_MS));
        let app = TestApp::spawn_with(&db, &[("GUICHET_GRAPH_URL", NO_GRAPH)], clock).await;
        let b = db.backend;
        let photo = json!({
            "from": "16505551234", "id": "wamid.PHOTO", "timestamp": "1795219100", "type": "image",
            "image": { "caption": "Taj Mahal", "mime_type": "image/jpeg",
                       "sha256": "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=", "id": "1003383421387256" }
        });
        let document = json!({
            "from": "16505551234", "id": "wamid.DOC", "timestamp": "1795219101", "type": "document",
            "document": { "mime_type": "application/pdf", "sha256": "abc=", "id": "2003383421387256",
                          "filename": "../../facture.pdf" }
        });
        // A media object without an id cannot be fetched: the message is kept, nothing queued.
        let no_id = json!({
            "from": "16505551234", "id": "wamid.NOID", "timestamp": "1795219102", "type": "sticker",
            "sticker": { "mime_type": "image/webp", "animated": false }
        });
        let body = messages("16505551234", "Ana", vec![photo, document, no_id, text("wamid.TXT", "16505551234", 1_795_219_103, "hi")]);
        app.deliver(&body).await;
        // Meta delivers at least once: the replay queues nothing more.
        app.deliver(&body).await;
        let mut echo = echo("wamid.ECHO", "16505551234", 1_795_219_104, "");
        echo["entry"][0]["changes"][0]["value"]["message_echoes"][0] = json!({
            "from": "15550783881", "to": "16505551234", "id": "wamid.ECHO",
            "timestamp": "1795219104", "type": "video",
            "video": { "mime_type": "video/mp4", "sha256": "def=", "id": "3003383421387256" }
        });
        app.deliver(&echo).await;
        app.drained().await;

        let photo = media_of(&app.store, "wamid.PHOTO").await;
        assert_eq!(photo.len(), 1, "[{b:?}] {photo:?}");
        let p = &photo[0];
        assert_eq!(
            (
                p.meta_media_id.as_str(),
                p.phone_number_id.as_str(),
                p.kind.as_str(),
                p.declared_mime.as_deref(),
                p.declared_sha256.as_deref(),
                p.filename.as_deref(),
                p.created_at_ms,
            ),
            (
                "1003383421387256",
                NUMBER,
                "image",
                Some("image/jpeg"),
                Some("SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI="),
                None,
                NOW_MS,
            ),
            "[{b:?}]"
        );
        assert_ne!(p.state(), Some(MediaState::Stored), "nowhere to fetch it from");
        let doc = media_of(&app.store, "wamid.DOC").await;
        assert_eq!(
            doc.iter()
                .map(|d| (d.kind.as_str(), d.filename.as_deref()))
                .collect::<Vec<_>>(),
            vec![("document", Some("../../facture.pdf"))],
            "[{b:?}] the customer's filename is kept as they wrote it, for display only"
        );
        let echoed = media_of(&app.store, "wamid.ECHO").await;
        assert_eq!(
            echoed
                .iter()
                .map(|e| (e.kind.as_str(), e.meta_media_id.as_str()))
                .collect::<Vec<_>>(),
            vec![("video", "3003383421387256")],
            "[{b:?}]"
        );
        assert!(media_of(&app.store, "wamid.NOID").await.is_empty(), "[{b:?}]");
        assert!(media_of(&app.store, "wamid.TXT").await.is_empty(), "[{b:?}]");
        let all = app
            .store
            .media_of_messages(&[p.message_id, doc[0].message_id, echoed[0].message_id])
            .await
            .expect("read");
        assert_eq!(all.len(), 3, "[{b:?}] queued once each despite the replay");
        app.stop().await;
    })
    .await;
}

/// A node that stops mid-download lets go of it at once, without counting the attempt: the
/// next node (or the same one restarted) need not wait for the lease to run out.
#[tokio::test]
async fn a_stopping_node_releases_the_downloads_it_holds() {
    each_backend(|db| async move {
        // A Graph API that accepts connections and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let graph = format!("http://{}/v25.0", silent.local_addr().expect("addr"));
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = silent.accept().await {
                open.push(socket);
            }
        });
        let clock = Arc::new(ManualClock::at_ms(NOW_MS));
        let app = TestApp::spawn_with(&db, &[("GUICHET_GRAPH_URL", graph.as_str())], clock).await;
        let b = db.backend;
        let photo = json!({
            "from": "16505551234", "id": "wamid.HELD", "timestamp": "1795219100", "type": "image",
            "image": { "mime_type": "image/jpeg", "sha256": "abc=", "id": "1003383421387256" }
        });
        app.deliver(&messages("16505551234", "Ana", vec![photo]))
            .await;
        app.drained().await;
        let mut claimed = None;
        for _ in 0..400 {
            let rows = media_of(&app.store, "wamid.HELD").await;
            if rows.first().is_some_and(|r| r.locked_by.is_some()) {
                claimed = rows.into_iter().next();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        let claimed = claimed.expect("the download was claimed");
        assert_eq!(claimed.attempts, 1, "[{b:?}]");
        let store = app.store.clone();
        app.stop().await;
        let released = store.media(claimed.id).await.expect("read").expect("row");
        assert_eq!(
            (
                released.state(),
                released.attempts,
                released.locked_by,
                released.locked_until_ms
            ),
            (Some(MediaState::Queued), 0, None, None),
            "[{b:?}]"
        );
        held.abort();
    })
    .await;
}
