#!/usr/bin/env bash
# Webhook-ingest benchmark: posts signed, realistic WhatsApp webhooks at 64 connections to each
# target and prints the results table (see bench/README.md).
#
#   bench/webhooks.sh                      # all targets: plain pywa guichet-sqlite guichet-postgres
#   bench/webhooks.sh plain pywa           # only these, in this order
#   bench/webhooks.sh pywa pywa-sync       # pywa's async client (the "pywa" reference) and its
#                                          # sync client (slower; not run by default)
#
# Settings (environment):
#   BENCH_CONNECTIONS=64        concurrent keep-alive connections
#   BENCH_REQUESTS=200000       measured requests for plain and guichet targets
#   BENCH_WARMUP=20000          unmeasured requests sent first
#   BENCH_PYWA_REQUESTS=20000   measured requests for pywa (it is much slower)
#   BENCH_PYWA_WARMUP=2000
#   BENCH_PYWA_WORKERS=nproc    uvicorn worker processes for pywa (one per core)
#   BENCH_LOAD_THREADS=nproc    worker threads of the load generator
#   BENCH_DRAIN_TIMEOUT=60      seconds to wait for guichet_ingest_backlog to reach 0
#   BENCH_QUIET_WAIT=30         seconds to wait, before each target, for other work on the
#                               machine to stop (it is sampled for 1 s; 10 % busy is too busy)
#   BENCH_PG_HOST=127.0.0.1 BENCH_PG_PORT=5432 BENCH_PG_USER=postgres
#                               Postgres server for guichet-postgres (trust auth); a fresh
#                               database is created for the run and dropped after
#   BENCH_SKIP_BUILD=1          use the binaries already built
#   BENCH_RESULTS_DIR=bench/results
#   PYTHON=python3              Python used to create bench/.venv
#   CARGO_TARGET_DIR            where cargo puts the binaries (default: <repo>/target)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"

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
PYWA_REQUESTS="${BENCH_PYWA_REQUESTS:-20000}"
PYWA_WARMUP="${BENCH_PYWA_WARMUP:-2000}"
PYWA_WORKERS="${BENCH_PYWA_WORKERS:-$NPROC}"
LOAD_THREADS="${BENCH_LOAD_THREADS:-$NPROC}"
DRAIN_TIMEOUT="${BENCH_DRAIN_TIMEOUT:-60}"
QUIET_WAIT="${BENCH_QUIET_WAIT:-30}"
PG_HOST="${BENCH_PG_HOST:-127.0.0.1}"
PG_PORT="${BENCH_PG_PORT:-5432}"
PG_USER="${BENCH_PG_USER:-postgres}"
RESULTS_DIR="${BENCH_RESULTS_DIR:-$BENCH_DIR/results}"
PYTHON="${PYTHON:-python3}"
VENV="$BENCH_DIR/.venv"

# The same identity for every target, so that they all receive identical webhooks.
APP_SECRET="bench-app-secret-$RANDOM$RANDOM"
VERIFY_TOKEN="bench-verify-token"
PHONE_NUMBER_ID="106540352242922"
WABA_ID="102290129340398"
WEBHOOK_PATH="/webhooks/whatsapp"

ALL_TARGETS=(plain pywa guichet-sqlite guichet-postgres)

# shellcheck source=bench/common.sh
source "$BENCH_DIR/common.sh"

EXTRA_TARGETS=(pywa-sync)
select_targets "$@"

WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/guichet-bench.XXXXXX")"
SERVER_PID=""
PG_DB=""
GUICHET_BUILD_FAILED=0

drop_pg_db() {
  if [[ -n "$PG_DB" ]]; then
    psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -q -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 ||
      log "could not drop database $PG_DB"
    PG_DB=""
  fi
}

cleanup() {
  stop_server
  drop_pg_db
  rm -rf "$WORK_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Sum of the samples of a Prometheus metric, or nothing when it is absent.
metric_value() {
  local url="$1" name="$2"
  curl -sf --max-time 5 "$url" 2>/dev/null | awk -v name="$name" '
    $1 == name || index($1, name "{") == 1 { sum += $NF; found = 1 }
    END { if (found) printf "%.0f\n", sum }'
}

# Waits for guichet_ingest_backlog to read 0; prints the seconds it took, or a note.
wait_drain() {
  local metrics_url="$1" value start now elapsed
  start="$(date +%s.%N)"
  value="$(metric_value "$metrics_url" guichet_ingest_backlog || true)"
  if [[ -z "$value" ]]; then
    echo "no metric"
    return 0
  fi
  while true; do
    now="$(date +%s.%N)"
    elapsed="$(awk -v a="$start" -v b="$now" 'BEGIN { printf "%.2f", b - a }')"
    if [[ "$value" == 0 ]]; then
      echo "$elapsed"
      return 0
    fi
    if awk -v e="$elapsed" -v t="$DRAIN_TIMEOUT" 'BEGIN { exit !(e >= t) }'; then
      echo "timeout (backlog $value after ${DRAIN_TIMEOUT} s)"
      return 0
    fi
    sleep 0.2
    value="$(metric_value "$metrics_url" guichet_ingest_backlog || true)"
    [[ -n "$value" ]] || value="?"
  done
}

build() {
  if [[ "${BENCH_SKIP_BUILD:-0}" == 1 ]]; then
    log "skipping the build (BENCH_SKIP_BUILD=1)"
    return 0
  fi
  log "building the bench binaries (release)"
  (cd "$REPO_DIR" && cargo build --release -p guichet-bench \
    --bin webhook-load --bin plain-handler --bin webhook-table)
  if wants guichet-sqlite || wants guichet-postgres; then
    log "building guichet (release)"
    if ! (cd "$REPO_DIR" && cargo build --release -p guichet --bin guichet); then
      log "guichet did not build: its targets will be skipped"
      GUICHET_BUILD_FAILED=1
    fi
  fi
}

setup_venv() {
  local req="$BENCH_DIR/pywa/requirements.txt" stamp="$VENV/.requirements.txt"
  if [[ -x "$VENV/bin/uvicorn" ]] && cmp -s "$req" "$stamp"; then
    log "reusing $VENV"
    return 0
  fi
  log "creating $VENV with bench/pywa/requirements.txt"
  command -v "$PYTHON" >/dev/null || die "$PYTHON is required for the pywa target"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$stamp"
}

# run_load TARGET URL REQUESTS WARMUP [extra webhook-load args...]
run_load() {
  local target="$1" url="$2" requests="$3" warmup="$4"
  shift 4
  "$RELEASE_DIR/webhook-load" --url "$url" --app-secret "$APP_SECRET" \
    --connections "$CONNECTIONS" --requests "$requests" --warmup "$warmup" \
    --threads "$LOAD_THREADS" --phone-number-id "$PHONE_NUMBER_ID" --waba-id "$WABA_ID" \
    --label "$target" --json-out "$WORK_DIR/$target.json" --server-pid "$SERVER_PID" "$@"
}

reports=()
drains=()
notes=()
failed=()

# Each target runs alone: start the server on a free port, wait until it answers, load it,
# stop it. A target that fails is reported and the others still run.
run_target() {
  local target="$1" port url server_log="$WORK_DIR/$1.log"
  if [[ "$target" == guichet-* && "$GUICHET_BUILD_FAILED" == 1 ]]; then
    failed+=("$target=guichet did not build")
    return 1
  fi
  wait_quiet "$target"
  port="$(free_port)"
  url="http://127.0.0.1:$port$WEBHOOK_PATH"
  local ready_url="$url" ready_mode=any load_requests="$REQUESTS" load_warmup="$WARMUP"
  local extra=()

  case "$target" in
    plain)
      "$RELEASE_DIR/plain-handler" --listen "127.0.0.1:$port" >"$server_log" 2>&1 &
      SERVER_PID=$!
      ;;
    pywa | pywa-sync)
      load_requests="$PYWA_REQUESTS"
      load_warmup="$PYWA_WARMUP"
      ready_url="$url?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=$VERIFY_TOKEN"
      ready_mode=ok
      extra=(--check-bad-signature)
      BENCH_APP_SECRET="$APP_SECRET" BENCH_VERIFY_TOKEN="$VERIFY_TOKEN" \
        BENCH_PHONE_NUMBER_ID="$PHONE_NUMBER_ID" BENCH_WABA_ID="$WABA_ID" \
        BENCH_PYWA_SYNC="$([[ "$target" == pywa-sync ]] && echo 1 || echo 0)" \
        "$VENV/bin/uvicorn" receiver:app --app-dir "$BENCH_DIR/pywa" \
        --host 127.0.0.1 --port "$port" --workers "$PYWA_WORKERS" \
        --log-level warning --no-access-log >"$server_log" 2>&1 &
      SERVER_PID=$!
      ;;
    guichet-sqlite | guichet-postgres)
      local db_url
      if [[ "$target" == guichet-sqlite ]]; then
        mkdir -p "$WORK_DIR/sqlite"
        : >"$WORK_DIR/sqlite/bench.db"
        db_url="sqlite:$WORK_DIR/sqlite/bench.db"
      else
        command -v psql >/dev/null || { failed+=("$target=psql not found"); return 1; }
        PG_DB="guichet_bench_$(date +%s)_$RANDOM"
        if ! psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -q -v ON_ERROR_STOP=1 \
          -c "CREATE DATABASE \"$PG_DB\"" >"$server_log" 2>&1; then
          show_log "$server_log"
          PG_DB=""
          failed+=("$target=could not create a database on $PG_HOST:$PG_PORT")
          return 1
        fi
        db_url="postgres://$PG_USER@$PG_HOST:$PG_PORT/$PG_DB"
        # When Postgres runs on this machine, count its CPU time too (its postmaster pid is the
        # first line of postmaster.pid in its data directory).
        local data_dir pg_pid
        data_dir="$(psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc 'SHOW data_directory' 2>/dev/null || true)"
        pg_pid="$(head -n 1 "$data_dir/postmaster.pid" 2>/dev/null || true)"
        if [[ "$pg_pid" =~ ^[0-9]+$ ]] && kill -0 "$pg_pid" 2>/dev/null; then
          extra+=(--database-pid "$pg_pid")
        fi
      fi
      ready_url="http://127.0.0.1:$port/readyz"
      ready_mode=ok
      extra+=(--check-bad-signature)
      GUICHET_LISTEN="127.0.0.1:$port" GUICHET_DATABASE_URL="$db_url" \
        GUICHET_APP_SECRET="$APP_SECRET" GUICHET_VERIFY_TOKEN="$VERIFY_TOKEN" \
        GUICHET_PHONE_NUMBER_ID="$PHONE_NUMBER_ID" GUICHET_WABA_ID="$WABA_ID" \
        GUICHET_ACCESS_TOKEN=bench GUICHET_API_TOKEN=bench-api-token-0123456789 RUST_LOG=warn \
        "$RELEASE_DIR/guichet" serve >>"$server_log" 2>&1 &
      SERVER_PID=$!
      ;;
  esac

  log "$target: started (pid $SERVER_PID) on 127.0.0.1:$port, waiting until it answers"
  if ! wait_ready "$ready_url" "$ready_mode"; then
    log "$target: $NOT_READY"
    show_log "$server_log"
    stop_server
    drop_pg_db
    failed+=("$target=$NOT_READY")
    return 1
  fi

  if ! run_load "$target" "$url" "$load_requests" "$load_warmup" "${extra[@]}"; then
    show_log "$server_log"
    stop_server
    drop_pg_db
    failed+=("$target=the load generator failed")
    return 1
  fi

  if [[ "$target" == guichet-* ]]; then
    local drain
    drain="$(wait_drain "http://127.0.0.1:$port/metrics")"
    log "$target: backlog drain: $drain"
    drains+=("$target=$drain")
  fi

  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    log "$target: the server exited during the run"
    notes+=("$target=**the server exited during the run**")
    show_log "$server_log"
  fi
  stop_server
  drop_pg_db
  reports+=("$WORK_DIR/$target.json")
}

build
if wants pywa || wants pywa-sync; then
  setup_venv
fi

for t in "${targets[@]}"; do
  run_target "$t" || log "$t: FAILED"
done

mkdir -p "$RESULTS_DIR"
command_line="bench/webhooks.sh${*:+ $*}"
for var in BENCH_CONNECTIONS BENCH_REQUESTS BENCH_WARMUP BENCH_PYWA_REQUESTS BENCH_PYWA_WARMUP \
  BENCH_PYWA_WORKERS BENCH_LOAD_THREADS; do
  if [[ -n "${!var:-}" ]]; then
    command_line="$var=${!var} $command_line"
  fi
done
describe_machine
meta=(
  --meta "command=\`$command_line\`"
  "${machine_meta[@]}"
  --meta "load generator=webhook-load, $CONNECTIONS connections, $LOAD_THREADS threads, on the same machine"
)
if wants pywa || wants pywa-sync; then
  meta+=(--meta "pywa=$(grep -E '^(pywa|fastapi|uvicorn)' "$BENCH_DIR/pywa/requirements.txt" | tr '\n' ' ' | sed 's/ $//'), $("$VENV/bin/python" --version 2>&1), $PYWA_WORKERS uvicorn workers; target pywa runs the pywa_async client, pywa-sync the sync pywa client")
fi
if wants guichet-postgres; then
  meta+=(--meta "postgres=$(psql -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc 'SHOW server_version' 2>/dev/null || echo unknown)")
fi
table_args=("${meta[@]}")
for d in "${drains[@]}"; do table_args+=(--drain "$d"); done
for n in "${notes[@]}"; do table_args+=(--note "$n"); done
for f in "${failed[@]}"; do table_args+=(--failed "$f"); done

echo
"$RELEASE_DIR/webhook-table" "${table_args[@]}" \
  --markdown-out "$RESULTS_DIR/webhooks-latest.md" \
  --json-out "$RESULTS_DIR/webhooks-latest.json" \
  "${reports[@]}"
log "wrote $RESULTS_DIR/webhooks-latest.md and webhooks-latest.json"

if [[ ${#failed[@]} -gt 0 ]]; then
  log "failed targets: ${failed[*]}"
  exit 1
fi
