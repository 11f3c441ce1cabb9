#!/usr/bin/env bash
# Runs schemathesis against a live Parley server and its own OpenAPI
# document (GET /api/v1/openapi.json): generated requests to every route of
# /api/v1, with an API key, checked for
#   - no 5xx (not_a_server_error),
#   - only the statuses the document names (status_code_conformance; every
#     operation has a `default` error response, so this checks the body of
#     every error as well),
#   - the content type the document names (content_type_conformance),
#   - bodies that match the document's schemas (response_schema_conformance).
# It fails on any finding. Bounded: MAX_EXAMPLES per operation and phase,
# and MAX_TIME seconds for the whole run, so CI spends about two minutes.
# A second, shorter pass (USER_MAX_TIME) sends a user's token instead of the
# API key to the routes only a user may call (reactions, uploads).
#
# schemathesis is installed from PyPI, at the pinned version, into a venv
# under target/ (reused by later runs).
#
#   scripts/schemathesis.sh [path/to/parley]   (default target/debug/parley)
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
MAX_EXAMPLES=${MAX_EXAMPLES:-15}
MAX_TIME=${MAX_TIME:-100}
USER_MAX_TIME=${USER_MAX_TIME:-20}

target=${CARGO_TARGET_DIR:-target}
case "$target" in
  /*) ;;
  *) target="$(pwd)/$target" ;;
esac
parley=${1:-$target/debug/parley}
[ -x "$parley" ] || { echo "no server binary at $parley (cargo build -p parley-server)"; exit 1; }

venv="$target/schemathesis-venv"
if [ ! -x "$venv/bin/schemathesis" ] \
  || [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))')" != "$SCHEMATHESIS_VERSION" ]; then
  echo "== installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

work=$(mktemp -d /tmp/parley-schemathesis.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
key=schemathesis-api-key
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A persisted namespace with presence, so that the chat routes reach their
# handlers' logic rather than stopping at "this namespace does not persist
# messages"; SQLite in a scratch directory.
settings=(
  PATH=/usr/bin:/bin
  PARLEY_LISTEN="127.0.0.1:$port"
  PARLEY_DATA_DIR="$work"
  PARLEY__NAMESPACES__CHAT__PERSIST=true
  PARLEY__NAMESPACES__CHAT__PRESENCE=true
  PARLEY_APP_SECRET=schemathesis-secret-0123456789abcdef
  PARLEY_API_KEY="$key"
)
env -i "${settings[@]}" "$parley" serve >"$work/log" 2>&1 &
pid=$!

ready=
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
    ready=1
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$ready" ] || { echo "the server did not become ready"; cat "$work/log"; exit 1; }

# A few messages, so that reads and changes of message 1, 2, ... find one.
for text in one two three; do
  curl -fsS -X POST "http://127.0.0.1:$port/api/v1/messages" \
    -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d "{\"channel\":\"chat:lobby\",\"text\":\"$text\",\"user\":\"alice\"}" >/dev/null
done

# A user's token for the routes only users call, minted from the same
# settings as the server's.
user_token=$(env -i "${settings[@]}" "$parley" token --user alice --ttl 1h)

# run BEARER MAX_TIME [FILTER...]
# One worker: with two, a run under load once ended in an internal error of
# schemathesis (a KeyError in its schema-to-strategy cache, shared between
# worker threads), which is not a finding about the server.
# In the scratch directory: schemathesis keeps a cache of the failures it
# found (.schemathesis/) in its working directory and replays them, and a
# run must not depend on an earlier one.
run() {
  local bearer=$1 max_time=$2
  shift 2
  (cd "$work" && "$venv/bin/schemathesis" run "http://127.0.0.1:$port/api/v1/openapi.json" \
    --header "Authorization: Bearer $bearer" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "$MAX_EXAMPLES" \
    --max-time "$max_time" \
    --workers 1 \
    --request-timeout 10 \
    --seed 1 \
    --no-color \
    "$@")
}

status=0
echo "== every operation, with the API key"
run "$key" "$MAX_TIME" || status=$?
echo "== the operations of users, with a user's token"
run "$user_token" "$USER_MAX_TIME" --include-tag-regex '^(reactions|uploads)$' || status=$?

if [ "$status" -ne 0 ]; then
  echo "== schemathesis found problems; the server's log:"
  tail -n 50 "$work/log"
fi
exit "$status"
