-- GET /api/v1/posts?limit=10&skip=S as a random benchmark user, S a random page among the
-- first BENCH_LIST_PAGES (default 20): skip = 10 * uniform(0, pages - 1).
package.path = "bench/wrk/?.lua;" .. package.path
local common = require("common")
setup = common.setup
local tokens, pages
function init(args)
  common.seed()
  tokens = common.tokens()
  pages = common.env_number("BENCH_LIST_PAGES", 20)
end
function request()
  local skip = 10 * math.random(0, pages - 1)
  return wrk.format("GET", "/api/v1/posts?limit=10&skip=" .. skip,
    common.bearer(tokens[math.random(#tokens)]))
end
done = common.done
