//! The benchmarks are the binaries in `src/bin/` and the scripts `bench/webhooks.sh` and
//! `bench/sandbox.sh`.

#![expect(
    clippy::print_stdout,
    reason = "a pointer for whoever runs the package by name"
)]

fn main() {
    println!(
        "guichet-bench: run `bench/webhooks.sh` for the webhook-ingest comparison and \
         `bench/sandbox.sh` for the sandbox's sends and status webhooks, or the binaries \
         `webhook-load`, `sandbox-load` and `plain-handler` (see bench/README.md)."
    );
}
