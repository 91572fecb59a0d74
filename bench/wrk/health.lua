-- GET /health: the liveness route, no I/O.
package.path = "bench/wrk/?.lua;" .. package.path
local common = require("common")
setup = common.setup
wrk.method = "GET"
wrk.path = "/health"
done = common.done
