//! `guichet sandbox <command>`, the real binary, driving a running sandbox: customers are created
//! and write in, their behaviour changes, time moves, faults are set, and refusals say why.

#![allow(clippy::unwrap_used, reason = "tests")]

use std::process::Output;

use serde_json::{Value, json};

struct Sandbox {
    url: String,
    http: reqwest::Client,
}

async fn start() -> Sandbox {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let config = sandbox::Config {
        app_secret: "secret".into(),
        access_token: "token".into(),
        numbers: vec![sandbox::Number {
            phone_number_id: "106540352242922".into(),
            waba_id: "102290129340398".into(),
            display_phone_number: "15550783881".into(),
        }],
        callback: None,
        start_ms: None,
        batch_max: 1,
        limits: sandbox::Limits::default(),
    };
    tokio::spawn(sandbox::serve(listener, config, std::future::pending()));
    Sandbox {
        url,
        http: reqwest::Client::new(),
    }
}

impl Sandbox {
    /// Runs `guichet sandbox <args>` against this sandbox.
    async fn cli(&self, args: &[&str]) -> Output {
        let url = self.url.clone();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_guichet"))
                .arg("sandbox")
                .args(&args)
                .env("SANDBOX_URL", url)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    }

    async fn ok(&self, args: &[&str]) -> Value {
        let out = self.cli(args).await;
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn the_cli_drives_customers_time_and_faults() {
    let s = start().await;
    let c = s
        .ok(&[
            "add-customer",
            "--phone",
            "+33612345678",
            "--name",
            "Camille Martin",
            "--country",
            "FR",
            "--offline",
        ])
        .await;
    assert_eq!(c["wa_id"], "33612345678");
    assert_eq!(c["behaviour"]["online"], false);

    let said = s
        .ok(&["say", "33612345678", "Ma machine à laver fuit"])
        .await;
    assert!(said["wamid"].as_str().unwrap().starts_with("wamid."));
    s.ok(&["say", "33612345678", "--location", "45.764,4.8357"])
        .await;
    s.ok(&[
        "say",
        "33612345678",
        "--media",
        "image",
        "--caption",
        "La fuite",
    ])
    .await;
    let customers = s.ok(&["customers"]).await;
    assert_eq!(customers.as_array().unwrap().len(), 1);

    let b = s
        .ok(&["behave", "33612345678", "--online", "--stop-marketing"])
        .await;
    assert_eq!(b["behaviour"]["online"], true);
    assert_eq!(b["behaviour"]["stopped_marketing"], true);

    let before = s.get("/_sandbox/clock").await["now_ms"].as_i64().unwrap();
    let after = s.ok(&["advance", "--hours", "25"]).await["now_ms"]
        .as_i64()
        .unwrap();
    assert!(after - before >= 25 * 3_600_000);

    let f = s
        .ok(&[
            "faults",
            "--graph-error-rate",
            "0.5",
            "--webhook-reorder",
            "--media-download-error-rate",
            "1",
        ])
        .await;
    assert_eq!(f["graph_error_rate"], 0.5);
    assert_eq!(f["media_download_error_rate"], 1.0);
    assert_eq!(f["media_info_error_rate"], 0.0);
    assert_eq!(s.get("/_sandbox/faults").await["webhook_reorder"], true);
    assert_eq!(s.ok(&["faults", "--show"]).await, f);
    assert_eq!(s.ok(&["transcript", "33612345678"]).await, json!([]));
    assert_eq!(s.ok(&["state"]).await["customers"], 1);

    // Refusals say what is wrong, on stderr, with a failing exit status.
    for (args, says) in [
        (
            vec!["say", "33699999999", "allô"],
            "no customer 33699999999",
        ),
        (vec!["faults", "--graph-error-rate", "2"], "between 0 and 1"),
        (
            vec!["say", "33612345678", "--location", "north"],
            "LATITUDE,LONGITUDE",
        ),
        (vec!["behave", "33612345678"], "say what changes"),
    ] {
        let out = s.cli(&args).await;
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let out = s.cli(&["state", "--url", "http://127.0.0.1:1"]).await;
    assert!(String::from_utf8_lossy(&out.stderr).contains("is `guichet sandbox` running?"));
}
