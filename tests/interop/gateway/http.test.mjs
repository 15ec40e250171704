// interop.gateway.http: `descope-mcp gateway` in front of two Streamable HTTP upstreams that
// have no auth of their own — a recording TS SDK server (rec__*) and a misbehaving one (bad__*)
// — with the official TS client 1.32.2 and oidc-provider tokens. Checks:
//   - no token → 401 with resource_metadata; the SDK's discovery finds the gateway's PRM;
//   - tools of both upstreams listed under their prefixes, called through the gateway;
//   - a rule (rec__admin_* needs admin.write): HTTP 403 insufficient_scope step-up without the
//     scope (2025 body path, and 2026 from the Mcp-Name header alone), success with it;
//   - progress notifications arrive live (before the result), a sampling request from the
//     upstream reaches the client and its answer reaches the upstream;
//   - the upstream never sees an Authorization header nor the caller's token anywhere, and
//     does see the identity headers (user, client, scopes);
//   - an unsolicited upstream notification (its GET stream) reaches the client's GET stream;
//   - the upstream's session id is never usable as the gateway's (404);
//   - garbage, a huge answer, a malformed SSE event, a hang (timeout) and an upstream killed
//     mid-call each give the client a JSON-RPC error, and the gateway keeps serving;
//   - the upstream losing its session (404) makes the gateway open a new one and retry once;
//   - filter_list hides what the caller may not call (a second gateway, one upstream, no prefix);
//   - DELETE of the client session reaches the upstream as DELETE;
//   - SIGTERM drains: a call in flight completes, then the gateway exits 0.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { discoverOAuthProtectedResourceMetadata } from '@modelcontextprotocol/sdk/client/auth.js';
import { CreateMessageRequestSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  check, deadline, finish, freePort, INTEROP_DIR, log, requireBinary, spawnTracked, waitForPort,
} from '../lib/harness.mjs';
import { getToken, startProvider } from '../oidc/provider-lib.mjs';

deadline(100);
const gatewayBin = requireBinary('descope-mcp');
const provider = await startProvider();
const recPort = await freePort();
const badPort = await freePort();
const gwPort = await freePort();
const rec = spawnTracked(process.execPath, [path.join(INTEROP_DIR, 'gateway', 'recorder-upstream.mjs'), '--listen', `127.0.0.1:${recPort}`]);
let bad = spawnTracked(process.execPath, [path.join(INTEROP_DIR, 'gateway', 'bad-upstream.mjs'), '--listen', `127.0.0.1:${badPort}`]);
await waitForPort(recPort, rec);
await waitForPort(badPort, bad);

const mcpUrl = `http://127.0.0.1:${gwPort}/mcp`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmcp-gw-'));
const cfgFile = path.join(dir, 'gateway.json');
fs.writeFileSync(cfgFile, JSON.stringify({
  listen: `127.0.0.1:${gwPort}`,
  auth: { well_known_url: provider.issuer, mcp_server_url: mcpUrl },
  upstreams: [
    { name: 'rec', url: `http://127.0.0.1:${recPort}/mcp` },
    { name: 'bad', url: `http://127.0.0.1:${badPort}/mcp` },
  ],
  tools: [{ match: 'rec__admin_*', scopes: ['admin.write'] }],
  timeouts: { request_ms: 3000 },
  access_log: '-',
  upstream_log: true,
}));
const gw = spawnTracked(gatewayBin, ['gateway', '--config', cfgFile]);
await waitForPort(gwPort, gw, 20000);
log(`# gateway at ${mcpUrl}, upstreams rec :${recPort}, bad :${badPort}, issuer ${provider.issuer}`);

const client0 = provider.clients.RS256;
const tokenFor = (scope) => getToken({ tokenEndpoint: provider.tokenEndpoint, clientId: client0.client_id, clientSecret: client0.client_secret, resource: mcpUrl, scope });
const basic = await tokenFor('tools.call');
const admin = await tokenFor('tools.call admin.write');
const accept = 'application/json, text/event-stream';

async function connect(token) {
  const client = new Client({ name: 'gw-interop', version: '1.0.0' }, { capabilities: { sampling: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => ({
    role: 'assistant', model: 'test-model', content: { type: 'text', text: `forty-two (${req.params.messages[0].content.text})` },
  }));
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  return { client, transport };
}
const text = (r) => r?.content?.[0]?.text;

// ---- 401 and discovery ----
{
  const res = await fetch(mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }) });
  check(res.status === 401, 'no token: 401', res.status);
  check(/resource_metadata="[^"]*oauth-protected-resource\/mcp"/.test(res.headers.get('www-authenticate') ?? ''), 'no token: challenge names the PRM', res.headers.get('www-authenticate'));
  const prm = await discoverOAuthProtectedResourceMetadata(mcpUrl);
  check(prm.resource === mcpUrl && prm.authorization_servers?.[0] === provider.issuer, 'SDK discovery: PRM of the gateway names the issuer', JSON.stringify(prm));
}

const { client, transport } = await connect(basic);
// ---- lists and calls ----
{
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  check(names.includes('rec__echo') && names.includes('rec__ask_llm') && names.includes('bad__garbage'), 'tools of both upstreams under their prefixes', names.join(','));
  check(!names.includes('echo'), 'no unprefixed names with several upstreams');
  const r = await client.callTool({ name: 'rec__echo', arguments: { text: 'hello' } });
  check(text(r) === 'hello', 'rec__echo through the gateway', JSON.stringify(r));
}

// ---- scope rule: 403 step-up, then success with the scope ----
{
  const res = await fetch(mcpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${basic}`, 'mcp-session-id': transport.sessionId, 'mcp-protocol-version': '2025-11-25' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 77, method: 'tools/call', params: { name: 'rec__admin_echo', arguments: { text: 'x' } } }),
  });
  const www = res.headers.get('www-authenticate') ?? '';
  check(res.status === 403 && /error="insufficient_scope"/.test(www) && /admin\.write/.test(www), 'rule: 403 insufficient_scope naming admin.write', `${res.status} ${www}`);
  const before = (await (await fetch(`http://127.0.0.1:${recPort}/recorded`)).json()).length;
  check(before > 0, 'recorder saw traffic');
  const { client: c2 } = await connect(admin);
  const r = await c2.callTool({ name: 'rec__admin_echo', arguments: { text: 'y' } });
  check(text(r) === 'admin:y', 'rule: with admin.write the call goes through', JSON.stringify(r));
  await c2.close();
}

// ---- the same rule under 2026-07-28: 403 from the headers alone (Mcp-Name), body never sent ----
{
  const { request } = await import('node:http');
  const res = await new Promise((resolve, reject) => {
    const req = request(mcpUrl, { method: 'POST', headers: {
      'content-type': 'application/json', accept, authorization: `Bearer ${basic}`,
      'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'rec__admin_echo', 'content-length': '5000',
    } }, resolve);
    req.on('error', reject);
    req.flushHeaders();
  });
  const www = res.headers['www-authenticate'] ?? '';
  check(res.statusCode === 403 && /error="insufficient_scope"/.test(www) && /admin\.write/.test(www), '2026: a rule on a forwarded tool refuses from Mcp-Name (403, body never sent)', `${res.statusCode} ${www}`);
  res.destroy();
}

// ---- progress, live ----
{
  const arrivals = [];
  const r = await client.callTool({ name: 'rec__slow_progress', arguments: { steps: 3 } }, undefined, {
    onprogress: (p) => arrivals.push(Date.now()),
  });
  const done = Date.now();
  check(arrivals.length === 3, 'three progress notifications reached the client', arrivals.length);
  check(arrivals.length > 0 && done - arrivals[0] >= 400, 'the first progress arrived live, well before the result', `${done - arrivals[0]} ms`);
  check(/^done at/.test(text(r) ?? ''), 'the progress tool finished', text(r));
}

// ---- sampling relayed both ways ----
{
  const r = await client.callTool({ name: 'rec__ask_llm', arguments: { prompt: 'meaning?' } });
  check(text(r) === 'llm said: forty-two (meaning?)', 'sampling: upstream request answered by the client, answer back upstream', JSON.stringify(r));
}

// ---- an unsolicited upstream notification reaches the client's GET stream ----
{
  let got = false;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { got = true; });
  const r = await client.callTool({ name: 'rec__notify_later', arguments: {} });
  check(text(r) === 'scheduled', 'notify_later called');
  for (let i = 0; i < 60 && !got; i++) await new Promise((res) => setTimeout(res, 100));
  check(got, 'upstream GET-stream notification (tools/list_changed) relayed to the client');
}

// ---- what the upstream saw ----
{
  const r = await client.callTool({ name: 'rec__headers', arguments: {} });
  const h = JSON.parse(text(r));
  check(h['x-mcp-user-id'] && h['x-mcp-client-id'] === client0.client_id, 'identity headers: user and client id', JSON.stringify(h));
  check((h['x-mcp-scopes'] ?? '').split(' ').includes('tools.call'), 'identity headers: scopes', h['x-mcp-scopes']);
  const all = await (await fetch(`http://127.0.0.1:${recPort}/recorded`)).json();
  check(all.every((x) => x.headers.authorization === undefined), 'no request upstream carried an Authorization header', all.length);
  const dump = JSON.stringify(all);
  check(!dump.includes(basic) && !dump.includes(admin) && !dump.includes(basic.split('.')[2]), 'the caller\'s token appears nowhere in what the upstream received');
  // The upstream's session id is the gateway's secret: presented to the gateway, it is unknown.
  const upSid = all.map((x) => x.headers['mcp-session-id']).find(Boolean);
  check(upSid && upSid !== transport.sessionId, 'upstream and client session ids differ', `${upSid} / ${transport.sessionId}`);
  const res = await fetch(mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${basic}`, 'mcp-session-id': upSid, 'mcp-protocol-version': '2025-11-25' }, body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' }) });
  check(res.status === 404, 'the upstream\'s session id is not a gateway session (404)', res.status);
}

// ---- faults: each an error for the client, the gateway keeps serving ----
async function expectError(name, what, pattern) {
  const t0 = Date.now();
  let err;
  try {
    const r = await client.callTool({ name, arguments: {} }, undefined, { timeout: 20000 });
    err = r?.isError ? new Error(text(r)) : undefined;
  } catch (e) { err = e; }
  check(err !== undefined && (!pattern || pattern.test(String(err.message))), `${what}: the client gets an error`, err ? `${err.message} (${Date.now() - t0} ms)` : 'no error');
  const ok = await client.callTool({ name: 'rec__echo', arguments: { text: 'still' } });
  check(text(ok) === 'still', `${what}: the gateway still serves`);
  return Date.now() - t0;
}
{
  const before = Number(text(await client.callTool({ name: 'bad__initializes', arguments: {} })));
  const r = await client.callTool({ name: 'bad__forget', arguments: {} });
  const after = Number(text(await client.callTool({ name: 'bad__initializes', arguments: {} })));
  check(text(r) === 'recovered' && after === before + 1, 'upstream lost the session (404): the gateway opened a new one and retried once', `${text(r)} ${before}->${after}`);
}
await expectError('bad__garbage', 'garbage JSON', /invalid answer/);
await expectError('bad__huge', '10 MiB answer', /invalid answer/);
await expectError('bad__badsse', 'malformed SSE event', /invalid answer/);
const hung = await expectError('bad__hang', 'hanging upstream', /timed out/);
check(hung < 10000, 'hang: answered after the configured 3 s timeout, not later', `${hung} ms`);
await expectError('bad__die', 'upstream killed mid-call', /unavailable|invalid/);
check(gw.exitCode === null, 'the gateway process is alive');

// ---- DELETE reaches the upstream ----
{
  await transport.terminateSession();
  let deleted = false;
  for (let i = 0; i < 40 && !deleted; i++) {
    const all = await (await fetch(`http://127.0.0.1:${recPort}/recorded`)).json();
    deleted = all.some((x) => x.method === 'DELETE');
    if (!deleted) await new Promise((r) => setTimeout(r, 100));
  }
  check(deleted, 'client DELETE → upstream session DELETEd');
}
await client.close();
// ---- filter_list: a second gateway hides what the caller may not call ----
{
  const port2 = await freePort();
  const url2 = `http://127.0.0.1:${port2}/mcp`;
  const cfg2 = path.join(dir, 'gateway2.json');
  fs.writeFileSync(cfg2, JSON.stringify({
    listen: `127.0.0.1:${port2}`,
    auth: { well_known_url: provider.issuer, mcp_server_url: url2 },
    upstreams: [{ name: 'rec', url: `http://127.0.0.1:${recPort}/mcp` }],
    tools: [{ match: 'admin_*', scopes: ['admin.write'] }],
    filter_list: true,
  }));
  const gw2 = spawnTracked(gatewayBin, ['gateway', '--config', cfg2]);
  await waitForPort(port2, gw2, 20000);
  const names = async (scope) => {
    const t = await getToken({ tokenEndpoint: provider.tokenEndpoint, clientId: client0.client_id, clientSecret: client0.client_secret, resource: url2, scope });
    const c = new Client({ name: 'gw-filter', version: '1' });
    await c.connect(new StreamableHTTPClientTransport(new URL(url2), { requestInit: { headers: { Authorization: `Bearer ${t}` } } }));
    const n = (await c.listTools()).tools.map((x) => x.name);
    await c.close();
    return n;
  };
  const plain = await names('tools.call');
  const adm = await names('tools.call admin.write');
  check(plain.includes('echo') && !plain.includes('admin_echo'), 'filter_list: a tool the caller may not call is not listed (single upstream: no prefix)', plain.join(','));
  check(adm.includes('admin_echo'), 'filter_list: with the scope it is listed', adm.join(','));
}

// ---- SIGTERM drains: an in-flight call finishes, then the gateway exits 0 ----
{
  const { client: c3 } = await connect(basic);
  const pending = c3.callTool({ name: 'rec__slow_progress', arguments: { steps: 4 } }, undefined, { onprogress: () => {} });
  await new Promise((r) => setTimeout(r, 400));
  const exited = new Promise((r) => gw.once('exit', (code, sig) => r({ code, sig })));
  gw.kill('SIGTERM');
  let r, e;
  try { r = await pending; } catch (err) { e = err; }
  check(/^done at/.test(text(r) ?? ''), 'SIGTERM: the in-flight call completed', e ? e.message : JSON.stringify(r));
  const { code, sig } = await exited;
  check(code === 0, 'SIGTERM: the gateway exited 0 after draining', `${code} ${sig}`);
}
const logText = gw.output;
check(!logText.includes(basic) && !logText.includes(admin), 'the gateway\'s logs hold no token');
check(/"method":"tools\/call"/.test(logText), 'access log lines were written');
const upLines = logText.split('\n').filter((l) => l.includes('"upstream_status"')).map((l) => JSON.parse(l));
check(upLines.some((l) => l.upstream === 'rec' && l.name === 'echo' && l.upstream_status === 'ok' && typeof l.user === 'string'), 'upstream log: a line per upstream call with user, upstream, tool and status');
check(upLines.some((l) => l.upstream === 'bad' && l.name === 'hang' && l.upstream_status === 'DMCP_E_TIMEOUT' && l.ms >= 2500), 'upstream log: the hang is logged as a timeout with its latency');
fs.rmSync(dir, { recursive: true, force: true });
finish();
