// interop.scale.haproxy (issue 10): the HAProxy configuration of docs/scaling.md, proven.
// Three mcp-echo-server instances (OAuth on) sharing one redis-server, behind HAProxy round
// robin without stickiness. The official TS client opens a session through HAProxy, lists
// tools and calls echo many times; every instance's metrics show calls of that session; DELETE
// through HAProxy ends it on every instance.
// Exit 77 when redis-server or haproxy is not installed.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  check, deadline, finish, freePort, log, requireBinary,
} from '../lib/harness.mjs';
import {
  metricSum, metrics, rawPost, requireTools, startHaproxy, startInstances, startRedis,
} from '../lib/cluster.mjs';
import { getToken, startProvider } from '../oidc/provider-lib.mjs';

deadline(90);
await requireTools(['redis-server', 'haproxy']);
const bin = requireBinary('mcp-echo-server');
const CALLS = 24;

const provider = await startProvider();
const redis = await startRedis();
const lbPort = await freePort();
const url = `http://127.0.0.1:${lbPort}/mcp`;
const insts = await startInstances(bin, 3, {
  redis, args: () => ['--well-known-url', provider.issuer, '--mcp-server-url', url],
});
await startHaproxy(insts, { port: lbPort });
log(`# 3 x mcp-echo-server (${insts.map((x) => x.port).join(', ')}), redis :${redis.port}, haproxy ${url}`);
const token = await getToken({ tokenEndpoint: provider.tokenEndpoint, clientId: provider.clients.ES256.client_id, clientSecret: provider.clients.ES256.client_secret, resource: url, scope: 'tools.call' });

const before = await Promise.all(insts.map(metrics));
const client = new Client({ name: 'dmcp-scale-haproxy', version: '1.0.0' });
const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
let sid;
try {
  await client.connect(transport);
  sid = transport.sessionId;
  const tools = await client.listTools();
  check(tools.tools.some((t) => t.name === 'echo'), 'tools/list through HAProxy', tools.tools.map((t) => t.name));
  let good = 0;
  for (let k = 0; k < CALLS; k++) {
    const r = await client.callTool({ name: 'echo', arguments: { text: `h${k}` } });
    if (r.content?.[0]?.text === `h${k}`) good++;
  }
  check(good === CALLS, `${CALLS} tools/call echo in one session through HAProxy all answered correctly`, good);
} catch (e) {
  check(false, 'the TS client session through HAProxy', String(e?.stack ?? e));
}
const after = await Promise.all(insts.map(metrics));
const perInst = after.map((m, i) => metricSum(m, 'dmcp_tool_calls_total', { tool: 'echo', outcome: 'ok' }) -
  metricSum(before[i], 'dmcp_tool_calls_total', { tool: 'echo', outcome: 'ok' }));
log(`# echo calls per instance (metrics): ${perInst.join(', ')}`);
check(perInst.every((n) => n > 0) && perInst.reduce((a, b) => a + b, 0) === CALLS, 'the calls landed on every instance and add up', perInst);
if (sid) {
  await transport.terminateSession().catch((e) => check(false, 'DELETE through HAProxy', String(e)));
  for (const inst of insts) {
    const gone = await rawPost(inst.url, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { token, session: sid });
    check(gone.status === 404, `instance ${inst.i}: after DELETE through HAProxy the session is gone (404)`, gone.status);
  }
}
await client.close().catch(() => {});
finish();
