// interop.mcp.notifications: the official MCP TypeScript SDK client (Streamable HTTP, bearer
// token from a real OpenID provider) against <build>/bin/conformance-server with auth on: the
// progress and log notifications a tool sends while it runs arrive over the request's SSE
// stream, before its result, and the client can cancel. Exit 77 only when the binary does
// not exist.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  check, deadline, finish, freePort, log, requireBinary, spawnTracked, waitForPort,
} from '../lib/harness.mjs';
import { getToken, startProvider } from '../oidc/provider-lib.mjs';

deadline(50);
const bin = requireBinary('conformance-server');
const provider = await startProvider();
const port = await freePort();
const mcpUrl = `http://127.0.0.1:${port}/mcp`;
const srv = spawnTracked(bin, ['--listen', `127.0.0.1:${port}`, '--well-known-url', provider.issuer,
  '--mcp-server-url', mcpUrl]);
await waitForPort(port, srv);
log(`# conformance-server at ${mcpUrl}, issuer ${provider.issuer}`);

const token = await getToken({
  tokenEndpoint: provider.tokenEndpoint, clientId: provider.clients.ES256.client_id,
  clientSecret: provider.clients.ES256.client_secret, resource: mcpUrl, scope: 'tools.call',
});

// Without the token the server refuses: auth really is on for this run.
{
  const res = await fetch(mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
  check(res.status === 401, 'auth is on: no token gets 401', res.status);
}

const client = new Client({ name: 'dmcp-interop-notifications', version: '1.0.0' });
const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const logs = [];
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { logs.push({ n: n.params, at: Date.now() }); });
try {
  await client.connect(transport);
  check(typeof transport.sessionId === 'string' && transport.sessionId.length > 0, 'a session with the bearer token', transport.sessionId);

  // Progress: 0, 50, 100 of 100, each delivered before the result.
  const progress = [];
  const r = await client.callTool({ name: 'test_tool_with_progress', arguments: {} }, undefined, {
    onprogress: (p) => { progress.push({ ...p, at: Date.now() }); },
  });
  const doneAt = Date.now();
  check(r.isError !== true, 'test_tool_with_progress returns a result', r);
  check(JSON.stringify(progress.map((p) => p.progress)) === '[0,50,100]' && progress.every((p) => p.total === 100),
    'progress notifications 0, 50, 100 of 100 arrive', progress);
  // The fixture sends them about 50 ms apart: streamed live over SSE, the first one arrives
  // well before the result; a server that buffered them would deliver all at the end.
  check(progress.length === 3 && doneAt - progress[0].at > 30, 'progress streams live over SSE (first one > 30 ms before the result)',
    progress.map((p) => doneAt - p.at));

  // Logging: three info messages, in order, before the result.
  await client.setLoggingLevel('debug');
  const before = logs.length;
  const lr = await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
  const logDone = Date.now();
  const got = logs.slice(before).map((x) => x.n);
  check(logs.length - before === 3 && logDone - logs[before].at > 30, 'log messages stream live over SSE (first one > 30 ms before the result)',
    logs.slice(before).map((x) => logDone - x.at));
  check(lr.isError !== true, 'test_tool_with_logging returns a result', lr);
  check(got.length === 3 && got.every((m) => m.level === 'info'), 'three info log notifications arrive', got);
  check(JSON.stringify(got.map((m) => (typeof m.data === 'string' ? m.data : JSON.stringify(m.data)))).includes('Tool execution started'),
    'the first log says the tool started', got);

  // With the level raised above info, the same tool's messages are filtered out.
  await client.setLoggingLevel('error');
  const before2 = logs.length;
  await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
  check(logs.length === before2, 'logging/setLevel error filters info messages', logs.slice(before2));

  await transport.terminateSession();
  check(true, 'DELETE ends the session');
} catch (e) {
  check(false, 'notifications session', String(e?.stack ?? e));
}
await client.close();
finish();
