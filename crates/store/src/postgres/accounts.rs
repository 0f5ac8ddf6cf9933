//! Accounts on Postgres. Writes that go together run in one transaction; a user's row is locked
//! (`FOR UPDATE`) while their sessions change, so that two sign-ins at once cannot both keep
//! more sessions than the maximum.

use std::sync::Arc;

use async_trait::async_trait;

use super::PgStore;
use crate::Result;
use crate::accounts::{
    self as sql, Accounts, LoginAttempt, NewSession, NewUser, PastMax, SessionAuth, SessionRow,
    ThrottleRow, UserRow, username_key,
};

const LOCK_USER: &str = "SELECT id FROM users WHERE id = $1 FOR UPDATE";

const END_MANY: &str = "UPDATE user_sessions SET ended_at_ms = $3, end_reason = $4 \
     WHERE id = ANY($1) AND user_id = $2 AND ended_at_ms IS NULL";

async fn end_sessions(
    tx: &mut sqlx::PgConnection,
    user_id: i64,
    keep: Option<i64>,
    at_ms: i64,
    reason: &str,
) -> Result<u64> {
    Ok(sqlx::query(sql::END_USER_SESSIONS)
        .bind(user_id)
        .bind(keep)
        .bind(at_ms)
        .bind(reason)
        .execute(tx)
        .await?
        .rows_affected())
}

#[async_trait]
impl Accounts for PgStore {
    async fn create_user(&self, u: &NewUser) -> Result<Option<i64>> {
        Ok(sqlx::query_scalar(sql::INSERT_USER)
            .bind(u.username.trim())
            .bind(username_key(&u.username))
            .bind(&u.display_name)
            .bind(&u.role)
            .bind(&u.password_hash)
            .bind(u.created_at_ms)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn user(&self, id: i64) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as(sql::USER_BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn user_named(&self, username: &str) -> Result<Option<UserRow>> {
        Ok(sqlx::query_as(sql::USER_BY_KEY)
            .bind(username_key(username))
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn users(&self) -> Result<Vec<UserRow>> {
        Ok(sqlx::query_as(sql::ALL_USERS).fetch_all(&self.pool).await?)
    }

    async fn disable_user(&self, id: i64, at_ms: i64) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query(sql::DISABLE_USER)
            .bind(id)
            .bind(at_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        end_sessions(&mut tx, id, None, at_ms, "disabled").await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn enable_user(&self, id: i64) -> Result<bool> {
        let changed = sqlx::query(sql::ENABLE_USER)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(changed > 0)
    }

    async fn set_password(
        &self,
        id: i64,
        password_hash: &str,
        at_ms: i64,
        keep: Option<i64>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query(sql::SET_PASSWORD)
            .bind(id)
            .bind(password_hash)
            .bind(at_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        end_sessions(&mut tx, id, keep, at_ms, "password_changed").await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn create_session(&self, s: &NewSession, past_max: Arc<PastMax>) -> Result<i64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(LOCK_USER)
            .bind(s.user_id)
            .execute(&mut *tx)
            .await?;
        let id: i64 = sqlx::query_scalar(sql::INSERT_SESSION)
            .bind(s.token_sha256.as_slice())
            .bind(&s.csrf_token)
            .bind(s.user_id)
            .bind(s.created_at_ms)
            .bind(s.expires_at_ms)
            .bind(&s.user_agent)
            .bind(&s.client_addr)
            .fetch_one(&mut *tx)
            .await?;
        let open: Vec<(i64, i64)> = sqlx::query_as(sql::OPEN_SESSION_TIMES)
            .bind(s.user_id)
            .fetch_all(&mut *tx)
            .await?;
        let ended: Vec<i64> = past_max(&open).into_iter().filter(|&o| o != id).collect();
        if !ended.is_empty() {
            sqlx::query(END_MANY)
                .bind(&ended)
                .bind(s.user_id)
                .bind(s.created_at_ms)
                .bind("evicted")
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    async fn session_by_token(&self, token_sha256: &[u8; 32]) -> Result<Option<SessionAuth>> {
        Ok(sqlx::query_as(sql::SESSION_BY_TOKEN)
            .bind(token_sha256.as_slice())
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn touch_session(&self, id: i64, at_ms: i64) -> Result<()> {
        sqlx::query(sql::TOUCH_SESSION)
            .bind(id)
            .bind(at_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn end_session(&self, id: i64, user_id: i64, at_ms: i64, reason: &str) -> Result<bool> {
        let changed = sqlx::query(sql::END_SESSION)
            .bind(id)
            .bind(user_id)
            .bind(at_ms)
            .bind(reason)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(changed > 0)
    }

    async fn end_other_sessions(
        &self,
        user_id: i64,
        keep: i64,
        at_ms: i64,
        reason: &str,
    ) -> Result<u64> {
        let mut conn = self.pool.acquire().await?;
        end_sessions(&mut conn, user_id, Some(keep), at_ms, reason).await
    }

    async fn open_sessions(&self, user_id: i64) -> Result<Vec<SessionRow>> {
        Ok(sqlx::query_as(sql::OPEN_SESSIONS)
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn session(&self, id: i64) -> Result<Option<SessionRow>> {
        Ok(sqlx::query_as(sql::SESSION_BY_ID)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn login_throttle(&self, key: &str) -> Result<Option<ThrottleRow>> {
        Ok(sqlx::query_as(sql::THROTTLE_OF)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn swap_login_throttle(
        &self,
        key: &str,
        expected: Option<&ThrottleRow>,
        new: &ThrottleRow,
    ) -> Result<bool> {
        let query = match expected {
            None => sqlx::query(sql::THROTTLE_INSERT)
                .bind(key)
                .bind(new.failures)
                .bind(new.last_attempt_ms)
                .bind(new.blocked_until_ms),
            Some(old) => sqlx::query(sql::THROTTLE_SWAP)
                .bind(key)
                .bind(new.failures)
                .bind(new.last_attempt_ms)
                .bind(new.blocked_until_ms)
                .bind(old.failures)
                .bind(old.last_attempt_ms)
                .bind(old.blocked_until_ms),
        };
        Ok(query.execute(&self.pool).await?.rows_affected() == 1)
    }

    async fn clear_login_throttle(&self, key: &str) -> Result<()> {
        sqlx::query(sql::THROTTLE_CLEAR)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn record_login_attempt(&self, a: &LoginAttempt) -> Result<()> {
        sqlx::query(sql::INSERT_ATTEMPT)
            .bind(&a.username_key)
            .bind(a.user_id)
            .bind(&a.outcome)
            .bind(&a.client_addr)
            .bind(&a.user_agent)
            .bind(a.at_ms)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn login_attempts(&self, limit: i64) -> Result<Vec<LoginAttempt>> {
        Ok(sqlx::query_as(sql::LATEST_ATTEMPTS)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }
}
