//! The control API under `/_sandbox/`: simulated customers, the emulated clock, the callback.
//! Errors are `{"code": "…", "detail": "…"}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Sandbox;
use crate::webhooks::Callback;
use crate::world::{BehaviourPatch, CustomerMessage, NewCustomer, WorldError};

#[derive(Debug)]
pub struct ControlError {
    status: StatusCode,
    code: &'static str,
    detail: String,
}

impl ControlError {
    fn bad(detail: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            detail: detail.into(),
        }
    }
}

impl From<WorldError> for ControlError {
    fn from(e: WorldError) -> Self {
        let (status, code) = match &e {
            WorldError::NoCustomer(_) => (StatusCode::NOT_FOUND, "no_such_customer"),
            WorldError::NoNumber(_) => (StatusCode::NOT_FOUND, "no_such_number"),
            WorldError::NoMessage(_) => (StatusCode::NOT_FOUND, "no_such_message"),
            WorldError::CustomerExists(_) => (StatusCode::CONFLICT, "customer_exists"),
            WorldError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            WorldError::Limit { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
        };
        Self {
            status,
            code,
            detail: e.to_string(),
        }
    }
}

impl From<JsonRejection> for ControlError {
    fn from(e: JsonRejection) -> Self {
        Self::bad(e.body_text())
    }
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "code": self.code, "detail": self.detail })),
        )
            .into_response()
    }
}

type Reply = Result<Json<Value>, ControlError>;

fn to_json(v: impl serde::Serialize) -> Json<Value> {
    Json(serde_json::to_value(v).unwrap_or(Value::Null))
}

/// `GET /_sandbox`: what the sandbox emulates right now.
pub async fn overview(State(s): State<Arc<Sandbox>>) -> Json<Value> {
    let mut world = s.world();
    let (tier, used) = world.messaging_limit(s.clock.now_ms());
    Json(json!({
        "clock": clock_value(&s),
        "numbers": world.numbers(),
        "customers": world.customers().len(),
        "messaging_limit": {
            "tier": tier,
            "unique_customers_reached_outside_a_window_in_24h": used,
        },
        "webhook": { "callback": s.outbox.callback(), "stats": s.outbox.stats() },
    }))
}

pub async fn create_customer(
    State(s): State<Arc<Sandbox>>,
    body: Result<Json<NewCustomer>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ControlError> {
    let Json(new) = body?;
    let view = s.world().add_customer(new)?;
    Ok((StatusCode::CREATED, to_json(view)))
}

pub async fn list_customers(State(s): State<Arc<Sandbox>>) -> Json<Value> {
    to_json(s.world().customers())
}

pub async fn customer(State(s): State<Arc<Sandbox>>, Path(id): Path<String>) -> Reply {
    Ok(to_json(s.world().customer(&id)?))
}

pub async fn transcript(State(s): State<Arc<Sandbox>>, Path(id): Path<String>) -> Reply {
    Ok(to_json(s.world().transcript(&id)?))
}

pub async fn set_behaviour(
    State(s): State<Arc<Sandbox>>,
    Path(id): Path<String>,
    body: Result<Json<BehaviourPatch>, JsonRejection>,
) -> Reply {
    let Json(patch) = body?;
    let view = s.world().set_behaviour(&id, patch, s.clock.now_ms())?;
    s.tick();
    Ok(to_json(view))
}

/// A simulated customer writes to the business.
pub async fn customer_sends(
    State(s): State<Arc<Sandbox>>,
    Path(id): Path<String>,
    body: Result<Json<CustomerMessage>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ControlError> {
    let Json(message) = body?;
    let (wamid, update) = s.world().customer_sends(&id, &message, s.clock.now_ms())?;
    s.outbox.push([update]);
    Ok((StatusCode::CREATED, Json(json!({ "wamid": wamid }))))
}

fn clock_value(s: &Sandbox) -> Value {
    let now = s.clock.now_ms();
    let iso = time::OffsetDateTime::from_unix_timestamp(now.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
    json!({ "now_ms": now, "now": iso })
}

pub async fn clock(State(s): State<Arc<Sandbox>>) -> Json<Value> {
    Json(clock_value(&s))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advance {
    #[serde(default)]
    seconds: i64,
    #[serde(default)]
    hours: i64,
}

/// Moves the emulated clock forward: windows close, scheduled statuses and retries fall due.
pub async fn advance(
    State(s): State<Arc<Sandbox>>,
    body: Result<Json<Advance>, JsonRejection>,
) -> Reply {
    let Json(a) = body?;
    let ms = a
        .seconds
        .checked_mul(1000)
        .zip(a.hours.checked_mul(3_600_000))
        .and_then(|(x, y)| x.checked_add(y))
        .filter(|ms| *ms >= 0)
        .ok_or_else(|| ControlError::bad("`seconds` and `hours` must be positive and not huge"))?;
    s.clock.advance(ms);
    s.tick();
    Ok(Json(clock_value(&s)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetCallback {
    url: String,
    verify_token: String,
}

/// Sets where webhooks go, after Meta's verification handshake with that URL.
pub async fn set_webhook(
    State(s): State<Arc<Sandbox>>,
    body: Result<Json<SetCallback>, JsonRejection>,
) -> Reply {
    let Json(c) = body?;
    if !(c.url.starts_with("http://") || c.url.starts_with("https://")) {
        return Err(ControlError::bad(
            "`url` must be an http:// or https:// URL",
        ));
    }
    s.outbox
        .set_callback(Callback {
            url: c.url,
            verify_token: c.verify_token,
        })
        .await
        .map_err(|detail| ControlError {
            status: StatusCode::BAD_REQUEST,
            code: "verification_failed",
            detail,
        })?;
    Ok(Json(
        json!({ "callback": s.outbox.callback(), "stats": s.outbox.stats() }),
    ))
}

pub async fn webhook(State(s): State<Arc<Sandbox>>) -> Json<Value> {
    Json(json!({ "callback": s.outbox.callback(), "stats": s.outbox.stats() }))
}

pub async fn faults(State(s): State<Arc<Sandbox>>) -> Json<Value> {
    to_json(s.faults())
}

/// Sets the faults in force; fields left out go back to none.
pub async fn set_faults(
    State(s): State<Arc<Sandbox>>,
    body: Result<Json<crate::faults::Faults>, JsonRejection>,
) -> Reply {
    let Json(faults) = body?;
    s.set_faults(faults).map_err(ControlError::bad)?;
    Ok(to_json(s.faults()))
}
