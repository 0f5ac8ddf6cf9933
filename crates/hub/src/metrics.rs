//! Prometheus metrics, served at `/metrics`. Names and labels never carry personal data.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ItemLabels {
    pub item: &'static str,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct What {
    pub what: &'static str,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Webhook POSTs by outcome: accepted, duplicate, bad_signature, too_large, malformed,
    /// unavailable.
    pub webhooks: Family<Outcome, Counter>,
    /// Time from a webhook's arrival to its answer.
    pub webhook_seconds: Histogram,
    /// Items met by ingest: message, status, echo, template, preference, error, other; by
    /// outcome new, duplicate, invalid.
    pub items: Family<ItemLabels, Counter>,
    /// Stored webhooks that could not be read as notifications.
    pub parse_failures: Counter,
    /// Things Meta sent that guichet does not model (kept raw): field, kind, change.
    pub unknown: Family<What, Counter>,
    /// Time from a webhook's arrival to its ingestion.
    pub ingest_seconds: Histogram,
    /// Webhooks stored and not yet ingested (read at scrape time).
    pub ingest_backlog: Gauge,
    /// Webhooks set aside after failing ingestion repeatedly (read at scrape time).
    pub ingest_failed: Gauge,
    /// Group commits and the webhooks they carried.
    pub append_batches: Counter,
    pub append_events: Counter,
    /// Graph API sends by outcome: accepted, refused, not_sent, no_answer.
    pub sends: Family<Outcome, Counter>,
    /// Content-Security-Policy violations reported by agents' browsers.
    pub csp_reports: Counter,
    /// Media download attempts by outcome: stored, retry, failed.
    pub media_downloads: Family<Outcome, Counter>,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("guichet");
        let webhooks = Family::<Outcome, Counter>::default();
        registry.register(
            "webhook_requests",
            "Webhook POSTs by outcome",
            webhooks.clone(),
        );
        let webhook_seconds = Histogram::new(exponential_buckets(0.000_25, 2.0, 16));
        registry.register(
            "webhook_ack_seconds",
            "Time from a webhook's arrival to guichet's answer",
            webhook_seconds.clone(),
        );
        let items = Family::<ItemLabels, Counter>::default();
        registry.register(
            "ingest_items",
            "Webhook items ingested, by item and outcome",
            items.clone(),
        );
        let parse_failures = Counter::default();
        registry.register(
            "ingest_parse_failures",
            "Stored webhooks that could not be read as notifications",
            parse_failures.clone(),
        );
        let unknown = Family::<What, Counter>::default();
        registry.register(
            "webhook_unknown",
            "Fields, message kinds and changes guichet keeps raw without modelling them",
            unknown.clone(),
        );
        let ingest_seconds = Histogram::new(exponential_buckets(0.000_5, 2.0, 18));
        registry.register(
            "ingest_latency_seconds",
            "Time from a webhook's arrival to its ingestion",
            ingest_seconds.clone(),
        );
        let ingest_backlog = Gauge::default();
        registry.register(
            "ingest_backlog",
            "Webhooks stored and not yet ingested",
            ingest_backlog.clone(),
        );
        let ingest_failed = Gauge::default();
        registry.register(
            "ingest_failed",
            "Webhooks set aside after failing ingestion (kept raw)",
            ingest_failed.clone(),
        );
        let append_batches = Counter::default();
        registry.register(
            "append_batches",
            "Group commits of webhooks",
            append_batches.clone(),
        );
        let append_events = Counter::default();
        registry.register(
            "append_events",
            "Webhooks written by group commits",
            append_events.clone(),
        );
        let sends = Family::<Outcome, Counter>::default();
        registry.register("graph_sends", "Graph API sends by outcome", sends.clone());
        let csp_reports = Counter::default();
        registry.register(
            "csp_reports",
            "Content-Security-Policy violations reported by agents' browsers",
            csp_reports.clone(),
        );
        let media_downloads = Family::<Outcome, Counter>::default();
        registry.register(
            "media_downloads",
            "Customers' media download attempts by outcome (stored, retry, failed)",
            media_downloads.clone(),
        );
        Self {
            csp_reports,
            media_downloads,
            registry,
            webhooks,
            webhook_seconds,
            items,
            parse_failures,
            unknown,
            ingest_seconds,
            ingest_backlog,
            ingest_failed,
            append_batches,
            append_events,
            sends,
        }
    }

    pub fn send(&self, outcome: &'static str) {
        self.sends.get_or_create(&Outcome { outcome }).inc();
    }

    pub fn media_download(&self, outcome: &'static str) {
        self.media_downloads
            .get_or_create(&Outcome { outcome })
            .inc();
    }

    pub fn webhook(&self, outcome: &'static str) {
        self.webhooks.get_or_create(&Outcome { outcome }).inc();
    }

    pub fn item(&self, item: &'static str, outcome: &'static str) {
        self.items
            .get_or_create(&ItemLabels { item, outcome })
            .inc();
    }

    pub fn unknown(&self, what: &'static str, n: usize) {
        self.unknown.get_or_create(&What { what }).inc_by(n as u64);
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
