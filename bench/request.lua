-- wrk script: send METHOD (first script argument) with the file named by the second argument,
-- if any, as an application/json body, and print the run's figures as one machine-readable
-- line (latencies in microseconds). With a third argument "unique", every request's body is
-- bytes never sent before: the file's `"source_url": null` becomes a link numbered per request
-- (the same article, so the same record, but another request body each time).
--   wrk ... -s bench/request.lua http://127.0.0.1:PORT/v1/summaries -- POST body.json
--   wrk ... -s bench/request.lua http://127.0.0.1:PORT/v1/summaries -- POST body.json unique
--   wrk ... -s bench/request.lua http://127.0.0.1:PORT/v1/summaries/ID -- GET

local before, after, prefix
local counter = 0

function init(args)
  wrk.method = args[1] or "POST"
  if args[2] then
    local f = assert(io.open(args[2], "rb"))
    wrk.body = f:read("*a")
    f:close()
    wrk.headers["Content-Type"] = "application/json"
  end
  if args[3] == "unique" then
    local at, to = string.find(wrk.body, '"source_url": null', 1, true)
    assert(at, 'the body has no "source_url": null to vary')
    before, after = string.sub(wrk.body, 1, at - 1), string.sub(wrk.body, to + 1)
    -- Unique across runs too: another run's bodies must not have been seen either.
    math.randomseed(os.time())
    prefix = string.format("%d-%d", os.time(), math.random(1, 1000000000))
  end
end

function request()
  if not before then
    return wrk.format()
  end
  counter = counter + 1
  local link = string.format('"source_url": "https://bench.example/%s/%d"', prefix, counter)
  return wrk.format(nil, nil, nil, before .. link .. after)
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
