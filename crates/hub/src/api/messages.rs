//! Sending: `POST /api/v1/messages` takes Meta's own `/messages` body (any kind, or a
//! mark-as-read / typing indicator) plus `from`, the business number, and optionally
//! `expected_category`. It answers with guichet's message id, the preflight verdict and the
//! predicted price — or a 422 that says which rule the message breaks and what to do instead.
//! `POST /api/v1/messages/preflight` answers the same question without sending;
//! `GET /api/v1/messages/{id}` follows a message out; `POST /api/v1/media` uploads a file to
//! send by id; `POST /api/v1/consents` records an opt-in or an opt-out.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::Category;
use domain::identity::ContactKey;
use serde::Deserialize;
use serde_json::{Value, json};
use wa::send::OutboundRequest;

use super::{ApiQuery, Id, views};
use crate::AppState;
use crate::error::ApiError;
use crate::outbound::{self, Draft, NotQueued, verdict_json};

/// What a send request asks for.
enum Parsed {
    Message(Box<Draft>),
    /// Mark as read, typing indicator: sent at once, never queued.
    Read {
        phone_number_id: String,
        body: wa::send::ReadRequest,
    },
}

/// The business number: `from`, or the only one configured.
fn from_of(state: &AppState, from: Option<&str>) -> Result<String, ApiError> {
    match from {
        Some(s) => Ok(s.to_owned()),
        None => match state.settings.numbers.as_slice() {
            [only] => Ok(only.phone_number_id.clone()),
            _ => Err(ApiError::invalid(
                "`from` is missing: several business numbers are configured",
            )
            .next_step("add `\"from\": \"<phone number id>\"` to say which number sends it")),
        },
    }
}

fn parse(state: &AppState, body: &[u8]) -> Result<Parsed, ApiError> {
    let mut value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(format!("the body is not JSON: {e}"))
            .next_step("send Meta's /messages body as JSON, with `from` set to the business number")
    })?;
    let Some(object) = value.as_object_mut() else {
        return Err(ApiError::invalid("the body must be a JSON object"));
    };
    let from = object.remove("from");
    let expected = object.remove("expected_category");
    let from = match from {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            return Err(ApiError::invalid(
                "`from` must be a phone number id, as a string",
            ));
        }
    };
    let phone_number_id = from_of(state, from.as_deref())?;
    let expected_category = match expected {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => Some(c.parse::<Category>().map_err(|_| {
            ApiError::invalid(format!(
                "`expected_category` = {c:?}: expected marketing, utility or authentication"
            ))
        })?),
        Some(_) => return Err(ApiError::invalid("`expected_category` must be a string")),
    };
    let request = wa::send::parse_send_value(&value).map_err(|e| {
        ApiError::invalid(e.to_string()).next_step(
            "fix the field named; the body has Meta's /messages shape (cloud-api.md §3.2)",
        )
    })?;
    match request {
        OutboundRequest::Read(body) => Ok(Parsed::Read {
            phone_number_id,
            body,
        }),
        OutboundRequest::Message(body) => Ok(Parsed::Message(Box::new(Draft::new(
            phone_number_id,
            body,
            expected_category,
            store::Author::Api,
        )?))),
    }
}

/// `POST /api/v1/messages`.
pub async fn send(State(state): State<Arc<AppState>>, body: Bytes) -> Result<Response, ApiError> {
    match parse(&state, &body)? {
        Parsed::Read {
            phone_number_id,
            body,
        } => read(&state, &phone_number_id, &body).await,
        Parsed::Message(draft) => match outbound::enqueue(&state, &draft).await {
            Ok((queued, assessment)) => Ok((
                StatusCode::ACCEPTED,
                Json(json!({
                    "id": queued.message_id,
                    "conversation_id": queued.conversation_id,
                    "state": "queued",
                    "not_before": views::time_ms(queued.not_before_ms),
                    "verdict": verdict_json(&assessment),
                    "price": outbound::price_json(&assessment.price),
                })),
            )
                .into_response()),
            Err(NotQueued::Refused(assessment)) => Ok(refusal(&assessment)),
            Err(NotQueued::Error(e)) => Err(e),
        },
    }
}

/// A 422 that says which rule and what to do, with what it would have cost.
fn refusal(a: &outbound::Assessment) -> Response {
    let mut body = verdict_json(a);
    if let Some(o) = body.as_object_mut() {
        o.remove("allowed");
    }
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// `POST /api/v1/messages/preflight`: the verdict and price, without sending.
pub async fn preflight(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    match parse(&state, &body)? {
        Parsed::Read { .. } => Ok(Json(json!({
            "allowed": true,
            "note": "read receipts and typing indicators are not messages: no window, no price",
        }))),
        Parsed::Message(draft) => {
            let assessment = outbound::assess(&state, &draft).await?;
            Ok(Json(verdict_json(&assessment)))
        }
    }
}

/// Mark as read / typing indicator: straight to the Graph API.
async fn read(
    state: &AppState,
    phone_number_id: &str,
    body: &wa::send::ReadRequest,
) -> Result<Response, ApiError> {
    let number = outbound::number_of(&state.settings, phone_number_id)?;
    let value = serde_json::to_value(body).map_err(|e| ApiError::internal(&e))?;
    match state
        .graph
        .post_messages(&number.phone_number_id, &number.access_token, &value)
        .await
    {
        Ok(answer) => Ok(Json(answer).into_response()),
        Err(e) => Err(graph_error(&e)),
    }
}

pub(crate) fn graph_error(e: &crate::graph::GraphFailure) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, "meta_refused", e.to_string())
        .next_step("see Meta's message; the request was not recorded")
}

/// `GET /api/v1/messages/{id}`: the message, its place in the outbox and its price.
pub async fn show(State(state): State<Arc<AppState>>, Id(id): Id) -> Result<Json<Value>, ApiError> {
    let m = state
        .store
        .message(id)
        .await?
        .ok_or_else(|| ApiError::not_found("message"))?;
    let mut body = views::message(&m);
    if let Some(o) = state.store.outbox(id).await? {
        body["outbox"] = json!({
            "state": o.state,
            "attempts": o.attempts,
            "resent": o.resent != 0,
            "not_before": views::time_ms(o.not_before_ms),
            "last_error": o.last_error,
        });
    }
    body["category"] = json!(m.category);
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaQuery {
    from: Option<String>,
    filename: Option<String>,
}

/// `POST /api/v1/media?from=…&filename=…` with the file as the body and its `Content-Type`:
/// uploads it to Meta and answers the media id to send it by.
pub async fn upload(
    State(state): State<Arc<AppState>>,
    ApiQuery(q): ApiQuery<MediaQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let from = from_of(&state, q.from.as_deref())?;
    let number = outbound::number_of(&state.settings, &from)?;
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::invalid("`Content-Type` is missing: give the file's type, e.g. image/jpeg")
        })?;
    if body.is_empty() {
        return Err(ApiError::invalid(
            "the body is empty: send the file's bytes",
        ));
    }
    let filename = q.filename.unwrap_or_else(|| "upload".into());
    let id = outbound::upload_media(&state, number, body.to_vec(), &mime, &filename).await?;
    Ok(Json(json!({ "id": id })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentBody {
    /// The business number whose portfolio the customer belongs to (default: the only one).
    from: Option<String>,
    /// The customer's phone number or WhatsApp id.
    to: Option<String>,
    /// Or their business-scoped user id.
    recipient: Option<String>,
    /// `opt_in` or `opt_out`.
    value: String,
    /// How it was collected: `web_form`, `checkbox`, `in_store`, `phone_call`…
    source: String,
    detail: Option<String>,
    /// When (Unix seconds); default now.
    at: Option<i64>,
}

/// `POST /api/v1/consents`: records how and when a customer opted in (or out).
pub async fn consent(
    State(state): State<Arc<AppState>>,
    Json(b): Json<ConsentBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !matches!(b.value.as_str(), "opt_in" | "opt_out") {
        return Err(ApiError::invalid(format!(
            "`value` = {:?}: expected \"opt_in\" or \"opt_out\"",
            b.value
        )));
    }
    let source = b.source.trim();
    if source.is_empty() || source == "keyword" || source == "user_preferences" {
        return Err(ApiError::invalid(
            "`source` must say how the consent was collected (web_form, checkbox, in_store…)",
        ));
    }
    let from = from_of(&state, b.from.as_deref())?;
    let number = outbound::number_of(&state.settings, &from)?;
    let key = match (&b.recipient, &b.to) {
        (Some(r), _) => domain::identity::Bsuid::parse(r).map(ContactKey::Bsuid),
        (None, Some(to)) => {
            let digits: String = to.chars().filter(char::is_ascii_digit).collect();
            domain::identity::WaId::parse(&digits).map(ContactKey::WaId)
        }
        (None, None) => None,
    }
    .ok_or_else(|| {
        ApiError::invalid(
            "give the customer as `to` (phone number) or `recipient` (business-scoped user id)",
        )
    })?;
    let now_ms = state.clock.now_ms();
    let at = b.at.unwrap_or(now_ms.div_euclid(1000));
    let mut tx = state.store.begin().await?;
    let contact_id = outbound::contact_in(tx.as_mut(), number, &key, now_ms).await?;
    let recorded = tx
        .insert_consent(&store::NewConsent {
            contact_id,
            phone_number_id: Some(number.phone_number_id.clone()),
            category: "marketing".into(),
            value: b.value.clone(),
            source: source.to_owned(),
            detail: b.detail.clone(),
            meta_at: at,
            received_at_ms: now_ms,
        })
        .await?;
    tx.commit().await?;
    Ok((
        if recorded {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(json!({ "contact_id": contact_id, "value": b.value, "at": views::time(at) })),
    ))
}
