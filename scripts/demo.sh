#!/usr/bin/env bash
# Runs guichet on the embedded default (SQLite), feeds it a few signed webhooks shaped like
# Meta's, and shows the conversations they became. Ctrl-C stops it.
#
#   scripts/demo.sh            # listens on 127.0.0.1:8080
#   PORT=9000 scripts/demo.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"

for tool in cargo curl openssl; do
  command -v "$tool" >/dev/null || { echo "demo: \`$tool\` is needed (install it and retry)" >&2; exit 1; }
done

port="${PORT:-8080}"
base="http://127.0.0.1:$port"
data="${DEMO_DIR:-$root/target/demo}"
mkdir -p "$data"
rm -f "$data"/demo.db*

echo "==> building guichet (release)"
cargo build --release --locked -p guichet
bin="${CARGO_TARGET_DIR:-$root/target}/release/guichet"

export GUICHET_LISTEN="127.0.0.1:$port"
export GUICHET_DATABASE_URL="sqlite:$data/demo.db"
export GUICHET_APP_SECRET="demo-app-secret"
export GUICHET_VERIFY_TOKEN="demo-verify-token"
export GUICHET_PHONE_NUMBER_ID="106540352242922"
export GUICHET_WABA_ID="102290129340398"
export GUICHET_ACCESS_TOKEN="demo-access-token"
export GUICHET_API_TOKEN="demo-api-token-0123456789"

"$bin" serve &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT INT TERM

for _ in $(seq 1 100); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/readyz" >/dev/null || { echo "demo: guichet did not become ready" >&2; exit 1; }

echo "==> Meta's verification handshake"
echo "    GET /webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=…&hub.challenge=1158201444"
echo "    -> $(curl -fsS "$base/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=$GUICHET_VERIFY_TOKEN&hub.challenge=1158201444")"

echo "==> posting signed webhooks (X-Hub-Signature-256 = HMAC-SHA256 of the exact bytes)"
for file in "$here"/demo/*.json; do
  sig="sha256=$(openssl dgst -sha256 -hmac "$GUICHET_APP_SECRET" -r "$file" | cut -d' ' -f1)"
  answer="$(curl -sS -X POST "$base/webhooks/whatsapp" -H 'content-type: application/json' \
    -H "x-hub-signature-256: $sig" --data-binary "@$file")"
  printf '    %-28s %s\n' "$(basename "$file")" "$answer"
done
echo "    a replay of the first one:   $(curl -sS -X POST "$base/webhooks/whatsapp" \
  -H "x-hub-signature-256: sha256=$(openssl dgst -sha256 -hmac "$GUICHET_APP_SECRET" -r "$here/demo/01-breakdown.json" | cut -d' ' -f1)" \
  --data-binary "@$here/demo/01-breakdown.json")"
echo "    with a forged signature:     $(curl -sS -X POST "$base/webhooks/whatsapp" \
  -H "x-hub-signature-256: sha256=$(printf '0%.0s' $(seq 1 64))" --data-binary "@$here/demo/01-breakdown.json")"
sleep 0.5

pretty() {
  if command -v jq >/dev/null; then jq .
  elif command -v python3 >/dev/null; then python3 -m json.tool
  else cat; echo
  fi
}
auth="Authorization: Bearer $GUICHET_API_TOKEN"
echo "==> GET /api/v1/conversations"
curl -fsS -H "$auth" "$base/api/v1/conversations" | pretty
echo "==> GET /api/v1/conversations/1/messages"
curl -fsS -H "$auth" "$base/api/v1/conversations/1/messages" | pretty

cat <<MSG

guichet is running at $base on $GUICHET_DATABASE_URL. Try:
  curl -H '$auth' $base/api/v1/conversations
  curl -H '$auth' $base/api/v1/contacts/2
  curl $base/metrics
Press Ctrl-C to stop.
MSG
wait "$server"
