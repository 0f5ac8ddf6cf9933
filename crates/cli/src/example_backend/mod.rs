//! The example back-end the example flows call (`examples/flows/`): a travel agency's trips and
//! bookings, a shop's orders and returns, an appliance maker's repair tickets. In memory, seeded
//! with believable data, so that the flows can be tried end to end without a real system; what
//! is created at run time is lost when the process ends.
//!
//! Every answer is JSON. Errors are `{"error": "<code>", "message": "<for a person>"}`:
//! 400 `invalid_request` for a body that is not JSON or lacks a field, 401 `unauthorised`,
//! 404 `not_found` for an unknown id (in the path, or a referenced id in a body), 405
//! `method_not_allowed`, 409 when the request is valid but cannot be done now (no seats left,
//! an order not yet delivered), 422 `idempotency_key_reused`.
//!
//! With a token, every request (`/health` included) must carry `Authorization: Bearer <token>`,
//! as guichet sends it from `bots.backend_token`.
//!
//! A `POST` that creates something honours `Idempotency-Key`: the first request with a key
//! creates the object and the answer is remembered; the same key with the same request answers
//! that object again (201, with `Idempotent-Replayed: true`) instead of creating a second one, so
//! that a retried call does not book twice; the same key with another request is refused (422).
//! Only creations are remembered: a refused request can be retried with its key.
//!
//! | Method | Path | Body | Answer |
//! |---|---|---|---|
//! | GET | `/health` | | `{"status": "ok"}` |
//! | GET | `/trips` | | `{"trips": [trip]}`, a trip being `{id, name, summary, nights, price_eur}` |
//! | GET | `/trips/{trip}/departures` | | `{"trip": trip, "departures": [{id, trip_id, date, label, seats_left, price_eur}]}`, only those with seats left; 404 |
//! | POST | `/bookings` | `{departure_id, travellers (1–9, a number or a numeric string), name?, wa_id}` | 201 booking `{reference, status, status_text, trip_id, trip_name, departure_id, departure_label, date, travellers, total_eur, deposit_eur, payment_url, name, wa_id}`; 404 departure; 409 `not_enough_seats` |
//! | GET | `/bookings/{reference}` | | booking; 404 |
//! | GET | `/orders/{number}` | | `{number, status, status_text, items: [{name, quantity}], items_summary, carrier, tracking_url, returnable}`; 404 |
//! | POST | `/orders/{number}/returns` | `{reason, name?, wa_id}` | 201 `{return_id, order, status, reason, label_url, drop_off_within_days, name, wa_id}`; 404; 409 `not_returnable` |
//! | GET | `/machines` | | `{"machines": [{id, name, noun, range, label_location}]}` |
//! | GET | `/machines/{machine}/problems/{kind}` | | `{code, label, machine_id, advice}`, `kind` one of `leak`, `no_start`, `error_code`, `other`; 404 |
//! | POST | `/tickets` | `{machine_id, problem, error_code?, serial, description, name?, wa_id}` | 201 ticket `{reference, status, status_text, next_step, priority, machine_id, machine_name, problem, problem_label, error_code, serial, description, name, wa_id}`; 404 machine |
//! | GET | `/tickets/{reference}` | | ticket; 404 |
//!
//! Order numbers, booking references and ticket numbers are matched without case, spaces or
//! dashes (`ab 1234`, `bk7301`, `t-20451`), as customers type them. Seeded: orders `AB1234`
//! (shipped), `CD5678` (out for delivery), `EF9012` (being prepared), `GH3456` (delivered,
//! returnable); booking `BK-7301`; ticket `T-20451`.

mod appliance;
mod shop;
#[cfg(test)]
mod tests;
mod travel;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The example back-end's routes, answering from memory; `token` is the bearer token every
/// request must carry, if any.
pub fn router(token: Option<String>) -> Router {
    let backend = Arc::new(Backend {
        token,
        data: Mutex::new(Data::seeded()),
    });
    Router::new()
        .route("/health", get(health))
        .route("/trips", get(travel::trips))
        .route("/trips/{trip}/departures", get(travel::departures))
        .route("/bookings", post(travel::book))
        .route("/bookings/{reference}", get(travel::booking))
        .route("/orders/{number}", get(shop::order))
        .route("/orders/{number}/returns", post(shop::open_return))
        .route("/machines", get(appliance::machines))
        .route(
            "/machines/{machine}/problems/{kind}",
            get(appliance::problem),
        )
        .route("/tickets", post(appliance::open_ticket))
        .route("/tickets/{reference}", get(appliance::ticket))
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        // After the routes and fallbacks, so that it guards them all.
        .layer(middleware::from_fn_with_state(
            Arc::clone(&backend),
            authorise,
        ))
        .with_state(backend)
}

#[derive(Debug)]
struct Backend {
    token: Option<String>,
    data: Mutex<Data>,
}

impl Backend {
    /// The data; a handler that panicked cannot leave it half-changed (each change is made after
    /// its checks), so a poisoned lock is still good to use.
    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug)]
struct Data {
    travel: travel::Travel,
    shop: shop::Shop,
    appliance: appliance::Appliance,
    /// The creations made with an idempotency key, by key.
    created: HashMap<String, Created>,
}

impl Data {
    fn seeded() -> Self {
        Self {
            travel: travel::Travel::seeded(),
            shop: shop::Shop::seeded(),
            appliance: appliance::Appliance::seeded(),
            created: HashMap::new(),
        }
    }
}

/// What a key created, and the request that created it.
#[derive(Debug, Clone)]
struct Created {
    request: String,
    answer: Value,
}

type Shared = State<Arc<Backend>>;

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn unknown_route() -> ApiError {
    ApiError::not_found("There is nothing at this path.")
}

async fn wrong_method() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: "This path does not take this method.".into(),
    }
}

async fn authorise(State(backend): Shared, request: Request, next: Next) -> Response {
    if let Some(token) = &backend.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, credentials)| credentials.trim());
        if !given.is_some_and(|g| same(g.as_bytes(), token.as_bytes())) {
            let mut response = ApiError {
                status: StatusCode::UNAUTHORIZED,
                code: "unauthorised",
                message: "Send `Authorization: Bearer <token>` with the back-end's token.".into(),
            }
            .into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    next.run(request).await
}

/// Compares a secret in a time that does not depend on where the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An error answer: `{"error": code, "message": message}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            message: message.into(),
        }
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }

    fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::CONFLICT,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": self.code, "message": self.message })),
        )
            .into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        Self::invalid(e.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        Self::invalid(e.body_text())
    }
}

/// A path parameter, its rejection answered as JSON like every other error.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
struct Param<T>(T);

/// A JSON body as it came, its rejection answered as JSON; [`fields`] reads it into a type.
#[derive(Debug, FromRequest)]
#[from_request(via(Json), rejection(ApiError))]
struct Body<T>(T);

/// The body's fields, or a 400 naming what is wrong.
fn fields<T: DeserializeOwned>(body: &Value) -> Result<T, ApiError> {
    if !body.is_object() {
        return Err(ApiError::invalid("The body must be a JSON object."));
    }
    T::deserialize(body).map_err(|e| ApiError::invalid(format!("Invalid body: {e}.")))
}

/// A required text field: given, not blank, at most `max` characters. Text fields are read as
/// options so that a missing field and a `null` one are both named in the answer.
fn required(name: &str, value: Option<&str>, max: usize) -> Result<String, ApiError> {
    let value = value.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(ApiError::invalid(format!("`{name}` is missing or empty.")));
    }
    if value.chars().count() > max {
        return Err(ApiError::invalid(format!(
            "`{name}` is longer than {max} characters."
        )));
    }
    Ok(value.to_owned())
}

/// An id as customers type it: upper case, letters and digits only (`ab 1234` → `AB1234`).
fn loose(id: &str) -> String {
    id.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Creates an object once per idempotency key: `create` runs, under the data's lock, only when
/// the request has no key or a new one; a known key with the same request answers what it
/// created then.
fn create_once(
    backend: &Backend,
    headers: &HeaderMap,
    request: String,
    create: impl FnOnce(&mut Data) -> Result<Value, ApiError>,
) -> Response {
    let key = match idempotency_key(headers) {
        Ok(key) => key,
        Err(e) => return e.into_response(),
    };
    let mut data = backend.data();
    if let Some(key) = &key
        && let Some(earlier) = data.created.get(key)
    {
        if earlier.request != request {
            return ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "idempotency_key_reused",
                message: "This Idempotency-Key was used for another request: use a new key.".into(),
            }
            .into_response();
        }
        let mut response = (StatusCode::CREATED, Json(earlier.answer.clone())).into_response();
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        return response;
    }
    match create(&mut data) {
        Ok(answer) => {
            if let Some(key) = key {
                data.created.insert(
                    key,
                    Created {
                        request,
                        answer: answer.clone(),
                    },
                );
            }
            (StatusCode::CREATED, Json(answer)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The request's `Idempotency-Key`, if it has one: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if !key.is_empty() && key.len() <= 255 && !key.contains(' ') => {
            Ok(Some(key.to_owned()))
        }
        _ => Err(ApiError::invalid(
            "`Idempotency-Key` must be 1 to 255 visible ASCII characters.",
        )),
    }
}

/// What identifies a creation request for its idempotency key: the path and the body (whose
/// keys serde_json keeps sorted, so the same fields in another order are the same request).
fn fingerprint(path: &str, body: &Value) -> String {
    format!("POST {path} {body}")
}
