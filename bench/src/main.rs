//! The benchmarks are the binaries in `src/bin/` and the script `bench/webhooks.sh`.

#![expect(
    clippy::print_stdout,
    reason = "a pointer for whoever runs the package by name"
)]

fn main() {
    println!(
        "guichet-bench: run `bench/webhooks.sh` for the webhook-ingest comparison, or the \
         binaries `webhook-load` and `plain-handler` (see bench/README.md)."
    );
}
