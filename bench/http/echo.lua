-- wrk script for bench/http/run.sh and bench/gateway/*.sh: MCP `tools/call echo` over Streamable HTTP.
-- Every request has its own JSON-RPC id (a session maps in-flight ids to responses, so 16
-- connections sharing one session must not reuse ids). Environment: TOKEN (bearer),
-- SESSION (Mcp-Session-Id, empty when stateless), PROTO (MCP-Protocol-Version). An empty
-- TOKEN sends no Authorization header (the bridges without auth). JSON or SSE bodies pass.
-- With PROTO 2026-07-28 each request is the stateless 2026 form: Mcp-Method/Mcp-Name headers
-- and the required `_meta` (protocolVersion, clientCapabilities) in params.
local token = os.getenv("TOKEN") or ""
local session = os.getenv("SESSION") or ""
local proto = os.getenv("PROTO") or "2025-06-18"
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  if token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
  wrk.headers["MCP-Protocol-Version"] = proto
  if proto == "2026-07-28" then
    wrk.headers["Mcp-Method"] = "tools/call"
    wrk.headers["Mcp-Name"] = "echo"
    meta = ',"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",' ..
      '"io.modelcontextprotocol/clientCapabilities":{},' ..
      '"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1"}}'
  else
    meta = ""
  end
  if session ~= "" then
    wrk.headers["Mcp-Session-Id"] = session
  end
  bad = 0
  unexpected = 0
end

function request()
  counter = counter + 1
  local body = '{"jsonrpc":"2.0","id":"' .. tid .. '-' .. counter ..
    '","method":"tools/call","params":{"name":"echo","arguments":{"text":"hello, benchmark"}' .. meta .. '}}'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  elseif not string.find(body, "hello, benchmark", 1, true) then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local b, u = 0, 0
  for _, t in ipairs(threads) do
    b = b + (t:get("bad") or 0)
    u = u + (t:get("unexpected") or 0)
  end
  io.write(string.format("lua: non-200=%d wrong-body=%d\n", b, u))
end
