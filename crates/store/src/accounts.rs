//! Accounts of the agent UI: users, their sessions, login throttling and the log of sign-ins.
//!
//! The rules (which password, how long a session lives, how long a throttled user waits, which
//! sessions end past the maximum) are the hub's and `domain`'s; the store keeps the rows and makes
//! the writes that go together atomic: a new session with the end of those past the maximum, a
//! disabled user with the end of all their sessions, a new password with the end of the other
//! sessions.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use crate::Result;

/// The key usernames are unique and looked up by: the same on every backend (SQLite's `lower`
/// only knows ASCII), whatever the case it was typed in.
pub fn username_key(username: &str) -> String {
    username.trim().to_lowercase()
}

/// A user to create. `role` is `admin` or `agent`; `password_hash` an Argon2id PHC string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub password_hash: String,
    pub created_at_ms: i64,
}

#[derive(Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    #[serde(skip)]
    pub password_hash: String,
    pub created_at_ms: i64,
    pub password_changed_at_ms: i64,
    pub disabled_at_ms: Option<i64>,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("disabled_at_ms", &self.disabled_at_ms)
            .finish_non_exhaustive()
    }
}

/// A session to open. Only the SHA-256 of the cookie's secret is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub token_sha256: [u8; 32],
    pub csrf_token: String,
    pub user_id: i64,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
    pub user_agent: Option<String>,
    pub client_addr: Option<String>,
}

/// A session as its pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SessionRow {
    pub id: i64,
    pub user_id: i64,
    pub created_at_ms: i64,
    pub last_seen_at_ms: i64,
    pub expires_at_ms: i64,
    pub user_agent: Option<String>,
    pub client_addr: Option<String>,
    pub ended_at_ms: Option<i64>,
    pub end_reason: Option<String>,
}

/// What a request's cookie leads to: its session and user, read together.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionAuth {
    pub session_id: i64,
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at_ms: i64,
    pub last_seen_at_ms: i64,
    pub expires_at_ms: i64,
    pub ended_at_ms: Option<i64>,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub disabled_at_ms: Option<i64>,
}

impl std::fmt::Debug for SessionAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionAuth")
            .field("session_id", &self.session_id)
            .field("user_id", &self.user_id)
            .field("username", &self.username)
            .field("ended_at_ms", &self.ended_at_ms)
            .finish_non_exhaustive()
    }
}

/// Failed sign-ins of one submitted username.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct ThrottleRow {
    pub failures: i64,
    pub last_attempt_ms: i64,
    pub blocked_until_ms: i64,
}

/// One sign-in attempt, for the log. Never the password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct LoginAttempt {
    pub username_key: String,
    pub user_id: Option<i64>,
    /// success, wrong_password, unknown_user, disabled or throttled.
    pub outcome: String,
    pub client_addr: Option<String>,
    pub user_agent: Option<String>,
    pub at_ms: i64,
}

/// Chooses, among a user's open sessions as `(id, last seen ms)`, those to end.
pub type PastMax = dyn Fn(&[(i64, i64)]) -> Vec<i64> + Send + Sync;

/// The accounts part of the store; every [`crate::Store`] is one.
#[async_trait]
pub trait Accounts: Send + Sync {
    /// Creates a user; `None` if the username is taken, in any case.
    async fn create_user(&self, user: &NewUser) -> Result<Option<i64>>;
    async fn user(&self, id: i64) -> Result<Option<UserRow>>;
    /// The user with this username, in any case.
    async fn user_named(&self, username: &str) -> Result<Option<UserRow>>;
    /// Every user, by username.
    async fn users(&self) -> Result<Vec<UserRow>>;
    /// Disables a user and ends all their sessions, in one transaction; `false` if there is no
    /// such user. A user already disabled keeps their first disabling time.
    async fn disable_user(&self, id: i64, at_ms: i64) -> Result<bool>;
    /// `false` if there is no such user.
    async fn enable_user(&self, id: i64) -> Result<bool>;
    /// Sets a user's password hash and ends their sessions but `keep` (all if `None`), in one
    /// transaction; `false` if there is no such user.
    async fn set_password(
        &self,
        id: i64,
        password_hash: &str,
        at_ms: i64,
        keep: Option<i64>,
    ) -> Result<bool>;

    /// Opens a session and ends the user's open sessions that `past_max` picks (among all of
    /// them, the new one included), in one transaction. Returns the new session's id.
    async fn create_session(&self, session: &NewSession, past_max: Arc<PastMax>) -> Result<i64>;
    /// The session whose cookie secret has this SHA-256, ended or not, with its user.
    async fn session_by_token(&self, token_sha256: &[u8; 32]) -> Result<Option<SessionAuth>>;
    /// Records that the session was seen at `at_ms`.
    async fn touch_session(&self, id: i64, at_ms: i64) -> Result<()>;
    /// Ends one of `user_id`'s sessions; `false` if it is not theirs or already ended.
    async fn end_session(&self, id: i64, user_id: i64, at_ms: i64, reason: &str) -> Result<bool>;
    /// Ends every open session of the user but `keep`; how many.
    async fn end_other_sessions(
        &self,
        user_id: i64,
        keep: i64,
        at_ms: i64,
        reason: &str,
    ) -> Result<u64>;
    /// A user's sessions that have not been ended, the most recently seen first (some may have
    /// expired without being ended yet).
    async fn open_sessions(&self, user_id: i64) -> Result<Vec<SessionRow>>;
    /// One session, ended or not.
    async fn session(&self, id: i64) -> Result<Option<SessionRow>>;

    async fn login_throttle(&self, key: &str) -> Result<Option<ThrottleRow>>;
    /// Replaces the throttle state of `key` if it is still `expected` (`None`: no row): `false`
    /// if another attempt changed it first, and the caller reads it again.
    async fn swap_login_throttle(
        &self,
        key: &str,
        expected: Option<&ThrottleRow>,
        new: &ThrottleRow,
    ) -> Result<bool>;
    async fn clear_login_throttle(&self, key: &str) -> Result<()>;
    async fn record_login_attempt(&self, attempt: &LoginAttempt) -> Result<()>;
    /// The latest attempts, newest first.
    async fn login_attempts(&self, limit: i64) -> Result<Vec<LoginAttempt>>;
}

// ---- statements shared by both backends (`$n` placeholders) ----

pub(crate) const INSERT_USER: &str = "INSERT INTO users (username, username_key, display_name, \
     role, password_hash, created_at_ms, password_changed_at_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (username_key) DO NOTHING RETURNING id";

macro_rules! user_columns {
    () => {
        "SELECT id, username, display_name, role, password_hash, created_at_ms, \
         password_changed_at_ms, disabled_at_ms FROM users"
    };
}

pub(crate) const USER_BY_ID: &str = concat!(user_columns!(), " WHERE id = $1");
pub(crate) const USER_BY_KEY: &str = concat!(user_columns!(), " WHERE username_key = $1");
pub(crate) const ALL_USERS: &str = concat!(user_columns!(), " ORDER BY username_key");

pub(crate) const DISABLE_USER: &str =
    "UPDATE users SET disabled_at_ms = COALESCE(disabled_at_ms, $2) WHERE id = $1";
pub(crate) const ENABLE_USER: &str = "UPDATE users SET disabled_at_ms = NULL WHERE id = $1";
pub(crate) const SET_PASSWORD: &str =
    "UPDATE users SET password_hash = $2, password_changed_at_ms = $3 WHERE id = $1";

/// Ends every open session of a user but one (`$2` NULL: all of them).
pub(crate) const END_USER_SESSIONS: &str = "UPDATE user_sessions SET ended_at_ms = $3, \
     end_reason = $4 WHERE user_id = $1 AND ended_at_ms IS NULL AND ($2 IS NULL OR id <> $2)";

pub(crate) const INSERT_SESSION: &str = "INSERT INTO user_sessions (token_sha256, csrf_token, \
     user_id, created_at_ms, last_seen_at_ms, expires_at_ms, user_agent, client_addr) \
     VALUES ($1, $2, $3, $4, $4, $5, $6, $7) RETURNING id";

pub(crate) const OPEN_SESSION_TIMES: &str = "SELECT id, last_seen_at_ms FROM user_sessions \
     WHERE user_id = $1 AND ended_at_ms IS NULL";

pub(crate) const END_SESSION: &str = "UPDATE user_sessions SET ended_at_ms = $3, end_reason = $4 \
     WHERE id = $1 AND user_id = $2 AND ended_at_ms IS NULL";

pub(crate) const SESSION_BY_TOKEN: &str = "SELECT s.id AS session_id, s.user_id, s.csrf_token, \
     s.created_at_ms, s.last_seen_at_ms, s.expires_at_ms, s.ended_at_ms, u.username, \
     u.display_name, u.role, u.disabled_at_ms \
     FROM user_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_sha256 = $1";

/// Only forward: two requests of one session may touch it out of order.
pub(crate) const TOUCH_SESSION: &str = "UPDATE user_sessions SET last_seen_at_ms = $2 \
     WHERE id = $1 AND last_seen_at_ms < $2 AND ended_at_ms IS NULL";

macro_rules! session_columns {
    () => {
        "SELECT id, user_id, created_at_ms, last_seen_at_ms, expires_at_ms, user_agent, \
         client_addr, ended_at_ms, end_reason FROM user_sessions"
    };
}

pub(crate) const OPEN_SESSIONS: &str = concat!(
    session_columns!(),
    " WHERE user_id = $1 AND ended_at_ms IS NULL ORDER BY last_seen_at_ms DESC, id DESC"
);
pub(crate) const SESSION_BY_ID: &str = concat!(session_columns!(), " WHERE id = $1");

pub(crate) const THROTTLE_OF: &str = "SELECT failures, last_attempt_ms, blocked_until_ms \
     FROM login_throttle WHERE username_key = $1";
pub(crate) const THROTTLE_INSERT: &str = "INSERT INTO login_throttle (username_key, failures, \
     last_attempt_ms, blocked_until_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (username_key) DO NOTHING";
pub(crate) const THROTTLE_SWAP: &str = "UPDATE login_throttle SET failures = $2, \
     last_attempt_ms = $3, blocked_until_ms = $4 WHERE username_key = $1 AND failures = $5 \
     AND last_attempt_ms = $6 AND blocked_until_ms = $7";
pub(crate) const THROTTLE_CLEAR: &str = "DELETE FROM login_throttle WHERE username_key = $1";

pub(crate) const INSERT_ATTEMPT: &str = "INSERT INTO login_attempts (username_key, user_id, \
     outcome, client_addr, user_agent, at_ms) VALUES ($1, $2, $3, $4, $5, $6)";
pub(crate) const LATEST_ATTEMPTS: &str = "SELECT username_key, user_id, outcome, client_addr, \
     user_agent, at_ms FROM login_attempts ORDER BY id DESC LIMIT $1";
