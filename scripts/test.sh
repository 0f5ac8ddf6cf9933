#!/usr/bin/env bash
# Runs everything CI runs: formatting, lints, and the whole test suite on SQLite and Postgres.
#
#   scripts/test.sh
#
# Postgres: the tests create (and drop) a database per test through TEST_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/postgres). If nothing answers there and this machine has a
# Debian Postgres cluster, it is started. TEST_POSTGRES=skip runs the SQLite half only.
#
# Browser tests (crates/cli/tests/browser.rs, scripts in browser/) drive Debian's Chromium with
# playwright-core: Chromium is installed when /usr/bin/chromium is missing, and browser/'s
# packages when browser/node_modules is missing or older than browser/package-lock.json.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

pg_url="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_ready() { pg_isready -q -d "$pg_url" 2>/dev/null; }

if [[ "${TEST_POSTGRES:-}" != "skip" ]]; then
  if ! pg_ready; then
    if command -v pg_ctlcluster >/dev/null && [[ -d /etc/postgresql ]]; then
      for version in $(ls /etc/postgresql); do
        echo "==> starting Postgres $version"
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
      done
      for _ in $(seq 1 60); do pg_ready && break; sleep 0.5; done
    fi
  fi
  if ! pg_ready; then
    echo "test: Postgres does not answer at $pg_url." >&2
    echo "      Start it, point TEST_POSTGRES_URL at one, or run with TEST_POSTGRES=skip." >&2
    exit 1
  fi
fi

if [[ ! -x /usr/bin/chromium ]]; then
  echo "==> installing Chromium for the browser tests"
  sudo=""
  if [[ "$(id -u)" -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
if [[ ! -d browser/node_modules || browser/package-lock.json -nt browser/node_modules ]]; then
  echo "==> npm ci --prefix browser"
  npm ci --prefix browser --no-audit --no-fund --loglevel=error
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --all-targets --locked
echo "==> all green"
