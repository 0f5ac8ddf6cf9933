//! Turns the JSON reports of `sandbox-load` into the markdown table of the sandbox benchmark
//! (sends/s, share of the plain handler, latency, status webhooks and how long they took,
//! errors, CPU) and one combined JSON file. `bench/sandbox.sh` calls it at the end of a run.

use std::fmt::Write as _;

use clap::Parser;
use guichet_bench::report::{Latency, SendReport};
use guichet_bench::table::{TableArgs, push_run, thousands};
use serde::Serialize;

/// Build the sandbox results table from `sandbox-load --json-out` files.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    table: TableArgs,
}

#[derive(Debug, Serialize)]
struct Row {
    #[serde(flatten)]
    report: SendReport,
    /// Sends/s as a percentage of the plain handler's, when it ran (closed loops only).
    percent_of_plain: Option<f64>,
    /// CPU milliseconds the server used per 1,000 accepted sends, statuses included.
    server_cpu_ms_per_1000: Option<f64>,
    /// Remarks given with `--note`.
    notes: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let reports: Vec<SendReport> = args.table.read_reports()?;
    let plain = reports
        .iter()
        .find(|r| r.label == args.table.plain_label)
        .map(|r| r.sends_per_s)
        .filter(|&r| r > 0.0);
    let rows: Vec<Row> = reports
        .into_iter()
        .map(|report| {
            #[expect(clippy::cast_precision_loss, reason = "counts are far below 2^52")]
            let server_cpu_ms_per_1000 = report
                .server_cpu_s
                .filter(|_| report.successes > 0)
                .map(|cpu| 1_000_000.0 * cpu / report.successes as f64);
            Row {
                // A paced run sends what it is told to: its rate is no share of a ceiling.
                percent_of_plain: plain
                    .filter(|_| report.rate.is_none())
                    .map(|p| 100.0 * report.sends_per_s / p),
                server_cpu_ms_per_1000,
                notes: args.table.notes_for(&report.label),
                report,
            }
        })
        .collect();

    args.table.finish(&markdown(&args, &rows), &rows)
}

fn errors_cell(report: &SendReport) -> String {
    if report.errors() == 0 {
        return "0".to_owned();
    }
    let parts: Vec<String> = report
        .failures
        .iter()
        .chain(&report.transport_errors_by_kind)
        .map(|(kind, n)| format!("{n} × {kind}"))
        .collect();
    format!("**{}** ({})", report.errors(), parts.join(", "))
}

fn lag_cell(lag: Option<&Latency>) -> String {
    lag.map_or_else(
        || "—".to_owned(),
        |l| format!("{:.0} / {:.0}", l.p50, l.p99),
    )
}

fn markdown(args: &Args, rows: &[Row]) -> String {
    let mut md = String::new();
    md.push_str(
        "| target | load | sends/s | % of plain | p50 ms | p99 ms | errors | statuses | \
         all statuses in | sends/s with statuses | → `sent` ms p50 / p99 | → last status ms \
         p50 / p99 | server CPU-ms / 1,000 sends |\n\
         |---|---|---:|---:|---:|---:|---|---|---:|---:|---:|---:|---:|\n",
    );
    for row in rows {
        let r = &row.report;
        let load = r.rate.map_or_else(
            || format!("closed loop, {} conn.", r.connections),
            |rate| format!("{}/s", thousands(rate)),
        );
        let (statuses, all_in, with_statuses) = if r.baseline {
            ("—".to_owned(), "—".to_owned(), "—".to_owned())
        } else {
            let received: u64 = r.statuses.values().sum();
            let statuses = if r.statuses_missing == 0 {
                format!(
                    "{} ({})",
                    thousands_u64(received),
                    r.statuses_waited.join(", ")
                )
            } else {
                format!(
                    "{} (**{} sends missing some**)",
                    thousands_u64(received),
                    thousands_u64(r.statuses_missing)
                )
            };
            let all_in = match (r.all_statuses_s, r.status_lag_s) {
                (Some(all), Some(lag)) => format!("{all:.1} s (+{lag:.1} s)"),
                _ => "never".to_owned(),
            };
            let with = r
                .sends_with_statuses_per_s
                .map_or_else(|| "—".to_owned(), thousands);
            (statuses, all_in, with)
        };
        // Writing to a String cannot fail.
        let _ = writeln!(
            md,
            "| {label} | {load} | {sps} | {plain} | {p50:.2} | {p99:.2} | {errors} | {statuses} | \
             {all_in} | {with_statuses} | {sent_lag} | {last_lag} | {cpu} |",
            label = r.label,
            sps = thousands(r.sends_per_s),
            plain = row
                .percent_of_plain
                .map_or_else(|| "—".to_owned(), |p| format!("{p:.1} %")),
            p50 = r.latency_ms.p50,
            p99 = r.latency_ms.p99,
            errors = errors_cell(r),
            sent_lag = lag_cell(r.sent_status_lag_ms.as_ref()),
            last_lag = lag_cell(r.last_status_lag_ms.as_ref()),
            cpu = row
                .server_cpu_ms_per_1000
                .map_or_else(|| "—".to_owned(), |c| format!("{c:.0}")),
        );
    }
    args.table.push_failed(&mut md, 11);

    md.push_str("\nPer target:\n\n");
    for row in rows {
        details(&mut md, row);
    }
    push_run(&mut md, &args.table.meta);
    md
}

fn details(md: &mut String, row: &Row) {
    let r = &row.report;
    let l = &r.latency_ms;
    let _ = write!(
        md,
        "- **{label}**: {req} measured sends after {warm} warmup at {conns} connections, \
         {wall:.1} s; {ok} × 200; mean {mean:.2} ms, p90 {p90:.2} ms, p99.9 {p999:.2} ms, max \
         {max:.2} ms; mean body {body:.0} B",
        label = r.label,
        req = thousands_u64(r.requests),
        warm = thousands_u64(r.warmup as u64),
        conns = r.connections,
        wall = r.wall_time_s,
        ok = thousands_u64(r.successes),
        mean = l.mean,
        p90 = l.p90,
        p999 = l.p999,
        max = l.max,
        body = r.mean_body_bytes,
    );
    if !r.baseline {
        let _ = write!(
            md,
            "; {customers} customers (set up in {setup:.1} s)",
            customers = thousands_u64(r.customers as u64),
            setup = r.setup_s,
        );
        if let Some(sent) = r.all_sent_s {
            let _ = write!(
                md,
                "; every `sent` status in {sent:.1} s after the first send"
            );
        }
        if let Some(rate) = r.statuses_per_s {
            let _ = write!(md, ", all statuses at {} statuses/s", thousands(rate));
        }
        if r.webhook_posts > 0 {
            #[expect(clippy::cast_precision_loss, reason = "counts are far below 2^52")]
            let per_post = r.webhook_updates as f64 / r.webhook_posts as f64;
            let _ = write!(
                md,
                "; {posts} webhook POSTs received ({per_post:.2} status updates each)",
                posts = thousands_u64(r.webhook_posts),
            );
        }
        if let Some(last) = &r.last_status_lag_ms {
            let _ = write!(
                md,
                "; answer → last status mean {:.0} ms, max {:.0} ms",
                last.mean, last.max
            );
        }
        if r.duplicate_statuses > 0 {
            let _ = write!(md, "; {} duplicate statuses", r.duplicate_statuses);
        }
        if r.bad_signatures > 0 {
            let _ = write!(
                md,
                "; **{} webhooks with a bad signature**",
                r.bad_signatures
            );
        }
    }
    let total = r.total_time_s;
    if let Some(cpu) = r.generator_cpu_s.filter(|_| total > 0.0) {
        let _ = write!(
            md,
            "; load generator{receiver} {threads} threads, {cpu:.1} CPU-s ({share:.0} % of one \
             core)",
            receiver = if r.baseline { "" } else { " and receiver" },
            threads = r.generator_threads,
            share = 100.0 * cpu / total,
        );
    }
    if let Some(server) = r.server_cpu_s.filter(|_| total > 0.0) {
        let _ = write!(
            md,
            "; the server {server:.1} CPU-s in {total:.1} s ({share:.0} % of one core",
            share = 100.0 * server / total,
        );
        if let Some(per_1k) = row.server_cpu_ms_per_1000 {
            let _ = write!(md, ", {per_1k:.0} CPU-ms per 1,000 sends");
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
                "; **other processes used {other:.1} CPU-s ({share:.0} % of the machine) during \
                 the run: these numbers are disturbed**"
            );
        } else {
            let _ = write!(md, "; other processes used {share:.0} % of the machine");
        }
    }
    if !row.notes.is_empty() {
        let _ = write!(md, "; {}", row.notes.join("; "));
    }
    if r.reconnects > 0 {
        let _ = write!(md, "; {} reconnects", r.reconnects);
    }
    md.push_str(".\n");
}

fn thousands_u64(n: u64) -> String {
    #[expect(clippy::cast_precision_loss, reason = "counts are far below 2^52")]
    thousands(n as f64)
}
