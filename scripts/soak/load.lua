-- wrk script for scripts/soak.py: POST tools/call echo on sessions, round-robin over the
-- (token, session) pairs of the file given after "--". Counts statuses per thread, checks
-- that every 429/503 carries Retry-After and every 200 echoes the text, and prints one line
-- "SOAKJSON {...}" from done() for the orchestrator.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

counts = {}
no_retry_after = 0
bad_body = 0
local creds = {}
local i = 0
local body = '{"jsonrpc":"2.0","id":1,"method":"tools/call",' ..
             '"params":{"name":"echo","arguments":{"text":"soak-echo"}}}'

function init(args)
  for line in io.lines(args[1]) do
    local tok, sid = line:match("^(%S+)\t(%S+)$")
    if tok then
      creds[#creds + 1] = {tok, sid}
    end
  end
  i = math.random(#creds)
end

function request()
  i = i % #creds + 1
  local c = creds[i]
  return wrk.format("POST", "/mcp", {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json, text/event-stream",
    ["Authorization"] = "Bearer " .. c[1],
    ["Mcp-Session-Id"] = c[2],
    ["MCP-Protocol-Version"] = "2025-11-25",
  }, body)
end

function response(status, headers, rbody)
  local k = tostring(status)
  counts[k] = (counts[k] or 0) + 1
  if (status == 429 or status == 503) and headers["Retry-After"] == nil and
     headers["retry-after"] == nil then
    no_retry_after = no_retry_after + 1
  end
  if status == 200 and not rbody:find("soak-echo", 1, true) then
    bad_body = bad_body + 1
  end
end

function done(summary, latency, requests)
  local agg, nra, bb = {}, 0, 0
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts")) do
      agg[k] = (agg[k] or 0) + v
    end
    nra = nra + t:get("no_retry_after")
    bb = bb + t:get("bad_body")
  end
  local parts = {}
  for k, v in pairs(agg) do
    parts[#parts + 1] = string.format('"%s":%d', k, v)
  end
  local e = summary.errors
  io.write(string.format(
    'SOAKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"status":{%s},"no_retry_after":%d,"bad_body":%d,"errors":{"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, table.concat(parts, ","), nra, bb, e.connect, e.read, e.write, e.timeout))
end
