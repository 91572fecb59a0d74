#!/usr/bin/env bash
# What the Redis rate limiter costs: throughput of the authenticated post list
# (GET /api/v1/posts?limit=10) of a release `api` on PostgreSQL, measured with wrk, with the
# in-process limiter (REDIS_URL unset), with the Redis limiter (REDIS_URL set), and with rate
# limiting off for reference. The runs alternate so that drift on a shared machine hits every
# variant alike; the report gives each variant's median and the Redis/in-process ratio (the
# issue's bar: the Redis limiter costs at most 10 %, i.e. ratio >= 0.90).
#
#   bench/rate-limit.sh                      # 3 rounds of 10 s per variant
#   ROUNDS=5 DURATION=20s bench/rate-limit.sh
#
# Needs: PostgreSQL at PGHOST/PGPORT (default 127.0.0.1:5432, role postgres, may create
# databases), Redis at REDIS_URL (default redis://127.0.0.1:6379), wrk (apt-get install wrk),
# curl, python3. Uses the shared cargo target dir; builds the release binary if needed.
# Everything runs on this machine's loopback and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
PORT="${PORT:-18080}"
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
BENCH_REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
DB="keel_bench_rate_limit"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keel-target}"
API="${KEEL_API_BIN:-$CARGO_TARGET_DIR/release/api}"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }
if [ -z "${KEEL_API_BIN:-}" ]; then
  cargo build --release -p keel-api --quiet
fi
redis-cli -u "$BENCH_REDIS_URL" ping >/dev/null || { echo "Redis does not answer at $BENCH_REDIS_URL" >&2; exit 2; }

psql -h "$PGHOST" -p "$PGPORT" -U postgres -qc "DROP DATABASE IF EXISTS $DB" postgres
psql -h "$PGHOST" -p "$PGPORT" -U postgres -qc "CREATE DATABASE $DB" postgres
DATABASE_URL="postgres://postgres@$PGHOST:$PGPORT/$DB"
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Starts api with the variant's extra environment; waits for /ready.
start() {
  (
    cd "$work"
    exec env -i PATH="$PATH" HOME="$HOME" \
      HOST=127.0.0.1 PORT="$PORT" DATABASE_URL="$DATABASE_URL" ENVIRONMENT=development \
      SECRET_KEY=bench-secret-key-0123456789abcdef0123 LOG_FORMAT=json RUST_LOG=warn \
      RATE_LIMIT_READ_LIMIT=1000000000 RATE_LIMIT_WRITE_LIMIT=1000000000 \
      RATE_LIMIT_LOGIN_LIMIT=1000000000 RATE_LIMIT_REGISTER_LIMIT=1000000000 \
      "$@" "$API" >"$work/api.log" 2>&1
  ) &
  pid=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "api did not become ready:" >&2
  cat "$work/api.log" >&2
  exit 1
}

stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
}

# Seed once: a user, 50 posts (the list returns 10 with their votes and owners).
start
base="http://127.0.0.1:$PORT/api/v1"
curl -fs -o /dev/null -H 'content-type: application/json' \
  -d '{"email":"bench@example.com","password":"bench-password"}' "$base/users"
token=$(curl -fs -d 'username=bench@example.com&password=bench-password' "$base/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
for i in $(seq 1 50); do
  curl -fs -o /dev/null -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"title\":\"post $i\",\"content\":\"content of post $i\"}" "$base/posts"
done
stop

declare -A results
variants=(in-process redis off)
for round in $(seq 1 "$ROUNDS"); do
  for variant in "${variants[@]}"; do
    case "$variant" in
      in-process) start ;;
      redis) start REDIS_URL="$BENCH_REDIS_URL" RATE_LIMIT_KEY_PREFIX="bench:$$:" RATE_LIMIT_FAIL_OPEN=false ;;
      off) start RATE_LIMIT_ENABLED=false ;;
    esac
    # Check the variant is what it claims (headers present or not), then warm up.
    headers=$(curl -fs -D - -o /dev/null -H "authorization: Bearer $token" "$base/posts?limit=10")
    if [ "$variant" = off ]; then
      ! grep -qi '^x-ratelimit-limit' <<<"$headers" || { echo "limiter still on" >&2; exit 1; }
    else
      grep -qi '^x-ratelimit-limit' <<<"$headers" || { echo "$variant: no rate-limit headers" >&2; exit 1; }
    fi
    wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -H "Authorization: Bearer $token" "$base/posts?limit=10" >/dev/null
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H "Authorization: Bearer $token" "$base/posts?limit=10")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    if [ -n "$non2xx" ]; then
      echo "$variant: $non2xx non-2xx responses" >&2
      exit 1
    fi
    results[$variant]+="$rps "
    printf 'round %s  %-10s %10s req/s\n' "$round" "$variant" "$rps"
    stop
  done
done

python3 - "${results[in-process]}" "${results[redis]}" "${results[off]}" <<'EOF'
import statistics, sys
names = ["in-process", "redis", "off"]
runs = {n: [float(x) for x in s.split()] for n, s in zip(names, sys.argv[1:])}
medians = {n: statistics.median(v) for n, v in runs.items()}
for n in names:
    print(f"{n:>10}: median {medians[n]:9.0f} req/s  runs {', '.join(f'{x:.0f}' for x in runs[n])}")
ratio = medians["redis"] / medians["in-process"]
print(f"redis / in-process = {ratio:.3f}  (cost {100 * (1 - ratio):.1f} %; bar: <= 10 %)")
print(f"redis / off        = {medians['redis'] / medians['off']:.3f}")
EOF
psql -h "$PGHOST" -p "$PGPORT" -U postgres -qc "DROP DATABASE IF EXISTS $DB" postgres
