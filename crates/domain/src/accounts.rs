//! The rules of the agent UI's accounts: which usernames and passwords are accepted, how failed
//! sign-ins slow down further attempts, when a session has expired, and which sessions end when a
//! user has too many.
//!
//! The password policy follows NIST SP 800-63B and OWASP ASVS 6.2: a minimum length, long
//! passwords accepted as typed (no truncation, no composition rules), and a refusal of the most
//! common passwords and of those that contain the username. The throttle slows an attacker down
//! without ever locking the real user out for long: there is no permanent lockout, only a delay
//! capped at a few minutes.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

/// Fewer characters than this and a password is refused (ASVS 6.2.1).
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Longer than this (in bytes) and a password is refused: far beyond any passphrase or password
/// manager's output (ASVS asks that at least 64 characters be accepted), and it keeps a request
/// from making the server hash megabytes.
pub const MAX_PASSWORD_BYTES: usize = 4096;

/// Usernames are at most this many characters.
pub const MAX_USERNAME_CHARS: usize = 64;

/// Display names are at most this many characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// The most common passwords of 8 characters or more (see `accounts/PROVENANCE.md`).
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("accounts/common-passwords.txt")
        .lines()
        .filter(|l| !l.is_empty())
        .collect()
});

/// Why a password was refused. Its text says why and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordRefusal {
    TooShort { chars: usize },
    TooLong { bytes: usize },
    Common,
    ContainsUsername,
}

impl fmt::Display for PasswordRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { chars } => write!(
                f,
                "the password has {chars} character{s}: use at least {MIN_PASSWORD_CHARS}; a \
                 passphrase of a few unrelated words is long and easy to remember",
                s = if *chars == 1 { "" } else { "s" }
            ),
            Self::TooLong { bytes } => write!(
                f,
                "the password is {bytes} bytes long: use at most {MAX_PASSWORD_BYTES}"
            ),
            Self::Common => f.write_str(
                "this password is one of the most common ones, the first an attacker tries: \
                 choose another, such as a passphrase of a few unrelated words",
            ),
            Self::ContainsUsername => f.write_str(
                "the password contains the username, the first thing an attacker tries: choose \
                 one that does not",
            ),
        }
    }
}

impl std::error::Error for PasswordRefusal {}

/// Whether `password` may be the password of `username`. The password is never changed:
/// what is checked is what is hashed.
pub fn check_password(password: &str, username: &str) -> Result<(), PasswordRefusal> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordRefusal::TooLong {
            bytes: password.len(),
        });
    }
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordRefusal::TooShort { chars });
    }
    let lower = password.to_lowercase();
    if is_common(&lower) {
        return Err(PasswordRefusal::Common);
    }
    let user = username.trim().to_lowercase();
    // A one- or two-letter username is inside too many good passwords to forbid them all.
    if !user.is_empty() && (lower == user || (user.chars().count() >= 3 && lower.contains(&user))) {
        return Err(PasswordRefusal::ContainsUsername);
    }
    Ok(())
}

/// Whether a lower-cased password is on the list of the most common ones.
fn is_common(lower: &str) -> bool {
    COMMON.contains(lower)
}

/// A username as people type it: kept as given for display, compared without case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

/// Why a username was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsernameRefusal {
    Empty,
    TooLong { chars: usize },
    BadCharacter(char),
}

impl fmt::Display for UsernameRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the username is empty: give one, such as `camille`"),
            Self::TooLong { chars } => write!(
                f,
                "the username has {chars} characters: use at most {MAX_USERNAME_CHARS}"
            ),
            Self::BadCharacter(c) => write!(
                f,
                "the username contains {c:?}: use letters, digits and . _ - @ only (an e-mail \
                 address works)"
            ),
        }
    }
}

impl std::error::Error for UsernameRefusal {}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, UsernameRefusal> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(UsernameRefusal::Empty);
        }
        let chars = name.chars().count();
        if chars > MAX_USERNAME_CHARS {
            return Err(UsernameRefusal::TooLong { chars });
        }
        if let Some(c) = name
            .chars()
            .find(|c| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')))
        {
            return Err(UsernameRefusal::BadCharacter(c));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key login throttling counts failures under: whatever was typed, trimmed, lower-cased and
/// cut to a bounded length — whether or not such a user exists, so that the answers do not tell.
pub fn throttle_key(submitted: &str) -> String {
    submitted
        .trim()
        .to_lowercase()
        .chars()
        .take(MAX_USERNAME_CHARS)
        .collect()
}

/// A display name: trimmed, not empty, bounded, without control characters.
pub fn check_display_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(
            "the display name is empty: give the name colleagues know this person by".into(),
        );
    }
    let chars = name.chars().count();
    if chars > MAX_DISPLAY_NAME_CHARS {
        return Err(format!(
            "the display name has {chars} characters: use at most {MAX_DISPLAY_NAME_CHARS}"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("the display name contains a control character: use plain text".into());
    }
    Ok(name.to_owned())
}

/// Failed sign-ins of one submitted username.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleState {
    /// Attempts since the last success (an attempt counts as it starts; a success clears it).
    pub failures: u32,
    pub last_attempt_ms: i64,
    /// No attempt is checked before then.
    pub blocked_until_ms: i64,
}

/// What a sign-in attempt may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Check the password; store this state first (it counts the attempt, so that attempts made
    /// at the same time cannot all slip through before any of them is counted).
    Open(ThrottleState),
    /// Refuse without checking anything until then.
    Wait { until_ms: i64 },
}

/// How failed sign-ins slow down further ones, per submitted username: the first
/// `free_failures` cost nothing, then each failure makes the next attempt wait, twice as long
/// each time, never more than `max_delay_ms`. A quiet `forget_after_ms` starts the count again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    pub free_failures: u32,
    pub first_delay_ms: i64,
    pub max_delay_ms: i64,
    pub forget_after_ms: i64,
}

impl Default for LoginThrottle {
    /// Five free tries; then 10 s, 20 s, 40 s … up to 5 minutes; forgotten after a quiet day.
    /// An attacker gets about 12 guesses an hour; the real user waits at most 5 minutes after the
    /// last failed attempt.
    fn default() -> Self {
        Self {
            free_failures: 5,
            first_delay_ms: 10_000,
            max_delay_ms: 300_000,
            forget_after_ms: 24 * 3_600_000,
        }
    }
}

impl LoginThrottle {
    /// How long the next attempt waits after `failures` failures.
    pub fn delay_after(&self, failures: u32) -> i64 {
        if failures < self.free_failures {
            return 0;
        }
        let doublings = (failures - self.free_failures).min(32);
        self.first_delay_ms
            .saturating_mul(1_i64 << doublings)
            .min(self.max_delay_ms)
    }

    /// Whether an attempt made at `now_ms` may be checked, given the stored state.
    pub fn gate(&self, state: Option<ThrottleState>, now_ms: i64) -> Gate {
        let failures = match state {
            Some(s) if now_ms < s.blocked_until_ms => {
                return Gate::Wait {
                    until_ms: s.blocked_until_ms,
                };
            }
            Some(s) if now_ms - s.last_attempt_ms < self.forget_after_ms => s.failures,
            _ => 0,
        };
        let failures = failures.saturating_add(1);
        Gate::Open(ThrottleState {
            failures,
            last_attempt_ms: now_ms,
            blocked_until_ms: now_ms.saturating_add(self.delay_after(failures)),
        })
    }
}

/// How long a session lives: `idle_ms` without a request, `absolute_ms` in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimeouts {
    pub idle_ms: i64,
    pub absolute_ms: i64,
}

/// Whether a session can still be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionLife {
    Active,
    /// No request for longer than the idle timeout.
    Idle,
    /// Older than the absolute timeout (fixed when the session was created).
    Expired,
}

impl SessionLife {
    /// The reason recorded when a session ends this way.
    pub fn end_reason(self) -> Option<&'static str> {
        match self {
            Self::Active => None,
            Self::Idle => Some("idle"),
            Self::Expired => Some("expired"),
        }
    }
}

/// Last-seen times are written at most this often: a session is seen on every request, and a
/// write per request would cost more than the minute of precision is worth.
pub const TOUCH_EVERY_MS: i64 = 60_000;

impl SessionTimeouts {
    /// When a session created at `created_ms` ends whatever happens.
    pub fn expires_at(&self, created_ms: i64) -> i64 {
        created_ms.saturating_add(self.absolute_ms)
    }

    /// The state of a session at `now_ms`. The last-seen time may lag by up to
    /// [`TOUCH_EVERY_MS`]: a session is never ended early because of it, only up to a minute late.
    pub fn life(&self, expires_at_ms: i64, last_seen_ms: i64, now_ms: i64) -> SessionLife {
        if now_ms >= expires_at_ms {
            SessionLife::Expired
        } else if now_ms - last_seen_ms >= self.idle_ms.saturating_add(TOUCH_EVERY_MS) {
            SessionLife::Idle
        } else {
            SessionLife::Active
        }
    }

    /// Whether a request at `now_ms` should record itself as the session's last sight.
    pub fn needs_touch(last_seen_ms: i64, now_ms: i64) -> bool {
        now_ms - last_seen_ms >= TOUCH_EVERY_MS
    }
}

/// One of a user's sessions, as far as the choice of which to end is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenSession {
    pub id: i64,
    pub last_seen_ms: i64,
}

/// The sessions to end so that at most `max` remain: the least recently used ones (the oldest
/// id first among equals). `sessions` includes the one just created, which is the most recent.
pub fn sessions_past_max(sessions: &[OpenSession], max: usize) -> Vec<i64> {
    let mut by_recency: Vec<OpenSession> = sessions.to_vec();
    by_recency.sort_by_key(|s| std::cmp::Reverse((s.last_seen_ms, s.id)));
    by_recency.iter().skip(max.max(1)).map(|s| s.id).collect()
}

/// Where to go after signing in: `next` if it is a path on this server, else `None`. Anything
/// that a browser could read as another host (`//evil`, `/\evil`, `https:…`) is refused, so that
/// the sign-in page cannot be used to send people elsewhere (open redirect).
pub fn local_next(next: &str) -> Option<&str> {
    let bytes = next.as_bytes();
    let local = bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && !next.chars().any(|c| c.is_control() || c == '\\')
        && next.len() <= 2048;
    local.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_passwords_are_refused_by_their_length() {
        assert_eq!(
            check_password("Ab3$xyz", "camille"),
            Err(PasswordRefusal::TooShort { chars: 7 })
        );
        // Characters, not bytes: seven accented letters are still seven.
        assert_eq!(
            check_password("ééééééé", "camille"),
            Err(PasswordRefusal::TooShort { chars: 7 })
        );
        assert_eq!(check_password("tW9#kq2!", "camille"), Ok(()));
    }

    #[test]
    fn long_passwords_are_accepted_as_they_are() {
        let long = "correct horse battery staple, and a few more words to pass 64 chars!";
        assert!(long.chars().count() > 64);
        assert_eq!(check_password(long, "camille"), Ok(()));
        let huge = "x7".repeat(MAX_PASSWORD_BYTES / 2);
        assert_eq!(check_password(&huge, "camille"), Ok(()));
        assert_eq!(
            check_password(&format!("{huge}y"), "camille"),
            Err(PasswordRefusal::TooLong {
                bytes: MAX_PASSWORD_BYTES + 1
            })
        );
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        for p in [
            "password",
            "12345678",
            "iloveyou",
            "Sunshine",
            "QWERTYUIOP",
            "trustno1",
        ] {
            assert_eq!(
                check_password(p, "camille"),
                Err(PasswordRefusal::Common),
                "{p}"
            );
        }
        assert_eq!(COMMON.len(), 11_611);
        assert!(
            COMMON
                .iter()
                .all(|p| p.chars().count() >= MIN_PASSWORD_CHARS)
        );
    }

    #[test]
    fn passwords_equal_to_or_containing_the_username_are_refused() {
        assert_eq!(
            check_password("camille.martin", "Camille.Martin"),
            Err(PasswordRefusal::ContainsUsername)
        );
        assert_eq!(
            check_password("xx-CAMILLE-2026", "camille"),
            Err(PasswordRefusal::ContainsUsername)
        );
        // A two-letter username only forbids itself.
        assert_eq!(check_password("galop-vert-17", "al"), Ok(()));
    }

    #[test]
    fn refusals_say_what_to_do() {
        for r in [
            PasswordRefusal::TooShort { chars: 3 },
            PasswordRefusal::TooLong { bytes: 9000 },
            PasswordRefusal::Common,
            PasswordRefusal::ContainsUsername,
        ] {
            let text = r.to_string();
            assert!(text.contains("use") || text.contains("choose"), "{text}");
        }
    }

    #[test]
    fn usernames_are_plain_and_bounded() {
        assert_eq!(
            Username::parse("  Camille ").map(|u| u.0),
            Ok("Camille".into())
        );
        assert!(Username::parse("ana@example.com").is_ok());
        assert_eq!(Username::parse(" "), Err(UsernameRefusal::Empty));
        assert_eq!(
            Username::parse("a b"),
            Err(UsernameRefusal::BadCharacter(' '))
        );
        assert_eq!(
            Username::parse(&"a".repeat(65)),
            Err(UsernameRefusal::TooLong { chars: 65 })
        );
        assert_eq!(throttle_key("  CamILLE "), "camille");
        assert_eq!(throttle_key(&"x".repeat(500)).len(), MAX_USERNAME_CHARS);
    }

    #[test]
    fn display_names_are_trimmed_text() {
        assert_eq!(check_display_name(" Ana García "), Ok("Ana García".into()));
        assert!(check_display_name("  ").is_err());
        assert!(check_display_name("a\u{7}b").is_err());
        assert!(check_display_name(&"n".repeat(101)).is_err());
    }

    #[test]
    fn five_failures_are_free_then_the_delay_doubles_up_to_its_cap() {
        let t = LoginThrottle::default();
        let delays: Vec<i64> = (1..=12).map(|n| t.delay_after(n)).collect();
        assert_eq!(
            delays,
            [
                0, 0, 0, 0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000
            ]
        );
        assert_eq!(t.delay_after(u32::MAX), 300_000);
    }

    #[test]
    fn the_gate_counts_attempts_and_makes_the_next_one_wait() {
        let t = LoginThrottle::default();
        let mut state = None;
        let mut now = 1_000_000;
        for n in 1..=5 {
            let Gate::Open(s) = t.gate(state, now) else {
                panic!("attempt {n} must be checked");
            };
            assert_eq!(s.failures, n);
            state = Some(s);
        }
        // The fifth failure blocks the sixth attempt for 10 s.
        assert_eq!(
            t.gate(state, now + 1),
            Gate::Wait {
                until_ms: now + 10_000
            }
        );
        now += 10_000;
        let Gate::Open(s) = t.gate(state, now) else {
            panic!("the wait is over")
        };
        assert_eq!((s.failures, s.blocked_until_ms), (6, now + 20_000));
        // A quiet day forgets everything.
        let Gate::Open(s) = t.gate(Some(s), now + 25 * 3_600_000) else {
            panic!("forgotten")
        };
        assert_eq!(s.failures, 1);
    }

    #[test]
    fn sessions_expire_when_idle_or_old() {
        let t = SessionTimeouts {
            idle_ms: 30 * 60_000,
            absolute_ms: 12 * 3_600_000,
        };
        let created = 0;
        let expires = t.expires_at(created);
        assert_eq!(t.life(expires, created, 29 * 60_000), SessionLife::Active);
        // The last sight may lag by a minute: the idle limit is counted from it generously.
        assert_eq!(
            t.life(expires, created, 31 * 60_000 - 1),
            SessionLife::Active
        );
        assert_eq!(t.life(expires, created, 31 * 60_000), SessionLife::Idle);
        assert_eq!(t.life(expires, expires - 1, expires), SessionLife::Expired);
        assert!(!SessionTimeouts::needs_touch(0, 59_999));
        assert!(SessionTimeouts::needs_touch(0, 60_000));
        assert_eq!(SessionLife::Idle.end_reason(), Some("idle"));
    }

    #[test]
    fn past_the_maximum_the_least_recently_used_sessions_end() {
        let s = |id, last_seen_ms| OpenSession { id, last_seen_ms };
        let open = [s(1, 100), s(2, 50), s(3, 300), s(4, 50), s(5, 400)];
        assert_eq!(sessions_past_max(&open, 3), vec![4, 2]);
        assert_eq!(sessions_past_max(&open, 10), Vec::<i64>::new());
        // Never the newest: at least one session stays.
        assert_eq!(sessions_past_max(&open, 0), vec![3, 1, 4, 2]);
    }

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        for ok in ["/inbox", "/settings/sessions?x=1", "/"] {
            assert_eq!(local_next(ok), Some(ok));
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "inbox",
            "",
            "/a\r\nSet-Cookie: x",
            "/\\/evil",
            "/ok\\..\\",
        ] {
            assert_eq!(local_next(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn a_password_is_never_refused_for_being_long(extra in "[a-z0-9 ]{0,300}") {
            let p = format!("Kx7!m2Qz{extra}");
            // Refused only for what it contains, never for its length.
            match check_password(&p, "zz-nobody-zz") {
                Ok(()) | Err(PasswordRefusal::Common) => {}
                Err(e) => prop_assert!(false, "{e}"),
            }
        }

        #[test]
        fn the_delay_never_decreases_and_never_passes_the_cap(n in 0u32..200) {
            let t = LoginThrottle::default();
            prop_assert!(t.delay_after(n) <= t.delay_after(n + 1));
            prop_assert!(t.delay_after(n) <= t.max_delay_ms);
        }

        #[test]
        fn a_blocked_user_can_always_try_again_within_the_cap(
            failures in 0u32..10_000, at in 0i64..1_000_000_000
        ) {
            let t = LoginThrottle::default();
            let state = ThrottleState {
                failures,
                last_attempt_ms: at,
                blocked_until_ms: at + t.delay_after(failures),
            };
            prop_assert!(matches!(t.gate(Some(state), at + t.max_delay_ms), Gate::Open(_)));
        }

        #[test]
        fn at_most_max_sessions_remain_and_the_newest_stays(
            seen in proptest::collection::vec(0i64..1000, 1..30), max in 1usize..12
        ) {
            let open: Vec<OpenSession> = seen
                .iter()
                .enumerate()
                .map(|(i, &t)| OpenSession { id: i as i64, last_seen_ms: t })
                .collect();
            let ended = sessions_past_max(&open, max);
            prop_assert_eq!(ended.len(), open.len().saturating_sub(max));
            let newest = open.iter().max_by_key(|s| (s.last_seen_ms, s.id)).map(|s| s.id);
            prop_assert!(newest.is_some_and(|n| !ended.contains(&n)));
            // Every session kept was used at least as recently as every session ended.
            for kept in open.iter().filter(|s| !ended.contains(&s.id)) {
                for gone in open.iter().filter(|s| ended.contains(&s.id)) {
                    prop_assert!((kept.last_seen_ms, kept.id) > (gone.last_seen_ms, gone.id));
                }
            }
        }

        #[test]
        fn a_local_next_always_starts_with_one_slash(s in ".{0,40}") {
            if let Some(n) = local_next(&s) {
                prop_assert!(n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'));
            }
        }
    }
}
