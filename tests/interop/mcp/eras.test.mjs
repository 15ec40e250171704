// interop.mcp.eras: one running <build>/bin/mcp-echo-server with OAuth on (tokens from a real
// OpenID provider, oidc-provider) serves both official TypeScript clients at the same time:
//   - the v2 client (@modelcontextprotocol/client 2.4.0), which speaks 2026-07-28: stateless
//     requests, no session id;
//   - the v1 client (@modelcontextprotocol/sdk 1.32.2), which speaks 2025-11-25: initialize
//     and a session.
// Each lists tools, calls echo and whoami, and gets the 403 step-up (insufficient_scope naming
// admin.write) for admin_echo without admin.write; with admin.write admin_echo works. For the
// 2026 request, the raw exchange is checked too: 403 from the headers alone (Mcp-Name), and
// no Mcp-Session-Id anywhere.
// Then the interactive features, each client in its own era, on the same server at once:
//   - elicitation (tool ask_name): under 2026 the server answers `input_required` and the v2
//     client's elicitation/create handler answers it on the retry (checked on the wire: two
//     tools/call POSTs, the first answered input_required); under 2025 the server sends
//     elicitation/create to the v1 client as a request on the POST's SSE stream;
//   - a resource subscription that delivers an update (resource echo://counter, tool bump):
//     the v2 client opens `subscriptions/listen` {resourceSubscriptions}, the v1 client sends
//     resources/subscribe (its GET stream carries the notification); a bump by either client
//     reaches both, and each then reads the new value.
// Exit 77 only when the binary does not exist.
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  check, deadline, finish, freePort, log, requireBinary, spawnTracked, waitForPort,
} from '../lib/harness.mjs';
import { getToken, startProvider } from '../oidc/provider-lib.mjs';

deadline(90);
const bin = requireBinary('mcp-echo-server');
const provider = await startProvider();
const port = await freePort();
const mcpUrl = `http://127.0.0.1:${port}/mcp`;
const prmUrl = `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`;
const srv = spawnTracked(bin, ['--listen', `127.0.0.1:${port}`,
  '--well-known-url', provider.issuer, '--mcp-server-url', mcpUrl]);
await waitForPort(port, srv);
log(`# mcp-echo-server at ${mcpUrl}, issuer ${provider.issuer}`);

const tokenFor = (alg, scope) => getToken({ tokenEndpoint: provider.tokenEndpoint, clientId: provider.clients[alg].client_id, clientSecret: provider.clients[alg].client_secret, resource: mcpUrl, scope });
function challengeParams(header) {
  const out = {};
  for (const m of (header ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)) out[m[1]] = m[2];
  return out;
}

// Every response the v2 client sees: no session id may appear under 2026-07-28.
const seen = [];
const tracingFetch = async (url, init) => {
  const res = await fetch(url, init);
  const h = new Headers(init?.headers ?? {});
  seen.push({ version: h.get('mcp-protocol-version'), sid: res.headers.get('mcp-session-id'), status: res.status });
  return res;
};

const clients = {
  v2: async (token) => {
    // 'auto': probe with server/discover and take the 2026 era when the server offers it.
    const client = new ClientV2({ name: 'dmcp-interop-v2', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    const transport = new TransportV2(new URL(mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } }, fetch: tracingFetch });
    await client.connect(transport);
    return { client, close: async () => { await client.close(); } };
  },
  v1: async (token) => {
    const client = new ClientV1({ name: 'dmcp-interop-v1', version: '1.0.0' });
    const transport = new TransportV1(new URL(mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
    await client.connect(transport);
    return { client, transport, close: async () => { await transport.terminateSession().catch(() => {}); await client.close(); } };
  },
};

// Both clients connected at once, on the same server.
const tokV2 = await tokenFor('ES256', 'tools.call calendar.read');
const tokV1 = await tokenFor('RS256', 'tools.call calendar.read');
let c2, c1;
try {
  c2 = await clients.v2(tokV2);
  c1 = await clients.v1(tokV1);
} catch (e) {
  check(false, 'both clients connect', String(e?.stack ?? e));
  finish();
}
check(typeof c1.transport.sessionId === 'string', 'v1 client: a 2025 session (Mcp-Session-Id)', c1.transport.sessionId);

for (const [name, c, alg] of [['v2', c2, 'ES256'], ['v1', c1, 'RS256']]) {
  try {
    const tools = await c.client.listTools();
    const names = tools.tools.map((t) => t.name).sort();
    check(['admin_echo', 'echo', 'whoami'].every((n) => names.includes(n)), `${name}: listTools has echo, whoami, admin_echo`, names);
    const echo = await c.client.callTool({ name: 'echo', arguments: { text: `héllo ${name}` } });
    check(echo.isError !== true && echo.content?.[0]?.text === `héllo ${name}`, `${name}: echo returns the text`, echo);
    const who = await c.client.callTool({ name: 'whoami', arguments: {} });
    check(who.structuredContent?.client_id === provider.clients[alg].client_id, `${name}: whoami names this client's principal`, who.structuredContent);
    let err;
    try { await c.client.callTool({ name: 'admin_echo', arguments: { text: 'x' } }); } catch (e) { err = e; }
    check(err !== undefined && (err.code === 403 || err.status === 403 || /403|insufficient.scope/i.test(String(err))), `${name}: admin_echo without admin.write fails with 403`, String(err));
  } catch (e) {
    check(false, `${name}: list and call`, String(e?.stack ?? e));
  }
}
check(seen.length >= 5 && seen.every((s) => s.version === '2026-07-28'), 'v2 client: every request carries MCP-Protocol-Version 2026-07-28 (server/discover chose the era)', seen);
check(seen.every((s) => s.sid === null), 'v2 client: no response carries Mcp-Session-Id (stateless)', seen);
await c2.close();
await c1.close();

// The 2026 step-up as bytes: refused from the headers (the body never sent), with the challenge.
{
  const token = await tokenFor('EdDSA', 'tools.call');
  const { request } = await import('node:http');
  const res = await new Promise((resolve, reject) => {
    const req = request(mcpUrl, { method: 'POST', headers: {
      'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}`,
      'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'admin_echo', 'content-length': '5000',
    } }, resolve);
    req.on('error', reject);
    req.flushHeaders(); // headers only: the 5000-byte body is never written
  });
  const p = challengeParams(res.headers['www-authenticate']);
  check(res.statusCode === 403 && p.error === 'insufficient_scope' && (p.scope ?? '').split(' ').includes('admin.write') && p.resource_metadata === prmUrl,
    '2026 tools/call admin_echo: 403 insufficient_scope from the headers alone (Mcp-Name), body never sent', { status: res.statusCode, www: res.headers['www-authenticate'] });
  res.destroy();
}

// With admin.write, both clients get through.
for (const name of ['v2', 'v1']) {
  try {
    const c = await clients[name](await tokenFor('PS256', 'tools.call admin.write'));
    const r = await c.client.callTool({ name: 'admin_echo', arguments: { text: `root ${name}` } });
    check(r.isError !== true && r.content?.[0]?.text === `root ${name}`, `${name}: with admin.write, admin_echo returns the text`, r);
    await c.close();
  } catch (e) {
    check(false, `${name}: with admin.write, admin_echo returns the text`, String(e?.stack ?? e));
  }
}

// Elicitation and resource subscription: both eras at once on the same server.
{
  const waitFor = async (pred, ms = 15000) => {
    const end = Date.now() + ms;
    while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
    return pred();
  };
  const wire = []; // the v2 client's tools/call exchanges: request method header, result type
  const wireFetch = async (url, init) => {
    const res = await fetch(url, init);
    const h = new Headers(init?.headers ?? {});
    if (h.get('mcp-method') === 'tools/call' && h.get('mcp-name') === 'ask_name') {
      const body = await res.clone().text();
      wire.push({ version: h.get('mcp-protocol-version'), resultType: /"resultType":"(\w+)"/.exec(body)?.[1] ?? null, sent: String(init?.body ?? '') });
    }
    return res;
  };
  const updates = { v2: [], v1: [] };
  const asked = { v2: [], v1: [] };
  let v2, v1, t1, sub;
  try {
    v2 = new ClientV2({ name: 'dmcp-interop-v2', version: '1.0.0' },
      { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: 'auto' } });
    v2.setRequestHandler('elicitation/create', async (req) => { asked.v2.push(req.params); return { action: 'accept', content: { name: 'Ada' } }; });
    v2.setNotificationHandler('notifications/resources/updated', (n) => { updates.v2.push(n.params.uri); });
    await v2.connect(new TransportV2(new URL(mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${await tokenFor('ES256', 'tools.call')}` } }, fetch: wireFetch }));
    v1 = new ClientV1({ name: 'dmcp-interop-v1', version: '1.0.0' }, { capabilities: { elicitation: {} } });
    v1.setRequestHandler(ElicitRequestSchema, async (req) => { asked.v1.push(req.params); return { action: 'accept', content: { name: 'Grace' } }; });
    v1.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { updates.v1.push(n.params.uri); });
    t1 = new TransportV1(new URL(mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${await tokenFor('RS256', 'tools.call')}` } } });
    await v1.connect(t1);
    check(v2.getProtocolEra?.() === 'modern' && typeof t1.sessionId === 'string', 'interactive: v2 client on 2026-07-28, v1 client in a 2025 session', { era: v2.getProtocolEra?.(), sid: t1.sessionId });

    // Elicitation, written once in the server (ask_name), served in both eras.
    const [r2, r1] = await Promise.all([
      v2.callTool({ name: 'ask_name', arguments: {} }),
      v1.callTool({ name: 'ask_name', arguments: {} }),
    ]);
    check(r2.isError !== true && r2.content?.[0]?.text === 'Hello, Ada!' && asked.v2.length === 1 && asked.v2[0].message === 'What is your name?',
      'v2 (2026): ask_name elicits through an input-required result and greets the answer', { r2, asked: asked.v2 });
    check(wire.length === 2 && wire[0].resultType === 'input_required' && wire[1].resultType === 'complete' && wire.every((w) => w.version === '2026-07-28')
      && !/inputResponses/.test(wire[0].sent) && /inputResponses/.test(wire[1].sent) && /"Ada"/.test(wire[1].sent),
    'v2 (2026): on the wire, input_required first, then the retry carrying inputResponses answered complete', wire.map((w) => ({ ...w, sent: w.sent.slice(0, 300) })));
    check(r1.isError !== true && r1.content?.[0]?.text === 'Hello, Grace!' && asked.v1.length === 1 && asked.v1[0].message === 'What is your name?',
      'v1 (2025): ask_name sends elicitation/create to the client and greets the answer', { r1, asked: asked.v1 });

    // A declined elicitation reaches the tool too (2026: the decline is the input response).
    v2.setRequestHandler('elicitation/create', async () => ({ action: 'decline' }));
    const d2 = await v2.callTool({ name: 'ask_name', arguments: {} });
    check(d2.content?.[0]?.text === 'No name given (decline)', 'v2 (2026): a declined elicitation reaches the tool', d2);

    // Resource subscription: listen (2026) and resources/subscribe (2025) on the same resource.
    sub = await v2.listen({ resourceSubscriptions: ['echo://counter'] });
    check(Array.isArray(sub.honoredFilter?.resourceSubscriptions) && sub.honoredFilter.resourceSubscriptions.includes('echo://counter'),
      'v2 (2026): subscriptions/listen acknowledged with echo://counter', sub.honoredFilter);
    await v1.subscribeResource({ uri: 'echo://counter' });
    // The v1 client's GET stream carries 2025 notifications; give it time to be open.
    await new Promise((r) => setTimeout(r, 300));
    const b2 = await v2.callTool({ name: 'bump', arguments: {} });
    const n1 = Number(b2.content?.[0]?.text);
    const got = await waitFor(() => updates.v2.length >= 1 && updates.v1.length >= 1);
    check(got && updates.v2[0] === 'echo://counter' && updates.v1[0] === 'echo://counter',
      'a bump by the v2 client: notifications/resources/updated reaches both the listen stream (2026) and the 2025 subscriber', updates);
    const read2 = await v2.readResource({ uri: 'echo://counter' }, { cacheMode: 'bypass' });
    const read1 = await v1.readResource({ uri: 'echo://counter' });
    check(Number.isInteger(n1) && n1 >= 1 && Number(read2.contents?.[0]?.text) === n1 && Number(read1.contents?.[0]?.text) === n1,
      'both clients read the bumped value', { n1, read2, read1 });
    const b1 = await v1.callTool({ name: 'bump', arguments: {} });
    const got2 = await waitFor(() => updates.v2.length >= 2 && updates.v1.length >= 2);
    check(got2 && Number(b1.content?.[0]?.text) === n1 + 1, 'a bump by the v1 client reaches both subscribers too', { updates, b1 });
    // After the subscriptions end, no more updates.
    await sub.close();
    await v1.unsubscribeResource({ uri: 'echo://counter' });
    const before = { v2: updates.v2.length, v1: updates.v1.length };
    await v1.callTool({ name: 'bump', arguments: {} });
    await new Promise((r) => setTimeout(r, 500));
    check(updates.v2.length === before.v2 && updates.v1.length === before.v1, 'after close/unsubscribe, a bump is delivered to neither', { before, updates });
  } catch (e) {
    check(false, 'interactive: elicitation and subscription in both eras', String(e?.stack ?? e));
  }
  await v2?.close().catch(() => {});
  await t1?.terminateSession().catch(() => {});
  await v1?.close().catch(() => {});
}

check(srv.exitCode === null && srv.signalCode === null, 'the server is still running at the end', srv.output.slice(-500));
await provider.close();
finish();
