-- wrk script: send METHOD (first script argument) with the file named by the second argument,
-- if any, as an application/json body, and print the run's figures as one machine-readable
-- line (latencies in microseconds).
--   wrk ... -s bench/request.lua http://127.0.0.1:PORT/v1/summaries -- POST body.json
--   wrk ... -s bench/request.lua http://127.0.0.1:PORT/v1/summaries/ID -- GET

function init(args)
  wrk.method = args[1] or "POST"
  if args[2] then
    local f = assert(io.open(args[2], "rb"))
    wrk.body = f:read("*a")
    f:close()
    wrk.headers["Content-Type"] = "application/json"
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,' ..
    '"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f},' ..
    '"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"mean_us":%.1f,"max_us":%.0f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
