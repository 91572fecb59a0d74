#!/usr/bin/env bash
# keel's HTTP benchmark suite (`just bench`): seeds a realistic data set into a fresh
# PostgreSQL database with SQL, starts the release `api` on it, drives each scenario with wrk at
# CONNECTIONS connections, replays the SQL keel sends for the list and get routes with pgbench
# at the same concurrency (the database's ceiling for them), and writes every run, the medians
# and their spread as JSON and Markdown (OUT, default bench/results). The method and the latest
# figures are in docs/performance.md.
#
#   bench/run.sh                                  # 3 rounds of 10 s per scenario
#   ROUNDS=5 DURATION=20s bench/run.sh
#   SCENARIOS="health list" CEILINGS=list bench/run.sh
#   SMOKE=1 KEEL_API_BIN=target/debug/api bench/run.sh   # CI: 2 s per scenario, small seed
#   KEEL_API_BIN=… ARGON2_PROBE=…/argon2-cpu bench/run.sh # prebuilt binaries, no cargo
#
# Ceilings (pgbench -M prepared, CONNECTIONS clients, the exact SQL of the route, bench/pgbench):
#   list, get, create, and vote (one script run = a vote added and deleted: counted as two);
#   create and vote run with the api's outbox wake-ups beside them (bench/pgbench/wake.sql)
# Scenarios (each against a freshly started api; the memory figures are that process's):
#   health      GET /health
#   list        GET /api/v1/posts?limit=10&skip=10*uniform(0..19), a random user's token
#   search      GET /api/v1/posts?limit=10&search=<one of 20 title words>
#   get         GET /api/v1/posts/{random published id}
#   create      POST /api/v1/posts
#   vote        POST /api/v1/vote, toggling per (user, post) pair (bench/wrk/vote.lua)
#   login       POST /api/v1/login (Argon2id), with a paced /health probe beside it
#   list-redis  list with the Redis rate limiter (REDIS_URL) instead of the in-process one
# Every scenario runs with rate limiting on (limits no run reaches). Each round runs every
# scenario, then the pgbench ceilings, so drift on a shared machine hits all of them alike.
# Calibration (CALIBRATION="nginx insert", the default; a subset, or CALIBRATION= to skip it):
# figures with nothing of keel in them, measured once per round, so targets set on another
# machine can be judged as shares on this one (the report's target table does):
#   nginx   nginx answering a fixed 200 on /health with the same wrk settings: what this
#           machine's network stack and wrk allow /health. It runs at the end of the round;
#   insert  pgbench committing a one-row INSERT (bench/pgbench/insert.sql into a table of its
#           own, CONNECTIONS clients, -M prepared): what this machine's PostgreSQL commits allow
#           the writes. It runs just before the round's first write scenario (create or vote).
#
# Needs PostgreSQL at PGHOST/PGPORT (role postgres, may create databases; the database DB,
# default keel_bench, is dropped and re-created) and Redis at BENCH_REDIS_URL for list-redis;
# installs wrk, pgbench (postgresql-contrib), curl and redis-tools with apt-get when missing.
# Builds the release api (and the Argon2 CPU probe) unless KEEL_API_BIN is set. Exits non-zero
# when any response was not 2xx or a socket error occurred.
set -euo pipefail
cd "$(dirname "$0")/.."

SMOKE="${SMOKE:-0}"
if [ "$SMOKE" = 1 ]; then
  ROUNDS="${ROUNDS:-1}" DURATION="${DURATION:-2s}" WARMUP="${WARMUP:-0}"
  USERS="${USERS:-100}" POSTS="${POSTS:-1000}" VOTES="${VOTES:-2000}" BENCH_USERS="${BENCH_USERS:-8}"
else
  ROUNDS="${ROUNDS:-3}" DURATION="${DURATION:-10s}" WARMUP="${WARMUP:-2s}"
  USERS="${USERS:-1000}" POSTS="${POSTS:-20000}" VOTES="${VOTES:-100000}"
fi
read -r -a SCENARIOS <<<"${SCENARIOS:-health list search get create vote login list-redis}"
read -r -a CEILINGS <<<"${CEILINGS:-list get create vote}"
BENCH_USERS="${BENCH_USERS:-64}"
PASSWORD="bench-password"
PORT="${PORT:-18090}"
DB="${DB:-keel_bench}"
OUT="${OUT:-bench/results}"
BENCH_REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379}"
read -r -a CALIBRATION <<<"${CALIBRATION-nginx insert}"
CALIBRATION_PORT="${CALIBRATION_PORT:-18091}"
. bench/lib.sh

bench_require wrk:wrk pgbench:postgresql-contrib curl:curl python3:python3
for calibration in ${CALIBRATION[@]+"${CALIBRATION[@]}"}; do
  case "$calibration" in
    nginx) bench_require nginx:nginx-light ;;
    insert) ;;
    *) echo "CALIBRATION holds nginx and/or insert, not $calibration" >&2; exit 2 ;;
  esac
done
for scenario in "${SCENARIOS[@]}"; do
  [ "$scenario" = list-redis ] && bench_require redis-cli:redis-tools
done
bench_build_api
# ARGON2_PROBE: a prebuilt argon2-cpu (with KEEL_API_BIN, nothing is built).
ARGON2_PROBE="${ARGON2_PROBE:-}"
if [ "$SMOKE" != 1 ] && [ -z "${KEEL_API_BIN:-}" ] && [ -z "$ARGON2_PROBE" ]; then
  cargo build --release -p keel-bench --bin argon2-cpu --quiet
  ARGON2_PROBE="$CARGO_TARGET_DIR/release/argon2-cpu"
fi

mkdir -p "$OUT"
BENCH_WORK=$(mktemp -d)
trap 'api_stop; rm -rf "$BENCH_WORK"' EXIT
RUNS="$BENCH_WORK/runs.jsonl"
: >"$RUNS"
duration_s=${DURATION%s}

# ---- data set ---------------------------------------------------------------------------
echo "seeding $DB: $USERS users, $POSTS posts, $VOTES votes…" >&2
seed_started=$(date +%s.%N)
bench_fresh_db "$DB"
api_start
base="http://127.0.0.1:$PORT/api/v1"
curl -fs -o /dev/null -H 'content-type: application/json' \
  -d "{\"email\":\"bench-00001@example.com\",\"password\":\"$PASSWORD\"}" "$base/users"
hash=$(bench_psql "$DB" -Atc "SELECT password_hash FROM users WHERE id = 1")
bench_psql "$DB" -v users="$USERS" -v posts="$POSTS" -v votes="$VOTES" \
  -v bench_users="$BENCH_USERS" -v hash="$hash" -f bench/seed.sql
# Tokens of users 1..BENCH_USERS, line i = user i (real logins, 4 at a time).
seq 1 "$BENCH_USERS" | xargs -P 4 -I{} sh -c '
  token=$(curl -fs -d "username=$(printf "bench-%05d%%40example.com" {})&password=$1" "$2/login" |
    python3 -c "import json,sys; print(json.load(sys.stdin)[\"access_token\"])")
  echo "{} $token"
' _ "$PASSWORD" "$base" | sort -n | cut -d' ' -f2 >"$BENCH_WORK/tokens"
[ "$(grep -c . "$BENCH_WORK/tokens")" -eq "$BENCH_USERS" ] || { echo "logins failed" >&2; exit 1; }
api_stop
# Each benchmark user's session family, for the pgbench scripts (they replay the session check
# of the user lookup), and statistics of the tables the logins filled: a table analysed while
# empty is planned as empty (a sequential scan), unlike a deployment's, which autovacuum keeps
# analysed.
bench_psql "$DB" -c "CREATE TABLE bench_sessions AS SELECT user_id AS n, id AS family FROM session_families" \
  -c "ALTER TABLE bench_sessions ADD PRIMARY KEY (n)" \
  -c "ANALYZE users, session_families, refresh_tokens, bench_sessions"
seed_seconds=$(echo "$(date +%s.%N) - $seed_started" | bc -l)
printf 'seeded in %.1f s (api start, register, SQL seed, %d logins)\n' "$seed_seconds" "$BENCH_USERS" >&2

# The token users (1..TOKEN_USERS) run every scenario but login, which picks any seeded user:
# the wrk scripts see BENCH_USERS = all of them.
TOKEN_USERS="$BENCH_USERS"
export BENCH_TOKENS="$BENCH_WORK/tokens" BENCH_USERS="$USERS" BENCH_POSTS="$POSTS" \
  BENCH_PASSWORD="$PASSWORD" BENCH_THREADS="$THREADS"

# ---- measurement helpers ----------------------------------------------------------------
# Busy and total jiffies of the whole machine.
machine_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
# CPU seconds of the PostgreSQL server processes alive now.
postgres_cpu_seconds() {
  local hz total=0 pid
  hz=$(getconf CLK_TCK)
  for pid in $(pgrep -u postgres -x postgres || true); do
    total=$(awk -v t="$total" '{ sub(/^.*\) /, ""); print t + $12 + $13 }' "/proc/$pid/stat" 2>/dev/null || echo "$total")
  done
  echo "$total $hz" | awk '{ printf "%.2f\n", $1 / $2 }'
}
load_average() { cut -d' ' -f1-3 /proc/loadavg; }

# The JSON line a wrk scenario script printed.
wrk_json() { sed -n 's/^BENCH_JSON //p' "$1"; }

# Clears the vote scenario's votes (the token users') and their counts.
reset_bench_votes() {
  bench_psql "$DB" -c "
    WITH gone AS (DELETE FROM votes WHERE user_id <= $TOKEN_USERS RETURNING post_id)
    UPDATE posts SET votes_count = posts.votes_count - c.n
    FROM (SELECT post_id, count(*) AS n FROM gone GROUP BY post_id) AS c
    WHERE posts.id = c.post_id"
}

failures=0
# The JSON line of a pgbench run (kind pgbench: a ceiling; calibration: the write calibration,
# its rate under `rps` like the other calibration): rate, average latency, failed transactions.
pgbench_json() { # kind round name load pgbench-output
  python3 - "$@" <<'PY'
import json, re, sys
kind, round_, name, load, out = sys.argv[1:]
script_tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
lat = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
failed = re.search(r"number of failed transactions: (\d+)", out)
run = dict(kind=kind, round=int(round_), scenario=name, latency_avg_ms=lat,
           failed=int(failed.group(1)) if failed else 0, load=load)
if kind == "pgbench":
    # One run of vote.sql is two votes (add, then delete): its figure is in votes per second.
    run.update(tps=script_tps * (2 if name == "vote" else 1), script_tps=script_tps)
else:
    run.update(rps=script_tps)
print(json.dumps(run))
PY
}

# Prints the last run's console line (stderr) and counts it as failed when any of its responses
# or transactions failed; $1 names what failed.
count_failures() {
  local failed
  failed=$(python3 bench/report.py --line "$(tail -n1 "$RUNS")")
  if [ "$failed" != 0 ]; then
    echo "$1: $failed" >&2
    failures=$((failures + 1))
  fi
}

run_scenario() { # round scenario
  local round=$1 scenario=$2 script=$2 extra=() idle rss cpu0 cpu1 pg0 pg1 m0 m1 load probe_pid=""
  case "$scenario" in
    health)
      # The probe's target holds with request logging at its default level (the api's own
      # default, `info`), not only with the `warn` of the other scenarios.
      extra=(RUST_LOG=info)
      ;;
    list-redis)
      script=list
      extra=(REDIS_URL="$BENCH_REDIS_URL" RATE_LIMIT_KEY_PREFIX="bench:$$:" RATE_LIMIT_FAIL_OPEN=false)
      ;;
  esac
  api_start "${extra[@]}"
  if [ "$scenario" = list-redis ]; then
    curl -fs -D - -o /dev/null -H "authorization: Bearer $(head -n1 "$BENCH_TOKENS")" \
      "$base/posts?limit=10" | grep -qi '^x-ratelimit-limit' ||
      { echo "list-redis: no rate-limit headers: the Redis limiter is not on" >&2; exit 1; }
  fi
  sleep 1
  idle=$(api_mem_kib VmRSS)
  if [ "$WARMUP" != 0 ]; then
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s "bench/wrk/$script.lua" "http://127.0.0.1:$PORT" >/dev/null
  fi
  if [ "$scenario" = vote ]; then
    # wrk stops with requests in flight; one the api finishes after the reset would leave a
    # vote the measured run then adds again (409). Let them land first.
    sleep 1
    reset_bench_votes
  fi
  load=$(load_average)
  cpu0=$(api_cpu_seconds) pg0=$(postgres_cpu_seconds) m0=$(machine_jiffies)
  if [ "$scenario" = login ]; then
    wrk -t1 -c2 -d"$DURATION" --timeout 5s -s bench/wrk/probe.lua "http://127.0.0.1:$PORT" \
      >"$BENCH_WORK/probe.out" &
    probe_pid=$!
  fi
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s -s "bench/wrk/$script.lua" \
    "http://127.0.0.1:$PORT" >"$BENCH_WORK/wrk.out"
  [ -n "$probe_pid" ] && wait "$probe_pid"
  cpu1=$(api_cpu_seconds) pg1=$(postgres_cpu_seconds) m1=$(machine_jiffies)
  rss=$(api_mem_kib VmHWM)
  api_stop
  local result probe="null"
  result=$(wrk_json "$BENCH_WORK/wrk.out")
  [ -n "$result" ] || { echo "$scenario: wrk printed no result:" >&2; cat "$BENCH_WORK/wrk.out" >&2; exit 1; }
  [ -n "$probe_pid" ] && probe=$(wrk_json "$BENCH_WORK/probe.out")
  python3 - "$round" "$scenario" "$result" "$probe" "$idle" "$rss" "$cpu0" "$cpu1" "$pg0" "$pg1" \
    "$m0 $m1" "$load" >>"$RUNS" <<'PY'
import json, sys
round_, scenario, result, probe, idle, rss, cpu0, cpu1, pg0, pg1, machine, load = sys.argv[1:]
r = json.loads(result)
busy0, total0, busy1, total1 = (float(x) for x in machine.split())
r.update(
    kind="http", round=int(round_), scenario=scenario,
    probe=json.loads(probe),
    idle_rss_mib=round(int(idle) / 1024, 1), peak_rss_mib=round(int(rss) / 1024, 1),
    api_cpu_s=round(float(cpu1) - float(cpu0), 2),
    postgres_cpu_s=round(float(pg1) - float(pg0), 2),
    machine_busy=round((busy1 - busy0) / max(total1 - total0, 1), 3),
    load=load,
)
print(json.dumps(r))
PY
  count_failures "$scenario: responses that were not 2xx or failed"
}

# One calibration run (see the header): `nginx` or `insert`.
run_calibration() { # round name
  case "$2" in
    nginx) run_nginx_calibration "$1" ;;
    insert) run_insert_calibration "$1" ;;
  esac
}

# pgbench committing a one-row INSERT into a table of its own (created and dropped here).
run_insert_calibration() { # round
  local round=$1 load out
  bench_psql "$DB" -q -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS calibration_inserts" \
    -c "CREATE TABLE calibration_inserts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())"
  load=$(load_average)
  out=$(pgbench -h "$PGHOST" -p "$PGPORT" -U postgres -n -M prepared -c "$CONNECTIONS" -j "$THREADS" \
    -T "$duration_s" -f bench/pgbench/insert.sql "$DB" 2>&1) || { echo "pgbench insert failed: $out" >&2; exit 1; }
  bench_psql "$DB" -q -c "DROP TABLE calibration_inserts"
  pgbench_json calibration "$round" insert "$load" "$out" >>"$RUNS"
  count_failures "insert calibration: failed transactions"
}

# nginx answering a fixed 200 on /health (its own process, as many workers as cores, no
# access log), driven like the health scenario: the machine's figure for a trivial HTTP/1.1
# server, against which /health is judged.
run_nginx_calibration() { # round
  local round=$1 conf="$BENCH_WORK/nginx" load nginx_pid i
  mkdir -p "$conf"
  cat >"$conf/nginx.conf" <<NGINX
daemon off;
worker_processes auto;
pid $conf/nginx.pid;
error_log $conf/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $conf/body; proxy_temp_path $conf/proxy;
  fastcgi_temp_path $conf/fastcgi; uwsgi_temp_path $conf/uwsgi; scgi_temp_path $conf/scgi;
  server {
    listen 127.0.0.1:$CALIBRATION_PORT;
    location / { default_type application/json; return 200 '{"status":"ok"}'; }
  }
}
NGINX
  nginx -c "$conf/nginx.conf" -p "$conf" &
  nginx_pid=$!
  for i in $(seq 1 50); do
    curl -fs "http://127.0.0.1:$CALIBRATION_PORT/health" >/dev/null 2>&1 && break
    kill -0 "$nginx_pid" 2>/dev/null || { echo "nginx did not start:" >&2; cat "$conf/error.log" >&2; exit 1; }
    sleep 0.1
  done
  if [ "$WARMUP" != 0 ]; then
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s bench/wrk/health.lua "http://127.0.0.1:$CALIBRATION_PORT" >/dev/null
  fi
  load=$(load_average)
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s -s bench/wrk/health.lua \
    "http://127.0.0.1:$CALIBRATION_PORT" >"$BENCH_WORK/wrk.out"
  kill -QUIT "$nginx_pid" 2>/dev/null || true
  wait "$nginx_pid" 2>/dev/null || true
  local result
  result=$(wrk_json "$BENCH_WORK/wrk.out")
  [ -n "$result" ] || { echo "nginx: wrk printed no result:" >&2; cat "$BENCH_WORK/wrk.out" >&2; exit 1; }
  python3 - "$round" "$result" "$load" >>"$RUNS" <<'PY'
import json, sys
round_, result, load = sys.argv[1:]
r = json.loads(result)
r.update(kind="calibration", round=int(round_), scenario="nginx", load=load)
print(json.dumps(r))
PY
  count_failures "nginx calibration: responses that were not 2xx or failed"
}

run_ceiling() { # round name
  local round=$1 name=$2 out load
  [ "$name" = vote ] && reset_bench_votes
  # The writes' outbox wake-ups, as the api sends them: one NOTIFY per 10 ms at most, on a
  # connection of its own with synchronous_commit off (bench/pgbench/wake.sql).
  local wake_pid=""
  if [ "$name" = create ] || [ "$name" = vote ]; then
    PGOPTIONS='-c synchronous_commit=off' pgbench -h "$PGHOST" -p "$PGPORT" -U postgres -n -M prepared \
      -c 1 -R 100 -T "$duration_s" -f bench/pgbench/wake.sql "$DB" >/dev/null 2>&1 &
    wake_pid=$!
  fi
  load=$(load_average)
  out=$(pgbench -h "$PGHOST" -p "$PGPORT" -U postgres -n -M prepared -c "$CONNECTIONS" -j "$THREADS" \
    -T "$duration_s" -D posts="$POSTS" -D bench_users="$TOKEN_USERS" -D pages="${BENCH_LIST_PAGES:-20}" \
    -f "bench/pgbench/$name.sql" "$DB" 2>&1) || { echo "pgbench $name failed: $out" >&2; exit 1; }
  [ -z "$wake_pid" ] || wait "$wake_pid" || true
  pgbench_json pgbench "$round" "$name" "$load" "$out" >>"$RUNS"
  count_failures "pgbench $name: failed transactions"
}

# Back to the seeded data set: the posts (and outbox events) the create and vote scenarios
# added go, and VACUUM refreshes the visibility map the feed's index-only scan relies on.
reset_data_set() {
  bench_psql "$DB" -c "DELETE FROM posts WHERE id > $POSTS" -c "DELETE FROM outbox_events" \
    -c "VACUUM ANALYZE posts"
}

# ---- the runs ---------------------------------------------------------------------------
# The write calibration runs just before the round's first write scenario: next to the writes
# it calibrates, so the drift of a shared machine's pace between them is as small as a round
# allows (its position itself, after the reads or after the ceilings' writes, made no
# measurable difference: docs/performance.md). Without a write scenario, at the end of the
# round with the others.
for round in $(seq 1 "$ROUNDS"); do
  reset_data_set
  inserts_done=0
  for scenario in "${SCENARIOS[@]}"; do
    if { [ "$scenario" = create ] || [ "$scenario" = vote ]; } && [ "$inserts_done" = 0 ] \
      && [[ " ${CALIBRATION[*]-} " == *" insert "* ]]; then
      run_calibration "$round" insert
      inserts_done=1
    fi
    run_scenario "$round" "$scenario"
  done
  for name in "${CEILINGS[@]}"; do
    run_ceiling "$round" "$name"
  done
  for calibration in ${CALIBRATION[@]+"${CALIBRATION[@]}"}; do
    [ "$calibration" = insert ] && [ "$inserts_done" = 1 ] && continue
    run_calibration "$round" "$calibration"
  done
done

argon2="null"
if [ -n "$ARGON2_PROBE" ]; then
  argon2=$("$ARGON2_PROBE")
fi

python3 bench/report.py --runs "$RUNS" --out "$OUT" --argon2 "$argon2" \
  --meta "$(python3 - "$CONNECTIONS" "$THREADS" "$DURATION" "$WARMUP" "$ROUNDS" "$USERS" "$POSTS" \
    "$VOTES" "$SMOKE" "$seed_seconds" "$API" <<'PY'
import json, os, platform, subprocess, sys
c, t, d, w, r, u, p, v, smoke, seed, api = sys.argv[1:]
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""
print(json.dumps(dict(
    connections=int(c), wrk_threads=int(t), duration=d, warmup=w, rounds=int(r),
    users=int(u), posts=int(p), votes=int(v), smoke=smoke == "1", seed_seconds=round(float(seed), 1),
    api_binary=os.path.basename(os.path.dirname(api)) + "/" + os.path.basename(api),
    commit=sh("git rev-parse --short HEAD"),
    cores=os.cpu_count(), cpu=sh("awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo"),
    memory=sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo"),
    kernel=platform.release(), postgres=sh("psql -X -Atc 'SHOW server_version' -h ${PGHOST:-127.0.0.1} -U postgres postgres"),
    wrk=sh("wrk -v 2>&1 | head -n1"), date=sh("date -u +%Y-%m-%dT%H:%MZ"),
)))
PY
)"
if [ "$failures" -ne 0 ]; then
  echo "$failures scenario run(s) had responses that were not 2xx" >&2
  exit 1
fi
