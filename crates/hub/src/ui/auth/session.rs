//! Sessions: the cookie that carries one, and what a request's cookie leads to.
//!
//! The cookie holds 256 random bits from the operating system; the database holds only their
//! SHA-256, so that a copy of it lets nobody in. Every request checks the session against the
//! database: ended, idle, expired or belonging to a disabled user, it is refused at once.

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::accounts::{SessionLife, SessionTimeouts};
use sha2::{Digest, Sha256};
use store::SessionAuth;

use super::password::{HashError, os_random};
use super::{Agent, Role};
use crate::AppState;
use crate::config::UiSettings;

/// The session cookie's name: `__Host-` makes browsers refuse it unless it is `Secure`, for the
/// whole host (`Path=/`, no `Domain`), so that no other site or subdomain can plant one.
pub fn cookie_name(ui: &UiSettings) -> &'static str {
    if ui.secure_cookies {
        "__Host-guichet"
    } else {
        "guichet"
    }
}

/// The sign-in form's anti-forgery cookie (double submit: the form carries the same value).
pub fn login_cookie_name(ui: &UiSettings) -> &'static str {
    if ui.secure_cookies {
        "__Host-guichet-login"
    } else {
        "guichet-login"
    }
}

/// 256 random bits, URL-safe base64: a session secret or an anti-forgery token.
pub fn random_token() -> Result<String, HashError> {
    let mut bytes = [0u8; 32];
    os_random(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database keeps of a cookie's secret.
pub fn token_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A cookie's value from the request's `Cookie` headers; only a value that could be one of
/// ours (URL-safe base64) is taken.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// `Set-Cookie` for `name`: HttpOnly, `Path=/`, Secure when configured; `max_age` seconds, or
/// 0 to delete it.
pub fn set_cookie(
    ui: &UiSettings,
    name: &str,
    value: &str,
    same_site: &str,
    max_age: i64,
) -> HeaderValue {
    let secure = if ui.secure_cookies { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The signed-in user of a request and their session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub agent: Agent,
    pub session_id: i64,
}

/// Marks a request whose cookie was already found to lead to no session.
#[derive(Debug, Clone, Copy)]
pub struct NoSession;

/// The session a request's cookie leads to, if it can still be used. A session found idle or
/// expired, or of a disabled user, is ended on the spot; one still in use is marked as seen (at
/// most once a minute).
pub async fn authenticate(
    state: &Arc<AppState>,
    headers: &HeaderMap,
) -> Result<Option<SignedIn>, store::StoreError> {
    let ui = &state.settings.ui;
    let Some(secret) = cookie_value(headers, cookie_name(ui)) else {
        return Ok(None);
    };
    let Some(found) = state.store.session_by_token(&token_hash(secret)).await? else {
        return Ok(None);
    };
    let now = state.clock.now_ms();
    if found.ended_at_ms.is_some() {
        return Ok(None);
    }
    let end = if found.disabled_at_ms.is_some() {
        Some("disabled")
    } else {
        ui.timeouts
            .life(found.expires_at_ms, found.last_seen_at_ms, now)
            .end_reason()
    };
    if let Some(reason) = end {
        state
            .store
            .end_session(found.session_id, found.user_id, now, reason)
            .await?;
        tracing::info!(
            session = found.session_id,
            user = found.user_id,
            reason,
            "session ended"
        );
        return Ok(None);
    }
    let Some(role) = Role::parse(&found.role) else {
        tracing::error!(user = found.user_id, role = %found.role, "a user has an unknown role; refusing the session");
        return Ok(None);
    };
    if SessionTimeouts::needs_touch(found.last_seen_at_ms, now)
        && let Err(e) = state.store.touch_session(found.session_id, now).await
    {
        // Not seen this time: the session may end up to a minute early at worst.
        tracing::warn!(error = %e, "could not record a session's last sight");
    }
    Ok(Some(signed_in(found, role)))
}

fn signed_in(found: SessionAuth, role: Role) -> SignedIn {
    SignedIn {
        session_id: found.session_id,
        agent: Agent {
            user_id: found.user_id,
            username: found.username,
            display_name: found.display_name,
            role,
            csrf: found.csrf_token,
            session_id: found.session_id,
        },
    }
}

/// Whether a session row is still usable at `now_ms` (for the sessions page).
pub fn is_active(timeouts: &SessionTimeouts, row: &store::SessionRow, now_ms: i64) -> bool {
    row.ended_at_ms.is_none()
        && timeouts.life(row.expires_at_ms, row.last_seen_at_ms, now_ms) == SessionLife::Active
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ui(secure: bool) -> UiSettings {
        UiSettings {
            secure_cookies: secure,
            max_sessions_per_user: 10,
            timeouts: SessionTimeouts {
                idle_ms: 60_000,
                absolute_ms: 3_600_000,
            },
        }
    }

    #[test]
    fn the_cookie_is_host_only_secure_and_hidden_from_scripts() {
        let c = set_cookie(&ui(true), cookie_name(&ui(true)), "abc", "Lax", 3600);
        assert_eq!(
            c.to_str().expect("ascii"),
            "__Host-guichet=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=3600; Secure"
        );
        let c = set_cookie(&ui(false), cookie_name(&ui(false)), "abc", "Lax", 0);
        assert_eq!(
            c.to_str().expect("ascii"),
            "guichet=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"
        );
    }

    #[test]
    fn tokens_are_256_random_bits_and_only_their_hash_is_kept() {
        let a = random_token().expect("random");
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).expect("base64").len(), 32);
        assert_ne!(a, random_token().expect("random"));
        assert_eq!(token_hash(&a), token_hash(&a));
        assert_ne!(token_hash(&a).as_slice(), a.as_bytes());
    }

    #[test]
    fn only_well_formed_cookie_values_are_read() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-guichet=tok_EN-1"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("guichet=x%3By"));
        assert_eq!(cookie_value(&h, "__Host-guichet"), Some("tok_EN-1"));
        assert_eq!(cookie_value(&h, "guichet"), None);
        assert_eq!(cookie_value(&h, "missing"), None);
    }
}
