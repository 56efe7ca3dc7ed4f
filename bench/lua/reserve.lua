-- hot_sku_reserve / spread_reserve: POST /api/v1/inventory/reserve until BENCH_DEADLINE (epoch seconds),
-- on a product id picked at random in [BENCH_PRODUCT_LO, BENCH_PRODUCT_HI] (one id for the hot SKU).
-- After the deadline every connection sends harmless GETs (BENCH_DRAIN_PATH) until wrk stops, so the
-- reservations already in flight get their answers: the number of 201s counted here is then exactly
-- the number of reservations the server committed. done() prints "BENCHSTAT <key> <value>" lines.
local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]])
local tv = ffi.new("bench_timeval")
local function now()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) + tonumber(tv.tv_usec) / 1e6
end

local token = assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN is not set")
local deadline = assert(tonumber(os.getenv("BENCH_DEADLINE")), "BENCH_DEADLINE is not set")
local lo = assert(tonumber(os.getenv("BENCH_PRODUCT_LO")), "BENCH_PRODUCT_LO is not set")
local hi = assert(tonumber(os.getenv("BENCH_PRODUCT_HI")), "BENCH_PRODUCT_HI is not set")
local warehouse = assert(tonumber(os.getenv("BENCH_WAREHOUSE_ID")), "BENCH_WAREHOUSE_ID is not set")
local drain_path = assert(os.getenv("BENCH_DRAIN_PATH"), "BENCH_DRAIN_PATH is not set")
local post_headers = { ["Authorization"] = "Token " .. token, ["Content-Type"] = "application/json" }
local get_headers = { ["Authorization"] = "Token " .. token }

local threads = {}
local started = 0

function setup(thread)
  started = started + 1
  thread:set("thread_number", started)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(thread_number * 7919 + os.time())
  statuses = {}
  posts = 0
end

function request()
  if now() < deadline then
    posts = posts + 1
    local product = lo
    if hi > lo then
      product = math.random(lo, hi)
    end
    local body = string.format('{"product_id": %d, "warehouse_id": %d, "quantity": 1}', product, warehouse)
    return wrk.format("POST", "/api/v1/inventory/reserve", post_headers, body)
  end
  return wrk.format("GET", drain_path, get_headers)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals, posts_sent = {}, 0
  for _, thread in ipairs(threads) do
    posts_sent = posts_sent + thread:get("posts")
    for status, n in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + n
    end
  end
  for status, n in pairs(totals) do
    io.write(string.format("BENCHSTAT status.%d %d\n", status, n))
  end
  io.write(string.format("BENCHSTAT posts %d\n", posts_sent))
  io.write(string.format("BENCHSTAT duration_us %d\n", summary.duration))
  io.write(string.format("BENCHSTAT latency_p50_us %d\n", latency:percentile(50)))
  io.write(string.format("BENCHSTAT latency_p99_us %d\n", latency:percentile(99)))
end
