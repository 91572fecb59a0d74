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
# databases), Redis at REDIS_URL (default redis://127.0.0.1:6379), wrk (installed with apt-get
# when missing), curl, python3. Uses the shared cargo target dir; builds the release binary
# unless KEEL_API_BIN is set. Shared parts: bench/lib.sh. Everything runs on this machine's
# loopback and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-3}"
DURATION="${DURATION:-10s}"
PORT="${PORT:-18080}"
BENCH_REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
DB="keel_bench_rate_limit"
. bench/lib.sh

bench_require wrk:wrk curl:curl redis-cli:redis-tools
bench_build_api
redis-cli -u "$BENCH_REDIS_URL" ping >/dev/null || { echo "Redis does not answer at $BENCH_REDIS_URL" >&2; exit 2; }

bench_fresh_db "$DB"
BENCH_WORK=$(mktemp -d)
trap 'api_stop; rm -rf "$BENCH_WORK"' EXIT

# Seed once: a user, 50 posts (the list returns 10 with their votes and owners).
api_start
bench_small_seed
token=$BENCH_TOKEN
base="http://127.0.0.1:$PORT/api/v1"
api_stop

declare -A results
variants=(in-process redis off)
for round in $(seq 1 "$ROUNDS"); do
  for variant in "${variants[@]}"; do
    case "$variant" in
      in-process) api_start ;;
      redis) api_start REDIS_URL="$BENCH_REDIS_URL" RATE_LIMIT_KEY_PREFIX="bench:$$:" RATE_LIMIT_FAIL_OPEN=false ;;
      off) api_start RATE_LIMIT_ENABLED=false ;;
    esac
    # Check the variant is what it claims (headers present or not), then warm up.
    headers=$(curl -fs -D - -o /dev/null -H "authorization: Bearer $token" "$base/posts?limit=10")
    if [ "$variant" = off ]; then
      ! grep -qi '^x-ratelimit-limit' <<<"$headers" || { echo "limiter still on" >&2; exit 1; }
    else
      grep -qi '^x-ratelimit-limit' <<<"$headers" || { echo "$variant: no rate-limit headers" >&2; exit 1; }
    fi
    rps=$(bench_wrk_rps "$variant" "$DURATION" -H "Authorization: Bearer $token" "$base/posts?limit=10")
    results[$variant]+="$rps "
    printf 'round %s  %-10s %10s req/s\n' "$round" "$variant" "$rps"
    api_stop
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
bench_psql postgres -c "DROP DATABASE IF EXISTS $DB"
