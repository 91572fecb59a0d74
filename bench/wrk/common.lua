-- Shared by the wrk scenarios of bench/run.sh (loaded with require from the repository root).
-- Every scenario gets: numbered threads (global `tid` in each thread), the access tokens of
-- the benchmark users (BENCH_TOKENS: a file, one token per line, line i = user i), and a done()
-- that prints one JSON line the runner parses.
local M = {}

local next_tid = 0
-- setup() runs once per thread in the main Lua state, before the thread starts.
function M.setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

function M.env_number(name, default)
  return tonumber(os.getenv(name) or "") or default
end

-- Seeds math.random differently in each thread.
function M.seed()
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
end

function M.tokens()
  local path = os.getenv("BENCH_TOKENS")
  local tokens = {}
  if path then
    for line in io.lines(path) do
      if line ~= "" then tokens[#tokens + 1] = line end
    end
  end
  assert(#tokens > 0, "BENCH_TOKENS names no file of access tokens")
  return tokens
end

function M.bearer(token)
  return { ["Authorization"] = "Bearer " .. token }
end

-- Post i of the published ones (1-based): every tenth post id is a draft (bench/seed.sql).
function M.published_post(i)
  return i + math.floor((i - 1) / 9)
end

-- One JSON line: requests, seconds, req/s, error counts (status = non-2xx/3xx responses) and
-- latency percentiles in milliseconds.
function M.done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"seconds":%.3f,"rps":%.1f,"non2xx":%d,' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"latency_ms":{"mean":%.3f,"p50":%.3f,"p90":%.3f,"p99":%.3f,"max":%.3f}}\n',
    summary.requests, seconds, summary.requests / seconds, e.status,
    e.connect, e.read, e.write, e.timeout,
    latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end

return M
