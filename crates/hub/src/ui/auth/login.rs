//! Signing in and out.
//!
//! A failed sign-in says the same thing, with the same status and after the same work (an
//! Argon2id check against a dummy hash for unknown usernames), whether the username exists or not;
//! and failures are throttled per submitted username, existing or not, so that neither the
//! answers nor their delays tell which accounts exist. Every attempt is logged (never the
//! password).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use domain::accounts::{Gate, LoginThrottle, ThrottleState, local_next, throttle_key};
use serde::Deserialize;
use store::{LoginAttempt, NewSession, StoreError, ThrottleRow};

use super::form::{Client, Form};
use super::session;
use super::{Agent, password};
use crate::AppState;
use crate::ui::{Layout, UiError};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    layout: Layout,
    csrf: &'a str,
    next: &'a str,
    username: &'a str,
    error: Option<&'a str>,
    notice: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    signed_out: Option<String>,
}

fn destination(next: Option<&str>) -> &str {
    next.and_then(local_next).unwrap_or("/inbox")
}

fn render(status: StatusCode, page: &LoginPage<'_>) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => UiError::internal(&e).into_response(),
    }
}

/// GET /login: the form, with its anti-forgery cookie; a signed-in browser goes on to `next`.
pub async fn form(
    State(state): State<Arc<AppState>>,
    Query(query): Query<LoginQuery>,
    headers: HeaderMap,
) -> Response {
    match session::authenticate(&state, &headers).await {
        Ok(Some(_)) => return Redirect::to(destination(query.next.as_deref())).into_response(),
        Ok(None) => {}
        Err(e) => return UiError::from(e).into_response(),
    }
    let ui = &state.settings.ui;
    let existing = session::cookie_value(&headers, session::login_cookie_name(ui));
    let token = match existing {
        Some(t) => t.to_owned(),
        None => match session::random_token() {
            Ok(t) => t,
            Err(e) => return UiError::internal(&e).into_response(),
        },
    };
    let next = query.next.as_deref().and_then(local_next).unwrap_or("");
    let page = LoginPage {
        layout: Layout::new("Sign in", "login", None),
        csrf: &token,
        next,
        username: "",
        error: None,
        notice: query.signed_out.is_some().then_some("You are signed out."),
    };
    let mut response = render(StatusCode::OK, &page);
    if existing.is_none() {
        response.headers_mut().append(
            header::SET_COOKIE,
            session::set_cookie(
                ui,
                session::login_cookie_name(ui),
                &token,
                "Strict",
                3600 * 12,
            ),
        );
    }
    response
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Whether an attempt on `key` may be checked now: counts it first (so that attempts made at
/// once cannot all get through before one is counted) or says until when to wait.
pub(super) async fn throttle(state: &AppState, key: &str, now_ms: i64) -> Result<Gate, StoreError> {
    let rule = LoginThrottle::default();
    // A few tries: another attempt on the same key may change the row in between.
    for _ in 0..5 {
        let stored = state.store.login_throttle(key).await?;
        let current = stored.map(|r| ThrottleState {
            failures: u32::try_from(r.failures).unwrap_or(u32::MAX),
            last_attempt_ms: r.last_attempt_ms,
            blocked_until_ms: r.blocked_until_ms,
        });
        match rule.gate(current, now_ms) {
            Gate::Open(next) => {
                let row = ThrottleRow {
                    failures: i64::from(next.failures),
                    last_attempt_ms: next.last_attempt_ms,
                    blocked_until_ms: next.blocked_until_ms,
                };
                if state
                    .store
                    .swap_login_throttle(key, stored.as_ref(), &row)
                    .await?
                {
                    return Ok(Gate::Open(next));
                }
            }
            wait @ Gate::Wait { .. } => return Ok(wait),
        }
    }
    // Contended that much: treat it as the flood it is.
    Ok(Gate::Wait {
        until_ms: now_ms + rule.first_delay_ms,
    })
}

/// POST /login.
pub async fn submit(
    State(state): State<Arc<AppState>>,
    client: Client,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    match sign_in(&state, &client, &headers, &form).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn sign_in(
    state: &Arc<AppState>,
    client: &Client,
    headers: &HeaderMap,
    form: &LoginForm,
) -> Result<Response, UiError> {
    let ui = &state.settings.ui;
    let now = state.clock.now_ms();
    let key = throttle_key(&form.username);
    let csrf = session::cookie_value(headers, session::login_cookie_name(ui)).unwrap_or_default();
    let next = local_next(&form.next).unwrap_or("");
    let page = |error: &'static str| LoginPage {
        layout: Layout::new("Sign in", "login", None),
        csrf,
        next,
        username: &form.username,
        error: Some(error),
        notice: None,
    };
    let log = |user_id: Option<i64>, outcome: &'static str| LoginAttempt {
        username_key: key.clone(),
        user_id,
        outcome: outcome.to_owned(),
        client_addr: client.addr.clone(),
        user_agent: client.user_agent.clone(),
        at_ms: now,
    };

    if let Gate::Wait { until_ms } = throttle(state, &key, now).await? {
        let wait_s = (until_ms - now + 999) / 1000;
        tracing::warn!(username = %key, addr = ?client.addr, wait_s, "sign-in refused: too many failures for this username");
        state
            .store
            .record_login_attempt(&log(None, "throttled"))
            .await?;
        let mut response = render(
            StatusCode::TOO_MANY_REQUESTS,
            &page(
                "Too many failed sign-ins for this username. Wait a few minutes, then try again.",
            ),
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_str(&wait_s.to_string()).unwrap_or(HeaderValue::from_static("60")),
        );
        return Ok(response);
    }

    let user = state.store.user_named(&form.username).await?;
    let verified = password::verify(
        &form.password,
        user.as_ref().map(|u| u.password_hash.as_str()),
    )
    .await
    .map_err(|e| UiError::internal(&e))?;
    let (user_id, outcome) = match &user {
        None => (None, "unknown_user"),
        Some(u) if !verified => (Some(u.id), "wrong_password"),
        Some(u) if u.disabled_at_ms.is_some() => (Some(u.id), "disabled"),
        Some(u) => (Some(u.id), "success"),
    };
    state
        .store
        .record_login_attempt(&log(user_id, outcome))
        .await?;
    let Some(user) = user.filter(|_| outcome == "success") else {
        tracing::info!(username = %key, addr = ?client.addr, outcome, "sign-in failed");
        // One answer for every failure: an unknown user, a wrong password and a disabled
        // account look alike.
        return Ok(render(
            StatusCode::UNAUTHORIZED,
            &page("Wrong username or password."),
        ));
    };
    state.store.clear_login_throttle(&key).await?;

    // A browser that was signed in already gets a new session, never the old one back.
    if let Ok(Some(old)) = session::authenticate(state, headers).await {
        state
            .store
            .end_session(old.session_id, old.agent.user_id, now, "replaced")
            .await?;
    }
    let secret = session::random_token().map_err(|e| UiError::internal(&e))?;
    let csrf_token = session::random_token().map_err(|e| UiError::internal(&e))?;
    let max = ui.max_sessions_per_user;
    let past_max: Arc<store::PastMax> = Arc::new(move |open: &[(i64, i64)]| {
        let open: Vec<domain::accounts::OpenSession> = open
            .iter()
            .map(|&(id, last_seen_ms)| domain::accounts::OpenSession { id, last_seen_ms })
            .collect();
        domain::accounts::sessions_past_max(&open, max)
    });
    let session_id = state
        .store
        .create_session(
            &NewSession {
                token_sha256: session::token_hash(&secret),
                csrf_token,
                user_id: user.id,
                created_at_ms: now,
                expires_at_ms: ui.timeouts.expires_at(now),
                user_agent: client.user_agent.clone(),
                client_addr: client.addr.clone(),
            },
            past_max,
        )
        .await?;
    tracing::info!(user = user.id, session = session_id, addr = ?client.addr, "signed in");

    let mut response = Redirect::to(destination(Some(next))).into_response();
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        session::set_cookie(
            ui,
            session::cookie_name(ui),
            &secret,
            "Lax",
            ui.timeouts.absolute_ms / 1000,
        ),
    );
    cookies.append(
        header::SET_COOKIE,
        session::set_cookie(ui, session::login_cookie_name(ui), "", "Strict", 0),
    );
    Ok(response)
}

/// POST /logout: ends this session; its cookie is deleted and, if kept, no longer works.
pub async fn logout(State(state): State<Arc<AppState>>, agent: Agent) -> Response {
    let now = state.clock.now_ms();
    if let Err(e) = state
        .store
        .end_session(agent.session_id, agent.user_id, now, "logout")
        .await
    {
        return UiError::from(e).into_response();
    }
    tracing::info!(
        user = agent.user_id,
        session = agent.session_id,
        "signed out"
    );
    let ui = &state.settings.ui;
    let mut response = Redirect::to("/login?signed_out=1").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        session::set_cookie(ui, session::cookie_name(ui), "", "Lax", 0),
    );
    response
}
