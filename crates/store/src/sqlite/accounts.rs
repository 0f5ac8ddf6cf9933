//! Accounts on SQLite. Each write is its own short transaction on the writer connection, run on
//! a blocking thread (its commit fsyncs); reads use the pooled readers.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Connection, Row, params};

use super::rows::FromSqliteRow;
use super::{SqliteStore, all, exec, lock, one, one_value, sqlite_sql, unavailable};
use crate::accounts::{
    self as sql, Accounts, LoginAttempt, NewSession, NewUser, PastMax, SessionAuth, SessionRow,
    ThrottleRow, UserRow, username_key,
};
use crate::{Result, StoreError};

impl FromSqliteRow for UserRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get("id")?,
            username: r.get("username")?,
            display_name: r.get("display_name")?,
            role: r.get("role")?,
            password_hash: r.get("password_hash")?,
            created_at_ms: r.get("created_at_ms")?,
            password_changed_at_ms: r.get("password_changed_at_ms")?,
            disabled_at_ms: r.get("disabled_at_ms")?,
        })
    }
}

impl FromSqliteRow for SessionRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get("id")?,
            user_id: r.get("user_id")?,
            created_at_ms: r.get("created_at_ms")?,
            last_seen_at_ms: r.get("last_seen_at_ms")?,
            expires_at_ms: r.get("expires_at_ms")?,
            user_agent: r.get("user_agent")?,
            client_addr: r.get("client_addr")?,
            ended_at_ms: r.get("ended_at_ms")?,
            end_reason: r.get("end_reason")?,
        })
    }
}

impl FromSqliteRow for SessionAuth {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            session_id: r.get("session_id")?,
            user_id: r.get("user_id")?,
            csrf_token: r.get("csrf_token")?,
            created_at_ms: r.get("created_at_ms")?,
            last_seen_at_ms: r.get("last_seen_at_ms")?,
            expires_at_ms: r.get("expires_at_ms")?,
            ended_at_ms: r.get("ended_at_ms")?,
            username: r.get("username")?,
            display_name: r.get("display_name")?,
            role: r.get("role")?,
            disabled_at_ms: r.get("disabled_at_ms")?,
        })
    }
}

impl FromSqliteRow for ThrottleRow {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            failures: r.get("failures")?,
            last_attempt_ms: r.get("last_attempt_ms")?,
            blocked_until_ms: r.get("blocked_until_ms")?,
        })
    }
}

impl FromSqliteRow for LoginAttempt {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            username_key: r.get("username_key")?,
            user_id: r.get("user_id")?,
            outcome: r.get("outcome")?,
            client_addr: r.get("client_addr")?,
            user_agent: r.get("user_agent")?,
            at_ms: r.get("at_ms")?,
        })
    }
}

impl SqliteStore {
    /// Runs `f` in a transaction of its own on the writer connection, once it is this caller's
    /// turn, and commits (fsync) — or rolls back if `f` or the commit fails.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T> {
        let turn = self
            .writer
            .turn
            .clone()
            .acquire_owned()
            .await
            .map_err(unavailable)?;
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            // Held by the thread, so that a caller that gives up cannot let another writer in
            // before this transaction ends.
            let _turn = turn;
            let conn = lock(&writer.conn)?;
            conn.execute_batch("PRAGMA synchronous = FULL; BEGIN IMMEDIATE")?;
            let done = f(&conn).and_then(|value| conn.execute_batch("COMMIT").map(|()| value));
            if done.is_err() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            done.map_err(StoreError::from)
        })
        .await
        .map_err(unavailable)?
    }
}

fn end_sessions(
    c: &Connection,
    user_id: i64,
    keep: Option<i64>,
    at_ms: i64,
    reason: &str,
) -> rusqlite::Result<usize> {
    exec(
        c,
        sql::END_USER_SESSIONS,
        params![user_id, keep, at_ms, reason],
    )
}

#[async_trait]
impl Accounts for SqliteStore {
    async fn create_user(&self, u: &NewUser) -> Result<Option<i64>> {
        let u = u.clone();
        self.write(move |c| {
            one_value(
                c,
                sql::INSERT_USER,
                params![
                    u.username.trim(),
                    username_key(&u.username),
                    u.display_name,
                    u.role,
                    u.password_hash,
                    u.created_at_ms
                ],
            )
        })
        .await
    }

    async fn user(&self, id: i64) -> Result<Option<UserRow>> {
        self.read(move |c| one(c, sql::USER_BY_ID, [id])).await
    }

    async fn user_named(&self, username: &str) -> Result<Option<UserRow>> {
        let key = username_key(username);
        self.read(move |c| one(c, sql::USER_BY_KEY, [key])).await
    }

    async fn users(&self) -> Result<Vec<UserRow>> {
        self.read(|c| all(c, sql::ALL_USERS, [])).await
    }

    async fn disable_user(&self, id: i64, at_ms: i64) -> Result<bool> {
        self.write(move |c| {
            if exec(c, sql::DISABLE_USER, params![id, at_ms])? == 0 {
                return Ok(false);
            }
            end_sessions(c, id, None, at_ms, "disabled")?;
            Ok(true)
        })
        .await
    }

    async fn enable_user(&self, id: i64) -> Result<bool> {
        self.write(move |c| Ok(exec(c, sql::ENABLE_USER, [id])? > 0))
            .await
    }

    async fn set_password(
        &self,
        id: i64,
        password_hash: &str,
        at_ms: i64,
        keep: Option<i64>,
    ) -> Result<bool> {
        let hash = password_hash.to_owned();
        self.write(move |c| {
            if exec(c, sql::SET_PASSWORD, params![id, hash, at_ms])? == 0 {
                return Ok(false);
            }
            end_sessions(c, id, keep, at_ms, "password_changed")?;
            Ok(true)
        })
        .await
    }

    async fn create_session(&self, s: &NewSession, past_max: Arc<PastMax>) -> Result<i64> {
        let s = s.clone();
        self.write(move |c| {
            let id: i64 = one_value(
                c,
                sql::INSERT_SESSION,
                params![
                    s.token_sha256.as_slice(),
                    s.csrf_token,
                    s.user_id,
                    s.created_at_ms,
                    s.expires_at_ms,
                    s.user_agent,
                    s.client_addr
                ],
            )?
            .ok_or(rusqlite::Error::QueryReturnedNoRows)?;
            let open: Vec<(i64, i64)> = {
                let mut stmt = c.prepare_cached(&sqlite_sql(sql::OPEN_SESSION_TIMES))?;
                stmt.query_map([s.user_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()?
            };
            for old in past_max(&open).into_iter().filter(|&o| o != id) {
                exec(
                    c,
                    sql::END_SESSION,
                    params![old, s.user_id, s.created_at_ms, "evicted"],
                )?;
            }
            Ok(id)
        })
        .await
    }

    async fn session_by_token(&self, token_sha256: &[u8; 32]) -> Result<Option<SessionAuth>> {
        let token = token_sha256.to_vec();
        self.read(move |c| one(c, sql::SESSION_BY_TOKEN, [token]))
            .await
    }

    async fn touch_session(&self, id: i64, at_ms: i64) -> Result<()> {
        self.write(move |c| exec(c, sql::TOUCH_SESSION, params![id, at_ms]))
            .await?;
        Ok(())
    }

    async fn end_session(&self, id: i64, user_id: i64, at_ms: i64, reason: &str) -> Result<bool> {
        let reason = reason.to_owned();
        self.write(move |c| Ok(exec(c, sql::END_SESSION, params![id, user_id, at_ms, reason])? > 0))
            .await
    }

    async fn end_other_sessions(
        &self,
        user_id: i64,
        keep: i64,
        at_ms: i64,
        reason: &str,
    ) -> Result<u64> {
        let reason = reason.to_owned();
        let n = self
            .write(move |c| end_sessions(c, user_id, Some(keep), at_ms, &reason))
            .await?;
        Ok(n as u64)
    }

    async fn open_sessions(&self, user_id: i64) -> Result<Vec<SessionRow>> {
        self.read(move |c| all(c, sql::OPEN_SESSIONS, [user_id]))
            .await
    }

    async fn session(&self, id: i64) -> Result<Option<SessionRow>> {
        self.read(move |c| one(c, sql::SESSION_BY_ID, [id])).await
    }

    async fn login_throttle(&self, key: &str) -> Result<Option<ThrottleRow>> {
        let key = key.to_owned();
        self.read(move |c| one(c, sql::THROTTLE_OF, [key])).await
    }

    async fn swap_login_throttle(
        &self,
        key: &str,
        expected: Option<&ThrottleRow>,
        new: &ThrottleRow,
    ) -> Result<bool> {
        let (key, expected, new) = (key.to_owned(), expected.copied(), *new);
        self.write(move |c| {
            let changed = match expected {
                None => exec(
                    c,
                    sql::THROTTLE_INSERT,
                    params![key, new.failures, new.last_attempt_ms, new.blocked_until_ms],
                )?,
                Some(old) => exec(
                    c,
                    sql::THROTTLE_SWAP,
                    params![
                        key,
                        new.failures,
                        new.last_attempt_ms,
                        new.blocked_until_ms,
                        old.failures,
                        old.last_attempt_ms,
                        old.blocked_until_ms
                    ],
                )?,
            };
            Ok(changed == 1)
        })
        .await
    }

    async fn clear_login_throttle(&self, key: &str) -> Result<()> {
        let key = key.to_owned();
        self.write(move |c| exec(c, sql::THROTTLE_CLEAR, [key]))
            .await?;
        Ok(())
    }

    async fn record_login_attempt(&self, a: &LoginAttempt) -> Result<()> {
        let a = a.clone();
        self.write(move |c| {
            exec(
                c,
                sql::INSERT_ATTEMPT,
                params![
                    a.username_key,
                    a.user_id,
                    a.outcome,
                    a.client_addr,
                    a.user_agent,
                    a.at_ms
                ],
            )
        })
        .await?;
        Ok(())
    }

    async fn login_attempts(&self, limit: i64) -> Result<Vec<LoginAttempt>> {
        self.read(move |c| all(c, sql::LATEST_ATTEMPTS, [limit]))
            .await
    }
}
