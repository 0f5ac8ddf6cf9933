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
    let dir = MediaDir::new(&state.settings.media.dir);
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

/// The name a media is offered under: the customer's, made safe, else `<kind>-<id>.<ext>` with
/// the extension of what the bytes are (or of what they were said to be).
fn offered_name(row: &MediaRow, shown: Presentation) -> String {
    let extension = match shown {
        Presentation::Inline(mime) => extension_of(mime),
        Presentation::Attachment => row
            .sniffed_mime
            .as_deref()
            .and_then(extension_of)
            .or_else(|| row.declared_mime.as_deref().and_then(extension_of)),
    };
    download_name(row.filename.as_deref(), &row.kind, row.id, extension)
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
