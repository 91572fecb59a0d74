-- GET /api/v1/posts?limit=10&search=W as a random benchmark user, W one of the 20 title words
-- of bench/seed.sql (each in 5 % of the titles), in a random letter case.
package.path = "bench/wrk/?.lua;" .. package.path
local common = require("common")
setup = common.setup
local words = { "rust", "tokio", "actix", "postgres", "redis", "async", "trait", "borrow",
  "lifetime", "macro", "cargo", "crate", "closure", "iterator", "vector", "string", "thread",
  "mutex", "channel", "future" }
local tokens
function init(args)
  common.seed()
  tokens = common.tokens()
end
function request()
  local word = words[math.random(#words)]
  if math.random(2) == 1 then word = string.upper(word) end
  return wrk.format("GET", "/api/v1/posts?limit=10&search=" .. word,
    common.bearer(tokens[math.random(#tokens)]))
end
done = common.done
