#!/usr/bin/env bash
# Send-rate benchmark: guichet's sender against the sandbox (see bench/src/bin/send-rate.rs).
# Each case queues the messages with sending paused (the enqueue latency), then restarts guichet
# with sending on and measures the sustained rate between 5 % and 95 % of the sends, against the
# cap of the numbers, and how many sends the sandbox refused (130429 / 131056).
#
#   bench/send.sh              # every case, on SQLite
#
# Cases: 4 numbers at 80 msg/s (10,000 messages to 500 customers) and 1 number at 1,000 msg/s
# (20,000 messages to 10,000 customers), each with guichet's default headroom (0.97) and, as the
# baseline measured in the same run, pacing at the cap itself (headroom 1.0).
#
# Settings (environment):
#   BENCH_DATABASE_URL    a Postgres URL of an empty database instead of a fresh SQLite file
#   BENCH_SKIP_BUILD=1    use the binaries already built
#   BENCH_RESULTS_DIR=bench/results
#   CARGO_TARGET_DIR      where cargo puts the binaries (default: <repo>/target)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$REPO_DIR/target}"
[[ "$target_dir" == /* ]] || target_dir="$PWD/$target_dir"
export CARGO_TARGET_DIR="$target_dir"
RELEASE_DIR="$target_dir/release"
RESULTS_DIR="${BENCH_RESULTS_DIR:-$BENCH_DIR/results}"
mkdir -p "$RESULTS_DIR"

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  (cd "$REPO_DIR" && cargo build --release -p guichet --bin guichet -p guichet-bench --bin send-rate)
fi

db=()
if [[ -n "${BENCH_DATABASE_URL:-}" ]]; then
  db=(--database-url "$BENCH_DATABASE_URL")
fi

out="$RESULTS_DIR/send-rate.jsonl"
: >"$out"
for headroom in 0.97 1.0; do
  for case in "4 80 10000 500" "1 1000 20000 10000"; do
    read -r numbers mps messages customers <<<"$case"
    printf '==> %s number(s) at %s msg/s, %s messages, headroom %s\n' \
      "$numbers" "$mps" "$messages" "$headroom" >&2
    "$RELEASE_DIR/send-rate" --guichet "$RELEASE_DIR/guichet" "${db[@]}" \
      --numbers "$numbers" --mps "$mps" --messages "$messages" --customers "$customers" \
      --headroom "$headroom" 2>/dev/null | tee -a "$out"
  done
done
printf '==> results in %s\n' "$out" >&2
