//! Configuration: the embedded, documented `config.default.toml`, then a file, then `GUICHET_*`
//! environment variables — validated at start, so that a bad key or value stops guichet with a
//! message that names it instead of failing later.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Toml};
use serde::Deserialize;

/// The default configuration, every key documented in place.
pub const DEFAULT_CONFIG: &str = include_str!("../../../config.default.toml");

/// Environment variables of the one-number quick start, and the keys they set.
const SHORT_ENV: &[(&str, &str)] = &[
    ("LISTEN", "listen"),
    ("DATABASE_URL", "database.url"),
    ("APP_SECRET", "app_secret"),
    ("VERIFY_TOKEN", "webhook.verify_token"),
    ("PHONE_NUMBER_ID", "phone_number_id"),
    ("WABA_ID", "waba_id"),
    ("ACCESS_TOKEN", "access_token"),
    ("GRAPH_URL", "graph.url"),
    ("API_TOKEN", "api.token"),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    listen: String,
    portfolio: String,
    app_secret: String,
    phone_number_id: String,
    waba_id: String,
    access_token: String,
    #[serde(default)]
    apps: Vec<RawApp>,
    #[serde(default)]
    numbers: Vec<RawNumber>,
    database: RawDatabase,
    webhook: RawWebhook,
    ingest: RawIngest,
    api: RawApi,
    graph: RawGraph,
    outbound: RawOutbound,
    policy: RawPolicy,
    pricing: RawPricing,
    media: RawMedia,
    log: RawLog,
    ui: RawUi,
    guard: RawGuard,
    bots: RawBots,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutbound {
    paused: bool,
    throughput_mps: u32,
    headroom: f64,
    request_timeout_ms: u64,
    max_in_flight: usize,
    unknown_grace_ms: u64,
    max_attempts: u32,
    backoff_base_ms: u64,
    messaging_limit: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    require_opt_in: bool,
    unanswered_cap: u32,
    marketing_max: u32,
    marketing_per_days: u32,
    max_pacing_delay_s: i64,
    pair_burst: u32,
    pair_interval_ms: i64,
    window_warning_minutes: i64,
    opt_out_keywords: Vec<String>,
    opt_in_keywords: Vec<String>,
    #[serde(default)]
    budgets: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPricing {
    rate_cards: Vec<RawRateCard>,
    utc_offset_minutes: i32,
    business_market: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateCard {
    file: String,
    effective_from: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    name: String,
    secret: String,
    #[serde(default)]
    verify_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNumber {
    phone_number_id: String,
    waba_id: String,
    app: String,
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    portfolio: Option<String>,
    #[serde(default)]
    throughput_mps: Option<u32>,
    #[serde(default)]
    bot_flow: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: String,
    max_connections: u32,
    lock_timeout_ms: u64,
    migrate_on_start: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhook {
    verify_token: String,
    max_body_bytes: usize,
    ack_timeout_ms: u64,
    max_batch: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIngest {
    batch_size: i64,
    poll_interval_ms: u64,
    max_attempts: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    tokens: Vec<String>,
    token: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGraph {
    url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUi {
    secure_cookies: bool,
    max_sessions_per_user: u32,
    session_idle_minutes: i64,
    session_max_hours: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMedia {
    dir: String,
    max_bytes: u64,
    concurrency: usize,
    download_timeout_ms: u64,
    max_attempts: u32,
    backoff_base_ms: u64,
    poll_interval_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGuard {
    model_dir: String,
    tier: String,
    recall: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBots {
    flow: String,
    backend_url: String,
    backend_token: String,
    backend_timeout_ms: u64,
    hand_back_after_resolve: bool,
    hand_back_after_idle_hours: u32,
    max_attempts: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: String,
    level: String,
}

/// guichet's validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub portfolio: String,
    pub apps: Vec<AppSettings>,
    pub numbers: Vec<NumberSettings>,
    pub database: DatabaseSettings,
    pub webhook: WebhookSettings,
    pub ingest: IngestSettings,
    pub api: ApiSettings,
    pub graph_url: String,
    pub outbound: OutboundSettings,
    pub policy: domain::policy::Policy,
    pub keywords: domain::policy::Keywords,
    pub pricing: PricingSettings,
    pub media: MediaSettings,
    pub log: LogSettings,
    pub ui: UiSettings,
    pub guard: GuardSettings,
    pub bots: BotSettings,
}

/// The scope guard's settings.
#[derive(Debug, Clone)]
pub struct GuardSettings {
    /// The sentence-embedding model's folder (crate `embed`), relative to the working folder.
    pub model_dir: std::path::PathBuf,
    pub tier: GuardTier,
    /// The out-of-scope recall the threshold is calibrated for.
    pub recall: f32,
}

/// Which tier of the scope guard bots use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardTier {
    /// Lexical: nothing to install, microseconds.
    Fast,
    /// all-MiniLM-L6-v2 sentence embeddings: milliseconds, understands paraphrases.
    Embedding,
}

impl GuardTier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fast => "fast",
            Self::Embedding => "embedding",
        }
    }
}

/// The bots: a flow per business number that has one, and how they reach the business's back-end.
#[derive(Debug, Clone)]
pub struct BotSettings {
    /// Each bot number's flow, validated.
    pub flows: std::collections::BTreeMap<String, std::sync::Arc<domain::flow::Flow>>,
    pub backend_url: String,
    pub backend_token: Option<String>,
    pub backend_timeout: Duration,
    pub hand_back: domain::controller::HandBack,
    /// Attempts at answering one customer message before giving it up to a human.
    pub max_attempts: u32,
}

impl BotSettings {
    /// The flow of a number, if it has a bot.
    pub fn flow(&self, phone_number_id: &str) -> Option<&std::sync::Arc<domain::flow::Flow>> {
        self.flows.get(phone_number_id)
    }
}

/// The agent UI's sessions.
#[derive(Debug, Clone)]
pub struct UiSettings {
    /// `__Host-` cookie with `Secure`; off only for plain HTTP on a trusted network.
    pub secure_cookies: bool,
    pub max_sessions_per_user: usize,
    pub timeouts: domain::accounts::SessionTimeouts,
}

/// Where customers' media are kept, and how they are downloaded.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// `None`: not set, and no SQLite database to keep them beside (Postgres). Only serving
    /// needs it (see [`Settings::media_dir`]): admin commands run without.
    pub dir: Option<std::path::PathBuf>,
    pub max_bytes: u64,
    pub concurrency: usize,
    pub download_timeout: Duration,
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub poll_interval: Duration,
}

/// How the sender paces, waits and retries.
#[derive(Debug, Clone)]
pub struct OutboundSettings {
    /// Queue, but do not send.
    pub paused: bool,
    pub headroom: f64,
    pub request_timeout: Duration,
    pub max_in_flight: usize,
    pub unknown_grace: Duration,
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub messaging_limit: domain::policy::MessagingLimit,
}

/// Rate cards and the calendar they are read on.
#[derive(Debug, Clone)]
pub struct PricingSettings {
    pub cards: domain::pricing::RateCards,
    /// Whether the cards are guichet's built-in sample figures.
    pub sample: bool,
    pub offset: domain::pricing::WabaOffset,
    pub business_market: Option<domain::pricing::Market>,
}

/// A Meta app whose webhooks guichet accepts.
#[derive(Clone)]
pub struct AppSettings {
    pub name: String,
    pub secret: String,
    pub verify_token: Option<String>,
}

impl std::fmt::Debug for AppSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppSettings")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A business phone number guichet serves.
#[derive(Clone)]
pub struct NumberSettings {
    pub phone_number_id: String,
    pub waba_id: String,
    pub app: String,
    pub access_token: String,
    pub portfolio: String,
    /// Messages per second Meta allows this number.
    pub throughput_mps: u32,
}

impl std::fmt::Debug for NumberSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NumberSettings")
            .field("phone_number_id", &self.phone_number_id)
            .field("waba_id", &self.waba_id)
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub lock_timeout: Duration,
    pub migrate_on_start: bool,
}

#[derive(Clone)]
pub struct WebhookSettings {
    pub verify_token: String,
    pub max_body_bytes: usize,
    pub ack_timeout: Duration,
    pub max_batch: usize,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("max_body_bytes", &self.max_body_bytes)
            .field("ack_timeout", &self.ack_timeout)
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct IngestSettings {
    pub batch_size: i64,
    pub poll_interval: Duration,
    pub max_attempts: i64,
}

#[derive(Clone)]
pub struct ApiSettings {
    pub tokens: Vec<String>,
}

impl std::fmt::Debug for ApiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiSettings")
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

/// Why the configuration was refused: every problem found, each naming its key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n{}", .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl ConfigError {
    fn one(problem: String) -> Self {
        Self {
            problems: vec![problem],
        }
    }
}

impl Settings {
    /// Loads the layers: the embedded default, then `file`, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// Like [`Settings::load`], with the environment given (tests, the demo).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_CONFIG));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::one(format!(
                    "--config {}: no such file; give the path of a TOML file (see `guichet config default`)",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("GUICHET_"))
            .collect();
        figment = figment.merge(EnvVars::new(env));
        let raw: Raw = figment.extract_lossy().map_err(|e| ConfigError {
            problems: e.into_iter().map(|e| describe_figment_error(&e)).collect(),
        })?;
        raw.validate()
    }
}

/// `GUICHET_A__B` sets `a.b`; the quick-start names map to their keys. Errors about a value
/// that came from here name the variable.
struct EnvVars {
    root: serde_json::Value,
    /// Key path (`database.url`) → the variable that set it.
    names: std::collections::HashMap<String, String>,
}

impl EnvVars {
    fn new(vars: Vec<(String, String)>) -> Self {
        let mut root = serde_json::Map::new();
        let mut names = std::collections::HashMap::new();
        for (name, value) in vars {
            let key = name.trim_start_matches("GUICHET_");
            let path = SHORT_ENV
                .iter()
                .find(|(short, _)| *short == key)
                .map_or_else(
                    || key.to_ascii_lowercase().replace("__", "."),
                    |(_, k)| (*k).to_owned(),
                );
            insert_path(&mut root, &path, parse_env_value(&value));
            names.insert(path, name);
        }
        Self {
            root: serde_json::Value::Object(root),
            names,
        }
    }
}

impl figment::Provider for EnvVars {
    fn metadata(&self) -> figment::Metadata {
        let names = self.names.clone();
        figment::Metadata::named("environment").interpolater(move |_, keys| {
            let key = keys.join(".");
            names
                .get(&key)
                .cloned()
                .unwrap_or_else(|| format!("GUICHET_{}", key.to_uppercase()))
        })
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        figment::providers::Serialized::defaults(&self.root).data()
    }
}

/// Environment values are strings (read as numbers or booleans where a key expects one); a
/// value in `[…]` is a JSON list.
fn parse_env_value(value: &str) -> serde_json::Value {
    let trimmed = value.trim();
    if trimmed.starts_with('[')
        && let Ok(v) = serde_json::from_str(trimmed)
    {
        return v;
    }
    value.into()
}

fn insert_path(
    root: &mut serde_json::Map<String, serde_json::Value>,
    path: &str,
    value: serde_json::Value,
) {
    let mut parts = path.split('.').peekable();
    let mut node = root;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            node.insert(part.to_owned(), value);
            return;
        }
        let entry = node
            .entry(part.to_owned())
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
        if !entry.is_object() {
            *entry = serde_json::Value::Object(Default::default());
        }
        let serde_json::Value::Object(next) = entry else {
            return;
        };
        node = next;
    }
}

fn describe_figment_error(e: &figment::Error) -> String {
    use figment::error::Kind;
    let key = if e.path.is_empty() {
        "configuration".to_owned()
    } else {
        e.path.join(".")
    };
    let path: Vec<&str> = e.path.iter().map(String::as_str).collect();
    let source = e
        .metadata
        .as_ref()
        .map(|m| match &m.source {
            Some(s) => format!(" (from {s})"),
            None if m.name == "environment" => {
                format!(
                    " (from environment variable {})",
                    m.interpolate(&figment::Profile::Default, &path)
                )
            }
            None => format!(" (from {})", m.name),
        })
        .unwrap_or_default();
    match &e.kind {
        // figment's path of an unknown field ends with the field itself.
        Kind::UnknownField(_, expected) => {
            format!(
                "unknown key `{key}`{source}: expected one of {}; see `guichet config default` for every key",
                expected
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        Kind::MissingField(field) => format!("`{key}.{field}` is missing{source}"),
        Kind::InvalidType(actual, expected) => {
            format!("`{key}` has the wrong type{source}: found {actual}, expected {expected}")
        }
        Kind::InvalidValue(actual, expected) => {
            format!("`{key}` has a bad value{source}: found {actual}, expected {expected}")
        }
        other => format!("`{key}`{source}: {other}"),
    }
}

impl Raw {
    fn validate(self) -> Result<Settings, ConfigError> {
        let mut problems = Vec::new();
        let listen = self.listen.parse::<SocketAddr>().unwrap_or_else(|_| {
            problems.push(format!(
                "`listen` = {:?} is not an address: expected host:port such as 127.0.0.1:8080 or 0.0.0.0:8080",
                self.listen
            ));
            SocketAddr::from(([127, 0, 0, 1], 8080))
        });
        if self.portfolio.trim().is_empty() {
            problems
                .push("`portfolio` is empty: name the business portfolio, e.g. \"default\"".into());
        }

        let mut apps: Vec<AppSettings> = Vec::new();
        if !self.app_secret.is_empty() {
            apps.push(AppSettings {
                name: "main".into(),
                secret: self.app_secret.clone(),
                verify_token: None,
            });
        }
        for (i, a) in self.apps.iter().enumerate() {
            if a.name.trim().is_empty() {
                problems.push(format!(
                    "`apps[{i}].name` is empty: give each app a short name"
                ));
            }
            if a.secret.is_empty() {
                problems.push(format!(
                    "`apps[{i}].secret` is empty: set it to the App Secret of the Meta app (App Dashboard > App settings > Basic)"
                ));
            }
            if apps.iter().any(|b| b.name == a.name) {
                problems.push(format!(
                    "`apps[{i}].name` = {:?} is used twice (the quick-start app is named \"main\")",
                    a.name
                ));
            }
            apps.push(AppSettings {
                name: a.name.clone(),
                secret: a.secret.clone(),
                verify_token: a.verify_token.clone(),
            });
        }
        if apps.is_empty() {
            problems.push(
                "no Meta app is configured, so no webhook could be verified: set `app_secret` (GUICHET_APP_SECRET) \
                 to your Meta app's App Secret, or add an [[apps]] entry"
                    .into(),
            );
        }

        let mut numbers: Vec<NumberSettings> = Vec::new();
        // (key, phone number id, flow file) of every number with a bot.
        let mut bot_flows: Vec<(String, String, String)> = Vec::new();
        let quick = [&self.phone_number_id, &self.waba_id]
            .iter()
            .any(|s| !s.is_empty());
        if quick {
            if self.phone_number_id.is_empty() || self.waba_id.is_empty() {
                problems.push(
                    "the quick-start number needs both `phone_number_id` (GUICHET_PHONE_NUMBER_ID) and `waba_id` (GUICHET_WABA_ID)".into(),
                );
            }
            numbers.push(NumberSettings {
                phone_number_id: self.phone_number_id.clone(),
                waba_id: self.waba_id.clone(),
                app: apps
                    .first()
                    .map(|a| a.name.clone())
                    .unwrap_or_else(|| "main".into()),
                access_token: self.access_token.clone(),
                portfolio: self.portfolio.clone(),
                throughput_mps: self.outbound.throughput_mps,
            });
            if !self.bots.flow.is_empty() {
                bot_flows.push((
                    "bots.flow".into(),
                    self.phone_number_id.clone(),
                    self.bots.flow.clone(),
                ));
            }
        } else if !self.bots.flow.is_empty() {
            problems.push(
                "`bots.flow` is the quick-start number's bot, but no quick-start number is set: \
                 set `phone_number_id`, or give the flow as `bot_flow` in its [[numbers]] entry"
                    .into(),
            );
        }
        for (i, n) in self.numbers.iter().enumerate() {
            if !apps.iter().any(|a| a.name == n.app) {
                problems.push(format!(
                    "`numbers[{i}].app` = {:?} names no configured app: expected one of {}",
                    n.app,
                    apps.iter()
                        .map(|a| format!("{:?}", a.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            numbers.push(NumberSettings {
                phone_number_id: n.phone_number_id.clone(),
                waba_id: n.waba_id.clone(),
                app: n.app.clone(),
                access_token: n.access_token.clone(),
                portfolio: n
                    .portfolio
                    .clone()
                    .unwrap_or_else(|| self.portfolio.clone()),
                throughput_mps: n.throughput_mps.unwrap_or(self.outbound.throughput_mps),
            });
            if let Some(flow) = n.bot_flow.as_ref().filter(|f| !f.is_empty()) {
                bot_flows.push((
                    format!("numbers[{i}].bot_flow"),
                    n.phone_number_id.clone(),
                    flow.clone(),
                ));
            }
        }
        for (i, n) in numbers.iter().enumerate() {
            let key = if quick && i == 0 {
                "phone_number_id".to_owned()
            } else {
                format!("numbers[{}].phone_number_id", i - usize::from(quick))
            };
            if !n.phone_number_id.is_empty()
                && !n.phone_number_id.bytes().all(|b| b.is_ascii_digit())
            {
                problems.push(format!(
                    "`{key}` = {:?} is not a phone number id: Meta's ids are digits (WhatsApp > API Setup > Phone number ID), not the phone number itself",
                    n.phone_number_id
                ));
            }
            if numbers[..i]
                .iter()
                .any(|m| m.phone_number_id == n.phone_number_id)
            {
                problems.push(format!(
                    "`{key}` = {:?} is configured twice",
                    n.phone_number_id
                ));
            }
        }

        let db = &self.database;
        if let Err(e) = store::Backend::of_url(&db.url) {
            problems.push(format!("`database.url`: {e}"));
        }
        if db.max_connections == 0 {
            problems.push("`database.max_connections` must be at least 1".into());
        }
        let w = &self.webhook;
        if w.max_body_bytes < 1024 || w.max_body_bytes > 64 * 1024 * 1024 {
            problems.push(format!(
                "`webhook.max_body_bytes` = {} is out of range: expected between 1024 and 67108864 (Meta sends at most 3145728)",
                w.max_body_bytes
            ));
        }
        if w.max_batch == 0 || w.ack_timeout_ms == 0 {
            problems
                .push("`webhook.max_batch` and `webhook.ack_timeout_ms` must be positive".into());
        }
        let ing = &self.ingest;
        if ing.batch_size < 1 || ing.max_attempts < 1 || ing.poll_interval_ms == 0 {
            problems.push("`ingest.batch_size`, `ingest.max_attempts` and `ingest.poll_interval_ms` must be positive".into());
        }

        let mut tokens: Vec<String> = self.api.tokens.clone();
        if !self.api.token.is_empty() {
            tokens.push(self.api.token.clone());
        }
        for (i, t) in tokens.iter().enumerate() {
            if t.len() < 16 {
                problems.push(format!(
                    "API token #{} is {} characters long: use at least 16 random characters (e.g. `openssl rand -hex 32`)",
                    i + 1,
                    t.len()
                ));
            }
        }

        let graph_url = self.graph.url.trim_end_matches('/').to_owned();
        if !(graph_url.starts_with("https://") || graph_url.starts_with("http://")) {
            problems.push(format!("`graph.url` = {graph_url:?} is not an http(s) URL"));
        }
        for n in &numbers {
            if !(1..=10_000).contains(&n.throughput_mps) {
                problems.push(format!(
                    "the throughput of number {:?} is {} messages per second: expected 1 to 10000 (Meta's default is 80, upgraded numbers get 1000)",
                    n.phone_number_id, n.throughput_mps
                ));
            }
        }
        let outbound = self.outbound.validate(&mut problems);
        let pricing = self.pricing.validate(&mut problems);
        let media = self.media.validate(&self.database.url, &mut problems);
        let (policy, keywords) = self
            .policy
            .validate(pricing.cards.currency(), &mut problems);
        let ui = self.ui.validate(&mut problems);
        let guard = self.guard.validate(&mut problems);
        let bots = self.bots.validate(bot_flows, &mut problems);
        let format = match self.log.format.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                problems.push(format!(
                    "`log.format` = {other:?}: expected \"text\" or \"json\""
                ));
                LogFormat::Text
            }
        };

        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        Ok(Settings {
            listen,
            portfolio: self.portfolio,
            apps,
            numbers,
            database: DatabaseSettings {
                url: self.database.url,
                max_connections: self.database.max_connections,
                lock_timeout: Duration::from_millis(self.database.lock_timeout_ms),
                migrate_on_start: self.database.migrate_on_start,
            },
            webhook: WebhookSettings {
                verify_token: self.webhook.verify_token,
                max_body_bytes: self.webhook.max_body_bytes,
                ack_timeout: Duration::from_millis(self.webhook.ack_timeout_ms),
                max_batch: self.webhook.max_batch,
            },
            ingest: IngestSettings {
                batch_size: self.ingest.batch_size,
                poll_interval: Duration::from_millis(self.ingest.poll_interval_ms),
                max_attempts: self.ingest.max_attempts,
            },
            api: ApiSettings { tokens },
            graph_url,
            outbound,
            policy,
            keywords,
            pricing,
            media,
            log: LogSettings {
                format,
                level: self.log.level,
            },
            ui,
            guard,
            bots,
        })
    }
}

impl RawGuard {
    fn validate(&self, problems: &mut Vec<String>) -> GuardSettings {
        let tier = match self.tier.as_str() {
            "fast" => GuardTier::Fast,
            "embedding" => GuardTier::Embedding,
            other => {
                problems.push(format!(
                    "`guard.tier` = {other:?}: expected \"embedding\" (all-MiniLM-L6-v2, installed in `guard.model_dir`) or \"fast\" (nothing to install)"
                ));
                GuardTier::Fast
            }
        };
        if !(0.5..=0.999).contains(&self.recall) {
            problems.push(format!(
                "`guard.recall` = {}: expected between 0.5 and 0.999 (the share of general requests kept out; 0.95 is the default)",
                self.recall
            ));
        }
        GuardSettings {
            model_dir: self.model_dir.clone().into(),
            tier,
            recall: self.recall,
        }
    }
}

impl RawBots {
    fn validate(
        &self,
        flows: Vec<(String, String, String)>,
        problems: &mut Vec<String>,
    ) -> BotSettings {
        let backend_url = self.backend_url.trim_end_matches('/').to_owned();
        let http = backend_url.starts_with("http://") || backend_url.starts_with("https://");
        if !(backend_url.is_empty() || http) {
            problems.push(format!(
                "`bots.backend_url` = {backend_url:?} is not an http(s) URL: give the base address of the business back-end the flows call"
            ));
        }
        if self.backend_timeout_ms == 0 || self.max_attempts == 0 {
            problems
                .push("`bots.backend_timeout_ms` and `bots.max_attempts` must be positive".into());
        }
        let mut parsed = std::collections::BTreeMap::new();
        for (key, number, file) in flows {
            let text = match std::fs::read_to_string(&file) {
                Ok(text) => text,
                Err(e) => {
                    problems.push(format!(
                        "`{key}` = {file:?} cannot be read ({e}): give the path of a flow file (docs/bots.md), relative to the folder guichet runs in"
                    ));
                    continue;
                }
            };
            match domain::flow::Flow::parse(&text) {
                Ok(flow) => {
                    let calls = flow
                        .steps
                        .values()
                        .any(|s| matches!(s.kind, domain::flow::StepKind::Call(_)));
                    if calls && backend_url.is_empty() {
                        problems.push(format!(
                            "`{key}` = {file:?} calls the business back-end, but `bots.backend_url` is empty: set it"
                        ));
                    }
                    parsed.insert(number, std::sync::Arc::new(flow));
                }
                Err(e) => {
                    for p in e.problems {
                        problems.push(format!("`{key}` = {file:?}: {p}"));
                    }
                }
            }
        }
        BotSettings {
            flows: parsed,
            backend_url,
            backend_token: (!self.backend_token.is_empty()).then(|| self.backend_token.clone()),
            backend_timeout: Duration::from_millis(self.backend_timeout_ms),
            hand_back: domain::controller::HandBack {
                after_resolve: self.hand_back_after_resolve,
                after_idle_hours: (self.hand_back_after_idle_hours > 0)
                    .then_some(self.hand_back_after_idle_hours),
            },
            max_attempts: self.max_attempts,
        }
    }
}

impl RawUi {
    fn validate(&self, problems: &mut Vec<String>) -> UiSettings {
        if !(1..=1000).contains(&self.max_sessions_per_user) {
            problems.push(format!(
                "`ui.max_sessions_per_user` = {}: expected 1 to 1000 (each browser a person signs in from is one session)",
                self.max_sessions_per_user
            ));
        }
        if !(1..=24 * 60 * 30).contains(&self.session_idle_minutes) {
            problems.push(format!(
                "`ui.session_idle_minutes` = {}: expected 1 to 43200 (30 days)",
                self.session_idle_minutes
            ));
        }
        if !(1..=24 * 365).contains(&self.session_max_hours) {
            problems.push(format!(
                "`ui.session_max_hours` = {}: expected 1 to 8760 (a year)",
                self.session_max_hours
            ));
        } else if self.session_idle_minutes > self.session_max_hours * 60 {
            problems.push(format!(
                "`ui.session_idle_minutes` = {} is longer than `ui.session_max_hours` = {}: the idle timeout must fit in a session's life",
                self.session_idle_minutes, self.session_max_hours
            ));
        }
        UiSettings {
            secure_cookies: self.secure_cookies,
            max_sessions_per_user: self.max_sessions_per_user.max(1) as usize,
            timeouts: domain::accounts::SessionTimeouts {
                idle_ms: self.session_idle_minutes.max(1) * 60_000,
                absolute_ms: self.session_max_hours.max(1) * 3_600_000,
            },
        }
    }
}

impl RawMedia {
    /// The folder defaults to `media` beside the SQLite database; Postgres has no such place,
    /// and its nodes must share one: there it must be named (checked when serving starts).
    fn validate(&self, database_url: &str, problems: &mut Vec<String>) -> MediaSettings {
        let dir = if self.dir.trim().is_empty() {
            store::SqliteStore::database_path(database_url)
                .ok()
                .map(|db| {
                    Path::new(&db)
                        .parent()
                        .unwrap_or_else(|| Path::new(""))
                        .join("media")
                })
        } else {
            Some(std::path::PathBuf::from(&self.dir))
        };
        const META_LARGEST: u64 = 100 * 1024 * 1024;
        if !(1024..=META_LARGEST).contains(&self.max_bytes) {
            problems.push(format!(
                "`media.max_bytes` = {} is out of range: expected 1024 to {META_LARGEST} (Meta's largest media, a 100 MB document)",
                self.max_bytes
            ));
        }
        if !(1..=64).contains(&self.concurrency) {
            problems.push(format!(
                "`media.concurrency` = {} is out of range: expected 1 to 64 downloads at once",
                self.concurrency
            ));
        }
        if self.download_timeout_ms < 1000 {
            problems.push(format!(
                "`media.download_timeout_ms` = {} is too short: give at least 1000 (a 100 MB file needs minutes)",
                self.download_timeout_ms
            ));
        }
        if self.max_attempts == 0 || self.backoff_base_ms == 0 || self.poll_interval_ms == 0 {
            problems.push(
                "`media.max_attempts`, `media.backoff_base_ms` and `media.poll_interval_ms` must be positive"
                    .into(),
            );
        }
        MediaSettings {
            dir,
            max_bytes: self.max_bytes,
            concurrency: self.concurrency,
            download_timeout: Duration::from_millis(self.download_timeout_ms),
            max_attempts: self.max_attempts,
            backoff_base: Duration::from_millis(self.backoff_base_ms),
            poll_interval: Duration::from_millis(self.poll_interval_ms),
        }
    }
}

impl RawOutbound {
    fn validate(&self, problems: &mut Vec<String>) -> OutboundSettings {
        if !(0.5..=1.0).contains(&self.headroom) {
            problems.push(format!(
                "`outbound.headroom` = {} is out of range: expected 0.5 to 1 (0.97 uses 97 % of each number's throughput)",
                self.headroom
            ));
        }
        if self.max_in_flight == 0 || self.max_attempts == 0 || self.request_timeout_ms == 0 {
            problems.push(
                "`outbound.max_in_flight`, `outbound.max_attempts` and `outbound.request_timeout_ms` must be positive"
                    .into(),
            );
        }
        OutboundSettings {
            paused: self.paused,
            headroom: self.headroom,
            request_timeout: Duration::from_millis(self.request_timeout_ms),
            max_in_flight: self.max_in_flight.max(1),
            unknown_grace: Duration::from_millis(self.unknown_grace_ms),
            max_attempts: self.max_attempts.max(1),
            backoff_base: Duration::from_millis(self.backoff_base_ms),
            messaging_limit: domain::policy::MessagingLimit::parse(&self.messaging_limit)
                .unwrap_or_else(|| {
                    problems.push(format!(
                        "`outbound.messaging_limit` = {:?}: expected TIER_250, TIER_2K, TIER_10K, TIER_100K or TIER_UNLIMITED",
                        self.messaging_limit
                    ));
                    domain::policy::MessagingLimit::default()
                }),
        }
    }
}

impl RawPolicy {
    /// Budgets are amounts in `currency`, the rate cards' (none if no card could be read).
    fn validate(
        &self,
        currency: Option<domain::pricing::Currency>,
        problems: &mut Vec<String>,
    ) -> (domain::policy::Policy, domain::policy::Keywords) {
        use domain::policy::{FrequencyCap, Keywords, Policy};
        use domain::time::Seconds;
        let mut policy = Policy {
            require_opt_in: self.require_opt_in,
            unanswered_cap: (self.unanswered_cap > 0).then_some(self.unanswered_cap),
            marketing_frequency: (self.marketing_max > 0).then_some(FrequencyCap {
                max: self.marketing_max,
                per: Seconds(i64::from(self.marketing_per_days.max(1)) * Seconds::DAY.0),
            }),
            max_pacing_delay: Seconds(self.max_pacing_delay_s.max(0)),
            pair_rate: domain::policy::PairRate {
                interval_ms: self.pair_interval_ms.max(1),
                burst: self.pair_burst.max(1),
                burst_window_ms: self.pair_interval_ms.max(1),
            },
            window_warning: Seconds(self.window_warning_minutes.max(0) * 60),
            ..Policy::default()
        };
        for (name, amount) in &self.budgets {
            let Ok(category) = name.parse::<domain::Category>() else {
                problems.push(format!(
                    "`policy.budgets.{name}`: not a category; expected marketing, utility, authentication, authentication_international, marketing_lite or service"
                ));
                continue;
            };
            // Without a card the problem is reported there; the budget cannot be read.
            let Some(currency) = currency else { continue };
            match domain::pricing::Money::parse_decimal(amount, currency) {
                Ok(m) if m.micros() >= 0 => {
                    policy
                        .monthly_budgets
                        .insert(category, m.micros().unsigned_abs());
                }
                _ => problems.push(format!(
                    "`policy.budgets.{name}` = {amount:?} is not an amount: write it as a decimal string such as \"500.00\", in the rate card's currency ({})",
                    currency.as_str()
                )),
            }
        }
        // An empty list keeps guichet's defaults for that side.
        let or_default = |given: &[String], default: &[&str]| -> Vec<String> {
            if given.is_empty() {
                default.iter().map(|s| (*s).to_owned()).collect()
            } else {
                given.to_vec()
            }
        };
        let keywords = Keywords::new(
            or_default(&self.opt_out_keywords, domain::policy::DEFAULT_OPT_OUT),
            or_default(&self.opt_in_keywords, domain::policy::DEFAULT_OPT_IN),
        );
        (policy, keywords)
    }
}

impl RawPricing {
    fn validate(&self, problems: &mut Vec<String>) -> PricingSettings {
        use domain::pricing::{Market, RateCard, RateCards, WabaOffset, YearMonth};
        let offset = WabaOffset::from_seconds(self.utc_offset_minutes.saturating_mul(60))
            .unwrap_or_else(|| {
                problems.push(format!(
                    "`pricing.utc_offset_minutes` = {} is not a time zone offset: expected -720 to 840",
                    self.utc_offset_minutes
                ));
                WabaOffset::UTC
            });
        let business_market = match self.business_market.trim() {
            "" => None,
            name => Market::new(name).or_else(|| {
                problems.push(format!(
                    "`pricing.business_market` = {name:?} is not a market of Meta's rate cards (for example \"India\" or \"Brazil\")"
                ));
                None
            }),
        };
        let mut cards = Vec::new();
        let sample = self.rate_cards.is_empty();
        if sample {
            match RateCard::from_csv(
                domain::pricing::SAMPLE_CARD_CSV,
                YearMonth::new(2023, 7).unwrap_or_else(|| unreachable!()),
            ) {
                Ok(card) => cards.push(card),
                Err(e) => problems.push(format!("the built-in sample rate card: {e}")),
            }
        }
        for (i, c) in self.rate_cards.iter().enumerate() {
            let Ok(month) = c.effective_from.parse::<YearMonth>() else {
                problems.push(format!(
                    "`pricing.rate_cards[{i}].effective_from` = {:?}: expected a month such as \"2026-10\"",
                    c.effective_from
                ));
                continue;
            };
            match std::fs::read_to_string(&c.file) {
                Ok(text) => match RateCard::from_csv(&text, month) {
                    Ok(card) => cards.push(card),
                    Err(e) => problems.push(format!("`pricing.rate_cards[{i}]` ({}): {e}", c.file)),
                },
                Err(e) => problems.push(format!(
                    "`pricing.rate_cards[{i}].file` = {:?} cannot be read: {e}",
                    c.file
                )),
            }
        }
        let cards = RateCards::new(cards).unwrap_or_else(|e| {
            problems.push(format!("`pricing.rate_cards`: {e}"));
            RateCards::none()
        });
        PricingSettings {
            cards,
            sample,
            offset,
            business_market,
        }
    }
}

impl Settings {
    /// The settings of a business number guichet serves.
    pub fn number(&self, phone_number_id: &str) -> Option<&NumberSettings> {
        self.numbers
            .iter()
            .find(|n| n.phone_number_id == phone_number_id)
    }

    /// The portfolio of a business number; numbers guichet was not told about (their webhooks
    /// are still kept) belong to the default portfolio.
    pub fn portfolio_of(&self, phone_number_id: &str) -> &str {
        self.numbers
            .iter()
            .find(|n| n.phone_number_id == phone_number_id)
            .map_or(self.portfolio.as_str(), |n| n.portfolio.as_str())
    }

    /// The media folder, which serving needs: set, or beside the SQLite database.
    pub fn media_dir(&self) -> Result<&Path, ConfigError> {
        self.media.dir.as_deref().ok_or_else(|| {
            ConfigError::one(
                "`media.dir` is empty and the database is not SQLite: set it (GUICHET_MEDIA__DIR) \
                 to the folder where customers' media are kept; with several guichet nodes on \
                 Postgres, a folder every node shares (NFS, a mounted volume)"
                    .into(),
            )
        })
    }

    /// Whether any webhook verify token is configured.
    pub fn verify_tokens(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.webhook.verify_token.as_str())
            .chain(self.apps.iter().filter_map(|a| a.verify_token.as_deref()))
            .filter(|t| !t.is_empty())
    }
}

#[cfg(test)]
mod tests;
