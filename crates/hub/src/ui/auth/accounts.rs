//! Account operations shared by the admin pages and `guichet user`: each checks what it is
//! given against the rules of `domain::accounts` before anything is written.

use domain::accounts::{
    PasswordRefusal, Username, UsernameRefusal, check_display_name, check_password,
};
use store::{NewUser, Store, StoreError, UserRow};

use super::Role;
use super::password::{self, HashError};

/// Why an account operation was refused; the text says what to do.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Username(#[from] UsernameRefusal),
    #[error("{0}")]
    DisplayName(String),
    #[error("{0}")]
    Password(#[from] PasswordRefusal),
    #[error("the username {0:?} is taken (usernames are compared without case): choose another")]
    Taken(String),
    #[error("there is no user {0:?}: `guichet user list` shows them")]
    NoSuchUser(String),
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates a user with an initial password. Returns their id.
pub async fn add_user(
    store: &dyn Store,
    username: &str,
    display_name: &str,
    role: Role,
    password: &str,
    now_ms: i64,
) -> Result<i64, AccountError> {
    let username = Username::parse(username)?;
    let display_name = check_display_name(display_name).map_err(AccountError::DisplayName)?;
    check_password(password, username.as_str())?;
    let hash = password::hash(password).await?;
    let user = NewUser {
        username: username.as_str().to_owned(),
        display_name,
        role: role.as_str().to_owned(),
        password_hash: hash,
        created_at_ms: now_ms,
    };
    store
        .create_user(&user)
        .await?
        .ok_or_else(|| AccountError::Taken(username.as_str().to_owned()))
}

/// Finds a user by username, in any case.
pub async fn find(store: &dyn Store, username: &str) -> Result<UserRow, AccountError> {
    store
        .user_named(username)
        .await?
        .ok_or_else(|| AccountError::NoSuchUser(username.trim().to_owned()))
}

/// Sets a user's password and ends their sessions but `keep` (all of them for a reset).
pub async fn set_password(
    store: &dyn Store,
    user: &UserRow,
    password: &str,
    now_ms: i64,
    keep: Option<i64>,
) -> Result<(), AccountError> {
    check_password(password, &user.username)?;
    let hash = password::hash(password).await?;
    if store.set_password(user.id, &hash, now_ms, keep).await? {
        Ok(())
    } else {
        Err(AccountError::NoSuchUser(user.username.clone()))
    }
}
