#!/usr/bin/env bash
# What trace export costs: throughput of a release `api` on PostgreSQL, measured with wrk, on
# the health route (GET /health) and the authenticated post list (GET /api/v1/posts?limit=10),
# without an exporter ("off") and with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a local OTLP/HTTP
# receiver ("otlp", which accepts and discards every export). The runs alternate so that drift
# on a shared machine hits both variants alike; the report gives each variant's median and the
# otlp/off ratio per route. Logs are at RUST_LOG=warn in both variants (spans are exported at
# info whatever the log level), so the difference is the cost of recording and exporting spans.
#
#   bench/observability.sh                   # 3 rounds of 10 s per variant and route
#   ROUNDS=5 DURATION=20s bench/observability.sh
#   VARIANTS="off otlp sampled" SAMPLE_RATIO=0.1 bench/observability.sh
#     # "sampled": the exporter with OTEL_TRACES_SAMPLER=parentbased_traceidratio
#
# Needs: PostgreSQL at PGHOST/PGPORT (default 127.0.0.1:5432, role postgres, may create
# databases), wrk (apt-get install wrk), curl, python3. Uses the shared cargo target dir;
# builds the release binary unless KEEL_API_BIN is set. Runs on loopback and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-3}"
read -r -a VARIANTS <<<"${VARIANTS:-off otlp}"
SAMPLE_RATIO="${SAMPLE_RATIO:-0.1}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
PORT="${PORT:-18081}"
OTLP_PORT="${OTLP_PORT:-14318}"
PGHOST="${PGHOST:-127.0.0.1}"
PGPORT="${PGPORT:-5432}"
DB="keel_bench_observability"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/keel-target}"
API="${KEEL_API_BIN:-$CARGO_TARGET_DIR/release/api}"

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 2; }
if [ -z "${KEEL_API_BIN:-}" ]; then
  cargo build --release -p keel-api --quiet
fi

psql -h "$PGHOST" -p "$PGPORT" -U postgres -qc "DROP DATABASE IF EXISTS $DB" postgres
psql -h "$PGHOST" -p "$PGPORT" -U postgres -qc "CREATE DATABASE $DB" postgres
DATABASE_URL="postgres://postgres@$PGHOST:$PGPORT/$DB"
work=$(mktemp -d)
pid=""
receiver=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -n "$receiver" ] && kill "$receiver" 2>/dev/null && wait "$receiver" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The local OTLP/HTTP receiver: counts the exports and their bytes, answers 200.
python3 - "$OTLP_PORT" "$work/otlp.count" <<'PY' &
import http.server, sys, threading
port, out = int(sys.argv[1]), sys.argv[2]
lock, stats = threading.Lock(), [0, 0]
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        with lock:
            stats[0] += 1; stats[1] += len(body)
            open(out, "w").write(f"{stats[0]} {stats[1]}\n")
        self.send_response(200); self.send_header("content-length", "0"); self.end_headers()
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
PY
receiver=$!

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

# Seed once: a user, 50 posts.
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

run() { # variant route url [wrk args…]
  local variant=$1 route=$2 url=$3
  shift 3
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$@" "$url" >/dev/null
  local out rps non2xx
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$@" "$url")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  if [ -n "$non2xx" ]; then
    echo "$variant $route: $non2xx non-2xx responses" >&2
    exit 1
  fi
  results["$variant/$route"]+="$rps "
  printf 'round %s  %-5s %-6s %10s req/s\n' "$round" "$variant" "$route" "$rps"
}

declare -A results
for round in $(seq 1 "$ROUNDS"); do
  for variant in "${VARIANTS[@]}"; do
    case "$variant" in
      off) start ;;
      otlp) start OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$OTLP_PORT" ;;
      sampled) start OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$OTLP_PORT" \
        OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG="$SAMPLE_RATIO" ;;
      *) echo "unknown variant $variant" >&2; exit 2 ;;
    esac
    run "$variant" health "http://127.0.0.1:$PORT/health"
    run "$variant" posts "$base/posts?limit=10" -H "Authorization: Bearer $token"
    stop
  done
done
echo "OTLP receiver: $(cut -d' ' -f1 "$work/otlp.count" 2>/dev/null || echo 0) exports, $(cut -d' ' -f2 "$work/otlp.count" 2>/dev/null || echo 0) bytes"

args=()
for variant in "${VARIANTS[@]}"; do
  for route in health posts; do args+=("$variant/$route=${results[$variant/$route]}"); done
done
python3 - "${args[@]}" <<'PY'
import statistics, sys
runs = {}
for arg in sys.argv[1:]:
    key, values = arg.split("=", 1)
    runs[key] = [float(x) for x in values.split()]
med = {k: statistics.median(v) for k, v in runs.items()}
for k, v in runs.items():
    print(f"{k:>15}: median {med[k]:9.0f} req/s  runs {', '.join(f'{x:.0f}' for x in v)}")
for k in runs:
    variant, route = k.split("/")
    if variant != "off" and f"off/{route}" in med:
        ratio = med[k] / med[f"off/{route}"]
        print(f"{k:>15}: / off = {ratio:.3f}  (cost {100 * (1 - ratio):.1f} %)")
PY
psql -h "$PGHOST" -p "$PGPORT" -U postgres -qc "DROP DATABASE IF EXISTS $DB" postgres
