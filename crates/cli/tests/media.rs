//! Customers' media, end to end against the sandbox on each backend: a customer sends files,
//! guichet downloads each one once, promptly, through faults and expired URLs, keeps it under its
//! own name, and serves it so that nothing a customer sends can run in guichet's origin (T-23).
//! Retries wait on the sandbox's emulated clock, never on a timer.

#[allow(dead_code, reason = "the outbound tests use the rest of the rig")]
#[path = "outbound/rig.rs"]
mod rig;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName};
use rig::{Rig, Setup};
use serde_json::Value;
use store::testing::TestDb;
use store::{MediaRow, MediaState, Store};

const NUMBER: &str = "106540352242922";
const CAMILLE: &str = "+33612345678";

/// A minimal JPEG: its markers and nothing else.
const JPEG: &[u8] = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9";

struct Media {
    rig: Rig,
    store: Arc<dyn Store>,
    dir: tempfile::TempDir,
}

/// A rig whose media go to a folder of the test's own. Downloads are polled for only once a
/// minute: anything faster comes from ingest waking the downloader.
async fn start(db: &TestDb, env: &[(&str, &str)]) -> Media {
    let dir = tempfile::tempdir().expect("temp dir");
    let media_dir = dir.path().display().to_string();
    let mut all = vec![
        ("GUICHET_MEDIA__DIR", media_dir.as_str()),
        ("GUICHET_MEDIA__POLL_INTERVAL_MS", "60000"),
        ("GUICHET_MEDIA__BACKOFF_BASE_MS", "1000"),
    ];
    all.extend_from_slice(env);
    let rig = Rig::start(
        db,
        Setup {
            env: &all,
            ..Setup::default()
        },
    )
    .await;
    rig.customer(CAMILLE);
    Media {
        rig,
        store: db.open().await,
        dir,
    }
}

impl Media {
    /// The customer sends a file (the kind's sample file, or `(bytes, declared type, filename)`);
    /// the message's wamid.
    fn send(&self, kind: &str, custom: Option<(&[u8], &str, Option<&str>)>) -> String {
        let media = sandbox::world::InboundMedia {
            kind: kind.into(),
            caption: None,
            data_base64: custom
                .map(|(b, _, _)| base64::engine::general_purpose::STANDARD.encode(b)),
            mime_type: custom.map(|(_, m, _)| m.to_owned()),
            filename: custom.and_then(|(_, _, f)| f.map(str::to_owned)),
        };
        self.rig
            .sandbox
            .customer_says(
                CAMILLE.trim_start_matches('+'),
                &sandbox::world::CustomerMessage {
                    media: Some(media),
                    phone_number_id: Some(NUMBER.into()),
                    ..sandbox::world::CustomerMessage::default()
                },
            )
            .expect("the customer sends a file")
    }

    /// Waits until the message with `wamid` is ingested and its media satisfies `done`.
    async fn wait(&self, wamid: &str, what: &str, done: impl Fn(&MediaRow) -> bool) -> MediaRow {
        let mut last = None;
        for _ in 0..800 {
            if let Some(message) = self.store.message_by_wamid(wamid).await.expect("read") {
                let rows = self.store.media_of_message(message.id).await.expect("read");
                assert!(rows.len() <= 1, "one media per message: {rows:?}");
                if let Some(row) = rows.into_iter().next() {
                    if done(&row) {
                        return row;
                    }
                    last = Some(row);
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("[{}] {what} never happened: {last:#?}", self.rig.backend);
    }

    async fn stored(&self, wamid: &str) -> MediaRow {
        self.wait(wamid, "the download", |r| {
            r.state() == Some(MediaState::Stored)
        })
        .await
    }

    async fn content(&self, id: i64) -> (StatusCode, HeaderMap, Vec<u8>) {
        let r = self
            .rig
            .http
            .get(format!("{}/api/v1/media/{id}/content", self.rig.hub))
            .bearer_auth(rig::API)
            .send()
            .await
            .expect("get");
        let (status, headers) = (r.status(), r.headers().clone());
        (status, headers, r.bytes().await.expect("body").to_vec())
    }

    async fn content_json(&self, id: i64) -> (StatusCode, Value) {
        let (status, _, body) = self.content(id).await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    fn on_disk(&self, row: &MediaRow) -> Vec<u8> {
        let key = row
            .storage_key
            .as_deref()
            .expect("a stored media has a key");
        std::fs::read(self.dir.path().join(&key[..2]).join(key)).expect("the stored file")
    }

    fn urls_given(&self, row: &MediaRow) -> u32 {
        self.rig
            .sandbox
            .world()
            .media()
            .urls_given(&row.meta_media_id)
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(HeaderName::from_bytes(name.as_bytes()).expect("name"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The headers every media answer carries, whatever the file.
fn assert_guarded(headers: &HeaderMap, what: &str) {
    assert_eq!(
        header(headers, "x-content-type-options"),
        "nosniff",
        "{what}"
    );
    assert_eq!(
        header(headers, "content-security-policy"),
        "sandbox; default-src 'none'",
        "{what}"
    );
    assert_eq!(header(headers, "cache-control"), "private", "{what}");
}

/// Names in the media folder: guichet's own only.
fn stored_names(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
    }
    names
}

#[tokio::test]
async fn an_image_and_a_pdf_are_downloaded_once_kept_and_served_with_their_headers() {
    for db in TestDb::all().await {
        let m = start(&db, &[]).await;
        let b = m.rig.backend;
        let image_wamid = m.send("image", None);
        let pdf_wamid = m.send("document", None);
        // The downloader polls once a minute: only ingest waking it gets these done in time.
        let image = m.stored(&image_wamid).await;
        let pdf = m.stored(&pdf_wamid).await;
        let (_, png, _) = sandbox::media::sample("image").expect("sample");
        let (_, pdf_bytes, _) = sandbox::media::sample("document").expect("sample");

        assert_eq!(
            (
                image.sniffed_mime.as_deref(),
                image.size_bytes,
                image.attempts,
                image.has_markup
            ),
            (Some("image/png"), Some(png.len() as i64), 1, false),
            "[{b}]"
        );
        assert_eq!(m.on_disk(&image), png, "[{b}] the bytes Meta had");
        assert_eq!(m.on_disk(&pdf), pdf_bytes, "[{b}]");
        assert_eq!(pdf.filename.as_deref(), Some("facture.pdf"));
        assert_eq!(
            (m.urls_given(&image), m.urls_given(&pdf)),
            (1, 1),
            "[{b}] downloaded once each"
        );
        let names = stored_names(m.dir.path());
        assert!(
            names.iter().all(|n| !n.contains("facture")),
            "[{b}] the customer's filename names nothing on disk: {names:?}"
        );

        let (status, headers, body) = m.content(image.id).await;
        assert_eq!(status, StatusCode::OK, "[{b}]");
        assert_eq!(body, png, "[{b}]");
        assert_eq!(header(&headers, "content-type"), "image/png");
        assert_eq!(
            header(&headers, "content-disposition"),
            format!("inline; filename=\"image-{}.png\"", image.id)
        );
        assert_guarded(&headers, "image");

        let (status, headers, body) = m.content(pdf.id).await;
        assert_eq!(status, StatusCode::OK, "[{b}]");
        assert_eq!(body, pdf_bytes, "[{b}]");
        assert_eq!(header(&headers, "content-type"), "application/octet-stream");
        assert_eq!(
            header(&headers, "content-disposition"),
            "attachment; filename=\"facture.pdf\""
        );
        assert_guarded(&headers, "pdf");

        // What the conversation view reads.
        let shown = hub::media::attachments(m.store.as_ref(), &[image.message_id, pdf.message_id])
            .await
            .expect("read");
        assert_eq!(
            shown.iter().map(|a| (a.id, a.inline)).collect::<Vec<_>>(),
            vec![(image.id, true), (pdf.id, false)],
            "[{b}]"
        );

        // Unknown ids are 404s in the API's shape; the agent UI's route wants a session.
        let (status, e) = m.content_json(999_999).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found"))
        );
        let (status, _) = m.content_json(-1).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let unsigned = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .get(format!("{}/media/{}", m.rig.hub, image.id))
            .send()
            .await
            .expect("get");
        assert!(
            unsigned.status().is_redirection() || unsigned.status() == StatusCode::UNAUTHORIZED,
            "[{b}] {}",
            unsigned.status()
        );
        assert_ne!(unsigned.bytes().await.expect("body").as_ref(), png);
        assert_eq!(
            m.rig
                .metric("guichet_media_downloads_total{outcome=\"stored\"}")
                .await,
            2.0
        );
        m.rig.stop().await;
    }
}

/// A file a customer sends, and the `Content-Disposition` guichet must serve it with.
struct Sent<'a> {
    kind: &'a str,
    bytes: &'a [u8],
    declared: &'a str,
    filename: Option<&'a str>,
    disposition: &'a str,
}

#[tokio::test]
async fn pages_svg_and_polyglots_from_customers_are_never_served_inline() {
    let svg: &[u8] = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><script>fetch('/api/v1/conversations')</script></svg>";
    let page: &[u8] =
        b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>";
    let mut polyglot = b"\xff\xd8\xff\xfe\x00\x40".to_vec();
    polyglot.extend_from_slice(b"<html><script>alert(document.domain)</script></html>");
    polyglot.extend_from_slice(b"\xff\xd9");
    for db in TestDb::all().await {
        let m = start(&db, &[]).await;
        let b = m.rig.backend;
        let cases = [
            Sent {
                kind: "document",
                bytes: svg,
                declared: "image/svg+xml",
                filename: Some("..\\..\\cat\u{202E}gvs.exe"),
                disposition: "attachment; filename=\"catgvs.exe\"",
            },
            Sent {
                kind: "image",
                bytes: page,
                declared: "image/jpeg",
                filename: None,
                disposition: "attachment; filename=\"image-{id}.bin\"",
            },
            Sent {
                kind: "image",
                bytes: &polyglot,
                declared: "image/jpeg",
                filename: None,
                disposition: "attachment; filename=\"image-{id}.jpg\"",
            },
            Sent {
                kind: "image",
                bytes: JPEG,
                declared: "image/jpeg",
                filename: None,
                disposition: "inline; filename=\"image-{id}.jpg\"",
            },
        ];
        let sent: Vec<String> = cases
            .iter()
            .map(|c| m.send(c.kind, Some((c.bytes, c.declared, c.filename))))
            .collect();
        for (case, wamid) in cases.iter().zip(&sent) {
            let Sent {
                kind,
                bytes,
                declared: mime,
                disposition,
                ..
            } = case;
            let what = format!("[{b}] a {kind} labelled {mime}: {disposition}");
            let row = m.stored(wamid).await;
            assert_eq!(m.on_disk(&row), *bytes, "{what}");
            let (status, headers, body) = m.content(row.id).await;
            assert_eq!(status, StatusCode::OK, "{what}");
            assert_eq!(body, *bytes, "{what}");
            assert_guarded(&headers, &what);
            let expected = disposition.replace("{id}", &row.id.to_string());
            assert_eq!(header(&headers, "content-disposition"), expected, "{what}");
            let inline = disposition.starts_with("inline");
            assert_eq!(
                header(&headers, "content-type"),
                if inline {
                    "image/jpeg"
                } else {
                    "application/octet-stream"
                },
                "{what}"
            );
        }
        let names = stored_names(m.dir.path());
        assert!(
            names
                .iter()
                .all(|n| n.len() == 64 && n.bytes().all(|c| c.is_ascii_hexdigit())),
            "[{b}] only guichet's names on disk: {names:?}"
        );
        m.rig.stop().await;
    }
}

#[tokio::test]
async fn a_download_survives_metas_5xx_and_asks_again_for_an_expired_url() {
    for db in TestDb::all().await {
        // Retries fall due as the emulated clock moves: the downloader looks every 50 ms.
        let m = start(&db, &[("GUICHET_MEDIA__POLL_INTERVAL_MS", "50")]).await;
        let b = m.rig.backend;
        let faults = |info: f64, download: f64| {
            m.rig
                .sandbox
                .set_faults(sandbox::faults::Faults {
                    media_info_error_rate: info,
                    media_download_error_rate: download,
                    ..sandbox::faults::Faults::default()
                })
                .expect("faults");
        };
        faults(1.0, 0.0);
        let wamid = m.send("image", None);
        let first = m
            .wait(&wamid, "a first failed attempt", |r| {
                r.attempts == 1 && r.last_error.is_some()
            })
            .await;
        assert_eq!(
            first.state(),
            Some(MediaState::Queued),
            "[{b}] retried, not failed"
        );
        assert!(
            first
                .last_error
                .as_deref()
                .unwrap_or_default()
                .contains("131000"),
            "[{b}] {first:?}"
        );
        let (status, e) = m.content_json(first.id).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("media_not_ready")),
            "[{b}] {e}"
        );
        assert_eq!(m.urls_given(&first), 0);

        // Meta describes the file now, but the download URL answers 500.
        faults(0.0, 1.0);
        m.rig
            .advance_ms(first.next_attempt_at_ms - m.rig.sandbox.clock.now_ms() + 1);
        let second = m
            .wait(&wamid, "a second failed attempt", |r| {
                r.attempts == 2 && r.locked_by.is_none()
            })
            .await;
        assert!(
            second
                .last_error
                .as_deref()
                .unwrap_or_default()
                .contains("500"),
            "[{b}] {second:?}"
        );
        assert_eq!(m.urls_given(&second), 1, "[{b}]");

        // Six minutes later that URL has expired: the next attempt must ask for a new one.
        faults(0.0, 0.0);
        m.rig.advance_ms(6 * 60 * 1000);
        let stored = m.stored(&wamid).await;
        assert_eq!(stored.attempts, 3, "[{b}]");
        assert_eq!(
            m.urls_given(&stored),
            2,
            "[{b}] a fresh URL for the last attempt"
        );
        let (_, png, _) = sandbox::media::sample("image").expect("sample");
        assert_eq!(m.on_disk(&stored), png, "[{b}]");
        assert_eq!(
            m.rig
                .metric("guichet_media_downloads_total{outcome=\"retry\"}")
                .await,
            2.0
        );
        m.rig.stop().await;
    }
}

#[tokio::test]
async fn media_meta_no_longer_has_or_too_large_fail_with_their_meaning() {
    for db in TestDb::all().await {
        let m = start(
            &db,
            &[
                ("GUICHET_MEDIA__MAX_BYTES", "1024"),
                ("GUICHET_MEDIA__POLL_INTERVAL_MS", "50"),
            ],
        )
        .await;
        let b = m.rig.backend;
        let big = vec![b'x'; 2048];
        let big_wamid = m.send("document", Some((&big, "text/plain", Some("big.txt"))));
        let too_big = m
            .wait(&big_wamid, "the large file failing", |r| {
                r.state() == Some(MediaState::Failed)
            })
            .await;
        let why = too_big.last_error.clone().unwrap_or_default();
        assert!(
            why.contains("larger than `media.max_bytes` (1024 bytes)"),
            "[{b}] {why}"
        );
        assert!(
            why.contains("ask the customer for a smaller file"),
            "[{b}] {why}"
        );
        assert_eq!(too_big.attempts, 1, "[{b}] not retried");

        // Meta cannot be reached until the file is past its lifetime (7 days in the sandbox).
        m.rig
            .sandbox
            .set_faults(sandbox::faults::Faults {
                media_info_error_rate: 1.0,
                ..sandbox::faults::Faults::default()
            })
            .expect("faults");
        let wamid = m.send("document", None);
        m.wait(&wamid, "a first failed attempt", |r| {
            r.attempts == 1 && r.last_error.is_some()
        })
        .await;
        m.rig
            .sandbox
            .set_faults(sandbox::faults::Faults::default())
            .expect("faults");
        m.rig.advance_ms(8 * 24 * 3600 * 1000);
        let gone = m
            .wait(&wamid, "the media failing", |r| {
                r.state() == Some(MediaState::Failed)
            })
            .await;
        let why = gone.last_error.clone().unwrap_or_default();
        assert!(why.contains("Meta no longer has this file"), "[{b}] {why}");
        assert!(
            why.contains("ask the customer to send it again"),
            "[{b}] {why}"
        );
        let (status, e) = m.content_json(gone.id).await;
        assert_eq!(
            (status, e["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("media_failed")),
            "[{b}] {e}"
        );
        assert!(
            e["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("no longer has this file"),
            "[{b}] {e}"
        );
        m.rig.stop().await;
    }
}
