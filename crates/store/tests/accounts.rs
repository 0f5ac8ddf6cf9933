//! Accounts of the agent UI, told against every backend: users unique without regard to case,
//! sessions found by the hash of their secret, the writes that go together (a new session and the
//! end of those past the maximum; a disabled user and the end of their sessions; a new password
//! and the end of the other sessions), the login throttle's compare-and-swap, and the log of
//! sign-ins.

use std::sync::Arc;

use store::testing::TestDb;
use store::*;

const T0: i64 = 1_795_219_200_000;

fn user(username: &str, role: &str) -> NewUser {
    NewUser {
        username: username.into(),
        display_name: format!("{username} (display)"),
        role: role.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        created_at_ms: T0,
    }
}

fn session(user_id: i64, secret: u8, at_ms: i64) -> NewSession {
    NewSession {
        token_sha256: [secret; 32],
        csrf_token: format!("csrf-{secret}"),
        user_id,
        created_at_ms: at_ms,
        expires_at_ms: at_ms + 12 * 3_600_000,
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0".into()),
        client_addr: Some("127.0.0.1".into()),
    }
}

/// Keeps at most `max` open sessions, the most recently seen (as the hub's rule does).
fn keep_newest(max: usize) -> Arc<PastMax> {
    Arc::new(move |open: &[(i64, i64)]| {
        let mut open = open.to_vec();
        open.sort_by_key(|&(id, seen)| std::cmp::Reverse((seen, id)));
        open.iter().skip(max).map(|&(id, _)| id).collect()
    })
}

async fn open_ids(store: &Arc<dyn Store>, user_id: i64) -> Vec<i64> {
    let mut ids: Vec<i64> = store
        .open_sessions(user_id)
        .await
        .expect("open sessions")
        .iter()
        .map(|s| s.id)
        .collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn usernames_are_unique_whatever_their_case() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let id = store
            .create_user(&user("Camille", "admin"))
            .await
            .expect("create")
            .expect("a new user");
        assert_eq!(
            store
                .create_user(&user("camille", "agent"))
                .await
                .expect("create"),
            None
        );
        assert_eq!(
            store
                .create_user(&user(" CAMILLE ", "agent"))
                .await
                .expect("create"),
            None
        );
        let found = store
            .user_named("cAmIlLe")
            .await
            .expect("read")
            .expect("found");
        assert_eq!((found.id, found.username.as_str()), (id, "Camille"));
        assert_eq!(found.role, "admin");
        assert_eq!(found.password_changed_at_ms, T0);
        assert_eq!(found.disabled_at_ms, None);
        // Non-ASCII letters are folded the same way on both backends.
        store
            .create_user(&user("Élodie", "agent"))
            .await
            .expect("create")
            .expect("new");
        assert!(
            store.user_named("élodie").await.expect("read").is_some(),
            "{:?}",
            db.backend
        );
        let names: Vec<String> = store
            .users()
            .await
            .expect("users")
            .into_iter()
            .map(|u| u.username)
            .collect();
        assert_eq!(names, ["Camille", "Élodie"]);
        assert!(store.user(id + 1000).await.expect("read").is_none());
    }
}

#[tokio::test]
async fn a_session_is_found_by_the_hash_of_its_secret_with_its_user() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let uid = store
            .create_user(&user("ana", "agent"))
            .await
            .expect("create")
            .expect("new");
        let sid = store
            .create_session(&session(uid, 7, T0), keep_newest(10))
            .await
            .expect("session");
        let auth = store
            .session_by_token(&[7; 32])
            .await
            .expect("read")
            .expect("found");
        assert_eq!((auth.session_id, auth.user_id), (sid, uid));
        assert_eq!(auth.csrf_token, "csrf-7");
        assert_eq!(
            (auth.username.as_str(), auth.role.as_str()),
            ("ana", "agent")
        );
        assert_eq!(
            (auth.last_seen_at_ms, auth.expires_at_ms),
            (T0, T0 + 12 * 3_600_000)
        );
        assert!(
            store
                .session_by_token(&[8; 32])
                .await
                .expect("read")
                .is_none()
        );

        // Touches only move forward.
        store.touch_session(sid, T0 + 120_000).await.expect("touch");
        store.touch_session(sid, T0 + 60_000).await.expect("touch");
        let row = store.session(sid).await.expect("read").expect("found");
        assert_eq!(row.last_seen_at_ms, T0 + 120_000);
        assert_eq!(
            row.user_agent.as_deref(),
            Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0")
        );

        // Ended by its user only; then still found, but ended.
        let other = store
            .create_user(&user("bob", "agent"))
            .await
            .expect("create")
            .expect("new");
        assert!(
            !store
                .end_session(sid, other, T0 + 1, "ended")
                .await
                .expect("end")
        );
        assert!(
            store
                .end_session(sid, uid, T0 + 200_000, "logout")
                .await
                .expect("end")
        );
        assert!(
            !store
                .end_session(sid, uid, T0 + 300_000, "logout")
                .await
                .expect("end")
        );
        let auth = store
            .session_by_token(&[7; 32])
            .await
            .expect("read")
            .expect("found");
        assert_eq!(auth.ended_at_ms, Some(T0 + 200_000));
        let row = store.session(sid).await.expect("read").expect("found");
        assert_eq!(row.end_reason.as_deref(), Some("logout"));
        assert!(store.open_sessions(uid).await.expect("open").is_empty());
        // An ended session is not touched back to life.
        store.touch_session(sid, T0 + 400_000).await.expect("touch");
        assert_eq!(
            store
                .session(sid)
                .await
                .expect("read")
                .expect("found")
                .last_seen_at_ms,
            T0 + 120_000
        );
    }
}

#[tokio::test]
async fn a_new_session_past_the_maximum_ends_the_least_recently_used() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let uid = store
            .create_user(&user("ana", "agent"))
            .await
            .expect("create")
            .expect("new");
        let other = store
            .create_user(&user("bob", "agent"))
            .await
            .expect("create")
            .expect("new");
        let bobs = store
            .create_session(&session(other, 99, T0), keep_newest(3))
            .await
            .expect("session");
        let mut ids = Vec::new();
        for i in 0..3u8 {
            let at = T0 + i64::from(i) * 1000;
            ids.push(
                store
                    .create_session(&session(uid, i, at), keep_newest(3))
                    .await
                    .expect("session"),
            );
        }
        // The first is used again: the second is now the least recently used.
        store
            .touch_session(ids[0], T0 + 10_000)
            .await
            .expect("touch");
        let fourth = store
            .create_session(&session(uid, 3, T0 + 20_000), keep_newest(3))
            .await
            .expect("session");
        let mut expect = vec![ids[0], ids[2], fourth];
        expect.sort_unstable();
        assert_eq!(open_ids(&store, uid).await, expect);
        let evicted = store.session(ids[1]).await.expect("read").expect("found");
        assert_eq!(evicted.end_reason.as_deref(), Some("evicted"));
        assert_eq!(evicted.ended_at_ms, Some(T0 + 20_000));
        // Another user's sessions are not counted.
        assert_eq!(open_ids(&store, other).await, [bobs]);

        // The most recent listed first.
        let listed: Vec<i64> = store
            .open_sessions(uid)
            .await
            .expect("open")
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(listed, [fourth, ids[0], ids[2]]);
    }
}

#[tokio::test]
async fn disabling_a_user_ends_all_their_sessions_at_once() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let uid = store
            .create_user(&user("ana", "agent"))
            .await
            .expect("create")
            .expect("new");
        let other = store
            .create_user(&user("bob", "agent"))
            .await
            .expect("create")
            .expect("new");
        for i in 0..3u8 {
            store
                .create_session(&session(uid, i, T0), keep_newest(10))
                .await
                .expect("session");
        }
        let bobs = store
            .create_session(&session(other, 50, T0), keep_newest(10))
            .await
            .expect("session");
        assert!(store.disable_user(uid, T0 + 5).await.expect("disable"));
        assert!(store.open_sessions(uid).await.expect("open").is_empty());
        let auth = store
            .session_by_token(&[0; 32])
            .await
            .expect("read")
            .expect("found");
        assert_eq!(
            (auth.ended_at_ms, auth.disabled_at_ms),
            (Some(T0 + 5), Some(T0 + 5))
        );
        assert_eq!(open_ids(&store, other).await, [bobs]);
        // Disabled again: the first time stays.
        assert!(store.disable_user(uid, T0 + 9).await.expect("disable"));
        assert_eq!(
            store
                .user(uid)
                .await
                .expect("read")
                .expect("found")
                .disabled_at_ms,
            Some(T0 + 5)
        );
        assert!(store.enable_user(uid).await.expect("enable"));
        assert_eq!(
            store
                .user(uid)
                .await
                .expect("read")
                .expect("found")
                .disabled_at_ms,
            None
        );
        assert!(!store.disable_user(9999, T0).await.expect("disable"));
        assert!(!store.enable_user(9999).await.expect("enable"));
    }
}

#[tokio::test]
async fn a_new_password_ends_the_other_sessions_in_the_same_write() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let uid = store
            .create_user(&user("ana", "agent"))
            .await
            .expect("create")
            .expect("new");
        let mut ids = Vec::new();
        for i in 0..3u8 {
            ids.push(
                store
                    .create_session(&session(uid, i, T0), keep_newest(10))
                    .await
                    .expect("session"),
            );
        }
        assert!(
            store
                .set_password(uid, "$argon2id$new", T0 + 7, Some(ids[1]))
                .await
                .expect("set")
        );
        assert_eq!(open_ids(&store, uid).await, [ids[1]]);
        let u = store.user(uid).await.expect("read").expect("found");
        assert_eq!(
            (u.password_hash.as_str(), u.password_changed_at_ms),
            ("$argon2id$new", T0 + 7)
        );
        let ended = store.session(ids[0]).await.expect("read").expect("found");
        assert_eq!(ended.end_reason.as_deref(), Some("password_changed"));
        // A reset by an admin keeps none.
        assert!(
            store
                .set_password(uid, "$argon2id$reset", T0 + 8, None)
                .await
                .expect("set")
        );
        assert!(open_ids(&store, uid).await.is_empty());
        assert!(
            !store
                .set_password(9999, "$argon2id$x", T0, None)
                .await
                .expect("set")
        );

        // Ending the others from the sessions page.
        let a = store
            .create_session(&session(uid, 10, T0), keep_newest(10))
            .await
            .expect("session");
        store
            .create_session(&session(uid, 11, T0), keep_newest(10))
            .await
            .expect("session");
        store
            .create_session(&session(uid, 12, T0), keep_newest(10))
            .await
            .expect("session");
        assert_eq!(
            store
                .end_other_sessions(uid, a, T0 + 9, "ended")
                .await
                .expect("end"),
            2
        );
        assert_eq!(open_ids(&store, uid).await, [a]);
    }
}

#[tokio::test]
async fn the_throttle_changes_only_from_the_state_it_was_read_in() {
    for db in TestDb::all().await {
        let store = db.open().await;
        assert_eq!(store.login_throttle("ghost").await.expect("read"), None);
        let first = ThrottleRow {
            failures: 1,
            last_attempt_ms: T0,
            blocked_until_ms: T0,
        };
        assert!(
            store
                .swap_login_throttle("ghost", None, &first)
                .await
                .expect("swap")
        );
        // A second attempt that read "no row" at the same time loses and must read again.
        assert!(
            !store
                .swap_login_throttle("ghost", None, &first)
                .await
                .expect("swap")
        );
        let second = ThrottleRow {
            failures: 2,
            last_attempt_ms: T0 + 1,
            blocked_until_ms: T0 + 1,
        };
        assert!(
            store
                .swap_login_throttle("ghost", Some(&first), &second)
                .await
                .expect("swap")
        );
        assert!(
            !store
                .swap_login_throttle("ghost", Some(&first), &second)
                .await
                .expect("swap")
        );
        assert_eq!(
            store.login_throttle("ghost").await.expect("read"),
            Some(second)
        );
        store.clear_login_throttle("ghost").await.expect("clear");
        assert_eq!(store.login_throttle("ghost").await.expect("read"), None);
    }
}

#[tokio::test]
async fn sign_in_attempts_are_logged_newest_first() {
    for db in TestDb::all().await {
        let store = db.open().await;
        for (i, outcome) in ["wrong_password", "throttled", "success"]
            .iter()
            .enumerate()
        {
            store
                .record_login_attempt(&LoginAttempt {
                    username_key: "ana".into(),
                    user_id: (i == 2).then_some(1),
                    outcome: (*outcome).into(),
                    client_addr: Some("10.0.0.1".into()),
                    user_agent: None,
                    at_ms: T0 + i as i64,
                })
                .await
                .expect("record");
        }
        let log = store.login_attempts(2).await.expect("log");
        let outcomes: Vec<&str> = log.iter().map(|a| a.outcome.as_str()).collect();
        assert_eq!(outcomes, ["success", "throttled"]);
        assert_eq!(log[0].user_id, Some(1));
    }
}
