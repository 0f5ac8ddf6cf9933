//! `guichet user`, the real binary, on each backend: the first admin with a generated password,
//! passwords from standard input, the same refusals as the admin pages, listing, disabling (which
//! ends the user's sessions), enabling and resetting.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use store::testing::TestDb;
use store::{NewSession, Store};

fn guichet(db: &TestDb, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_guichet"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env("GUICHET_DATABASE_URL", &db.url)
        .env("GUICHET_APP_SECRET", "app-secret-for-tests")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

/// `guichet user add USERNAME --name NAME --role agent --password-stdin`, given `password`.
fn add_agent(db: &TestDb, username: &str, name: &str, password: &str) -> Output {
    let args = [
        "user",
        "add",
        username,
        "--name",
        name,
        "--role",
        "agent",
        "--password-stdin",
    ];
    guichet(db, &args, Some(&format!("{password}\n")))
}

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "guichet failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn refused(output: &Output) -> String {
    assert!(!output.status.success(), "guichet should have refused");
    String::from_utf8(output.stderr.clone()).unwrap()
}

async fn stored_hash(store: &Arc<dyn Store>, username: &str) -> String {
    store
        .user_named(username)
        .await
        .unwrap()
        .unwrap()
        .password_hash
}

#[tokio::test]
async fn guichet_user_manages_the_ui_accounts() {
    for db in TestDb::all().await {
        // The first admin, on a database nobody migrated yet: the password is generated.
        let out = ok(&guichet(
            &db,
            &[
                "user",
                "add",
                "camille",
                "--name",
                "Camille Martin",
                "--role",
                "admin",
            ],
            None,
        ));
        assert!(
            out.starts_with("added camille (admin, Camille Martin)"),
            "{out}"
        );
        let generated = out
            .lines()
            .find_map(|l| l.strip_prefix("password: "))
            .expect("the generated password is printed")
            .to_owned();
        assert_eq!(generated.len(), 24);
        let store = db.open().await;
        let hash = stored_hash(&store, "camille").await;
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            hub::ui::auth::password::verify(&generated, Some(&hash))
                .await
                .unwrap()
        );

        // The same refusals as the admin pages.
        let err = refused(&add_agent(&db, "CAMILLE", "Other", "a-fine-password-1"));
        assert!(err.contains("is taken"), "{err}");
        let err = refused(&add_agent(&db, "joao", "João Silva", "short"));
        assert!(err.contains("use at least 8"), "{err}");
        let err = refused(&add_agent(&db, "joao", "João Silva", "password1"));
        assert!(err.contains("most common"), "{err}");
        let err = refused(&guichet(
            &db,
            &["user", "add", "joao", "--name", "João", "--role", "root"],
            None,
        ));
        assert!(err.contains("root"), "{err}");

        // From standard input: one trailing newline dropped, the rest kept as typed.
        let typed = "  spaces count, and so does this long passphrase of sixty-four+ chars  ";
        let out = ok(&add_agent(&db, "joao", "João Silva", typed));
        assert!(!out.contains("password:"), "{out}");
        let hash = stored_hash(&store, "joao").await;
        assert!(
            hub::ui::auth::password::verify(typed, Some(&hash))
                .await
                .unwrap()
        );

        let list = ok(&guichet(&db, &["user", "list"], None));
        assert!(
            list.contains("camille") && list.contains("joao") && list.contains("active"),
            "{list}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&ok(&guichet(&db, &["user", "list", "--json"], None))).unwrap();
        let names: Vec<&str> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["camille", "joao"]);
        assert_eq!(json[1]["role"], "agent");
        assert_eq!(json[1]["disabled"], false);

        // Disabling ends the user's sessions.
        let joao = store.user_named("joao").await.unwrap().unwrap().id;
        let session = NewSession {
            token_sha256: [1; 32],
            csrf_token: "t".into(),
            user_id: joao,
            created_at_ms: 1,
            expires_at_ms: i64::MAX,
            user_agent: None,
            client_addr: None,
        };
        store
            .create_session(&session, Arc::new(|_: &[(i64, i64)]| Vec::new()))
            .await
            .unwrap();
        let out = ok(&guichet(&db, &["user", "disable", "JOAO"], None));
        assert!(out.contains("disabled joao"), "{out}");
        assert!(store.open_sessions(joao).await.unwrap().is_empty());
        let json: serde_json::Value =
            serde_json::from_str(&ok(&guichet(&db, &["user", "list", "--json"], None))).unwrap();
        assert_eq!(json[1]["disabled"], true);
        ok(&guichet(&db, &["user", "enable", "joao"], None));
        assert!(
            store
                .user(joao)
                .await
                .unwrap()
                .unwrap()
                .disabled_at_ms
                .is_none()
        );

        // A reset: generated, or from standard input.
        let out = ok(&guichet(&db, &["user", "password", "joao"], None));
        let reset = out
            .lines()
            .find_map(|l| l.strip_prefix("password: "))
            .expect("printed");
        assert!(
            hub::ui::auth::password::verify(reset, Some(&stored_hash(&store, "joao").await))
                .await
                .unwrap()
        );
        ok(&guichet(
            &db,
            &["user", "password", "joao", "--password-stdin"],
            Some("harbour-lights-at-dusk"),
        ));
        assert!(
            hub::ui::auth::password::verify(
                "harbour-lights-at-dusk",
                Some(&stored_hash(&store, "joao").await)
            )
            .await
            .unwrap()
        );

        let err = refused(&guichet(&db, &["user", "disable", "nobody"], None));
        assert!(err.contains("there is no user \"nobody\""), "{err}");
    }
}
