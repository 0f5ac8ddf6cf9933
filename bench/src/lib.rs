//! Benchmarks for guichet and the references it is measured against.
//!
//! The binaries live in `src/bin/`: `webhook-load` (the load generator) and `plain-handler`
//! (the ceiling reference). `bench/webhooks.sh` runs the whole comparison; `bench/README.md`
//! explains what is measured and how to read it.

pub mod payload;
pub mod report;
