-- POST /api/v1/login (form) as a random seeded user with the right password: one Argon2id
-- verification, a session family and a refresh token per request.
package.path = "bench/wrk/?.lua;" .. package.path
local common = require("common")
setup = common.setup
local users, password
function init(args)
  common.seed()
  users = common.env_number("BENCH_USERS", 1000)
  password = os.getenv("BENCH_PASSWORD") or "bench-password"
end
function request()
  local body = string.format("username=bench-%05d%%40example.com&password=%s",
    math.random(1, users), password)
  return wrk.format("POST", "/api/v1/login",
    { ["Content-Type"] = "application/x-www-form-urlencoded" }, body)
end
done = common.done
