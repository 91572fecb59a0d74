# Shared by the benchmark scripts of bench/ (sourced, not run): prerequisites, the release
# binary, a fresh database, starting and stopping `api` with benchmark settings, its memory and
# CPU figures, and a small seed for the scripts that need only one user and a few posts.
#
# Settings (environment): PGHOST, PGPORT (127.0.0.1:5432, role postgres, may create databases),
# PORT (api port), CONNECTIONS (32), THREADS (2), KEEL_API_BIN (use this binary instead of
# building the release one), CARGO_TARGET_DIR.

PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keel-target}"
API="${KEEL_API_BIN:-$CARGO_TARGET_DIR/release/api}"
BENCH_SECRET_KEY="bench-secret-key-0123456789abcdef0123"
API_PID=""

# Installs the Debian packages a benchmark needs when their command is missing
# (`bench_require wrk:wrk pgbench:postgresql-contrib`).
bench_require() {
  local missing=() item
  for item in "$@"; do
    command -v "${item%%:*}" >/dev/null || missing+=("${item#*:}")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "installing ${missing[*]} (apt-get)…" >&2
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  for item in "$@"; do
    command -v "${item%%:*}" >/dev/null || { echo "${item%%:*} is still missing" >&2; exit 2; }
  done
}

# Builds the release `api` unless KEEL_API_BIN names a binary.
bench_build_api() {
  if [ -z "${KEEL_API_BIN:-}" ]; then
    echo "building the release api (cargo build --release -p keel-api)…" >&2
    cargo build --release -p keel-api --quiet
  fi
  [ -x "$API" ] || { echo "no api binary at $API" >&2; exit 2; }
}

bench_psql() { # database, then psql arguments
  local db=$1
  shift
  psql -X -q -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U postgres "$@" "$db"
}

# Drops and re-creates database $1; sets DATABASE_URL to it.
bench_fresh_db() {
  bench_psql postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" -c "CREATE DATABASE \"$1\""
  DATABASE_URL="postgres://postgres@$PGHOST:$PGPORT/$1"
}

# Starts `api` in directory $BENCH_WORK with the benchmark settings plus the given VAR=value
# arguments; waits for /ready. Rate limiting stays on (the in-process limiter unless REDIS_URL
# is passed) with limits no benchmark reaches.
api_start() {
  (
    cd "$BENCH_WORK"
    exec env -i PATH="$PATH" HOME="$HOME" \
      HOST=127.0.0.1 PORT="$PORT" DATABASE_URL="$DATABASE_URL" ENVIRONMENT=development \
      SECRET_KEY="$BENCH_SECRET_KEY" LOG_FORMAT=json RUST_LOG=warn \
      ACCESS_TOKEN_EXPIRE_MINUTES=1440 \
      RATE_LIMIT_READ_LIMIT=1000000000 RATE_LIMIT_WRITE_LIMIT=1000000000 \
      RATE_LIMIT_LOGIN_LIMIT=1000000000 RATE_LIMIT_REGISTER_LIMIT=1000000000 \
      "$@" "$API" >>"$BENCH_WORK/api.log" 2>&1
  ) &
  API_PID=$!
  local _
  for _ in $(seq 1 200); do
    curl -fs "http://127.0.0.1:$PORT/ready" >/dev/null 2>&1 && return 0
    kill -0 "$API_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "api did not become ready:" >&2
  tail -n 20 "$BENCH_WORK/api.log" >&2
  exit 1
}

api_stop() {
  [ -n "$API_PID" ] || return 0
  kill "$API_PID" 2>/dev/null || true
  wait "$API_PID" 2>/dev/null || true
  API_PID=""
}

# A /proc/<api>/status field in KiB: VmRSS (now) or VmHWM (peak since start).
api_mem_kib() {
  awk -v key="$1:" '$1 == key { print $2 }' "/proc/$API_PID/status"
}

# CPU seconds (user + system) the api has used so far.
api_cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' \
    "/proc/$API_PID/stat"
}

# The small seed of the single-purpose benchmarks (the api must be running): one user and 50
# posts. Sets BENCH_TOKEN to the user's access token.
bench_small_seed() {
  local base="http://127.0.0.1:$PORT/api/v1" i
  curl -fs -o /dev/null -H 'content-type: application/json' \
    -d '{"email":"bench@example.com","password":"bench-password"}' "$base/users"
  BENCH_TOKEN=$(curl -fs -d 'username=bench@example.com&password=bench-password' "$base/login" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  for i in $(seq 1 50); do
    curl -fs -o /dev/null -H "authorization: Bearer $BENCH_TOKEN" -H 'content-type: application/json' \
      -d "{\"title\":\"post $i\",\"content\":\"content of post $i\"}" "$base/posts"
  done
}

# One wrk measurement after a 2 s warm-up: prints req/s; fails on any non-2xx response.
# Arguments: a label, the duration, then wrk's own arguments (URL included).
bench_wrk_rps() {
  local label=$1 duration=$2 out rps non2xx
  shift 2
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$@" >/dev/null
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" "$@")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  if [ -n "$non2xx" ]; then
    echo "$label: $non2xx non-2xx responses" >&2
    exit 1
  fi
  echo "$rps"
}
