#!/usr/bin/env bash
# Outbox benchmark (not a test): drain throughput of the release `worker` with the `log` sink on
# 10,000 pending events, with one and with two workers, and commit -> delivery latency of events
# written through the release `api` (its wake-ups after the commit, the worker's LISTEN), idle
# and under a write load. Each figure is the median of RUNS runs (default 3). Needs PostgreSQL,
# psql, curl and wrk (installed with apt-get when missing).
#
#   bench/outbox.sh                       # builds the release binaries first
#   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/keel_bench RUNS=5 bench/outbox.sh
#   KEEL_API_BIN=… KEEL_WORKER_BIN=… bench/outbox.sh    # prebuilt binaries, nothing is built
#
# The database named in BENCH_DATABASE_URL is dropped and re-created. Workers log every event
# (the log sink, at info, as JSON) to /dev/null: the cost of formatting the line is measured.
set -euo pipefail
cd "$(dirname "$0")/.."

URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/keel_bench}"
RUNS="${RUNS:-3}"
EVENTS="${EVENTS:-10000}"
LATENCY_EVENTS="${LATENCY_EVENTS:-200}"
LOAD_SECONDS="${LOAD_SECONDS:-10}"
BATCH="${OUTBOX_DISPATCH_BATCH_SIZE:-100}"
ADMIN_URL="${URL%/*}/postgres"
DB_NAME="${URL##*/}"
# bench/lib.sh: api_start/api_stop, bench_require.
source bench/lib.sh
bench_require wrk:wrk curl:curl
if [ -z "${KEEL_API_BIN:-}" ] || [ -z "${KEEL_WORKER_BIN:-}" ]; then
  echo "building release binaries (cargo build --release)…" >&2
  cargo build --release --quiet
fi
API="${KEEL_API_BIN:-$CARGO_TARGET_DIR/release/api}"
WORKER="${KEEL_WORKER_BIN:-$CARGO_TARGET_DIR/release/worker}"
DATABASE_URL="$URL"
PORT="${PORT:-18000}"
BENCH_WORK=$(mktemp -d)

psql_q() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$URL" -c "$1"; }

psql -X -q -v ON_ERROR_STOP=1 "$ADMIN_URL" -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" \
  -c "CREATE DATABASE \"$DB_NAME\"" >/dev/null
DATABASE_URL="$URL" "$API" migrate up >/dev/null

pids=()
stop_workers() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_workers; api_stop; rm -rf "$BENCH_WORK"' EXIT

start_worker() {
  DATABASE_URL="$URL" WORKER_PORT=0 OUTBOX_SINKS=log LOG_FORMAT=json RUST_LOG=info \
    OUTBOX_DISPATCH_BATCH_SIZE="$BATCH" OUTBOX_DISPATCH_INTERVAL_SECONDS="${1:-15}" \
    "$WORKER" run >/dev/null 2>&1 &
  pids+=("$!")
}

seed() {
  psql_q "TRUNCATE outbox_events RESTART IDENTITY" >/dev/null
  psql_q "INSERT INTO outbox_events (event_key, topic, payload)
          SELECT gen_random_uuid(), 'post.created', jsonb_build_object('post_id', g, 'owner_id', 1)
          FROM generate_series(1, $EVENTS) AS g" >/dev/null
}

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# Seconds for N workers to deliver EVENTS pending events, from their start to the last commit.
drain() {
  local workers=$1 started done
  seed
  started=$(date +%s.%N)
  for _ in $(seq "$workers"); do start_worker; done
  until [ "$(psql_q "SELECT count(*) FROM outbox_events WHERE status = 'completed'")" -eq "$EVENTS" ]; do
    sleep 0.02
  done
  done=$(date +%s.%N)
  stop_workers
  echo "$done - $started" | bc -l
}

for workers in 1 2; do
  results=()
  for run in $(seq "$RUNS"); do
    seconds=$(drain "$workers")
    rate=$(echo "$EVENTS / $seconds" | bc -l)
    printf 'drain: %d worker(s), run %d: %.3f s, %.0f events/s\n' "$workers" "$run" "$seconds" "$rate" >&2
    results+=("$rate")
  done
  m=$(printf '%s\n' "${results[@]}" | median)
  printf 'RESULT drain %d worker(s), %d events, batch %d: median %.0f events/s (%.0f per worker)\n' \
    "$workers" "$EVENTS" "$BATCH" "$m" "$(echo "$m / $workers" | bc -l)"
done

# Latency through the api: an idle worker (poll interval 60 s, so only wake-ups count), then
# (a) LATENCY_EVENTS posts created one at a time, 20 ms apart, and (b) LOAD_SECONDS of wrk -t2
# -c32 creating posts (under load). Lag = processed_at - created_at of each post.created event
# (created_at is taken inside the write transaction, so the commit is included).
api_start
base="http://127.0.0.1:$PORT/api/v1"
curl -fs -o /dev/null -H 'content-type: application/json' \
  -d '{"email":"outbox-bench@example.com","password":"outbox-bench-password"}' "$base/users"
token=$(curl -fs -d "username=outbox-bench%40example.com&password=outbox-bench-password" "$base/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
echo "$token" >"$BENCH_WORK/tokens"

lag_percentiles() {
  psql_q "SELECT
      1000 * extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY processed_at - created_at)),
      1000 * extract(epoch FROM percentile_cont(0.99) WITHIN GROUP (ORDER BY processed_at - created_at)),
      count(*)
    FROM outbox_events WHERE topic = 'post.created'" | tr '|' ' '
}

wait_completed() {
  until [ "$(psql_q "SELECT count(*) FROM outbox_events WHERE status <> 'completed'")" -eq 0 ]; do
    sleep 0.05
  done
}

for phase in idle load; do
  p50s=()
  p99s=()
  for run in $(seq "$RUNS"); do
    psql_q "TRUNCATE outbox_events RESTART IDENTITY" >/dev/null
    start_worker 60
    sleep 1
    if [ "$phase" = idle ]; then
      for i in $(seq "$LATENCY_EVENTS"); do
        curl -fs -o /dev/null -H "authorization: Bearer $token" -H 'content-type: application/json' \
          -d "{\"title\":\"Latency $i\",\"content\":\"one at a time\"}" "$base/posts"
        sleep 0.02
      done
    else
      BENCH_TOKENS="$BENCH_WORK/tokens" wrk -t2 -c32 -d"${LOAD_SECONDS}s" -s bench/wrk/create.lua \
        "http://127.0.0.1:$PORT" >"$BENCH_WORK/wrk.out" 2>&1
    fi
    wait_completed
    stop_workers
    read -r p50 p99 n < <(lag_percentiles)
    printf 'latency %s: run %d: %d events, p50 %.2f ms, p99 %.2f ms\n' "$phase" "$run" "$n" "$p50" "$p99" >&2
    p50s+=("$p50")
    p99s+=("$p99")
  done
  printf 'RESULT commit->delivery latency through the api, %s: median p50 %.2f ms, median p99 %.2f ms\n' \
    "$phase" "$(printf '%s\n' "${p50s[@]}" | median)" "$(printf '%s\n' "${p99s[@]}" | median)"
done
