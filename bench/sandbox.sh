#!/usr/bin/env bash
# Sandbox benchmark: Graph API text sends at `guichet sandbox`, with the status webhooks that
# follow them counted by a receiver the load generator runs, next to the plain handler answering
# the same sends (see bench/README.md).
#
#   bench/sandbox.sh                       # all targets: plain sandbox sandbox-paced
#   bench/sandbox.sh sandbox-paced         # only some targets, in this order
#
# Targets:
#   plain            plain-handler answers each send at once with a fixed Meta-shaped body: the
#                    ceiling of the machine for this request (sends only, no webhooks)
#   sandbox          the sandbox, closed loop: every connection sends as soon as it has its
#                    previous answer, then the run waits for every status
#   sandbox-paced    the sandbox, open loop at BENCH_RATE sends/s: does it keep up, statuses
#                    included, and how late do the statuses come
#
# Settings (environment):
#   BENCH_CONNECTIONS=64        concurrent keep-alive connections
#   BENCH_REQUESTS=200000       measured sends of plain and sandbox
#   BENCH_WARMUP=20000          unmeasured sends made first
#   BENCH_RATE=5000             sends per second of sandbox-paced
#   BENCH_PACED_REQUESTS=150000 measured sends of sandbox-paced (30 s at 5,000/s)
#   BENCH_PACED_WARMUP=10000
#   BENCH_CUSTOMERS             simulated customers the sends go to, round robin (default: at most
#                               40 sends each, for the pair rate, and at least 2,000)
#   BENCH_STATUSES=read         statuses every send must get: sent, delivered or read (all three)
#   BENCH_STATUS_TIMEOUT=30     give up waiting for statuses after this many seconds without one
#   BENCH_BATCH_MAX=1           `guichet sandbox --batch-max`: updates per webhook POST (1, as Meta
#                               does when it is not under pressure)
#   BENCH_LOAD_THREADS=nproc    worker threads of the load generator and its receiver
#   BENCH_QUIET_WAIT=30         seconds to wait, before each target, for other work on the
#                               machine to stop (it is sampled for 1 s; 10 % busy is too busy)
#   BENCH_SKIP_BUILD=1          use the binaries already built
#   BENCH_RESULTS_DIR=bench/results
#   CARGO_TARGET_DIR            where cargo puts the binaries (default: <repo>/target)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
# shellcheck source=bench/common.sh
source "$BENCH_DIR/common.sh"

target_dir="${CARGO_TARGET_DIR:-$REPO_DIR/target}"
if [[ "$target_dir" != /* ]]; then
  target_dir="$PWD/$target_dir"
fi
export CARGO_TARGET_DIR="$target_dir"
RELEASE_DIR="$target_dir/release"

NPROC="$(nproc)"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
REQUESTS="${BENCH_REQUESTS:-200000}"
WARMUP="${BENCH_WARMUP:-20000}"
RATE="${BENCH_RATE:-5000}"
PACED_REQUESTS="${BENCH_PACED_REQUESTS:-150000}"
PACED_WARMUP="${BENCH_PACED_WARMUP:-10000}"
CUSTOMERS="${BENCH_CUSTOMERS:-}"
STATUSES="${BENCH_STATUSES:-read}"
STATUS_TIMEOUT="${BENCH_STATUS_TIMEOUT:-30}"
BATCH_MAX="${BENCH_BATCH_MAX:-1}"
LOAD_THREADS="${BENCH_LOAD_THREADS:-$NPROC}"
QUIET_WAIT="${BENCH_QUIET_WAIT:-30}"
RESULTS_DIR="${BENCH_RESULTS_DIR:-$BENCH_DIR/results}"

APP_SECRET="bench-app-secret-$RANDOM$RANDOM"
ACCESS_TOKEN="bench-access-token-$RANDOM$RANDOM"
PHONE_NUMBER_ID="106540352242922"
WABA_ID="102290129340398"
# Meta's throughput limit (80 messages/s by default) would refuse almost every send: the
# benchmark measures the sandbox, not the limit.
THROUGHPUT_MPS=1000000

ALL_TARGETS=(plain sandbox sandbox-paced)

select_targets "$@"

WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/guichet-bench.XXXXXX")"
SERVER_PID=""

cleanup() {
  stop_server
  rm -rf "$WORK_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build() {
  if [[ "${BENCH_SKIP_BUILD:-0}" == 1 ]]; then
    log "skipping the build (BENCH_SKIP_BUILD=1)"
    return 0
  fi
  log "building guichet and the bench binaries (release)"
  (cd "$REPO_DIR" && cargo build --release -p guichet --bin guichet -p guichet-bench \
    --bin sandbox-load --bin plain-handler --bin sandbox-table)
}

reports=()
notes=()
failed=()

# Each target runs alone: start the server on a free port, wait until it answers, load it,
# stop it. A target that fails is reported and the others still run.
run_target() {
  local target="$1" port server_log="$WORK_DIR/$1.log" ready_url
  local requests="$REQUESTS" warmup="$WARMUP" load=()
  wait_quiet "$target"
  port="$(free_port)"
  case "$target" in
    plain)
      "$RELEASE_DIR/plain-handler" --listen "127.0.0.1:$port" >"$server_log" 2>&1 &
      SERVER_PID=$!
      ready_url="http://127.0.0.1:$port/"
      load+=(--baseline)
      ;;
    sandbox | sandbox-paced)
      RUST_LOG=warn "$RELEASE_DIR/guichet" sandbox --listen "127.0.0.1:$port" \
        --app-secret "$APP_SECRET" --access-token "$ACCESS_TOKEN" \
        --phone-number-id "$PHONE_NUMBER_ID" --waba-id "$WABA_ID" \
        --batch-max "$BATCH_MAX" --throughput-mps "$THROUGHPUT_MPS" >"$server_log" 2>&1 &
      SERVER_PID=$!
      ready_url="http://127.0.0.1:$port/_sandbox"
      load+=(--statuses "$STATUSES" --status-timeout "$STATUS_TIMEOUT")
      if [[ -n "$CUSTOMERS" ]]; then
        load+=(--customers "$CUSTOMERS")
      fi
      if [[ "$target" == sandbox-paced ]]; then
        requests="$PACED_REQUESTS"
        warmup="$PACED_WARMUP"
        load+=(--rate "$RATE")
      fi
      ;;
  esac

  log "$target: started (pid $SERVER_PID) on 127.0.0.1:$port, waiting until it answers"
  if ! wait_ready "$ready_url" any; then
    log "$target: $NOT_READY"
    show_log "$server_log"
    stop_server
    failed+=("$target=$NOT_READY")
    return 1
  fi

  if ! BENCH_APP_SECRET="$APP_SECRET" BENCH_ACCESS_TOKEN="$ACCESS_TOKEN" \
    "$RELEASE_DIR/sandbox-load" --url "http://127.0.0.1:$port" \
    --phone-number-id "$PHONE_NUMBER_ID" --connections "$CONNECTIONS" \
    --threads "$LOAD_THREADS" --label "$target" --json-out "$WORK_DIR/$target.json" \
    --requests "$requests" --warmup "$warmup" --server-pid "$SERVER_PID" "${load[@]}"; then
    show_log "$server_log"
    stop_server
    failed+=("$target=the load generator failed")
    return 1
  fi

  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    log "$target: the server exited during the run"
    notes+=("$target=**the server exited during the run**")
    show_log "$server_log"
  fi
  stop_server
  reports+=("$WORK_DIR/$target.json")
}

build

for t in "${targets[@]}"; do
  run_target "$t" || log "$t: FAILED"
done

mkdir -p "$RESULTS_DIR"
command_line="bench/sandbox.sh${*:+ $*}"
for var in BENCH_CONNECTIONS BENCH_REQUESTS BENCH_WARMUP BENCH_RATE BENCH_PACED_REQUESTS \
  BENCH_PACED_WARMUP BENCH_CUSTOMERS BENCH_STATUSES BENCH_BATCH_MAX BENCH_LOAD_THREADS; do
  if [[ -n "${!var:-}" ]]; then
    command_line="$var=${!var} $command_line"
  fi
done
describe_machine
table_args=(
  --meta "command=\`$command_line\`"
  "${machine_meta[@]}"
  --meta "sandbox=\`guichet sandbox --batch-max $BATCH_MAX --throughput-mps $THROUGHPUT_MPS\`, RUST_LOG=warn"
  --meta "load generator=sandbox-load, $CONNECTIONS connections, $LOAD_THREADS threads, its webhook receiver on the same threads, on the same machine"
)
for n in "${notes[@]}"; do table_args+=(--note "$n"); done
for f in "${failed[@]}"; do table_args+=(--failed "$f"); done

echo
"$RELEASE_DIR/sandbox-table" "${table_args[@]}" \
  --markdown-out "$RESULTS_DIR/sandbox-latest.md" \
  --json-out "$RESULTS_DIR/sandbox-latest.json" \
  "${reports[@]}"
log "wrote $RESULTS_DIR/sandbox-latest.md and sandbox-latest.json"

if [[ ${#failed[@]} -gt 0 ]]; then
  log "failed targets: ${failed[*]}"
  exit 1
fi
