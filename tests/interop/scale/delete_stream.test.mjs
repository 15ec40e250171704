// interop.scale.delete_stream (issue 10): a DELETE on one instance ends the session on every
// instance at once, including a standalone GET stream another instance holds open (the client
// sees that stream end instead of a silent stream until idle expiry). Two mcp-echo-server
// instances with OAuth on share one loopback redis-server; no balancer: each request goes to
// the instance the test names.
// Exit 77 when redis-server is not installed.
import {
  check, deadline, finish, log, requireBinary,
} from '../lib/harness.mjs';
import {
  PROTO, rawPost, rawSession, requireTools, startInstances, startRedis,
} from '../lib/cluster.mjs';
import { getToken, startProvider } from '../oidc/provider-lib.mjs';

deadline(60);
await requireTools(['redis-server']);
const bin = requireBinary('mcp-echo-server');
const provider = await startProvider();
const redis = await startRedis();
const insts = await startInstances(bin, 2, {
  redis, args: (i, port) => ['--well-known-url', provider.issuer, '--mcp-server-url', `http://127.0.0.1:${port}/mcp`],
});
log(`# 2 x mcp-echo-server (${insts.map((x) => x.port).join(', ')}), redis :${redis.port}`);
const tokenFor = (inst) => getToken({ tokenEndpoint: provider.tokenEndpoint, clientId: provider.clients.ES256.client_id, clientSecret: provider.clients.ES256.client_secret, resource: inst.url, scope: 'tools.call' });

for (let round = 0; round < 3; round++) {
  const [a, b] = round % 2 === 0 ? insts : [insts[1], insts[0]];
  const tokenA = await tokenFor(a);
  const tokenB = await tokenFor(b);
  const sid = await rawSession(a.url, tokenA, `delete-${round}`);
  // The GET stream, held open by instance a.
  const ctl = new AbortController();
  const res = await fetch(a.url, {
    method: 'GET', signal: ctl.signal,
    headers: { accept: 'text/event-stream', authorization: `Bearer ${tokenA}`, 'mcp-session-id': sid, 'mcp-protocol-version': PROTO },
  });
  check(res.status === 200, `round ${round}: GET stream open on instance ${a.i}`, res.status);
  const reader = res.body.getReader();
  const ended = (async () => { for (;;) { const { done } = await reader.read(); if (done) return Date.now(); } })().catch(() => Date.now());

  // The same principal's session, served by instance b too (resource = b's URL, same user).
  const seen = await rawPost(b.url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { token: tokenB, session: sid });
  check(seen.status === 200, `round ${round}: instance ${b.i} serves the session`, { status: seen.status, body: seen.text.slice(0, 200) });

  const t0 = Date.now();
  const del = await fetch(b.url, { method: 'DELETE', headers: { authorization: `Bearer ${tokenB}`, 'mcp-session-id': sid, 'mcp-protocol-version': PROTO } });
  check(del.status === 200, `round ${round}: DELETE on instance ${b.i}`, del.status);
  const timeout = new Promise((r) => setTimeout(() => r(null), 3000));
  const at = await Promise.race([ended, timeout]);
  check(at !== null, `round ${round}: the GET stream held by instance ${a.i} ended within 3 s of the DELETE on ${b.i}${at ? ` (${at - t0} ms)` : ''}`, at);
  ctl.abort();
  const gone = await rawPost(a.url, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, { token: tokenA, session: sid });
  check(gone.status === 404, `round ${round}: instance ${a.i} answers 404 for the ended session`, gone.status);
}
for (const inst of insts) {
  check(inst.child.exitCode === null && inst.child.signalCode === null, `instance ${inst.i} is still running`, inst.child.output.slice(-400));
}
finish();
