//! The agent UI in a real browser: `guichet serve` (the real binary) on a random port with a
//! fresh SQLite database, users added with the real `guichet user add`, then each script of
//! `browser/` run by Node with playwright-core driving Debian's Chromium.
//!
//! Needs `/usr/bin/chromium` and `browser/node_modules` (`npm ci --prefix browser`);
//! `scripts/test.sh` installs both.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

#[path = "common/server.rs"]
mod server;
use server::{Server, free_port};

const ADMIN: &str = "camille";
const ADMIN_PASSWORD: &str = "violet-harbour-lantern-42";
const AGENT: &str = "joao";
const AGENT_PASSWORD: &str = "quiet-marble-orchard-17";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The settings `guichet serve` and `guichet user` share.
fn settings(db_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("GUICHET_DATABASE_URL", db_url.to_owned()),
        ("GUICHET_APP_SECRET", "browser-test-app-secret".to_owned()),
        (
            "GUICHET_VERIFY_TOKEN",
            "browser-test-verify-token".to_owned(),
        ),
    ]
}

fn add_user(env: &[(&str, String)], username: &str, name: &str, role: &str, password: &str) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_guichet"))
        .args([
            "user",
            "add",
            username,
            "--name",
            name,
            "--role",
            role,
            "--password-stdin",
        ])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(password.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "guichet user add {username} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn wait_ready(base: &str, server: &mut Server) {
    let http = reqwest::Client::new();
    for _ in 0..400 {
        if let Some(status) = server.exited() {
            panic!("guichet serve exited ({status}):\n{}", server.log_tail());
        }
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("guichet serve did not become ready:\n{}", server.log_tail());
}

/// Runs `browser/<script>` against the server; fails with its output unless it exits 0.
fn run_script(script: &str, base: &str) {
    run_script_with(script, base, &[]);
}

fn run_script_with(script: &str, base: &str, extra: &[(&str, &str)]) {
    let root = repo_root();
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "the browser tests need Chromium at /usr/bin/chromium: `apt-get install chromium` (scripts/test.sh does it)"
    );
    assert!(
        root.join("browser/node_modules/playwright-core").is_dir(),
        "the browser tests need playwright-core: `npm ci --prefix browser` (scripts/test.sh does it)"
    );
    let out = Command::new("node")
        .arg(root.join("browser").join(script))
        .current_dir(&root)
        .env("GUICHET_URL", base)
        .env("GUICHET_USER", ADMIN)
        .env("GUICHET_PASSWORD", ADMIN_PASSWORD)
        .env("GUICHET_AGENT", AGENT)
        .env("GUICHET_AGENT_PASSWORD", AGENT_PASSWORD)
        .envs(extra.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run node (is Node.js installed?): {e}"));
    assert!(
        out.status.success(),
        "browser/{script} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn sign_in_and_out_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let env = settings(&format!(
        "sqlite:{}",
        dir.path().join("guichet.db").display()
    ));
    add_user(&env, ADMIN, "Camille Martin", "admin", ADMIN_PASSWORD);
    add_user(&env, AGENT, "João Silva", "agent", AGENT_PASSWORD);
    let port = free_port();
    let mut server = Server::spawn(port, &env, dir.path().join("guichet.log"));
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base, &mut server).await;
    run_script("login.mjs", &base);
    server.kill();
}

/// The inbox's story in a real browser, against `guichet demo` (the hub and the sandbox in one
/// process, sharing the emulated clock), with two agents on two devices: see `browser/inbox.mjs`.
/// Screenshots go to `UI_SCREENSHOTS` when it is set (how `docs/` gets its pictures).
#[tokio::test]
async fn the_inbox_story_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("demo.db").display());
    let (hub_port, sandbox_port) = (free_port(), free_port());
    let log = std::fs::File::create(dir.path().join("demo.log")).unwrap();
    // The sandbox's clock moves 25 h during the test: sessions must outlive it.
    let mut demo = Command::new(env!("CARGO_BIN_EXE_guichet"))
        .args([
            "demo",
            "--listen",
            &format!("127.0.0.1:{hub_port}"),
            "--sandbox-listen",
            &format!("127.0.0.1:{sandbox_port}"),
            "--database-url",
            &db,
            "--chatter-secs",
            "0",
        ])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .env("GUICHET_UI__SESSION_IDLE_MINUTES", "43200")
        .env("GUICHET_UI__SESSION_MAX_HOURS", "8760")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{hub_port}");
    let sandbox = format!("http://127.0.0.1:{sandbox_port}");
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..800 {
        if let Ok(Some(status)) = demo.try_wait() {
            panic!(
                "guichet demo exited ({status}):\n{}",
                std::fs::read_to_string(dir.path().join("demo.log")).unwrap_or_default()
            );
        }
        let hub = http.get(format!("{base}/readyz")).send().await;
        let sb = http.get(format!("{sandbox}/_sandbox")).send().await;
        if hub.is_ok_and(|r| r.status().is_success()) && sb.is_ok_and(|r| r.status().is_success()) {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(ready, "guichet demo did not become ready");
    let env = settings(&db);
    add_user(&env, ADMIN, "Camille Martin", "admin", ADMIN_PASSWORD);
    add_user(&env, AGENT, "João Silva", "agent", AGENT_PASSWORD);
    let shots = std::env::var("UI_SCREENSHOTS").unwrap_or_default();
    let result = std::panic::catch_unwind(|| {
        run_script_with(
            "inbox.mjs",
            &base,
            &[("SANDBOX_URL", &sandbox), ("SCREENSHOTS", &shots)],
        );
    });
    let _ = demo.kill();
    let _ = demo.wait();
    if let Err(e) = result {
        eprintln!(
            "--- the demo's log\n{}",
            std::fs::read_to_string(dir.path().join("demo.log")).unwrap_or_default()
        );
        std::panic::resume_unwind(e);
    }
}
