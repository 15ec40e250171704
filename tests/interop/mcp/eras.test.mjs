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
// Exit 77 only when the binary does not exist.
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  check, deadline, finish, freePort, log, requireBinary, spawnTracked, waitForPort,
} from '../lib/harness.mjs';
import { getToken, startProvider } from '../oidc/provider-lib.mjs';

deadline(55);
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

check(srv.exitCode === null && srv.signalCode === null, 'the server is still running at the end', srv.output.slice(-500));
await provider.close();
finish();
