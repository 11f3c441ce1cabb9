#!/usr/bin/env bash
# Runs one parley-bench scenario against a freshly started Parley server on
# 127.0.0.1, then stops the server. Every figure in docs/benchmarks.md was
# taken this way.
#
#   crates/parley-bench/scripts/bench.sh <scenario> [parley-bench flags...]
#
# PARLEY: the server binary (default target/release/parley).
# BENCH:  the generator (default target/release/parley-bench, built with
#         `cargo build --release -p parley-server -p parley-bench`).
# PORT:   the port to listen on (default 7070).
# NICE:   a niceness for the server and the generator (such as -10, as
#         root), so that other work on a shared machine takes what is left.
# CHRT:   a real-time policy for both instead (such as "-r 1", as root):
#         on a machine busy with other work, a niceness still lets every
#         wake-up of the server or the generator wait for another process's
#         time slice; a real-time policy runs them at once, as on a
#         dedicated machine (the kernel keeps 5% for the others).
# JSON:   a file for the JSON report (optional).
# PERF:   a file for a `perf record` profile of the server (optional);
#         PERF_FLAGS adds flags (default: -F 999, cpu-clock, no call graph);
#         PERF_DELAY (seconds) skips the opening phase.
#
# PARLEY_DATABASE_URL: a PostgreSQL URL for the store (default: SQLite in
#         the temporary data dir); give it a fresh database per run.
#
# NODES:  run a cluster of this many nodes (ports PORT, PORT+1, …) with
#         `[cluster] broker = "redis"` over a Redis of their own, started
#         on port PORT+100 and stopped at the end (REDIS_SERVER: its
#         binary, default redis-server); the generator gets every node's
#         URL and pid (connections spread round-robin, HTTP publishing on
#         the first node), and the Redis's CPU seconds over the run are
#         printed at the end. Unset: one node with the in-memory broker.
#
# The server gets max_connections = 19000, no per-connection command limit
# to speak of (commands_per_second and command_burst at a million: a closed
# loop of 100 writers past 10,000 messages/s is 100 commands per second per
# connection, the default limit), a namespace `bench` that allows
# publishing, a namespace `room` with presence, a persisted namespace `chat`
# (no rate limit) for the chat scenario, a persisted namespace `limited`
# whose rate is checked for every message but never reached (what the
# limiter costs: with NODES, in Redis), a namespace `docs` of live
# documents that clients write, a namespace `recovery` that keeps
# the newest 100 publications of each channel in memory (for up to a
# minute) for the reconnect-storm scenario, and a temporary data dir that
# is removed at the end. The load average is printed before and after.
set -euo pipefail

scenario=${1:?usage: bench.sh <scenario> [flags...]}
shift
root=$(cd "$(dirname "$0")/../../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
PARLEY=${PARLEY:-$target/release/parley}
BENCH=${BENCH:-$target/release/parley-bench}
PORT=${PORT:-7070}

work=$(mktemp -d /tmp/parley-bench.XXXXXX)
cat >"$work/parley.toml" <<'EOF'
max_connections = 19000
commands_per_second = 1000000
command_burst = 1000000

[namespaces.bench]
allow_publish = true

[namespaces.room]
presence = true

[namespaces.chat]
persist = true

[namespaces.recovery]
history_size = 100
history_ttl = "1m"

[namespaces.limited]
persist = true
rate = "1000000/s"

[namespaces.docs]
persist = true
documents = true
allow_publish = true
document_rate = "100000/s"
EOF

export PARLEY_APP_SECRET=bench-secret-0123456789abcdef
export PARLEY_API_KEY=bench-api-key
export PARLEY_LOG=${PARLEY_LOG:-warn}

nice=()
if [ -n "${CHRT:-}" ]; then
  # shellcheck disable=SC2206
  nice=(chrt $CHRT)
elif [ -n "${NICE:-}" ]; then
  nice=(nice -n "$NICE")
fi
pids=()
urls=()
redis_pid=
cleanup() {
  for node in "${pids[@]}" $redis_pid; do
    kill "$node" 2>/dev/null || true
    wait "$node" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${NODES:-}" ]; then
  redis_port=$((PORT + 100))
  "${nice[@]}" "${REDIS_SERVER:-redis-server}" --port "$redis_port" --bind 127.0.0.1 \
    --save "" --appendonly no >"$work/redis.log" 2>&1 &
  redis_pid=$!
  export PARLEY_CLUSTER_BROKER=redis
  export PARLEY_CLUSTER_REDIS_URL="redis://127.0.0.1:$redis_port"
  export PARLEY_CLUSTER_PREFIX="bench-$$"
fi
for node in $(seq 0 $((${NODES:-1} - 1))); do
  port=$((PORT + node))
  PARLEY_CLUSTER_NODE="node-$node" "${nice[@]}" "$PARLEY" serve --config "$work/parley.toml" \
    --data-dir "$work/data-$node" --listen "127.0.0.1:$port" >"$work/server-$node.log" 2>&1 &
  pids+=($!)
  urls+=("http://127.0.0.1:$port")
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.05
  done
done
pid=${pids[0]}
redis_cpu() {
  # utime + stime of the Redis, in clock ticks.
  awk '{print $14 + $15}' "/proc/$redis_pid/stat"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if [ -n "$redis_pid" ]; then
  redis_before=$(redis_cpu)
fi
json_flags=()
if [ -n "${JSON:-}" ]; then
  json_flags=(--json "$JSON")
fi
perf_pid=
if [ -n "${PERF:-}" ]; then
  # shellcheck disable=SC2086
  (sleep "${PERF_DELAY:-0}" && exec "${nice[@]}" perf record -e cpu-clock -F 999 ${PERF_FLAGS:-} \
    -p "$pid" -o "$PERF") >"$work/perf.log" 2>&1 &
  perf_pid=$!
fi
# shellcheck disable=SC2086
"${nice[@]}" $BENCH "$scenario" --url "$(IFS=,; echo "${urls[*]}")" \
  --server-pid "$(IFS=,; echo "${pids[*]}")" "${json_flags[@]}" "$@"
if [ -n "$perf_pid" ]; then
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" 2>/dev/null || true
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
if [ -n "$redis_pid" ]; then
  echo "redis cpu: $(( $(redis_cpu) - redis_before )) ticks of 1/$(getconf CLK_TCK) s" >&2
fi
