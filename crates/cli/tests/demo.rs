//! `guichet demo`, the real binary: it seeds a business whose conversations show in the hub's
//! REST API, its simulated customers keep writing, and SIGTERM stops it cleanly.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn conversations(http: &reqwest::Client, hub: &str) -> Option<Vec<Value>> {
    let page: Value = http
        .get(format!("{hub}/api/v1/conversations"))
        .bearer_auth("demo-api-token-0123456789")
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    page["data"].as_array().cloned()
}

fn total_messages(conversations: &[Value]) -> i64 {
    conversations
        .iter()
        .filter_map(|c| c["message_count"].as_i64())
        .sum()
}

#[tokio::test]
async fn the_demo_seeds_a_business_keeps_customers_chatting_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (hub_port, sandbox_port) = (free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_guichet"))
        .args([
            "demo",
            "--listen",
            &format!("127.0.0.1:{hub_port}"),
            "--sandbox-listen",
            &format!("127.0.0.1:{sandbox_port}"),
            "--database-url",
            &format!("sqlite:{}", dir.path().join("demo.db").display()),
            "--chatter-secs",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let hub = format!("http://127.0.0.1:{hub_port}");
    let http = reqwest::Client::new();

    let mut seeded = None;
    for _ in 0..400 {
        if let Some(c) = conversations(&http, &hub).await
            && c.len() == 5
        {
            seeded = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let seeded = seeded.expect("five seeded conversations in the hub");
    let names: Vec<&str> = seeded
        .iter()
        .filter_map(|c| c["contact"]["name"].as_str())
        .collect();
    for name in [
        "Camille Martin",
        "João Silva",
        "Aisha Khan",
        "Lukas Weber",
        "Ana García",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    assert!(
        seeded
            .iter()
            .any(|c| c["contact"]["name"] == "João Silva" && c["last_referral_at"].is_string()),
        "the ad entry is recorded"
    );

    // The simulated customers keep writing.
    let before = total_messages(&seeded);
    let mut grew = false;
    for _ in 0..200 {
        if let Some(c) = conversations(&http, &hub).await
            && total_messages(&c) > before
        {
            grew = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(grew, "no new customer message after the seed");

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut exited = None;
    for _ in 0..400 {
        if let Some(s) = child.try_wait().unwrap() {
            exited = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let exited = exited.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("the demo did not stop on SIGTERM");
    });
    assert!(exited.success(), "{exited:?}");
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(out.contains("guichet demo is running"), "{out}");
    assert!(out.contains(&format!("http://127.0.0.1:{hub_port}")));

    // An admin and an agent, whose printed passwords are theirs.
    assert!(
        out.contains(&format!("The agent UI: http://localhost:{hub_port}/login")),
        "{out}"
    );
    let store = store::connect(
        &format!("sqlite:{}", dir.path().join("demo.db").display()),
        &store::Options::default(),
    )
    .await
    .unwrap();
    for (role, username) in [("admin", "admin"), ("agent", "agent")] {
        let line = out
            .lines()
            .find(|l| {
                l.trim_start().starts_with(role) && l.contains(&format!("username {username} "))
            })
            .unwrap_or_else(|| panic!("no {role} credentials in {out}"));
        let password = line.split_whitespace().last().unwrap();
        let user = store.user_named(username).await.unwrap().unwrap();
        assert_eq!(user.role, role);
        assert!(
            hub::ui::auth::password::verify(password, Some(&user.password_hash))
                .await
                .unwrap()
        );
    }
}
