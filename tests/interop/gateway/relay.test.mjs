#!/usr/bin/env node
// Server->client requests outside any call (issue 11): an official TS SDK 1.32.2 upstream
// (roots-upstream.mjs) asks roots/list right after notifications/initialized, on its GET
// stream. Through `descope-mcp gateway`:
//   - a TS client that declared roots, with its GET stream open, answers it and the upstream
//     sees the client's roots;
//   - a TS client that did not declare roots: the upstream gets -32601 from the gateway;
//   - a raw 2025 client that declared roots but never opened a GET stream: the upstream gets
//     -32603 "no stream open" (after its own readiness retries);
//   - a 2026-07-28 request (no session, no standalone stream): the upstream is not left
//     waiting (the gateway's session-less upstream session takes no unsolicited requests).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  check, deadline, finish, freePort, INTEROP_DIR, log, requireBinary, spawnTracked, waitForPort,
} from '../lib/harness.mjs';
import { getToken, startProvider } from '../oidc/provider-lib.mjs';

deadline(100);
const gatewayBin = requireBinary('descope-mcp');
const provider = await startProvider();
const upPort = await freePort();
const gwPort = await freePort();
const up = spawnTracked(process.execPath, [path.join(INTEROP_DIR, 'gateway', 'roots-upstream.mjs'), '--listen', `127.0.0.1:${upPort}`]);
await waitForPort(upPort, up);
const mcpUrl = `http://127.0.0.1:${gwPort}/mcp`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmcp-gw-relay-'));
const cfgFile = path.join(dir, 'gateway.json');
fs.writeFileSync(cfgFile, JSON.stringify({
  listen: `127.0.0.1:${gwPort}`,
  auth: { well_known_url: provider.issuer, mcp_server_url: mcpUrl },
  upstreams: [{ name: 'up', url: `http://127.0.0.1:${upPort}/mcp` }],
  timeouts: { request_ms: 5000 },
}));
const gw = spawnTracked(gatewayBin, ['gateway', '--config', cfgFile]);
await waitForPort(gwPort, gw, 20000);
log(`# gateway at ${mcpUrl}, upstream :${upPort}`);
const c0 = provider.clients.RS256;
const token = await getToken({ tokenEndpoint: provider.tokenEndpoint, clientId: c0.client_id, clientSecret: c0.client_secret, resource: mcpUrl, scope: 'tools.call' });
const headers = { Authorization: `Bearer ${token}` };
const accept = 'application/json, text/event-stream';

async function outcomeOf(who, ms = 15000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const all = await (await fetch(`http://127.0.0.1:${upPort}/outcomes`)).json();
    const o = all.find((x) => x.who === who);
    if (o) return o;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

// ---- a client with roots answers the upstream's roots/list ----
{
  const client = new Client({ name: 'with-roots', version: '1' }, { capabilities: { roots: { listChanged: true } } });
  let asked = 0;
  client.setRequestHandler(ListRootsRequestSchema, async () => {
    asked++;
    return { roots: [{ uri: 'file:///work/project-a', name: 'project-a' }] };
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers } }));
  const r = await client.callTool({ name: 'ping_tool', arguments: {} }); // opens the upstream session
  check(r.content?.[0]?.text === 'pong', 'a call through the gateway', JSON.stringify(r));
  const o = await outcomeOf('with-roots');
  check(o?.roots?.[0]?.uri === 'file:///work/project-a' && o.roots[0].name === 'project-a',
    'roots/list from the upstream outside a call: the upstream sees the client\'s roots', JSON.stringify(o));
  check(asked === 1, 'the client was asked exactly once', asked);
  await client.close();
}

// ---- a client without roots: refused by the gateway with -32601 ----
{
  const client = new Client({ name: 'no-roots', version: '1' }, { capabilities: {} });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers } }));
  await client.callTool({ name: 'ping_tool', arguments: {} });
  const o = await outcomeOf('no-roots');
  check(o?.error?.code === -32601 && /did not declare/.test(o.error.message),
    'no roots capability: the upstream gets -32601 from the gateway', JSON.stringify(o));
  await client.close();
}

// ---- a 2025 client with roots but no GET stream: -32603, no stream open ----
{
  const post = async (body, sid) => fetch(mcpUrl, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', accept, ...(sid ? { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' } : {}) }, body: JSON.stringify(body) });
  const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: { roots: {} }, clientInfo: { name: 'no-stream', version: '1' } } });
  const sid = init.headers.get('mcp-session-id');
  await init.text();
  await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, sid)).text();
  await (await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'ping_tool', arguments: {} } }, sid)).text();
  const o = await outcomeOf('no-stream');
  check(o?.error?.code === -32603 && /no stream open/.test(o.error.message),
    'roots declared but no GET stream: the upstream gets -32603 "no stream open"', JSON.stringify(o));
}

// ---- bounds: 16 waiting per upstream session, each for timeouts.request_ms (here 5 s) ----
{
  const client = new Client({ name: 'hangs', version: '1' }, { capabilities: { roots: {} } });
  let asked = 0;
  client.setRequestHandler(ListRootsRequestSchema, () => { asked++; return new Promise(() => {}); });
  const tr = new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers } });
  await client.connect(tr);
  const t0 = Date.now();
  await client.callTool({ name: 'flood_roots', arguments: { n: 20, tag: 'a' } });
  const floodA = async (count, ms = 15000) => {
    const end = Date.now() + ms;
    for (;;) {
      const all = (await (await fetch(`http://127.0.0.1:${upPort}/outcomes`)).json()).filter((x) => x.who === 'flood-a');
      if (all.length >= count || Date.now() > end) return all;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const first = await floodA(4);
  check(first.length === 4 && first.every((o) => o.error?.code === -32603 && /Too many/.test(o.error.message)),
    'count bound: of 20 requests at once, 4 are refused at once (16 may wait)', JSON.stringify(first));
  // The 16 waiting ones expire after 5 s; expiry is checked at the next relay event.
  while (Date.now() - t0 < 5500) await new Promise((r) => setTimeout(r, 100));
  await client.callTool({ name: 'flood_roots', arguments: { n: 1, tag: 'b' } });
  const all = await floodA(20);
  const expired = all.filter((o) => o.error?.code === -32001 && /did not answer in time/.test(o.error.message));
  check(expired.length === 16, 'time bound: the 16 unanswered are answered -32001 after the request timeout', JSON.stringify(all.slice(4, 6)));
  check(asked >= 16, 'the client was asked (its answers never came)', asked);
  await tr.terminateSession(); // DELETE: the client session ends
  await client.close();
  const ended = await outcomeOf('flood-b');
  check(ended?.error?.code === -32001 && /session ended/.test(ended.error.message),
    'a request still waiting when the client session ends is answered at once', JSON.stringify(ended));
}

// ---- 2026-07-28: no standalone stream; the upstream is answered, not left waiting ----
{
  const res = await fetch(mcpUrl, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', accept, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'ping_tool' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'ping_tool', arguments: {}, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'era26', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': { roots: {} } } } }) });
  const body = await res.text();
  check(res.status === 200 && /pong/.test(body), '2026-07-28: the call works while the upstream wants roots (no standalone stream: its session-less upstream session opens no GET stream, so nothing is relayed)', `${res.status} ${body.slice(0, 300)}`);
}
fs.rmSync(dir, { recursive: true, force: true });
finish();
