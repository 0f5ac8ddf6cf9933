//! The Graph API client: the few calls guichet makes to Meta (or to the sandbox, which answers
//! the same way). Every answer is classified for the sender: accepted, refused with Meta's
//! error, not sent at all, or sent without an answer — the case that makes a message `unknown`,
//! since the Graph API has no idempotency key (ARCHITECTURE.md, "Rules that hold everywhere").

use std::time::Duration;

use serde_json::Value;
use wa::error_codes::{GraphError, GraphErrorResponse};

/// What became of one send request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Meta accepted the message and named it.
    Accepted { wamid: String },
    /// Meta answered with an error: the message did not leave.
    Refused { http_status: u16, error: GraphError },
    /// The request never reached Meta (connection refused, DNS): safe to send again.
    NotSent(String),
    /// The request may have reached Meta but no answer came back (timeout, connection cut):
    /// the message may have left.
    NoAnswer(String),
}

/// A failed Graph API call other than a send.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GraphFailure {
    #[error("Meta refused the request: {} (code {}){}", .0.message, .0.code, .0.error_data.as_ref().and_then(|d| d.details.as_deref()).map(|d| format!(": {d}")).unwrap_or_default())]
    Refused(GraphError),
    #[error("the Graph API could not be reached: {0}")]
    Unreachable(String),
    #[error("the Graph API answered something guichet cannot read: {0}")]
    Unreadable(String),
}

/// Meta's description of a media (`GET /{media-id}`, cloud-api.md §9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaInfo {
    /// Where to download it, with the bearer token, within five minutes.
    pub url: String,
    pub mime_type: Option<String>,
    /// Base64.
    pub sha256: Option<String>,
    /// Meta documents it as a string; a number is read too.
    pub file_size: Option<u64>,
}

impl MediaInfo {
    /// The description in Meta's answer; what is missing if it is not one.
    fn from_answer(v: &Value) -> Result<Self, String> {
        let text = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        let url = text("url").ok_or("no `url` in GET /{media-id}'s answer")?;
        let file_size = match v.get("file_size") {
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(n) => n.as_u64(),
            None => None,
        };
        Ok(Self {
            url,
            mime_type: text("mime_type"),
            sha256: text("sha256"),
            file_size,
        })
    }
}

/// A media download that did not give the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownloadFailure {
    /// Answered with an error status (404 when the URL expired, 401 for a bad token, 5xx).
    #[error("the media URL answered {status}: {detail}")]
    Refused { status: u16, detail: String },
    #[error("the media URL could not be reached: {0}")]
    Unreachable(String),
}

/// A Graph API client on one base URL (`https://graph.facebook.com/v25.0`, or a sandbox).
#[derive(Debug, Clone)]
pub struct Graph {
    http: reqwest::Client,
    base: String,
}

impl Graph {
    pub fn new(base: &str, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(256)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// `POST /{phone-number-id}/messages` with a body already in Meta's shape.
    pub async fn send(&self, phone_number_id: &str, token: &str, body: &str) -> SendOutcome {
        let request = self
            .http
            .post(format!("{}/{phone_number_id}/messages", self.base))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned());
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return SendOutcome::NotSent(describe(&e)),
            Err(e) => return SendOutcome::NoAnswer(describe(&e)),
        };
        let status = response.status();
        let bytes = match response.bytes().await {
            Ok(b) => b,
            // The status line came, the body did not: Meta may have accepted it.
            Err(e) => return SendOutcome::NoAnswer(describe(&e)),
        };
        if status.is_success() {
            let wamid = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| {
                v.pointer("/messages/0/id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            return match wamid {
                Some(wamid) => SendOutcome::Accepted { wamid },
                None => SendOutcome::NoAnswer(format!(
                    "HTTP {status} without a message id in the answer"
                )),
            };
        }
        match serde_json::from_slice::<GraphErrorResponse>(&bytes) {
            Ok(e) => SendOutcome::Refused {
                http_status: status.as_u16(),
                error: e.error,
            },
            // A proxy's error page: whether Meta saw the request is unknown.
            Err(_) if status.is_server_error() => {
                SendOutcome::NoAnswer(format!("HTTP {status} without a Graph API error"))
            }
            Err(_) => SendOutcome::Refused {
                http_status: status.as_u16(),
                error: GraphError {
                    message: format!("HTTP {status} without a Graph API error"),
                    kind: String::new(),
                    code: i64::from(status.as_u16()),
                    error_subcode: None,
                    error_data: None,
                    fbtrace_id: None,
                },
            },
        }
    }

    /// Every template of a WhatsApp Business Account, following Meta's paging.
    pub async fn templates(&self, waba_id: &str, token: &str) -> Result<Vec<Value>, GraphFailure> {
        let mut url = format!("{}/{waba_id}/message_templates?limit=100", self.base);
        let mut all = Vec::new();
        for _ in 0..1000 {
            let page = self.get(&url, token).await?;
            if let Some(items) = page.get("data").and_then(Value::as_array) {
                all.extend(items.iter().cloned());
            }
            let after = page
                .pointer("/paging/cursors/after")
                .and_then(Value::as_str);
            let has_next = page.pointer("/paging/next").is_some();
            match after {
                Some(after) if has_next => {
                    url = format!(
                        "{}/{waba_id}/message_templates?limit=100&after={after}",
                        self.base
                    );
                }
                _ => break,
            }
        }
        Ok(all)
    }

    /// `POST /{phone-number-id}/messages` for what is not a message (mark as read, typing):
    /// Meta's answer as is.
    pub async fn post_messages(
        &self,
        phone_number_id: &str,
        token: &str,
        body: &Value,
    ) -> Result<Value, GraphFailure> {
        let request = self
            .http
            .post(format!("{}/{phone_number_id}/messages", self.base))
            .bearer_auth(token)
            .json(body);
        answer(request.send().await).await
    }

    /// `POST /{waba-id}/message_templates`: submits a template for review.
    pub async fn create_template(
        &self,
        waba_id: &str,
        token: &str,
        body: &Value,
    ) -> Result<Value, GraphFailure> {
        let request = self
            .http
            .post(format!("{}/{waba_id}/message_templates", self.base))
            .bearer_auth(token)
            .json(body);
        answer(request.send().await).await
    }

    /// `POST /{phone-number-id}/media`: uploads a file, answers its media id.
    pub async fn upload_media(
        &self,
        phone_number_id: &str,
        token: &str,
        bytes: Vec<u8>,
        mime: &str,
        filename: &str,
    ) -> Result<String, GraphFailure> {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(filename.to_owned())
            .mime_str(mime)
            .map_err(|e| GraphFailure::Unreadable(e.to_string()))?;
        let form = reqwest::multipart::Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", mime.to_owned())
            .part("file", part);
        let request = self
            .http
            .post(format!("{}/{phone_number_id}/media", self.base))
            .bearer_auth(token)
            .multipart(form);
        let v = answer(request.send().await).await?;
        v.get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| GraphFailure::Unreadable("no `id` in the upload's answer".into()))
    }

    /// `GET /{media-id}`: Meta's description of a media, with a download URL that works for five
    /// minutes (cloud-api.md §9.1). Ask again for every download: a URL kept for a retry may
    /// have expired.
    pub async fn media_info(&self, media_id: &str, token: &str) -> Result<MediaInfo, GraphFailure> {
        // The id goes into the path: only an id's characters may.
        if media_id.is_empty() || !media_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(GraphFailure::Unreadable(format!(
                "{media_id:?} is not a media id"
            )));
        }
        let v = self
            .get(&format!("{}/{media_id}", self.base), token)
            .await?;
        MediaInfo::from_answer(&v).map_err(GraphFailure::Unreadable)
    }

    /// `GET <media URL>` with the bearer token, which the URL needs (cloud-api.md §9.1): the
    /// response, its body still to be read, if Meta answered 2xx.
    pub async fn download(
        &self,
        url: &str,
        token: &str,
        timeout: Duration,
    ) -> Result<reqwest::Response, DownloadFailure> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(DownloadFailure::Refused {
                status: 0,
                detail: "the media URL Meta gave is not an http(s) URL".into(),
            });
        }
        let response = self
            .http
            .get(url)
            .bearer_auth(token)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| DownloadFailure::Unreachable(describe(&e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.bytes().await.unwrap_or_default();
        let detail = serde_json::from_slice::<GraphErrorResponse>(&body)
            .ok()
            .map(|e| {
                e.error
                    .error_data
                    .and_then(|d| d.details)
                    .unwrap_or(e.error.message)
            })
            .unwrap_or_else(|| format!("HTTP {status}"));
        Err(DownloadFailure::Refused {
            status: status.as_u16(),
            detail,
        })
    }

    async fn get(&self, url: &str, token: &str) -> Result<Value, GraphFailure> {
        answer(self.http.get(url).bearer_auth(token).send().await).await
    }
}

async fn answer(sent: reqwest::Result<reqwest::Response>) -> Result<Value, GraphFailure> {
    let response = sent.map_err(|e| GraphFailure::Unreachable(describe(&e)))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| GraphFailure::Unreachable(describe(&e)))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| GraphFailure::Unreadable(e.to_string()));
    }
    match serde_json::from_slice::<GraphErrorResponse>(&bytes) {
        Ok(e) => Err(GraphFailure::Refused(e.error)),
        Err(_) => Err(GraphFailure::Unreadable(format!(
            "HTTP {status} without a Graph API error"
        ))),
    }
}

/// The error and its causes, without the URL's query.
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_media_description_reads_as_meta_documents_it() {
        let v = serde_json::json!({
            "messaging_product": "whatsapp", "url": "https://lookaside.fbsbx.com/x?mid=1",
            "mime_type": "image/jpeg", "sha256": "abc=", "file_size": "303833", "id": "1"
        });
        let info = MediaInfo::from_answer(&v).expect("readable");
        assert_eq!(info.file_size, Some(303_833));
        assert_eq!(info.mime_type.as_deref(), Some("image/jpeg"));
        let number = serde_json::json!({ "url": "https://x", "file_size": 12 });
        assert_eq!(
            MediaInfo::from_answer(&number).expect("readable").file_size,
            Some(12)
        );
        assert!(MediaInfo::from_answer(&serde_json::json!({ "id": "1" })).is_err());
    }
}
