//! What a load run reports, and the arithmetic behind it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Latency percentiles in milliseconds, over the requests that got an HTTP answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest request.
    pub max: f64,
}

impl Latency {
    /// Nearest-rank percentiles of latencies given in microseconds (sorted in place).
    #[must_use]
    pub fn from_micros(samples: &mut [u32]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        let sum: u64 = samples.iter().map(|&s| u64::from(s)).sum();
        #[expect(
            clippy::cast_precision_loss,
            reason = "sample counts and microsecond sums are far below 2^52"
        )]
        let mean = sum as f64 / samples.len() as f64 / 1000.0;
        Self {
            mean,
            p50: percentile(samples, 50.0),
            p90: percentile(samples, 90.0),
            p99: percentile(samples, 99.0),
            p999: percentile(samples, 99.9),
            max: f64::from(samples[samples.len() - 1]) / 1000.0,
        }
    }
}

/// Nearest-rank percentile `p` (0–100) of sorted microsecond samples, in milliseconds.
#[must_use]
pub fn percentile(sorted_micros: &[u32], p: f64) -> f64 {
    if sorted_micros.is_empty() {
        return 0.0;
    }
    #[expect(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "rank is between 1 and len, and len is far below 2^52"
    )]
    // The small tolerance keeps e.g. 99.9 % of 1000 at rank 999 despite rounding.
    let rank = (p * sorted_micros.len() as f64 / 100.0 - 1e-9).ceil() as usize;
    let index = rank.clamp(1, sorted_micros.len()) - 1;
    f64::from(sorted_micros[index]) / 1000.0
}

/// The result of one measured load run, as written by `webhook-load --json-out`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Name of the target, e.g. `plain` or `guichet-sqlite`.
    pub label: String,
    /// Where the webhooks were posted.
    pub url: String,
    /// Concurrent keep-alive connections, each sending requests back to back.
    pub connections: usize,
    /// Requests sent before measuring (not counted below).
    pub warmup: usize,
    /// Measured requests sent.
    pub requests: u64,
    /// Answers with HTTP 200.
    pub successes: u64,
    /// Answers other than 200, by status code.
    pub failures_by_status: BTreeMap<u16, u64>,
    /// Requests that got no HTTP answer (connection refused or reset, timeout).
    pub transport_errors: u64,
    /// Transport errors by kind.
    pub transport_errors_by_kind: BTreeMap<String, u64>,
    /// New connections opened after the first one of each connection slot.
    pub reconnects: u64,
    /// From the first measured request sent to the last answer received.
    pub wall_time_s: f64,
    /// All measured requests per second (one webhook POST is one event).
    pub requests_per_s: f64,
    /// HTTP 200 answers per second: the events/s the table shows.
    pub events_per_s: f64,
    /// Latency of answered requests.
    pub latency_ms: Latency,
    /// Mean body size.
    pub mean_body_bytes: f64,
    /// Inbound text messages among the measured requests.
    pub inbound_messages: u64,
    /// Status updates among the measured requests.
    pub status_updates: u64,
    /// Distinct customers the measured requests are spread over.
    pub customers: usize,
    /// CPU seconds the load generator used during the measured run (user + system).
    pub generator_cpu_s: Option<f64>,
    /// Worker threads of the load generator.
    pub generator_threads: usize,
    /// CPU seconds the server under test (with its child processes) used during the measured
    /// run, when its pid was given.
    #[serde(default)]
    pub server_cpu_s: Option<f64>,
    /// CPU seconds the database server (with its child processes) used during the measured run,
    /// when its pid was given.
    #[serde(default)]
    pub database_cpu_s: Option<f64>,
    /// Busy CPU seconds of the whole machine during the measured run.
    #[serde(default)]
    pub machine_busy_cpu_s: Option<f64>,
    /// CPU seconds the machine had during the measured run (wall time × cores).
    #[serde(default)]
    pub machine_cpu_capacity_s: Option<f64>,
    /// Status answered to one request with a wrong signature, when checked.
    pub bad_signature_status: Option<u16>,
    /// Makes this run's wamids unique.
    pub run_id: String,
}

impl Report {
    /// Answers other than 200 plus transport errors.
    #[must_use]
    pub fn errors(&self) -> u64 {
        self.failures_by_status.values().sum::<u64>() + self.transport_errors
    }

    /// CPU seconds used during the measured run by processes other than the server, its
    /// database and the load generator (other work on the machine disturbs the numbers), when
    /// all is known.
    #[must_use]
    pub fn other_cpu_s(&self) -> Option<f64> {
        let busy = self.machine_busy_cpu_s?;
        let ours = self.server_cpu_s? + self.database_cpu_s.unwrap_or(0.0) + self.generator_cpu_s?;
        Some((busy - ours).max(0.0))
    }

    /// One line for a human.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut errors = String::new();
        for (status, n) in &self.failures_by_status {
            errors.push_str(&format!(" HTTP {status}: {n};"));
        }
        for (kind, n) in &self.transport_errors_by_kind {
            errors.push_str(&format!(" {kind}: {n};"));
        }
        if errors.is_empty() {
            errors.push_str(" none");
        }
        let l = &self.latency_ms;
        format!(
            "{label}: {req} requests at {conns} connections in {wall:.2} s = {eps:.0} events/s \
             ({ok} x 200); p50 {p50:.2} ms, p90 {p90:.2} ms, p99 {p99:.2} ms, p99.9 {p999:.2} ms, \
             max {max:.2} ms; errors:{errors}",
            label = self.label,
            req = self.requests,
            conns = self.connections,
            wall = self.wall_time_s,
            eps = self.events_per_s,
            ok = self.successes,
            p50 = l.p50,
            p90 = l.p90,
            p99 = l.p99,
            p999 = l.p999,
            max = l.max,
        )
    }
}

/// The result of one `sandbox-load` run: Graph API sends, and the status webhooks they caused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SendReport {
    /// Name of the target, e.g. `plain` or `sandbox`.
    pub label: String,
    /// Where the sends were posted.
    pub url: String,
    /// Only the sends were measured (a server that sends no webhooks, like the plain handler).
    pub baseline: bool,
    /// Sends per second offered, when paced (an open loop); none when each connection sent as
    /// soon as it had its previous answer (a closed loop).
    pub rate: Option<f64>,
    /// Concurrent keep-alive connections, each sending requests back to back.
    pub connections: usize,
    /// Sends made before measuring (not counted below).
    pub warmup: usize,
    /// Measured sends.
    pub requests: u64,
    /// Simulated customers the sends go to, round robin.
    pub customers: usize,
    /// Sends answered 200 with a wamid.
    pub successes: u64,
    /// Other answers, by `HTTP <status>` and Graph error code (`HTTP 400 #131056`).
    pub failures: BTreeMap<String, u64>,
    /// Sends without an HTTP answer (connection refused or reset, timeout).
    pub transport_errors: u64,
    /// Transport errors by kind.
    pub transport_errors_by_kind: BTreeMap<String, u64>,
    /// New connections opened after the first one of each connection slot.
    pub reconnects: u64,
    /// From the first measured send to the last answer.
    pub wall_time_s: f64,
    /// Sends answered 200 per second of `wall_time_s`.
    pub sends_per_s: f64,
    /// Latency of answered sends.
    pub latency_ms: Latency,
    /// Mean body size of a send.
    pub mean_body_bytes: f64,
    /// The statuses waited for: `sent`, `delivered`, `read`.
    pub statuses_waited: Vec<String>,
    /// Status updates received for the measured sends, by status, each (wamid, status) once.
    pub statuses: BTreeMap<String, u64>,
    /// Measured sends still missing a status waited for when the wait ended.
    pub statuses_missing: u64,
    /// From the first measured send until every measured send's `sent` status had arrived.
    pub all_sent_s: Option<f64>,
    /// From the first measured send until every status waited for had arrived.
    pub all_statuses_s: Option<f64>,
    /// How long after the last answer the last status waited for arrived.
    pub status_lag_s: Option<f64>,
    /// For each measured send, from reading its answer to receiving its `sent` status.
    pub sent_status_lag_ms: Option<Latency>,
    /// For each measured send, from reading its answer to receiving the last status waited for
    /// (`delivered` is due one emulated second after the send, so this includes that second).
    pub last_status_lag_ms: Option<Latency>,
    /// Status updates of measured sends per second, from the first measured send to the last
    /// status waited for.
    pub statuses_per_s: Option<f64>,
    /// Sends answered 200 per second counting until their last status waited for arrived: the
    /// rate at which the sandbox sends and reports.
    pub sends_with_statuses_per_s: Option<f64>,
    /// Webhook POSTs received from the first measured send to the end of the wait.
    pub webhook_posts: u64,
    /// Status updates those POSTs carried (all sends, warmup included).
    pub webhook_updates: u64,
    /// Webhook POSTs whose signature did not verify (answered 401, not counted).
    pub bad_signatures: u64,
    /// A (wamid, status) received again.
    pub duplicate_statuses: u64,
    /// CPU seconds of the load generator and its webhook receiver, from the first measured send
    /// to the end of the wait.
    pub generator_cpu_s: Option<f64>,
    /// Worker threads of the load generator (the receiver runs on them too).
    pub generator_threads: usize,
    /// CPU seconds of the server under test while sending (first measured send to last answer).
    pub server_cpu_sends_s: Option<f64>,
    /// CPU seconds of the server under test from the first measured send to the end of the wait.
    pub server_cpu_s: Option<f64>,
    /// Seconds from the first measured send to the end of the wait.
    pub total_time_s: f64,
    /// Busy CPU seconds of the whole machine from the first measured send to the end of the wait.
    pub machine_busy_cpu_s: Option<f64>,
    /// CPU seconds the machine had in that time (wall time × cores).
    pub machine_cpu_capacity_s: Option<f64>,
    /// Seconds the set-up took (customers created, their first messages delivered).
    pub setup_s: f64,
}

impl SendReport {
    /// Non-200 answers plus transport errors.
    #[must_use]
    pub fn errors(&self) -> u64 {
        self.failures.values().sum::<u64>() + self.transport_errors
    }

    /// CPU seconds used by processes other than the server and the load generator, when known.
    #[must_use]
    pub fn other_cpu_s(&self) -> Option<f64> {
        let busy = self.machine_busy_cpu_s?;
        let ours = self.server_cpu_s? + self.generator_cpu_s?;
        Some((busy - ours).max(0.0))
    }

    /// One line for a human.
    #[must_use]
    pub fn summary(&self) -> String {
        let mut errors = String::new();
        for (kind, n) in self.failures.iter().chain(&self.transport_errors_by_kind) {
            errors.push_str(&format!(" {kind}: {n};"));
        }
        if errors.is_empty() {
            errors.push_str(" none");
        }
        let l = &self.latency_ms;
        let pace = self
            .rate
            .map_or_else(String::new, |r| format!(" paced at {r:.0}/s"));
        let mut line = format!(
            "{label}: {req} sends at {conns} connections{pace} in {wall:.2} s = {sps:.0} sends/s \
             ({ok} x 200); p50 {p50:.2} ms, p99 {p99:.2} ms, p99.9 {p999:.2} ms, max {max:.2} ms; \
             errors:{errors}",
            label = self.label,
            req = self.requests,
            conns = self.connections,
            wall = self.wall_time_s,
            sps = self.sends_per_s,
            ok = self.successes,
            p50 = l.p50,
            p99 = l.p99,
            p999 = l.p999,
            max = l.max,
        );
        if !self.baseline {
            let statuses: Vec<String> = self
                .statuses
                .iter()
                .map(|(s, n)| format!("{n} {s}"))
                .collect();
            line.push_str(&format!(
                "; statuses: {}; missing {}",
                statuses.join(", "),
                self.statuses_missing
            ));
            if let (Some(all), Some(rate), Some(sends)) = (
                self.all_statuses_s,
                self.statuses_per_s,
                self.sends_with_statuses_per_s,
            ) {
                line.push_str(&format!(
                    "; all in after {all:.2} s = {rate:.0} statuses/s, {sends:.0} sends/s with \
                     their statuses; {posts} webhook POSTs",
                    posts = self.webhook_posts
                ));
            }
            if let (Some(sent), Some(last)) = (&self.sent_status_lag_ms, &self.last_status_lag_ms) {
                line.push_str(&format!(
                    "; answer to `sent` status p50 {:.1} ms, p99 {:.1} ms; to the last status p50 \
                     {:.1} ms, p99 {:.1} ms",
                    sent.p50, sent.p99, last.p50, last.p99
                ));
            }
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<u32> = (1..=1000).rev().map(|ms| ms * 1000).collect();
        let l = Latency::from_micros(&mut samples);
        assert!((l.p50 - 500.0).abs() < f64::EPSILON);
        assert!((l.p90 - 900.0).abs() < f64::EPSILON);
        assert!((l.p99 - 990.0).abs() < f64::EPSILON);
        assert!((l.p999 - 999.0).abs() < f64::EPSILON);
        assert!((l.max - 1000.0).abs() < f64::EPSILON);
        assert!((l.mean - 500.5).abs() < 1e-9);
    }

    #[test]
    fn empty_and_single_samples() {
        assert_eq!(Latency::from_micros(&mut []), Latency::default());
        let l = Latency::from_micros(&mut [1500]);
        assert!((l.p50 - 1.5).abs() < f64::EPSILON);
        assert!((l.p999 - 1.5).abs() < f64::EPSILON);
    }

    #[test]
    fn errors_add_statuses_and_transport() {
        let mut r = Report::default();
        r.failures_by_status.insert(503, 2);
        r.failures_by_status.insert(403, 1);
        r.transport_errors = 4;
        assert_eq!(r.errors(), 7);
        assert!(r.summary().contains("HTTP 403: 1;"));
    }
}
