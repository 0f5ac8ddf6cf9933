//! Password hashing: Argon2id with OWASP's minimum parameters (19 MiB of memory, 2 passes, one
//! lane), stored as a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
//!
//! Hashing takes tens of milliseconds of CPU and 19 MiB of memory on purpose: it runs on the
//! blocking pool, never on the async runtime's threads, and only a few at a time, so that a flood
//! of sign-ins cannot exhaust the machine's memory.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::TryRngCore as _;
use tokio::sync::Semaphore;

/// OWASP's Password Storage Cheat Sheet, first Argon2id configuration.
pub const MEMORY_KIB: u32 = 19_456;
pub const PASSES: u32 = 2;
pub const LANES: u32 = 1;

/// Hashes computed at once; more wait their turn.
static HASHING: Semaphore = Semaphore::const_new(4);

/// A hash with the same parameters as real ones and a password nobody knows: unknown usernames
/// are checked against it, so that they take as long to refuse as a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$LK0wttvr4c6PwLle/exb8A$bBxvF+9haQOVM43QuNR9HyIkXNzkHyJJJszZfYL9jRs";

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Argon2(String),
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    #[error("password hashing was interrupted: {0}")]
    Interrupted(String),
}

fn argon2() -> Result<Argon2<'static>, HashError> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None)
        .map_err(|e| HashError::Argon2(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Fills `buf` from the operating system's random number generator.
pub fn os_random(buf: &mut [u8]) -> Result<(), HashError> {
    rand::rngs::OsRng
        .try_fill_bytes(buf)
        .map_err(|e| HashError::Random(e.to_string()))
}

fn hash_blocking(password: &str) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    os_random(&mut salt)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| HashError::Argon2(e.to_string()))?;
    let hash = argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| HashError::Argon2(e.to_string()))?;
    Ok(hash.to_string())
}

/// Whether `password` matches a stored PHC string. A string that cannot be read matches nothing
/// (and is logged): it is refused like a wrong password, after the same work.
fn verify_blocking(password: &str, stored: &str) -> bool {
    let parsed = match PasswordHash::new(stored) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "a stored password hash cannot be read; refusing the sign-in");
            let dummy = PasswordHash::new(DUMMY_HASH);
            if let (Ok(argon2), Ok(dummy)) = (argon2(), dummy) {
                let _ = argon2.verify_password(password.as_bytes(), &dummy);
            }
            return false;
        }
    };
    match argon2() {
        // The parameters come from the stored string: hashes made with older (or stronger)
        // parameters still verify.
        Ok(a) => a.verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HashError> {
    let _turn = HASHING
        .acquire()
        .await
        .map_err(|e| HashError::Interrupted(e.to_string()))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| HashError::Interrupted(e.to_string()))
}

/// The PHC string of a new hash of `password`, with a fresh random salt.
pub async fn hash(password: &str) -> Result<String, HashError> {
    let password = password.to_owned();
    blocking(move || hash_blocking(&password)).await?
}

/// Whether `password` matches `stored`; with `None` (no such user), the same work against a
/// dummy hash, and `false`.
pub async fn verify(password: &str, stored: Option<&str>) -> Result<bool, HashError> {
    let password = password.to_owned();
    let stored = stored.map(str::to_owned);
    blocking(move || match stored {
        Some(s) => verify_blocking(&password, &s),
        None => {
            let _ = verify_blocking(&password, DUMMY_HASH);
            false
        }
    })
    .await
}

/// A strong password for a new account or a reset, to be given to its user once: 24 characters
/// from 56 unambiguous letters and digits (about 139 bits).
pub fn generate() -> Result<String, HashError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(24);
    while out.len() < 24 {
        let mut bytes = [0u8; 32];
        os_random(&mut bytes)?;
        // Rejection sampling: no letter is likelier than another.
        let limit = 256 - 256 % ALPHABET.len();
        for b in bytes {
            if usize::from(b) < limit && out.len() < 24 {
                out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_an_argon2id_phc_string_that_verifies_only_its_password() {
        let long = "a long passphrase of more than sixty-four characters, kept exactly as typed";
        let stored = hash(long).await.expect("hash");
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify(long, Some(&stored)).await.expect("verify"));
        // No truncation: one more or one less character is another password.
        assert!(
            !verify(&long[..long.len() - 1], Some(&stored))
                .await
                .expect("verify")
        );
        assert!(
            !verify(&format!("{long}!"), Some(&stored))
                .await
                .expect("verify")
        );
        // Two hashes of one password differ by their salt.
        assert_ne!(hash(long).await.expect("hash"), stored);
    }

    #[tokio::test]
    async fn unknown_users_and_unreadable_hashes_are_refused() {
        assert!(!verify("anything", None).await.expect("verify"));
        assert!(
            !verify("anything", Some("not a phc string"))
                .await
                .expect("verify")
        );
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn generated_passwords_are_long_and_different() {
        let a = generate().expect("random");
        let b = generate().expect("random");
        assert_eq!(a.chars().count(), 24);
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() && !"0O1lI".contains(c))
        );
        assert_eq!(domain::accounts::check_password(&a, "someone"), Ok(()));
    }
}
