//! Benchmarks for guichet and the references it is measured against.
//!
//! The binaries live in `src/bin/`: `webhook-load` (the webhook-ingest load generator),
//! `sandbox-load` (the load generator of the sandbox benchmark, with its own webhook receiver),
//! `plain-handler` (the ceiling reference) and the table tools. `bench/webhooks.sh` and
//! `bench/sandbox.sh` run the comparisons; `bench/README.md` explains what is measured and how
//! to read it.

pub mod client;
pub mod cpu;
pub mod payload;
pub mod process;
pub mod report;
pub mod table;
