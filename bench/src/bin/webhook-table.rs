//! Turns the JSON reports of `webhook-load` into the markdown table of the webhook-ingest
//! benchmark (events/s, share of the plain handler, multiple of pywa, latency, errors) and one
//! combined JSON file. `bench/webhooks.sh` calls it at the end of a run.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use clap::Parser;
use guichet_bench::report::Report;
use guichet_bench::table::{TableArgs, key_value, push_run, thousands};
use serde::Serialize;

/// Build the webhook-ingest results table from `webhook-load --json-out` files.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    table: TableArgs,
    /// Backlog drain time of a target after its load, `LABEL=SECONDS`, or `LABEL=TEXT` when it
    /// was not measured (e.g. `no metric`, `timeout`).
    #[arg(long = "drain", value_parser = key_value)]
    drain: Vec<(String, String)>,
    /// Label of the peer reference.
    #[arg(long, default_value = "pywa")]
    pywa_label: String,
}

#[derive(Debug, Serialize)]
struct Row {
    #[serde(flatten)]
    report: Report,
    /// Events/s as a percentage of the plain handler's, when it ran.
    percent_of_plain: Option<f64>,
    /// Events/s as a multiple of pywa's, when it ran.
    times_pywa: Option<f64>,
    /// Seconds until the ingest backlog read 0 after the load, when measured.
    drain_s: Option<f64>,
    /// How the drain went when it was not measured.
    drain_note: Option<String>,
    /// HTTP 200 answers per second counting the drain time: what was really ingested.
    ingested_per_s: Option<f64>,
    /// Remarks given with `--note`.
    notes: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let reports: Vec<Report> = args.table.read_reports()?;
    let rate_of = |label: &str| {
        reports
            .iter()
            .find(|r| r.label == label)
            .map(|r| r.events_per_s)
            .filter(|&r| r > 0.0)
    };
    let plain = rate_of(&args.table.plain_label);
    let pywa = rate_of(&args.pywa_label);
    let drains: BTreeMap<_, _> = args.drain.iter().cloned().collect();

    let rows: Vec<Row> = reports
        .into_iter()
        .map(|report| {
            let drain = drains.get(&report.label);
            let drain_s = drain.and_then(|d| d.parse::<f64>().ok());
            let drain_note = drain.filter(|_| drain_s.is_none()).cloned();
            #[expect(clippy::cast_precision_loss, reason = "counts are far below 2^52")]
            let ingested_per_s =
                drain_s.map(|d| report.successes as f64 / (report.wall_time_s + d));
            Row {
                percent_of_plain: plain.map(|p| 100.0 * report.events_per_s / p),
                times_pywa: pywa.map(|p| report.events_per_s / p),
                drain_s,
                drain_note,
                ingested_per_s,
                notes: args.table.notes_for(&report.label),
                report,
            }
        })
        .collect();

    args.table.finish(&markdown(&args, &rows), &rows)
}

fn errors_cell(report: &Report) -> String {
    if report.errors() == 0 {
        return "0".to_owned();
    }
    let mut parts: Vec<String> = report
        .failures_by_status
        .iter()
        .map(|(status, n)| format!("{n} × HTTP {status}"))
        .collect();
    parts.extend(
        report
            .transport_errors_by_kind
            .iter()
            .map(|(kind, n)| format!("{n} × {kind}")),
    );
    format!("**{}** ({})", report.errors(), parts.join(", "))
}

fn markdown(args: &Args, rows: &[Row]) -> String {
    let mut md = String::new();
    md.push_str(
        "| target | events/s | % of plain | × pywa | p50 ms | p99 ms | p99.9 ms | errors | \
         backlog drain |\n|---|---:|---:|---:|---:|---:|---:|---|---|\n",
    );
    for row in rows {
        let r = &row.report;
        let drain = match (&row.drain_s, &row.drain_note) {
            (Some(s), _) => format!("{s:.1} s"),
            (None, Some(note)) => note.clone(),
            (None, None) => "—".to_owned(),
        };
        // Writing to a String cannot fail.
        let _ = writeln!(
            md,
            "| {label} | {eps} | {plain} | {pywa} | {p50:.2} | {p99:.2} | {p999:.2} | {errors} | \
             {drain} |",
            label = r.label,
            eps = thousands(r.events_per_s),
            plain = row
                .percent_of_plain
                .map_or_else(|| "—".to_owned(), |p| format!("{p:.1} %")),
            pywa = row
                .times_pywa
                .map_or_else(|| "—".to_owned(), |x| format!("{x:.1} ×")),
            p50 = r.latency_ms.p50,
            p99 = r.latency_ms.p99,
            p999 = r.latency_ms.p999,
            errors = errors_cell(r),
        );
    }
    args.table.push_failed(&mut md, 7);

    md.push_str("\nPer target:\n\n");
    for row in rows {
        let r = &row.report;
        let _ = write!(
            md,
            "- **{label}**: {req} measured requests after {warm} warmup at {conns} connections, \
             {wall:.1} s; {ok} × 200; mean {mean:.2} ms, p90 {p90:.2} ms, max {max:.2} ms; \
             {msgs} inbound messages + {statuses} status updates from {customers} customers, \
             mean body {body:.0} B; load generator {threads} threads",
            label = r.label,
            req = r.requests,
            warm = r.warmup,
            conns = r.connections,
            wall = r.wall_time_s,
            ok = r.successes,
            mean = r.latency_ms.mean,
            p90 = r.latency_ms.p90,
            max = r.latency_ms.max,
            msgs = r.inbound_messages,
            statuses = r.status_updates,
            customers = r.customers,
            body = r.mean_body_bytes,
            threads = r.generator_threads,
        );
        if let Some(cpu) = r.generator_cpu_s.filter(|_| r.wall_time_s > 0.0) {
            let _ = write!(
                md,
                " using {cpu:.1} CPU-s ({share:.0} % of one core)",
                share = 100.0 * cpu / r.wall_time_s
            );
        }
        if let Some(server) = r.server_cpu_s.filter(|_| r.wall_time_s > 0.0) {
            let _ = write!(
                md,
                "; the server used {server:.1} CPU-s ({share:.0} % of one core",
                share = 100.0 * server / r.wall_time_s
            );
            let mut cpu = server;
            if let Some(db) = r.database_cpu_s {
                let _ = write!(
                    md,
                    ") and its database {db:.1} CPU-s ({share:.0} % of one core",
                    share = 100.0 * db / r.wall_time_s
                );
                cpu += db;
            }
            if r.successes > 0 {
                #[expect(clippy::cast_precision_loss, reason = "counts are far below 2^52")]
                let per_1k = 1_000_000.0 * cpu / r.successes as f64;
                let together = if r.database_cpu_s.is_some() {
                    "together "
                } else {
                    ""
                };
                let _ = write!(md, ", {together}{per_1k:.0} CPU-ms per 1,000 events");
            }
            md.push(')');
        }
        if let (Some(other), Some(capacity)) = (r.other_cpu_s(), r.machine_cpu_capacity_s)
            && capacity > 0.0
        {
            let share = 100.0 * other / capacity;
            if share >= 5.0 {
                let _ = write!(
                    md,
                    "; **other processes used {other:.1} CPU-s ({share:.0} % of the machine) \
                     during the run: these numbers are disturbed**"
                );
            } else {
                let _ = write!(md, "; other processes used {share:.0} % of the machine");
            }
        }
        if !row.notes.is_empty() {
            let _ = write!(md, "; {}", row.notes.join("; "));
        }
        if let Some(status) = r.bad_signature_status {
            let verdict = if status == 200 {
                "**accepted: signature not checked**"
            } else {
                "rejected"
            };
            let _ = write!(md, "; a wrong signature got HTTP {status} ({verdict})");
        }
        if let Some(ingested) = row.ingested_per_s {
            let _ = write!(
                md,
                "; counting the backlog drain, {} events/s ingested",
                thousands(ingested)
            );
        }
        if r.reconnects > 0 {
            let _ = write!(md, "; {} reconnects", r.reconnects);
        }
        md.push_str(".\n");
    }

    push_run(&mut md, &args.table.meta);
    md
}
