// interop.scale.sessions (issue 10): three mcp-echo-server instances with OAuth on, sharing one
// loopback redis-server (--store), behind nginx round robin without stickiness. The official
// TypeScript client (@modelcontextprotocol/sdk 1.32.2) talks to nginx only:
//   - it opens one session and calls tools many times; every instance's metrics show tool calls
//     of that session (so the session record was found on every instance), and the calls add up;
//   - it gets numbered progress over SSE (the streamed `count` tool);
//   - the session, presented directly to each instance: with its owner's token it is served
//     (200) everywhere; with another principal's token it is refused (404) everywhere;
//   - DELETE through nginx ends it on every instance (404 afterwards, directly on each).
// Exit 77 when redis-server or nginx is not installed.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  check, deadline, finish, freePort, log, requireBinary,
} from '../lib/harness.mjs';
import {
  metricSum, metrics, rawPost, redisCommand, requireTools, startInstances, startNginx, startRedis,
} from '../lib/cluster.mjs';
import { getToken, startProvider } from '../oidc/provider-lib.mjs';

deadline(100);
await requireTools(['redis-server', 'nginx']);
const bin = requireBinary('mcp-echo-server');
const N = 3;
const CALLS = 30;

const provider = await startProvider();
const redis = await startRedis();
const lbPort = await freePort();
const url = `http://127.0.0.1:${lbPort}/mcp`;
const insts = await startInstances(bin, N, {
  redis, args: () => ['--well-known-url', provider.issuer, '--mcp-server-url', url],
});
const lb = await startNginx(insts, { port: lbPort });
log(`# ${N} x mcp-echo-server (${insts.map((x) => x.port).join(', ')}), redis :${redis.port}, nginx ${url}`);

const tokenFor = (alg, scope = 'tools.call') => getToken({ tokenEndpoint: provider.tokenEndpoint, clientId: provider.clients[alg].client_id, clientSecret: provider.clients[alg].client_secret, resource: url, scope });
const tokenA = await tokenFor('ES256');
const tokenB = await tokenFor('RS256');

const before = await Promise.all(insts.map(metrics));
const client = new Client({ name: 'dmcp-scale', version: '1.0.0' });
const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${tokenA}` } } });
let sid;
try {
  await client.connect(transport);
  sid = transport.sessionId;
  check(typeof sid === 'string' && sid.length > 0, 'the TS client opened a session through nginx', sid);

  const tools = await client.listTools();
  check(tools.tools.some((t) => t.name === 'count'), 'tools/list through nginx names echo and count', tools.tools.map((t) => t.name));

  let good = 0;
  const errors = [];
  for (let k = 0; k < CALLS; k++) {
    try {
      const r = await client.callTool({ name: 'echo', arguments: { text: `call ${k}` } });
      if (r.content?.[0]?.text === `call ${k}`) good++; else errors.push(r);
    } catch (e) { errors.push(String(e)); }
  }
  check(good === CALLS, `${CALLS} tools/call echo in one session through nginx all answered correctly`, errors.slice(0, 3));

  const progress = [];
  const r = await client.callTool({ name: 'count', arguments: { n: 8, interval_ms: 20 } }, undefined, {
    onprogress: (p) => progress.push(p.progress), timeout: 30000,
  });
  check(r.content?.[0]?.text === 'counted 8', 'count (streamed) returns its result through nginx', r);
  check(JSON.stringify(progress) === JSON.stringify([1, 2, 3, 4, 5, 6, 7, 8]), 'progress over SSE: 1..8, in order, each once', progress);

  // Redis Cluster readiness: the record and the stream logs of one session carry the session id
  // as a hash tag ({...}), so they hash to one slot.
  const keys = (await redisCommand(redis.port, ['KEYS', '*'])).map(String);
  const mine = keys.filter((k) => k.includes(sid));
  check(mine.includes(`dmcp:s:{${sid}}`) && mine.some((k) => new RegExp(`^dmcp:ev:\\{${sid}\\}:\\d+$`).test(k)) &&
    mine.every((k) => k.includes(`{${sid}}`)), "the session's keys are s:{id} and ev:{id}:N (one hash slot)", mine);
} catch (e) {
  check(false, 'the TS client session through nginx', String(e?.stack ?? e));
}

// Which instance served what: each instance's counters, minus what they held before.
const after = await Promise.all(insts.map(metrics));
const perInst = after.map((m, i) => metricSum(m, 'dmcp_tool_calls_total', { tool: 'echo', outcome: 'ok' }) -
  metricSum(before[i], 'dmcp_tool_calls_total', { tool: 'echo', outcome: 'ok' }));
log(`# echo calls per instance (metrics): ${perInst.join(', ')}`);
check(perInst.every((n) => n > 0), 'tool calls of the one session landed on every instance (dmcp_tool_calls_total)', perInst);
check(perInst.reduce((a, b) => a + b, 0) === CALLS, `the instances' echo counters add up to the ${CALLS} calls`, perInst);

if (sid) {
  const list = { jsonrpc: '2.0', id: 9, method: 'tools/list' };
  for (const inst of insts) {
    const own = await rawPost(inst.url, list, { token: tokenA, session: sid });
    check(own.status === 200 && Array.isArray(own.json?.result?.tools), `instance ${inst.i}: the session with its owner's token is served directly (200)`, { status: own.status, body: own.text.slice(0, 200) });
    const other = await rawPost(inst.url, list, { token: tokenB, session: sid });
    check(other.status === 404, `instance ${inst.i}: the session with another principal's token is refused (404)`, { status: other.status, body: other.text.slice(0, 200) });
  }
  // The refusal must not have ended or altered the owner's session.
  const still = await rawPost(url, { jsonrpc: '2.0', id: 10, method: 'tools/call', params: { name: 'echo', arguments: { text: 'still mine' } } }, { token: tokenA, session: sid });
  check(still.status === 200 && still.json?.result?.content?.[0]?.text === 'still mine', "the owner's session still works after the refusals", { status: still.status, body: still.text.slice(0, 200) });

  await transport.terminateSession().catch((e) => check(false, 'DELETE through nginx', String(e)));
  for (const inst of insts) {
    const gone = await rawPost(inst.url, list, { token: tokenA, session: sid });
    check(gone.status === 404, `instance ${inst.i}: after DELETE through nginx the session is gone (404)`, gone.status);
  }
}
await client.close().catch(() => {});

for (const inst of insts) {
  check(inst.child.exitCode === null && inst.child.signalCode === null, `instance ${inst.i} is still running`, inst.child.output.slice(-400));
}
finish();
