use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const QUICK: &[(&str, &str)] = &[
    ("GUICHET_LISTEN", "127.0.0.1:9999"),
    (
        "GUICHET_DATABASE_URL",
        "postgres://guichet:secret@db/guichet",
    ),
    ("GUICHET_APP_SECRET", "app-secret"),
    ("GUICHET_VERIFY_TOKEN", "verify-me"),
    ("GUICHET_PHONE_NUMBER_ID", "106540352242922"),
    ("GUICHET_WABA_ID", "102290129340398"),
    ("GUICHET_ACCESS_TOKEN", "EAAG"),
    ("GUICHET_GRAPH_URL", "http://127.0.0.1:7000/v25.0/"),
    ("GUICHET_API_TOKEN", "0123456789abcdef0123"),
    ("GUICHET_MEDIA__DIR", "/var/lib/guichet/media"),
];

fn problems(pairs: &[(&str, &str)]) -> Vec<String> {
    Settings::load_from(None, env(pairs))
        .expect_err("refused")
        .problems
}

#[test]
fn the_one_number_quick_start_works_from_env_alone() {
    let s = Settings::load_from(None, env(QUICK)).expect("valid");
    assert_eq!(s.listen.to_string(), "127.0.0.1:9999");
    assert_eq!(s.database.url, "postgres://guichet:secret@db/guichet");
    assert_eq!(s.apps.len(), 1);
    assert_eq!(s.apps[0].secret, "app-secret");
    assert_eq!(s.verify_tokens().collect::<Vec<_>>(), ["verify-me"]);
    assert_eq!(s.numbers[0].phone_number_id, "106540352242922");
    assert_eq!(s.numbers[0].app, "main");
    assert_eq!(s.graph_url, "http://127.0.0.1:7000/v25.0");
    assert_eq!(s.api.tokens, ["0123456789abcdef0123"]);
    assert_eq!(s.portfolio_of("106540352242922"), "default");
}

#[test]
fn nested_keys_come_from_double_underscore_variables() {
    let mut pairs = QUICK.to_vec();
    pairs.push(("GUICHET_WEBHOOK__MAX_BODY_BYTES", "1048576"));
    pairs.push(("GUICHET_DATABASE__MIGRATE_ON_START", "false"));
    pairs.push(("GUICHET_API__TOKENS", r#"["aaaaaaaaaaaaaaaaaaaa"]"#));
    let s = Settings::load_from(None, env(&pairs)).expect("valid");
    assert_eq!(s.webhook.max_body_bytes, 1_048_576);
    assert!(!s.database.migrate_on_start);
    assert_eq!(s.api.tokens.len(), 2);
}

#[test]
fn the_default_alone_is_refused_with_what_to_set() {
    let p = problems(&[]);
    assert!(
        p.iter()
            .any(|p| p.contains("no Meta app is configured") && p.contains("GUICHET_APP_SECRET")),
        "{p:?}"
    );
}

#[test]
fn an_unknown_environment_key_is_named() {
    let mut pairs = QUICK.to_vec();
    pairs.push(("GUICHET_DATABSE_URL", "sqlite:x.db"));
    let p = problems(&pairs);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("unknown key `databse_url`"), "{}", p[0]);
    assert!(p[0].contains("GUICHET_DATABSE_URL"), "{}", p[0]);
    assert!(
        p[0].contains("`database`"),
        "the expected keys are listed: {}",
        p[0]
    );
}

#[test]
fn a_bad_value_names_its_key_and_what_is_expected() {
    let mut pairs = QUICK.to_vec();
    pairs.push(("GUICHET_WEBHOOK__MAX_BODY_BYTES", "lots"));
    let p = problems(&pairs);
    assert!(
        p[0].contains("webhook.max_body_bytes") && p[0].contains("GUICHET_WEBHOOK__MAX_BODY_BYTES"),
        "{p:?}"
    );
}

#[test]
fn bad_values_are_all_reported_at_once() {
    let mut pairs = QUICK.to_vec();
    pairs.retain(|(k, _)| {
        *k != "GUICHET_LISTEN" && *k != "GUICHET_DATABASE_URL" && *k != "GUICHET_API_TOKEN"
    });
    pairs.push(("GUICHET_LISTEN", "everywhere"));
    pairs.push(("GUICHET_DATABASE_URL", "mysql://x"));
    pairs.push(("GUICHET_API_TOKEN", "short"));
    pairs.push(("GUICHET_PHONE_NUMBER_ID", "+1 650 555 1234"));
    let p = problems(&pairs);
    assert!(p.iter().any(|p| p.contains("`listen`")), "{p:?}");
    assert!(
        p.iter()
            .any(|p| p.contains("`database.url`") && p.contains("sqlite:<path>")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|p| p.contains("API token #1 is 5 characters")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|p| p.contains("not a phone number id")),
        "{p:?}"
    );
}

#[test]
fn a_config_file_is_layered_between_default_and_env() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("guichet.toml");
    std::fs::write(
        &path,
        r#"
listen = "0.0.0.0:8081"
[[apps]]
name = "shop"
secret = "s3cret"
verify_token = "shop-token"
[[numbers]]
phone_number_id = "111"
waba_id = "222"
app = "shop"
portfolio = "acme"
"#,
    )
    .expect("write");
    let s =
        Settings::load_from(Some(&path), env(&[("GUICHET_LISTEN", "127.0.0.1:1")])).expect("valid");
    assert_eq!(
        s.listen.to_string(),
        "127.0.0.1:1",
        "env wins over the file"
    );
    assert_eq!(s.apps[0].name, "shop");
    assert_eq!(s.portfolio_of("111"), "acme");
    assert_eq!(s.portfolio_of("999"), "default");
    assert_eq!(s.verify_tokens().collect::<Vec<_>>(), ["shop-token"]);
}

#[test]
fn a_file_with_an_unknown_key_or_a_dangling_app_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("guichet.toml");
    std::fs::write(
        &path,
        "app_secret = \"x\"\n[webhook]\nverify_tokn = \"t\"\n[[numbers]]\nphone_number_id = \"1\"\nwaba_id = \"2\"\napp = \"nope\"\n",
    )
    .expect("write");
    let p = Settings::load_from(Some(&path), Vec::new())
        .expect_err("refused")
        .problems;
    assert!(
        p.iter()
            .any(|p| p.contains("webhook.verify_tokn") && p.contains("guichet.toml")),
        "{p:?}"
    );
    let missing =
        Settings::load_from(Some(&dir.path().join("nope.toml")), Vec::new()).expect_err("refused");
    assert!(missing.problems[0].contains("no such file"));
}

#[test]
fn the_embedded_default_documents_every_key() {
    // Every key the loader reads appears in the default file with a comment above it.
    for key in [
        "listen",
        "portfolio",
        "app_secret",
        "phone_number_id",
        "waba_id",
        "access_token",
        "url",
        "max_connections",
        "lock_timeout_ms",
        "migrate_on_start",
        "verify_token",
        "max_body_bytes",
        "ack_timeout_ms",
        "max_batch",
        "batch_size",
        "poll_interval_ms",
        "max_attempts",
        "tokens",
        "token",
        "format",
        "level",
        "secure_cookies",
        "max_sessions_per_user",
        "session_idle_minutes",
        "session_max_hours",
        "model_dir",
    ] {
        let line = DEFAULT_CONFIG
            .lines()
            .position(|l| l.starts_with(&format!("{key} =")))
            .unwrap_or_else(|| panic!("{key} is not in config.default.toml"));
        let above = DEFAULT_CONFIG.lines().nth(line - 1).unwrap_or_default();
        assert!(above.starts_with('#'), "{key} has no comment above it");
    }
}

#[test]
fn budgets_are_amounts_in_the_rate_cards_currency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("guichet.toml");
    std::fs::write(
        &file,
        "[policy.budgets]\nmarketing = \"500.25\"\nutility = \"ten\"\nposters = \"1.00\"\n",
    )
    .expect("write");
    let refused = Settings::load_from(Some(&file), env(QUICK)).expect_err("refused");
    assert_eq!(refused.problems.len(), 2, "{:?}", refused.problems);
    assert!(
        refused
            .problems
            .iter()
            .any(|p| p.contains("`policy.budgets.utility`") && p.contains("USD"))
    );
    assert!(
        refused
            .problems
            .iter()
            .any(|p| p.contains("`policy.budgets.posters`"))
    );
    std::fs::write(&file, "[policy.budgets]\nmarketing = \"500.25\"\n").expect("write");
    let s = Settings::load_from(Some(&file), env(QUICK)).expect("valid");
    assert_eq!(
        s.policy.monthly_budgets.get(&domain::Category::Marketing),
        Some(&500_250_000)
    );
}

#[test]
fn ui_sessions_default_to_secure_cookies_ten_sessions_and_a_shift() {
    let s = Settings::load_from(None, env(QUICK)).expect("valid");
    assert!(s.ui.secure_cookies);
    assert_eq!(s.ui.max_sessions_per_user, 10);
    assert_eq!(s.ui.timeouts.idle_ms, 120 * 60_000);
    assert_eq!(s.ui.timeouts.absolute_ms, 12 * 3_600_000);

    let mut pairs = QUICK.to_vec();
    pairs.push(("GUICHET_UI__SECURE_COOKIES", "false"));
    pairs.push(("GUICHET_UI__MAX_SESSIONS_PER_USER", "3"));
    pairs.push(("GUICHET_UI__SESSION_IDLE_MINUTES", "15"));
    pairs.push(("GUICHET_UI__SESSION_MAX_HOURS", "8"));
    let s = Settings::load_from(None, env(&pairs)).expect("valid");
    assert!(!s.ui.secure_cookies);
    assert_eq!(s.ui.max_sessions_per_user, 3);
    assert_eq!(s.ui.timeouts.idle_ms, 15 * 60_000);
    assert_eq!(s.ui.timeouts.absolute_ms, 8 * 3_600_000);
}

#[test]
fn ui_session_limits_out_of_range_are_named() {
    let mut pairs = QUICK.to_vec();
    pairs.push(("GUICHET_UI__MAX_SESSIONS_PER_USER", "0"));
    pairs.push(("GUICHET_UI__SESSION_IDLE_MINUTES", "0"));
    pairs.push(("GUICHET_UI__SESSION_MAX_HOURS", "0"));
    let p = problems(&pairs);
    for key in [
        "ui.max_sessions_per_user",
        "ui.session_idle_minutes",
        "ui.session_max_hours",
    ] {
        assert!(p.iter().any(|m| m.contains(key)), "{key}: {p:?}");
    }

    let mut pairs = QUICK.to_vec();
    pairs.push(("GUICHET_UI__SESSION_IDLE_MINUTES", "600"));
    pairs.push(("GUICHET_UI__SESSION_MAX_HOURS", "8"));
    let p = problems(&pairs);
    assert!(
        p.iter().any(|m| m.contains("must fit in a session's life")),
        "{p:?}"
    );
}

fn sqlite_quick(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs = QUICK.to_vec();
    pairs.retain(|(k, _)| !k.starts_with("GUICHET_MEDIA__"));
    pairs.push((
        "GUICHET_DATABASE_URL",
        "sqlite:///var/lib/guichet/guichet.db",
    ));
    pairs.extend_from_slice(extra);
    env(&pairs)
}

#[test]
fn media_are_kept_beside_the_sqlite_database_by_default() {
    let s = Settings::load_from(None, sqlite_quick(&[])).expect("valid");
    assert_eq!(
        s.media.dir.as_deref(),
        Some(Path::new("/var/lib/guichet/media"))
    );
    assert_eq!(s.media.max_bytes, 100 * 1024 * 1024, "Meta's largest media");
    assert_eq!(s.media.concurrency, 4);
    assert_eq!(s.media.download_timeout, Duration::from_secs(300));
    let relative = Settings::load_from(
        None,
        sqlite_quick(&[("GUICHET_DATABASE_URL", "sqlite:guichet.db")]),
    )
    .expect("valid");
    assert_eq!(relative.media.dir.as_deref(), Some(Path::new("media")));
    let set = Settings::load_from(None, sqlite_quick(&[("GUICHET_MEDIA__DIR", "/srv/media")]))
        .expect("valid");
    assert_eq!(set.media.dir.as_deref(), Some(Path::new("/srv/media")));
}

#[test]
fn serving_on_postgres_needs_a_media_folder_named() {
    let mut pairs = QUICK.to_vec();
    pairs.retain(|(k, _)| *k != "GUICHET_MEDIA__DIR");
    // Admin commands (costs, migrate) load the settings without needing it...
    let s = Settings::load_from(None, env(&pairs)).expect("valid");
    assert_eq!(s.media.dir, None);
    // ...serving refuses to start.
    let p = s.media_dir().expect_err("refused").problems;
    assert!(
        p[0].contains("`media.dir` is empty")
            && p[0].contains("GUICHET_MEDIA__DIR")
            && p[0].contains("every node shares"),
        "{}",
        p[0]
    );
    let s = Settings::load_from(None, env(QUICK)).expect("valid");
    assert_eq!(
        s.media_dir().expect("set"),
        Path::new("/var/lib/guichet/media")
    );
}

#[test]
fn media_limits_out_of_range_are_named() {
    for (key, value, expected) in [
        (
            "GUICHET_MEDIA__MAX_BYTES",
            "104857601",
            "`media.max_bytes` = 104857601",
        ),
        ("GUICHET_MEDIA__MAX_BYTES", "10", "`media.max_bytes` = 10"),
        ("GUICHET_MEDIA__CONCURRENCY", "0", "`media.concurrency` = 0"),
        (
            "GUICHET_MEDIA__DOWNLOAD_TIMEOUT_MS",
            "10",
            "`media.download_timeout_ms` = 10",
        ),
        ("GUICHET_MEDIA__MAX_ATTEMPTS", "0", "`media.max_attempts`"),
        (
            "GUICHET_MEDIA__POLL_INTERVAL_MS",
            "0",
            "`media.poll_interval_ms`",
        ),
    ] {
        let mut pairs = QUICK.to_vec();
        pairs.push((key, value));
        let p = problems(&pairs);
        assert_eq!(p.len(), 1, "{key}: {p:?}");
        assert!(p[0].contains(expected), "{key}: {}", p[0]);
    }
}

#[test]
fn the_guards_model_folder_defaults_to_models_and_can_be_moved() {
    let s = Settings::load_from(None, sqlite_quick(&[])).expect("settings");
    assert_eq!(s.guard.model_dir, Path::new("models/all-minilm-l6-v2"));
    let s = Settings::load_from(
        None,
        sqlite_quick(&[("GUICHET_GUARD__MODEL_DIR", "/srv/guichet/minilm")]),
    )
    .expect("settings");
    assert_eq!(s.guard.model_dir, Path::new("/srv/guichet/minilm"));
}
