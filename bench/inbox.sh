#!/usr/bin/env bash
# Agent-inbox benchmark (see bench/src/bin/inbox-load.rs): `guichet serve` with a book of
# conversations written in through signed webhooks, an agent signed in, then the time of the
# inbox's pages one request at a time — the REST API's page of the same 50 conversations is the
# baseline measured in the same run — and of a customer's message reaching an open live feed.
#
#   bench/inbox.sh              # 5,000 conversations x 10 messages, on SQLite
#
# Settings (environment):
#   BENCH_DATABASE_URL    a Postgres URL of an empty database instead of a fresh SQLite file
#   BENCH_CONVERSATIONS=5000  BENCH_MESSAGES=10
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
  (cd "$REPO_DIR" && cargo build --release -p guichet --bin guichet -p guichet-bench --bin inbox-load)
fi

db=()
if [[ -n "${BENCH_DATABASE_URL:-}" ]]; then
  db=(--database-url "$BENCH_DATABASE_URL")
fi

out="$RESULTS_DIR/inbox-load.json"
"$RELEASE_DIR/inbox-load" --guichet "$RELEASE_DIR/guichet" "${db[@]}" \
  --conversations "${BENCH_CONVERSATIONS:-5000}" --messages "${BENCH_MESSAGES:-10}" \
  2>/dev/null | tee "$out"
printf '==> results in %s\n' "$out" >&2
