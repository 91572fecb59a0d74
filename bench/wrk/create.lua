-- POST /api/v1/posts as a random benchmark user: a new post (and its outbox event) per request.
package.path = "bench/wrk/?.lua;" .. package.path
local common = require("common")
setup = common.setup
local tokens
local n = 0
function init(args)
  common.seed()
  tokens = common.tokens()
end
function request()
  n = n + 1
  local headers = common.bearer(tokens[math.random(#tokens)])
  headers["Content-Type"] = "application/json"
  local body = string.format(
    '{"title":"Load test %d-%d","content":"Created by the benchmark, thread %d, request %d."}',
    tid, n, tid, n)
  return wrk.format("POST", "/api/v1/posts", headers, body)
end
done = common.done
