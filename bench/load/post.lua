-- wrk script for bench/load/proxy_bench.py: POST /v1/chat/completions with a realistic chat
-- request (~300 bytes), and one machine-readable result line at the end.
--
--   wrk -c 32 -t 2 -d 10s --latency -s bench/load/post.lua http://127.0.0.1:8080 -- json
--   wrk ... -s bench/load/post.lua http://127.0.0.1:8080 -- stream      (adds "stream": true)
--   wrk ... -s bench/load/post.lua http://127.0.0.1:8080 -- json same   (one fixed body)
--   wrk ... -s bench/load/post.lua http://127.0.0.1:8080 -- json unique sk-sluice-...  (a key)
--
-- The models are the ones proxy_bench.py configures: "gpt-4o-mini" for plain answers and
-- "gpt-4o-mini-stream" for streams (routed by Sluice to the upstream's stream path).

local messages = '[{"role":"system","content":"You are a concise assistant for a support team.' ..
  ' Answer in plain English."},{"role":"user","content":"Our nightly export job failed with' ..
  ' error code 137. What does that usually mean, and what should I check first?"}]'

local json_body = '{"model":"gpt-4o-mini","messages":' .. messages ..
  ',"temperature":0.2,"max_tokens":256,"user":"bench-user-0042"}'

local stream_body = '{"model":"gpt-4o-mini-stream","messages":' .. messages ..
  ',"temperature":0.2,"max_tokens":256,"user":"bench-user-0042","stream":true}'

wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["Authorization"] = "Bearer sk-bench-0000000000000000"
wrk.body = json_body

-- Every request differs (a counter in `user`), as real prompts do, so the proxy path is what is
-- measured: Sluice would otherwise coalesce wrk's identical concurrent requests into one
-- upstream call. "same" sends one fixed body, for the cache-hit case.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local template = nil
local counter = 0

function init(args)
  if args[3] ~= nil and args[3] ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. args[3]
  end
  local body = json_body
  if args[1] == "stream" then
    body = stream_body
  end
  wrk.body = body
  if args[2] ~= "same" then
    template = body:gsub("bench%-user%-0042", "bench-user-" .. tostring(thread_id or 0) .. "-%%d")
  end
end

function request()
  if template == nil then
    return wrk.request()
  end
  counter = counter + 1
  return wrk.format(nil, nil, nil, string.format(template, counter))
end

-- One line, prefixed so the caller can find it among wrk's own output.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,' ..
    '"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9)))
end
