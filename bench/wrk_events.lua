-- wrk script: send each pre-built request of a file at most once ("<length>\n<raw HTTP request>" one after the
-- other, written by bench/events.py), then stop. Prints one "BENCH {json}" line for bench/load.py.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  requests = {}
  local file = assert(io.open(args[1], "rb"))
  while true do
    local header = file:read("*l")
    if not header then break end
    table.insert(requests, file:read(tonumber(header)))
  end
  file:close()
  index = 0
  exhausted = 0
end

function request()
  index = index + 1
  if index > #requests then
    exhausted = 1
    wrk.thread:stop()
    index = #requests
  end
  return requests[index]
end

function done(summary, latency, requests)
  local ran_out = 0
  for _, thread in ipairs(threads) do
    ran_out = ran_out + (thread:get("exhausted") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "status_errors": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "timeout": %d, "exhausted": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), errors.status,
    errors.connect, errors.read, errors.write, errors.timeout, ran_out))
end
