-- wrk script of the thb-kb benchmarks: cycles through the request targets listed, one per line, in the
-- file named by BENCH_PATHS, with the Accept header BENCH_ACCEPT; each thread starts at its own offset.
-- Prints one line "BENCH_JSON {...}" with the counts and latency percentiles (microseconds).
local next_id = 0
setup = function(thread)
  thread:set("offset", next_id)
  next_id = next_id + 1
end

local paths = {}
local counter = 0
local accept = os.getenv("BENCH_ACCEPT") or "*/*"

init = function(args)
  for line in io.lines(os.getenv("BENCH_PATHS")) do
    paths[#paths + 1] = line
  end
  counter = (offset or 0) * 7919
end

request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1], { ["Accept"] = accept })
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f, ' ..
    '"max_us": %d, "errors_status": %d, "errors_connect": %d, "errors_read": %d, "errors_write": %d, ' ..
    '"errors_timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
