//! Accounts, sessions and CSRF through the real server on a random port, on both backends:
//! T-18 (login brute force and enumeration), T-19 (password policy and storage), T-20 (session
//! lifecycle) and T-21 (CSRF) of the reliability tests.
//!
//! A small browser stands in for a real one: it keeps cookies by hand (reqwest's cookie store
//! would not send `Secure` cookies over http://127.0.0.1), sends the headers a browser sends on a
//! same-origin form post (`Origin`, `Sec-Fetch-Site`), and never follows redirects, so that every
//! answer can be looked at.

mod common;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use common::browser::{ADMIN, ADMIN_PASSWORD, AGENT, AGENT_PASSWORD, Browser, user_id, with_users};
use common::{TestApp, each_backend};
use hub::ui::auth::{Role, accounts};
use reqwest::{Method, StatusCode};
use store::Store;

/// T-18: brute force on one account from rotating addresses, and unknown users told apart from
/// wrong passwords by nothing.
#[tokio::test]
async fn login_bruteforce_and_enumeration() {
    each_backend(|db| async move {
        let app = with_users(&db).await;

        // An unknown user and a wrong password: the same status and page (but for the username
        // typed, which the form shows again).
        let mut a = Browser::new(&app);
        let unknown = a.login("nobody-here", "some-wrong-password").await;
        let mut b = Browser::new(&app);
        let wrong = b.login(AGENT, "some-wrong-password").await;
        assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
        assert_eq!(wrong.status, unknown.status);
        let unknown_csrf = a
            .cookies
            .get("__Host-guichet-login")
            .cloned()
            .expect("cookie");
        let wrong_csrf = b
            .cookies
            .get("__Host-guichet-login")
            .cloned()
            .expect("cookie");
        let normalise = |body: &str, user: &str, csrf: &str| {
            body.replace(user, "{user}").replace(csrf, "{csrf}")
        };
        assert_eq!(
            normalise(&unknown.body, "nobody-here", &unknown_csrf),
            normalise(&wrong.body, AGENT, &wrong_csrf)
        );
        assert!(wrong.body.contains("Wrong username or password."));
        assert!(a.session_cookie().is_none() && b.session_cookie().is_none());

        // 50 wrong passwords on one account, each from another address: five are checked,
        // then the account's sign-ins wait, whatever the address.
        let mut statuses = BTreeMap::new();
        for i in 0..50u8 {
            let mut attacker = Browser::from(&app, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + i)));
            let page = attacker.login(ADMIN, &format!("guess-number-{i}")).await;
            *statuses.entry(page.status.as_u16()).or_insert(0) += 1;
            if page.status == StatusCode::TOO_MANY_REQUESTS {
                assert!(page.body.contains("Too many failed sign-ins"));
                assert!(page.retry_after.is_some());
            }
            assert!(attacker.session_cookie().is_none());
        }
        assert_eq!(statuses, BTreeMap::from([(401, 5), (429, 45)]));

        // Unknown usernames are throttled the same way: the delays do not tell either.
        let mut ghost = BTreeMap::new();
        for i in 0..7 {
            let page = Browser::new(&app)
                .login("ghost", &format!("guess-{i}"))
                .await;
            *ghost.entry(page.status.as_u16()).or_insert(0) += 1;
        }
        assert_eq!(ghost, BTreeMap::from([(401, 5), (429, 2)]));

        // Even the right password waits while the account is throttled…
        let mut real = Browser::new(&app);
        assert_eq!(
            real.login(ADMIN, ADMIN_PASSWORD).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
        // … and the attacker keeps guessing each time the wait ends; it never exceeds five minutes.
        for i in 0..12 {
            app.clock.advance(5 * 60_000);
            let mut attacker = Browser::new(&app);
            let page = attacker.login(ADMIN, &format!("later-guess-{i}")).await;
            assert_eq!(
                page.status,
                StatusCode::UNAUTHORIZED,
                "guess {i} is checked"
            );
        }
        // No permanent lockout: the real user gets in once the last wait is over.
        assert_eq!(
            real.login(ADMIN, ADMIN_PASSWORD).await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
        app.clock.advance(5 * 60_000);
        real.signed_in(ADMIN, ADMIN_PASSWORD).await;
        // A success clears the count.
        assert_eq!(
            Browser::new(&app)
                .login(ADMIN, "one-more-wrong")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );

        // Every attempt is logged, with its address, and never with the password.
        let log = app.store.login_attempts(1000).await.expect("log");
        assert_eq!(log.len(), 2 + 50 + 7 + 1 + 12 + 2 + 1);
        let count = |outcome: &str| log.iter().filter(|a| a.outcome == outcome).count();
        assert_eq!(count("unknown_user"), 6);
        assert_eq!(count("throttled"), 45 + 2 + 2);
        assert_eq!(count("success"), 1);
        let addresses: std::collections::BTreeSet<&str> = log
            .iter()
            .filter_map(|a| a.client_addr.as_deref())
            .collect();
        assert!(addresses.contains("127.0.0.10") && addresses.contains("127.0.0.59"));
        let text = format!("{log:?}");
        assert!(!text.contains("guess-number") && !text.contains(ADMIN_PASSWORD));
        app.stop().await;
    })
    .await;
}

/// T-19: short and common passwords refused with what to do; long ones kept as typed and
/// stored as Argon2id PHC strings.
#[tokio::test]
async fn password_policy_and_storage() {
    each_backend(|db| async move {
        let app = with_users(&db).await;
        let mut admin = Browser::new(&app);
        admin.signed_in(ADMIN, ADMIN_PASSWORD).await;
        let token = admin.token().await;
        let add = |password: &str| {
            [
                ("_csrf", token.clone()),
                ("username", "aisha".to_owned()),
                ("display_name", "Aisha Khan".to_owned()),
                ("role", "agent".to_owned()),
                ("password", password.to_owned()),
            ]
        };

        for (password, why) in [
            ("Ab3$xyz", "use at least 8"),
            ("iloveyou", "most common"),
            ("Football", "most common"),
            ("aisha-2026-aisha", "contains the username"),
        ] {
            let fields = add(password);
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let page = admin.post("/settings/users", &fields).await;
            assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{password}");
            assert!(page.body.contains(why), "{password}: {}", page.body);
            assert!(app.store.user_named("aisha").await.expect("read").is_none());
        }

        // 80 characters, pasted as they are: kept whole, no truncation.
        let long =
            "Tea at five; the lighthouse keeper's cat sleeps on the logbook — ✓ 2026/11/21 ok";
        assert!(long.chars().count() >= 64);
        let fields = add(long);
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let page = admin.post("/settings/users", &fields).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let stored = app
            .store
            .user_named("aisha")
            .await
            .expect("read")
            .expect("added");
        assert!(
            stored
                .password_hash
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            stored.password_hash
        );
        assert!(!stored.password_hash.contains("lighthouse"));

        let mut aisha = Browser::new(&app);
        aisha.signed_in("aisha", long).await;
        let shorter: String = long.chars().take(64).collect();
        assert_eq!(
            Browser::new(&app).login("aisha", &shorter).await.status,
            StatusCode::UNAUTHORIZED,
            "the first 64 characters alone are another password"
        );

        // Changing one's own password follows the same rules.
        let token = aisha.token().await;
        let page = aisha
            .post(
                "/settings/password",
                &[("_csrf", &token), ("current", long), ("new", "password1")],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.body.contains("most common"), "{}", page.body);
        let page = aisha
            .post(
                "/settings/password",
                &[
                    ("_csrf", &token),
                    ("current", "not it"),
                    ("new", "amber-canyon-rivers"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(page.body.contains("current password is wrong"));
        let page = aisha
            .post(
                "/settings/password",
                &[
                    ("_csrf", &token),
                    ("current", long),
                    ("new", "amber-canyon-rivers"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let after = app
            .store
            .user_named("aisha")
            .await
            .expect("read")
            .expect("user");
        assert!(
            after
                .password_hash
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        );
        assert_ne!(after.password_hash, stored.password_hash);
        Browser::new(&app)
            .signed_in("aisha", "amber-canyon-rivers")
            .await;
        app.stop().await;
    })
    .await;
}

/// T-20: a new session at every sign-in, its cookie's attributes, and every way a session ends.
#[tokio::test]
async fn session_lifecycle() {
    each_backend(|db| async move {
        let app = with_users(&db).await;
        let agent_id = user_id(app.store.as_ref(), AGENT).await;

        // A new random id at every sign-in, in a __Host- cookie that scripts cannot read.
        let mut one = Browser::new(&app);
        one.signed_in(AGENT, AGENT_PASSWORD).await;
        let set = one
            .last_set_cookies
            .iter()
            .find(|c| c.starts_with("__Host-guichet="))
            .cloned()
            .expect("a session cookie");
        let attributes: Vec<&str> = set.split("; ").skip(1).collect();
        for wanted in ["Path=/", "HttpOnly", "SameSite=Lax", "Secure"] {
            assert!(attributes.contains(&wanted), "{set}");
        }
        assert!(!set.contains("Domain"), "{set}");
        let first = one.session_cookie().expect("cookie");
        assert!(first.len() >= 43, "at least 256 bits: {first}");
        // Signing in again in the same browser (its session cookie sent along): another id, and
        // the old one is dead.
        let old = one.cookies.clone();
        let mut fresh = Browser::new(&app);
        let login_token = fresh.get("/login").await.csrf();
        for (name, value) in fresh.cookies {
            one.cookies.insert(name, value);
        }
        let page = one
            .post(
                "/login",
                &[
                    ("_csrf", &login_token),
                    ("username", AGENT),
                    ("password", AGENT_PASSWORD),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let second = one.session_cookie().expect("cookie");
        assert_ne!(first, second);
        let mut stale = Browser::new(&app);
        stale.cookies = old;
        assert!(!stale.can_see_sessions().await);

        // Logout: the old cookie then gets the sign-in page for pages, 401 for anything else.
        let before = one.cookies.clone();
        let token = one.token().await;
        let page = one.post("/logout", &[("_csrf", &token)]).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert!(one.session_cookie().is_none(), "the cookie is deleted");
        let mut replay = Browser::new(&app);
        replay.cookies = before;
        let page = replay.get("/settings/sessions").await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(
            page.location.as_deref(),
            Some("/login?next=%2Fsettings%2Fsessions")
        );
        let page = replay.request(Method::GET, "/settings/sessions", &[]).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        let page = replay.post("/logout", &[("_csrf", &token)]).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);

        // A password change ends the other sessions, not this one.
        let mut laptop = Browser::new(&app);
        laptop.signed_in(AGENT, AGENT_PASSWORD).await;
        let mut phone = Browser::new(&app);
        phone.signed_in(AGENT, AGENT_PASSWORD).await;
        let token = laptop.token().await;
        let page = laptop
            .post(
                "/settings/password",
                &[
                    ("_csrf", &token),
                    ("current", AGENT_PASSWORD),
                    ("new", "tidal-copper-meadow-9"),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        assert!(laptop.can_see_sessions().await);
        assert!(!phone.can_see_sessions().await);
        let password = "tidal-copper-meadow-9";

        // A disabled user's sessions die at once.
        let mut admin = Browser::new(&app);
        admin.signed_in(ADMIN, ADMIN_PASSWORD).await;
        let token = admin.token().await;
        let page = admin
            .post(
                &format!("/settings/users/{agent_id}/disable"),
                &[("_csrf", &token)],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        assert!(!laptop.can_see_sessions().await);
        assert_eq!(
            Browser::new(&app).login(AGENT, password).await.status,
            StatusCode::UNAUTHORIZED,
            "a disabled user cannot sign in"
        );
        let page = admin
            .post(
                &format!("/settings/users/{agent_id}/enable"),
                &[("_csrf", &token)],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);

        // Idle: two hours and the minute the last sight may lag, without a request.
        let mut idle = Browser::new(&app);
        idle.signed_in(AGENT, password).await;
        app.clock.advance(121 * 60_000 - 1);
        assert!(idle.can_see_sessions().await, "not idle yet");
        app.clock.advance(121 * 60_000);
        assert!(!idle.can_see_sessions().await, "idle too long");

        // Absolute: twelve hours after sign-in, however busy.
        let mut busy = Browser::new(&app);
        busy.signed_in(AGENT, password).await;
        for _ in 0..23 {
            app.clock.advance(30 * 60_000);
            assert!(busy.can_see_sessions().await);
        }
        app.clock.advance(30 * 60_000);
        assert!(!busy.can_see_sessions().await, "twelve hours are over");

        // The eleventh session ends the least recently used one.
        let mut browsers = Vec::new();
        for _ in 0..11 {
            let mut b = Browser::new(&app);
            b.signed_in(AGENT, password).await;
            app.clock.advance(1000);
            browsers.push(b);
        }
        let alive: Vec<bool> = {
            let mut alive = Vec::new();
            for b in &mut browsers {
                alive.push(b.can_see_sessions().await);
            }
            alive
        };
        assert_eq!(alive, [[false].as_slice(), &[true; 10]].concat());
        assert_eq!(
            app.store.open_sessions(agent_id).await.expect("open").len(),
            10
        );
        app.stop().await;
    })
    .await;
}

/// Everything that could change: users (with their hashes and disabling) and open sessions.
async fn snapshot(store: &dyn Store) -> String {
    let mut out = String::new();
    for u in store.users().await.expect("users") {
        let sessions: Vec<i64> = store
            .open_sessions(u.id)
            .await
            .expect("sessions")
            .iter()
            .map(|s| s.id)
            .collect();
        out.push_str(&format!(
            "{} {} {} {:?} {:?}\n",
            u.username, u.role, u.password_hash, u.disabled_at_ms, sessions
        ));
    }
    out
}

/// T-21: every state-changing route, replayed without its token, from another origin, marked
/// cross-site by the browser, and as GET: all refused, nothing changed.
#[tokio::test]
async fn csrf() {
    each_backend(|db| async move {
        let app = with_users(&db).await;
        let agent_id = user_id(app.store.as_ref(), AGENT).await;
        let mut admin = Browser::new(&app);
        admin.signed_in(ADMIN, ADMIN_PASSWORD).await;
        let mut other = Browser::new(&app);
        other.signed_in(ADMIN, ADMIN_PASSWORD).await;
        let other_session = app
            .store
            .open_sessions(user_id(app.store.as_ref(), ADMIN).await)
            .await
            .expect("sessions")
            .iter()
            .map(|s| s.id)
            .max()
            .expect("a session");
        let token = admin.token().await;
        let routes: Vec<(String, Vec<(&str, &str)>)> = vec![
            ("/logout".into(), vec![]),
            (format!("/settings/sessions/{other_session}/end"), vec![]),
            ("/settings/sessions/end-others".into(), vec![]),
            (
                "/settings/password".into(),
                vec![("current", ADMIN_PASSWORD), ("new", "forged-password-123")],
            ),
            (
                "/settings/users".into(),
                vec![
                    ("username", "mallory"),
                    ("display_name", "Mallory"),
                    ("role", "admin"),
                    ("password", "forged-password-123"),
                ],
            ),
            (format!("/settings/users/{agent_id}/disable"), vec![]),
            (format!("/settings/users/{agent_id}/enable"), vec![]),
            (
                format!("/settings/users/{agent_id}/password"),
                vec![("password", "forged-password-123")],
            ),
        ];
        let before = snapshot(app.store.as_ref()).await;
        for (path, fields) in &routes {
            let with_token: Vec<(&str, &str)> = [&[("_csrf", token.as_str())][..], fields].concat();

            let forgeries = admin.forge(path, fields, &token).await;
            assert!(
                forgeries
                    .without_token
                    .body
                    .contains("carries no security token"),
                "{}",
                forgeries.without_token.body
            );
            let page = forgeries.foreign_origin;
            assert!(page.body.contains("evil.example"), "{}", page.body);

            let page = admin
                .post_with(path, &with_token, &[("sec-fetch-site", "same-site")])
                .await;
            assert_eq!(
                page.status,
                StatusCode::FORBIDDEN,
                "{path} marked same-site"
            );

            // The token in a header, but the request from another site: still refused.
            let page = admin
                .post_with(
                    path,
                    fields,
                    &[("x-csrf-token", &token), ("sec-fetch-site", "cross-site")],
                )
                .await;
            assert_eq!(
                page.status,
                StatusCode::FORBIDDEN,
                "{path} cross-site with a header"
            );

            // As GET (its fields in the query): refused, or the page that shows the form, and
            // nothing changes either way.
            let query = serde_urlencoded::to_string(&with_token).expect("query");
            for method in [Method::GET, Method::HEAD] {
                let page = admin
                    .request(method.clone(), &format!("{path}?{query}"), &[])
                    .await;
                let expected = if path == "/settings/password" || path == "/settings/users" {
                    StatusCode::OK
                } else {
                    StatusCode::METHOD_NOT_ALLOWED
                };
                assert_eq!(page.status, expected, "{method} {path}");
            }
        }
        assert_eq!(
            snapshot(app.store.as_ref()).await,
            before,
            "nothing changed"
        );
        assert!(admin.can_see_sessions().await && other.can_see_sessions().await);

        // The sign-in form is protected too: without its cookie-bound token, or from elsewhere.
        let mut victim = Browser::new(&app);
        let form = victim.get("/login").await;
        let login_token = form.csrf();
        let creds = [("username", ADMIN), ("password", ADMIN_PASSWORD)];
        let page = victim.post("/login", &creds).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        let page = victim
            .post("/login", &[&[("_csrf", "forged")][..], &creds].concat())
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        let with_token = [&[("_csrf", login_token.as_str())][..], &creds].concat();
        let page = victim
            .post_with("/login", &with_token, &[("origin", "https://evil.example")])
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN);
        let mut cookieless = Browser::new(&app);
        let page = cookieless.post("/login", &with_token).await;
        assert_eq!(
            page.status,
            StatusCode::FORBIDDEN,
            "the token alone is not enough"
        );
        assert!(victim.session_cookie().is_none() && cookieless.session_cookie().is_none());

        // The same requests, made properly, work: the refusals above were the checks'.
        let page = victim.post("/login", &with_token).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        let page = admin
            .post_with(
                &format!("/settings/users/{agent_id}/disable"),
                &[],
                &[("x-csrf-token", &token)],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        let disabled = app.store.user(agent_id).await.expect("read").expect("user");
        assert!(disabled.disabled_at_ms.is_some());
        app.stop().await;
    })
    .await;
}

/// The pages render for their users, and the admins' page is a 404 for agents.
#[tokio::test]
async fn pages_show_sessions_and_users_to_whom_they_belong() {
    each_backend(|db| async move {
        let app = with_users(&db).await;
        let mut agent = Browser::new(&app);
        agent.signed_in(AGENT, AGENT_PASSWORD).await;
        let page = agent.get("/settings/sessions").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("this device"));
        assert!(page.body.contains("João Silva"));
        assert_eq!(
            agent.get("/settings/users").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(agent.get("/settings/password").await.status, StatusCode::OK);

        let mut admin = Browser::new(&app);
        admin.signed_in(ADMIN, ADMIN_PASSWORD).await;
        let page = admin.get("/settings/users").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(r#"data-user="joao""#) && page.body.contains("João Silva"));

        // `next` is followed only to a path of this server.
        let mut b = Browser::new(&app);
        let form = b.get("/login?next=/settings/password").await;
        let token = form.csrf();
        assert!(
            form.body
                .contains(r#"name="next" value="/settings/password""#)
        );
        let page = b
            .post(
                "/login",
                &[
                    ("_csrf", &token),
                    ("username", AGENT),
                    ("password", AGENT_PASSWORD),
                    ("next", "/settings/password"),
                ],
            )
            .await;
        assert_eq!(page.location.as_deref(), Some("/settings/password"));
        let mut c = Browser::new(&app);
        let token = c.get("/login").await.csrf();
        let page = c
            .post(
                "/login",
                &[
                    ("_csrf", &token),
                    ("username", AGENT),
                    ("password", AGENT_PASSWORD),
                    ("next", "//evil.example/"),
                ],
            )
            .await;
        assert_eq!(page.location.as_deref(), Some("/inbox"));

        // Ending another of one's sessions from the page.
        let mut other = Browser::new(&app);
        other.signed_in(AGENT, AGENT_PASSWORD).await;
        let agent_id = user_id(app.store.as_ref(), AGENT).await;
        let sessions = app.store.open_sessions(agent_id).await.expect("open");
        let newest = sessions.first().expect("one").id;
        let token = agent.token().await;
        let page = agent
            .post(
                &format!("/settings/sessions/{newest}/end"),
                &[("_csrf", &token)],
            )
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert!(!other.can_see_sessions().await);
        // Another user's session is not found.
        let admin_session = app
            .store
            .open_sessions(user_id(app.store.as_ref(), ADMIN).await)
            .await
            .expect("open")[0]
            .id;
        let page = agent
            .post(
                &format!("/settings/sessions/{admin_session}/end"),
                &[("_csrf", &token)],
            )
            .await;
        assert_eq!(page.status, StatusCode::NOT_FOUND);
        assert!(admin.can_see_sessions().await);

        // An agent's posts to the admins' routes are 404s, and change nothing.
        let admin_id = user_id(app.store.as_ref(), ADMIN).await;
        let before = snapshot(app.store.as_ref()).await;
        let token = agent.token().await;
        for path in [
            format!("/settings/users/{admin_id}/disable"),
            format!("/settings/users/{admin_id}/password"),
        ] {
            let page = agent
                .post(
                    &path,
                    &[("_csrf", &token), ("password", "taken-over-account-1")],
                )
                .await;
            assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        }
        assert_eq!(snapshot(app.store.as_ref()).await, before);

        // An admin cannot disable themselves: one admin always remains.
        let token = admin.token().await;
        let page = admin
            .post(
                &format!("/settings/users/{admin_id}/disable"),
                &[("_csrf", &token)],
            )
            .await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            page.body.contains("cannot disable your own account"),
            "{}",
            page.body
        );
        assert_eq!(snapshot(app.store.as_ref()).await, before);
        app.stop().await;
    })
    .await;
}

/// `ui.secure_cookies = false` (plain HTTP on a trusted network): the cookie drops the
/// `__Host-` prefix and `Secure`, and everything else holds.
#[tokio::test]
async fn without_secure_cookies_the_cookie_drops_its_prefix_and_secure() {
    let db = store::testing::TestDb::sqlite().await;
    let clock = std::sync::Arc::new(hub::ManualClock::at_ms(common::NOW_MS));
    let app = TestApp::spawn_with(&db, &[("GUICHET_UI__SECURE_COOKIES", "false")], clock).await;
    accounts::add_user(
        app.store.as_ref(),
        AGENT,
        "João",
        Role::Agent,
        AGENT_PASSWORD,
        common::NOW_MS,
    )
    .await
    .expect("add user");
    let mut b = Browser::new(&app);
    let form = b.get("/login").await;
    assert!(b.cookies.contains_key("guichet-login"), "{:?}", b.cookies);
    let token = form.csrf();
    let page = b
        .post(
            "/login",
            &[
                ("_csrf", &token),
                ("username", AGENT),
                ("password", AGENT_PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let set = b
        .last_set_cookies
        .iter()
        .find(|c| c.starts_with("guichet="))
        .cloned()
        .expect("a session cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    assert!(!set.contains("Secure") && !set.contains("__Host-"), "{set}");
    let page = b.get("/settings/sessions").await;
    assert_eq!(page.status, StatusCode::OK);
    app.stop().await;
}
