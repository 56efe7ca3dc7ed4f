-- cached_read / availability_200 / the constant baseline: GET BENCH_PATH with the API token.
-- done() prints "BENCHSTAT <key> <value>" lines: responses per status, duration, latency percentiles.
local token = assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN is not set")
wrk.method = "GET"
wrk.path = assert(os.getenv("BENCH_PATH"), "BENCH_PATH is not set")
wrk.headers["Authorization"] = "Token " .. token

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      totals[status] = (totals[status] or 0) + n
    end
  end
  for status, n in pairs(totals) do
    io.write(string.format("BENCHSTAT status.%d %d\n", status, n))
  end
  io.write(string.format("BENCHSTAT duration_us %d\n", summary.duration))
  io.write(string.format("BENCHSTAT latency_p50_us %d\n", latency:percentile(50)))
  io.write(string.format("BENCHSTAT latency_p99_us %d\n", latency:percentile(99)))
end
