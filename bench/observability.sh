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
# databases), wrk (installed with apt-get when missing), curl, python3. Uses the shared cargo
# target dir; builds the release binary unless KEEL_API_BIN is set. Runs on loopback and stops
# by itself. Shared parts: bench/lib.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS="${ROUNDS:-3}"
read -r -a VARIANTS <<<"${VARIANTS:-off otlp}"
SAMPLE_RATIO="${SAMPLE_RATIO:-0.1}"
DURATION="${DURATION:-10s}"
PORT="${PORT:-18081}"
OTLP_PORT="${OTLP_PORT:-14318}"
DB="keel_bench_observability"
. bench/lib.sh

bench_require wrk:wrk curl:curl
bench_build_api
bench_fresh_db "$DB"
BENCH_WORK=$(mktemp -d)
receiver=""
cleanup() {
  api_stop
  [ -n "$receiver" ] && kill "$receiver" 2>/dev/null && wait "$receiver" 2>/dev/null || true
  rm -rf "$BENCH_WORK"
}
trap cleanup EXIT

# The local OTLP/HTTP receiver: counts the exports and their bytes, answers 200.
python3 - "$OTLP_PORT" "$BENCH_WORK/otlp.count" <<'PY' &
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

# Seed once: a user, 50 posts.
api_start
bench_small_seed
token=$BENCH_TOKEN
base="http://127.0.0.1:$PORT/api/v1"
api_stop

run() { # variant route url [wrk args…]
  local variant=$1 route=$2 url=$3
  shift 3
  wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$@" "$url" >/dev/null
  local rps
  rps=$(bench_wrk_rps "$variant $route" "$DURATION" "$@" "$url")
  results["$variant/$route"]+="$rps "
  printf 'round %s  %-5s %-6s %10s req/s\n' "$round" "$variant" "$route" "$rps"
}

declare -A results
for round in $(seq 1 "$ROUNDS"); do
  for variant in "${VARIANTS[@]}"; do
    case "$variant" in
      off) api_start ;;
      otlp) api_start OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$OTLP_PORT" ;;
      sampled) api_start OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$OTLP_PORT" \
        OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG="$SAMPLE_RATIO" ;;
      *) echo "unknown variant $variant" >&2; exit 2 ;;
    esac
    run "$variant" health "http://127.0.0.1:$PORT/health"
    run "$variant" posts "$base/posts?limit=10" -H "Authorization: Bearer $token"
    api_stop
  done
done
echo "OTLP receiver: $(cut -d' ' -f1 "$BENCH_WORK/otlp.count" 2>/dev/null || echo 0) exports, $(cut -d' ' -f2 "$BENCH_WORK/otlp.count" 2>/dev/null || echo 0) bytes"

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
bench_psql postgres -c "DROP DATABASE IF EXISTS $DB"
