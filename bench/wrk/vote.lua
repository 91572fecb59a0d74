-- POST /api/v1/vote, toggling: every request is valid, so a correct server answers 201 to all.
--
-- Thread t owns K = #tokens / threads benchmark users (tokens t*K+1 .. t*K+K, users without
-- seeded votes) and P = BENCH_VOTE_POSTS published posts (the t-th block of P). Its n-th
-- request is by user (n div P) mod K on post n mod P, with dir 1 in even passes over the K*P
-- pairs and dir 0 in odd ones: each pair alternates add, delete, add… and its next request
-- comes K*P requests later, far more than the connections in flight, so two requests on one
-- pair never overlap. Consecutive requests hit different posts (no lock queue on one row).
-- The runner deletes these users' votes before each run, so every run starts from "no vote".
package.path = "bench/wrk/?.lua;" .. package.path
local common = require("common")
setup = common.setup
local tokens, users, posts, first
local n = 0
-- wrk calls request() once on its first thread (tid 0) before the run, to count pipelined
-- requests, and never sends that one: that thread's first call must not advance n, or its
-- first pair's add is lost and its delete, K*P requests later, answers 404.
local unsent = true
function init(args)
  tokens = common.tokens()
  local threads = common.env_number("BENCH_THREADS", 2)
  users = math.floor(#tokens / threads)
  assert(users >= 1, "fewer benchmark users than threads")
  posts = common.env_number("BENCH_VOTE_POSTS", 200)
  first = tid * posts
end
function request()
  local post = common.published_post(first + n % posts + 1)
  local pass = math.floor(n / posts)
  local user = tid * users + pass % users + 1
  local dir = (math.floor(pass / users) % 2 == 0) and 1 or 0
  if tid == 0 and unsent then
    unsent = false
  else
    n = n + 1
  end
  local headers = common.bearer(tokens[user])
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", "/api/v1/vote", headers,
    string.format('{"post_id":%d,"dir":%d}', post, dir))
end
done = common.done
