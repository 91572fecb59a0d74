-- GET /health paced by delay() (BENCH_PROBE_DELAY_MS per connection, default 10 ms): the
-- latency probe that runs beside the login load.
package.path = "bench/wrk/?.lua;" .. package.path
local common = require("common")
setup = common.setup
wrk.method = "GET"
wrk.path = "/health"
local pause = common.env_number("BENCH_PROBE_DELAY_MS", 10)
function delay()
  return pause
end
done = common.done
