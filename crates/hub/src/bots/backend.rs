//! The business back-end the flows' `call` steps reach: a base URL, a bearer token, a timeout.
//! Every request carries an `Idempotency-Key` that stays the same when a customer message is
//! answered again after a failure, so that a retried "create a booking" books once.

use std::time::Duration;

use domain::flow::{CallOutcome, Method, Request};

use crate::config::BotSettings;

/// Answers larger than this are not read: a flow needs a few fields, not a dump.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct Backend {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Backend {
    pub fn new(settings: &BotSettings) -> Self {
        let client = reqwest::Client::builder()
            .timeout(settings.backend_timeout)
            .connect_timeout(settings.backend_timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            client,
            base: settings.backend_url.clone(),
            token: settings.backend_token.clone(),
        }
    }

    /// Performs a flow's request. Only what the flow can act on comes back: the JSON of a 2xx,
    /// a 404, or a failure (logged with its cause).
    pub async fn call(&self, request: &Request, idempotency_key: &str) -> CallOutcome {
        let url = format!("{}{}", self.base, request.path);
        let mut builder = match request.method {
            Method::Get => self.client.get(&url),
            Method::Post => self.client.post(&url),
        }
        .header("Idempotency-Key", idempotency_key)
        .header("Accept", "application/json");
        if let Some(token) = &self.token {
            builder = builder.bearer_auth(token);
        }
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(step = %request.step, error = %e, "bot: the back-end did not answer");
                return CallOutcome::Failed;
            }
        };
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return CallOutcome::NotFound;
        }
        if !status.is_success() {
            tracing::warn!(step = %request.step, %status, "bot: the back-end refused the request");
            return CallOutcome::Failed;
        }
        match response.bytes().await {
            Ok(b) if b.is_empty() => CallOutcome::Ok(serde_json::Value::Null),
            Ok(b) if b.len() <= MAX_ANSWER_BYTES => match serde_json::from_slice(&b) {
                Ok(v) => CallOutcome::Ok(v),
                Err(e) => {
                    tracing::warn!(step = %request.step, error = %e, "bot: the back-end's answer is not JSON");
                    CallOutcome::Failed
                }
            },
            Ok(b) => {
                tracing::warn!(step = %request.step, bytes = b.len(), "bot: the back-end's answer is too large");
                CallOutcome::Failed
            }
            Err(e) => {
                tracing::warn!(step = %request.step, error = %e, "bot: the back-end's answer broke off");
                CallOutcome::Failed
            }
        }
    }
}
