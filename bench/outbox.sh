#!/usr/bin/env bash
# Outbox benchmark (not a test): drain throughput of the release `worker` with the `log` sink on
# 10,000 pending events, with one and with two workers, and commit -> delivery latency with
# LISTEN/NOTIFY. Each figure is the median of RUNS runs (default 3). Needs PostgreSQL and psql.
#
#   bench/outbox.sh                       # builds the release binaries first
#   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/keel_bench RUNS=5 bench/outbox.sh
#
# The database named in BENCH_DATABASE_URL is dropped and re-created. Workers log every event
# (the log sink, at info, as JSON) to /dev/null: the cost of formatting the line is measured.
set -euo pipefail
cd "$(dirname "$0")/.."

URL="${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/keel_bench}"
RUNS="${RUNS:-3}"
EVENTS="${EVENTS:-10000}"
LATENCY_EVENTS="${LATENCY_EVENTS:-200}"
BATCH="${OUTBOX_DISPATCH_BATCH_SIZE:-100}"
TARGET="${CARGO_TARGET_DIR:-target}"
ADMIN_URL="${URL%/*}/postgres"
DB_NAME="${URL##*/}"

echo "building release binaries (cargo build --release)…" >&2
cargo build --release --quiet
API="$TARGET/release/api"
WORKER="$TARGET/release/worker"

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
trap stop_workers EXIT

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

# Latency: an idle worker (poll interval 60 s, so only NOTIFY wakes it) and LATENCY_EVENTS
# single-event transactions 20 ms apart; lag = processed_at - created_at (the transaction's
# start, so the commit is included).
p50s=()
p99s=()
for run in $(seq "$RUNS"); do
  psql_q "TRUNCATE outbox_events RESTART IDENTITY" >/dev/null
  start_worker 60
  sleep 1
  for i in $(seq "$LATENCY_EVENTS"); do
    echo "INSERT INTO outbox_events (event_key, topic, payload) VALUES (gen_random_uuid(), 'post.created', '{\"post_id\": $i, \"owner_id\": 1}');"
    echo "SELECT pg_sleep(0.02);"
  done | psql -X -q -v ON_ERROR_STOP=1 "$URL" >/dev/null
  until [ "$(psql_q "SELECT count(*) FROM outbox_events WHERE status = 'completed'")" -eq "$LATENCY_EVENTS" ]; do
    sleep 0.05
  done
  stop_workers
  read -r p50 p99 < <(psql_q "SELECT
      1000 * extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY processed_at - created_at)),
      1000 * extract(epoch FROM percentile_cont(0.99) WITHIN GROUP (ORDER BY processed_at - created_at))
    FROM outbox_events" | tr '|' ' ')
  printf 'latency: run %d: p50 %.2f ms, p99 %.2f ms\n' "$run" "$p50" "$p99" >&2
  p50s+=("$p50")
  p99s+=("$p99")
done
printf 'RESULT commit->delivery latency with NOTIFY (%d events): median p50 %.2f ms, median p99 %.2f ms\n' \
  "$LATENCY_EVENTS" "$(printf '%s\n' "${p50s[@]}" | median)" "$(printf '%s\n' "${p99s[@]}" | median)"
