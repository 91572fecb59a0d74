-- GET /api/v1/posts/{id} as a random benchmark user, id a random published seeded post
-- (BENCH_POSTS seeded posts).
package.path = "bench/wrk/?.lua;" .. package.path
local common = require("common")
setup = common.setup
local tokens, published
function init(args)
  common.seed()
  tokens = common.tokens()
  published = math.floor(common.env_number("BENCH_POSTS", 20000) * 9 / 10)
end
function request()
  local id = common.published_post(math.random(published))
  return wrk.format("GET", "/api/v1/posts/" .. id, common.bearer(tokens[math.random(#tokens)]))
end
done = common.done
