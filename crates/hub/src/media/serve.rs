//! Answers a stored media to a browser or a back-end, the same way for both: customer-supplied
//! bytes must never run in guichet's origin (T-23). Only raster images whose bytes agree with
//! their label are inline; everything else is an `application/octet-stream` attachment under a
//! safe name. Every answer says `nosniff`, and a `sandbox` CSP with nothing allowed, so that
//! even a file opened directly in a tab cannot run script or reach guichet's cookies.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Serialize;
use store::{MediaRow, MediaState, Store, StoreError};

use super::filename::{content_disposition, download_name, sanitise};
use super::files::MediaDir;
use super::kind::{Presentation, extension_of, presentation};
use crate::AppState;

/// The policy of every media answer: a unique, script-less origin with nothing allowed.
pub const MEDIA_CSP: &str = "sandbox; default-src 'none'";

/// Why a media is not answered.
#[derive(Debug)]
pub enum NotServed {
    /// No media has this id.
    Unknown,
    /// Still being downloaded from Meta (or waiting for another attempt).
    Pending {
        attempts: i64,
    },
    /// The download was given up: why, and what to do.
    Failed {
        reason: String,
    },
    Store(StoreError),
    /// guichet's own fault (a stored file missing): logged, answered opaquely.
    Internal(String),
}

impl NotServed {
    /// What to tell the asker, and what to do next.
    pub fn explain(&self) -> (String, Option<String>) {
        match self {
            Self::Unknown => ("no media with this id".into(), None),
            Self::Pending { attempts } => (
                format!(
                    "this media is still being downloaded from Meta ({attempts} attempt{} so far)",
                    if *attempts == 1 { "" } else { "s" }
                ),
                Some("try again in a few seconds".into()),
            ),
            Self::Failed { reason } => (
                format!("this media could not be downloaded from Meta: {reason}"),
                None,
            ),
            Self::Store(e) => (e.to_string(), None),
            Self::Internal(why) => (why.clone(), None),
        }
    }
}

/// The answer for media `id`: the file with the headers that keep it harmless.
pub async fn answer(state: &AppState, id: i64) -> Result<Response, NotServed> {
    let row = state
        .store
        .media(id)
        .await
        .map_err(NotServed::Store)?
        .ok_or(NotServed::Unknown)?;
    match row.state() {
        Some(MediaState::Stored) => {}
        Some(MediaState::Queued) => {
            return Err(NotServed::Pending {
                attempts: row.attempts,
            });
        }
        Some(MediaState::Failed) => {
            return Err(NotServed::Failed {
                reason: row.last_error.clone().unwrap_or_default(),
            });
        }
        None => {
            return Err(NotServed::Internal(format!(
                "media {id} is in state {:?}",
                row.state
            )));
        }
    }
    let dir = MediaDir::new(
        state
            .settings
            .media_dir()
            .map_err(|e| NotServed::Internal(e.to_string()))?,
    );
    let path = row
        .storage_key
        .as_deref()
        .and_then(|key| dir.path_of(key))
        .ok_or_else(|| {
            NotServed::Internal(format!("stored media {id} has no valid storage key"))
        })?;
    let file = tokio::fs::File::open(&path).await.map_err(|e| {
        NotServed::Internal(format!(
            "stored media {id} is missing from {} ({e}): with several nodes, `media.dir` must be \
             a folder every node shares",
            path.display()
        ))
    })?;
    let length = file
        .metadata()
        .await
        .map_err(|e| NotServed::Internal(e.to_string()))?
        .len();
    let shown = presentation(
        row.declared_mime.as_deref(),
        row.sniffed_mime.as_deref(),
        row.has_markup,
    );
    let name = offered_name(&row, shown);
    let (content_type, disposition) = match shown {
        Presentation::Inline(mime) => (mime, "inline"),
        Presentation::Attachment => ("application/octet-stream", "attachment"),
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(value) = HeaderValue::from_str(&content_disposition(disposition, &name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(MEDIA_CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    headers.insert(
        axum::http::HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    Ok(response)
}

/// The name a media is offered under: the customer's, made safe, else `<kind>-<id>.<ext>`. The
/// extension is the declared type's when the bytes agree with it or show nothing known; when
/// they disagree it is `bin`, so that neither label invites opening the file with the wrong
/// program (an HTML page called `.jpg`, or `.html`, double-clicked into a browser).
fn offered_name(row: &MediaRow, shown: Presentation) -> String {
    let declared = row.declared_mime.as_deref();
    let extension = match (shown, row.sniffed_mime.as_deref()) {
        (Presentation::Inline(mime), _) => extension_of(mime),
        (Presentation::Attachment, None) => declared.and_then(extension_of),
        (Presentation::Attachment, Some(sniffed)) => {
            if declared.is_some_and(|d| same_type(d, sniffed)) {
                extension_of(sniffed)
            } else {
                Some("bin")
            }
        }
    };
    download_name(row.filename.as_deref(), &row.kind, row.id, extension)
}

fn same_type(a: &str, b: &str) -> bool {
    let essence = |m: &str| {
        m.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    };
    essence(a) == essence(b)
}

/// A message's media as the conversation view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    /// guichet's id: `/media/{id}` (UI) and `/api/v1/media/{id}/content` (API).
    pub id: i64,
    pub message_id: i64,
    /// `image`, `video`, `audio`, `document` or `sticker`.
    pub kind: String,
    /// `queued`, `stored` or `failed`.
    pub state: String,
    /// What the bytes are, once stored.
    pub sniffed_mime: Option<String>,
    pub size_bytes: Option<i64>,
    /// The customer's filename, made safe for display.
    pub filename: Option<String>,
    /// Whether it may be shown in the page (`<img>`); otherwise offer it as a download.
    pub inline: bool,
    /// Why it failed, for a failed media.
    pub error: Option<String>,
}

impl From<&MediaRow> for Attachment {
    fn from(row: &MediaRow) -> Self {
        let stored = row.state() == Some(MediaState::Stored);
        Self {
            id: row.id,
            message_id: row.message_id,
            kind: row.kind.clone(),
            state: row.state.clone(),
            sniffed_mime: row.sniffed_mime.clone(),
            size_bytes: row.size_bytes,
            filename: row.filename.as_deref().and_then(sanitise),
            inline: stored
                && presentation(
                    row.declared_mime.as_deref(),
                    row.sniffed_mime.as_deref(),
                    row.has_markup,
                )
                .is_inline(),
            error: (row.state() == Some(MediaState::Failed))
                .then(|| row.last_error.clone())
                .flatten(),
        }
    }
}

/// The media of these messages (a page of a conversation), in one read.
pub async fn attachments(store: &dyn Store, message_ids: &[i64]) -> store::Result<Vec<Attachment>> {
    Ok(store
        .media_of_messages(message_ids)
        .await?
        .iter()
        .map(Attachment::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &str, declared: &str, sniffed: Option<&str>, filename: Option<&str>) -> MediaRow {
        MediaRow {
            id: 7,
            message_id: 3,
            meta_media_id: "1".into(),
            phone_number_id: "1".into(),
            kind: kind.into(),
            state: "stored".into(),
            attempts: 1,
            next_attempt_at_ms: 0,
            locked_until_ms: None,
            locked_by: None,
            declared_mime: Some(declared.into()),
            declared_sha256: None,
            sniffed_mime: sniffed.map(str::to_owned),
            has_markup: false,
            size_bytes: Some(10),
            filename: filename.map(str::to_owned),
            storage_key: None,
            last_error: None,
            created_at_ms: 0,
            updated_at_ms: 0,
            stored_at_ms: Some(1),
        }
    }

    fn name(r: &MediaRow) -> String {
        let shown = presentation(
            r.declared_mime.as_deref(),
            r.sniffed_mime.as_deref(),
            r.has_markup,
        );
        offered_name(r, shown)
    }

    #[test]
    fn a_file_is_offered_under_a_name_that_does_not_lie_about_it() {
        let photo = row("image", "image/jpeg", Some("image/jpeg"), None);
        assert_eq!(name(&photo), "image-7.jpg");
        let page = row("image", "image/jpeg", Some("text/html"), None);
        assert_eq!(name(&page), "image-7.bin", "neither .jpg nor .html");
        let text = row("document", "text/plain", None, Some("notes.txt"));
        assert_eq!(name(&text), "notes.txt");
        let unnamed_text = row("document", "text/plain", None, None);
        assert_eq!(name(&unnamed_text), "document-7.txt");
        let voice = row("audio", "audio/ogg; codecs=opus", Some("audio/ogg"), None);
        assert_eq!(name(&voice), "audio-7.ogg");
        let tricky = row(
            "document",
            "application/pdf",
            Some("application/pdf"),
            Some("../../x\u{202E}fdp.exe"),
        );
        assert_eq!(name(&tricky), "xfdp.exe");
    }

    #[test]
    fn the_conversation_view_learns_what_may_be_shown_in_the_page() {
        let photo = Attachment::from(&row("image", "image/png", Some("image/png"), None));
        assert!(photo.inline);
        let mut polyglot = row("image", "image/jpeg", Some("image/jpeg"), None);
        polyglot.has_markup = true;
        assert!(!Attachment::from(&polyglot).inline);
        let mut queued = row("image", "image/png", None, Some("a/b.png"));
        queued.state = "queued".into();
        let queued = Attachment::from(&queued);
        assert!(!queued.inline);
        assert_eq!(queued.filename.as_deref(), Some("b.png"));
        let mut failed = row("document", "application/pdf", None, None);
        failed.state = "failed".into();
        failed.last_error = Some("gone".into());
        assert_eq!(Attachment::from(&failed).error.as_deref(), Some("gone"));
        assert_eq!(photo.error, None);
    }
}
