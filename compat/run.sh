#!/usr/bin/env bash
# Runs third-party WhatsApp Cloud API clients, unchanged but for where they send requests,
# against `guichet sandbox` (see compat/README.md and docs/COMPATIBILITY.md).
#
#   compat/run.sh            # pywa, then whatsapp-api-js
#   compat/run.sh pywa       # one of them: pywa | js
#
# Each library gets a fresh sandbox on a free local port, stopped when its check ends (and on any
# exit, by a trap). The binary is $GUICHET_BIN when set; otherwise `cargo build -p guichet` is run
# and ${CARGO_TARGET_DIR:-<repo>/target}/debug/guichet used. Needs python3 (>= 3.11) with venv,
# node (>= 20) with npm, and curl. Exits non-zero if any check failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
CHECK_TIMEOUT=${COMPAT_CHECK_TIMEOUT:-300}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(pywa js)
for t in "${targets[@]}"; do
    case $t in
        pywa | js) ;;
        *)
            echo "unknown target '$t' (pywa or js)" >&2
            exit 2
            ;;
    esac
done

for tool in python3 node npm curl; do
    command -v "$tool" >/dev/null || {
        echo "compat/run.sh needs $tool" >&2
        exit 2
    }
done

if [ -n "${GUICHET_BIN:-}" ]; then
    bin=$GUICHET_BIN
else
    echo "== cargo build -p guichet"
    (cd "$repo" && cargo build -p guichet)
    bin=${CARGO_TARGET_DIR:-$repo/target}/debug/guichet
fi
[ -x "$bin" ] || {
    echo "no guichet binary at $bin" >&2
    exit 2
}

work=$(mktemp -d)
sandbox_pid=""
stop_sandbox() {
    if [ -n "$sandbox_pid" ]; then
        kill "$sandbox_pid" 2>/dev/null || true
        wait "$sandbox_pid" 2>/dev/null || true
        sandbox_pid=""
    fi
}
cleanup() {
    stop_sandbox
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts a fresh sandbox on a free port; sets SANDBOX_URL.
start_sandbox() {
    local name=$1 port
    port=$(free_port)
    "$bin" sandbox --listen "127.0.0.1:$port" >"$work/sandbox-$name.log" 2>&1 &
    sandbox_pid=$!
    SANDBOX_URL="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do
        if curl -fsS -o /dev/null --max-time 1 "$SANDBOX_URL/_sandbox"; then
            return 0
        fi
        if ! kill -0 "$sandbox_pid" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "the sandbox did not start on port $port; its log:" >&2
    cat "$work/sandbox-$name.log" >&2
    return 1
}

setup_pywa() {
    local venv=$here/.venv stamp
    stamp=$(sha256sum "$here/pywa/requirements.txt" | cut -d' ' -f1)
    if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements-sha256" 2>/dev/null)" != "$stamp" ]; then
        echo "== installing compat/pywa/requirements.txt into compat/.venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/pywa/requirements.txt"
        echo "$stamp" >"$venv/.requirements-sha256"
    fi
}

setup_js() {
    local stamp
    stamp=$(sha256sum "$here/js/package-lock.json" | cut -d' ' -f1)
    if [ "$(cat "$here/js/node_modules/.lock-sha256" 2>/dev/null)" != "$stamp" ]; then
        echo "== npm ci in compat/js"
        (cd "$here/js" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$stamp" >"$here/js/node_modules/.lock-sha256"
    fi
}

run_check() {
    local name=$1
    shift
    echo
    echo "== $name"
    start_sandbox "$name" || return 1
    local status=0
    SANDBOX_URL=$SANDBOX_URL timeout "$CHECK_TIMEOUT" "$@" || status=$?
    stop_sandbox
    if [ "$status" -eq 124 ]; then
        echo "FAIL  $name: timed out after ${CHECK_TIMEOUT} s" >&2
    fi
    if [ "$status" -ne 0 ]; then
        echo "-- last lines of the sandbox's log:"
        tail -n 15 "$work/sandbox-$name.log" || true
    fi
    return "$status"
}

declare -A outcome=()
failed=0
for t in "${targets[@]}"; do
    case $t in
        pywa)
            setup_pywa
            if run_check pywa "$here/.venv/bin/python" "$here/pywa/check.py"; then outcome[$t]=ok; else
                outcome[$t]=FAILED
                failed=1
            fi
            ;;
        js)
            setup_js
            if run_check whatsapp-api-js node "$here/js/check.mjs"; then outcome[$t]=ok; else
                outcome[$t]=FAILED
                failed=1
            fi
            ;;
    esac
done

echo
echo "== summary"
for t in "${targets[@]}"; do
    echo "$t: ${outcome[$t]}"
done
exit "$failed"
