// calendar.e2e (registered by tests/calendar/tests.cmake): <build>/bin/calendar-server driven by
// the official MCP TypeScript SDK client, against three servers written here on 127.0.0.1:
//   - an OpenID provider with a Descope-shaped issuer (discovery + JWKS; tokens signed by jose);
//   - a FAKE Descope outbound-app API that records every request it gets;
//   - a FAKE Google Calendar API that records every request it gets.
// Asserts: listTools shows get_calendar_events; a token without calendar.read gets HTTP 403
// insufficient_scope; a proper token gets the events as structuredContent; the fake Descope API
// got "Bearer <pid>:<MCP token>" and the right body; the fake calendar API got the connection
// token and NEVER the MCP token (every request checked, headers and URL); a user who has not
// connected gets isError with the connect URL; policy denied, rate limited, a refused connection
// token and an unreachable calendar API give clear tool errors; max_results out of range is
// refused by schema validation; the PRM lists the scopes.
// Exit 77 only when node_modules (run-test.sh) or the binary is missing.
import http from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import * as jose from 'jose';
import {
  check, deadline, finish, freePort, log, requireBinary, spawnTracked, waitForPort,
} from '../lib/harness.mjs';

deadline(60);
const bin = requireBinary('calendar-server');

const PID = 'P2caltest';
const ISSUER_PATH = `/v1/apps/agentic/${PID}/MS2caltest`;
const GOOGLE_SCOPE = 'https://www.googleapis.com/auth/calendar.readonly';
const CONNECT_URL = 'https://connect.example.test/outbound/connect?ticket=t-123';
// Each connected user gets a distinct connection token (never equal to any MCP token).
const CONN_TOKENS = { U2alice: `conn-alice-${crypto.randomUUID()}`, U2stale: `conn-stale-${crypto.randomUUID()}` };

// ---- a tiny JSON HTTP server that records every request ----
async function startServer(handler) {
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const rec = { method: req.method, url: req.url, headers: req.headers, body };
      requests.push(rec);
      const [status, obj, extra = {}] = handler(rec);
      res.writeHead(status, { 'content-type': 'application/json', ...extra });
      res.end(JSON.stringify(obj));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return { base, requests, close: () => server.close() };
}

// ---- the OpenID provider: discovery + JWKS, tokens minted with jose ----
const { publicKey, privateKey } = await jose.generateKeyPair('RS256');
const jwk = { ...(await jose.exportJWK(publicKey)), kid: 'cal-1', alg: 'RS256', use: 'sig' };
let issuer;
const as = await startServer((r) => {
  if (r.method === 'GET' && r.url === `${ISSUER_PATH}/.well-known/openid-configuration`) {
    return [200, {
      issuer, jwks_uri: `${issuer}/jwks.json`, token_endpoint: `${issuer}/token`,
      authorization_endpoint: `${issuer}/authorize`, response_types_supported: ['code'],
      scopes_supported: ['openid', 'calendar.read', 'outbound.token.fetch'],
    }];
  }
  if (r.method === 'GET' && r.url === `${ISSUER_PATH}/jwks.json`) return [200, { keys: [jwk] }];
  return [404, { error: 'not found' }];
});
issuer = `${as.base}${ISSUER_PATH}`;
const wellKnown = `${issuer}/.well-known/openid-configuration`;

const port = await freePort();
const mcpUrl = `http://127.0.0.1:${port}/mcp`;
const prmUrl = `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`;

async function mint(sub, scope) {
  return new jose.SignJWT({ scope, client_id: 'cal-client' })
    .setProtectedHeader({ alg: 'RS256', kid: 'cal-1', typ: 'at+jwt' })
    .setIssuer(issuer).setSubject(sub).setAudience(mcpUrl)
    .setIssuedAt().setExpirationTime('10m').setJti(crypto.randomUUID())
    .sign(privateKey);
}

// ---- the fake Descope API ----
const descope = await startServer((r) => {
  const m = /^Bearer ([^:]+):(.+)$/.exec(r.headers.authorization ?? '');
  if (!m || m[1] !== PID) return [401, { errorCode: 'E011003', errorDescription: 'bad credential' }];
  let body;
  try { body = JSON.parse(r.body); } catch { return [400, { errorCode: 'E011001' }]; }
  if (r.method === 'POST' && r.url === '/v1/mgmt/outbound/app/connect') return [200, { url: CONNECT_URL }];
  if (r.method !== 'POST' || r.url !== '/v1/mgmt/outbound/app/user/token') return [404, { errorCode: 'E000000' }];
  switch (body.userId) {
    case 'U2alice':
    case 'U2stale': // a token Descope still hands out but Google no longer accepts
      return [200, { token: {
        id: 'CN1', appId: body.appId, userId: body.userId, accessToken: CONN_TOKENS[body.userId],
        accessTokenType: 'bearer', accessTokenExpiry: Math.floor(Date.now() / 1000) + 3600, scopes: [GOOGLE_SCOPE],
      } }];
    case 'U2denied':
      return [403, { errorCode: 'E011004', errorDescription: 'Policy denied the request', errorMessage: 'denied' }];
    case 'U2busy':
      return [429, { errorCode: 'E130429', errorDescription: 'Too many requests' }, { 'retry-after': '42' }];
    default: // U2bob and anyone else: not connected
      return [404, { errorCode: 'E111504', errorDescription: 'Outbound app token not found' }];
  }
});

// ---- the fake Google Calendar API ----
const startIn = (h) => new Date(Date.now() + h * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z');
const calendar = await startServer((r) => {
  if (r.headers.authorization !== `Bearer ${CONN_TOKENS.U2alice}`) {
    return [401, { error: { code: 401, message: 'Invalid Credentials' } }];
  }
  const q = new URL(r.url, 'http://x').searchParams;
  const n = Number(q.get('maxResults'));
  const items = [1, 2, 3, 4, 5, 6, 7].slice(0, n).map((i) => ({
    kind: 'calendar#event', id: `ev${i}`, status: 'confirmed', summary: `Meeting ${i}`,
    start: { dateTime: startIn(i) }, end: { dateTime: startIn(i + 0.5) },
  }));
  items.push({ kind: 'calendar#event', id: 'allday', summary: 'Holiday', start: { date: '2030-01-01' }, end: { date: '2030-01-02' } });
  return [200, { kind: 'calendar#events', items: items.slice(0, n) }];
});

const srv = spawnTracked(bin, ['--listen', `127.0.0.1:${port}`, '--well-known-url', wellKnown,
  '--mcp-server-url', mcpUrl, '--descope-api-base', descope.base, '--calendar-api-base', calendar.base]);
await waitForPort(port, srv);
log(`# calendar-server at ${mcpUrl}; issuer ${issuer}; Descope ${descope.base}; calendar ${calendar.base}`);

const mcpTokens = [];
async function tokenFor(sub, scope) {
  const t = await mint(sub, scope);
  mcpTokens.push(t);
  return t;
}
async function connect(token) {
  const client = new Client({ name: 'calendar-e2e', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return { client, transport };
}
const text = (r) => (r?.content ?? []).map((c) => c.text ?? '').join('\n');

// ---- PRM and the missing-token challenge ----
{
  const res = await fetch(mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
  check(res.status === 401 && /resource_metadata="([^"]+)"/.exec(res.headers.get('www-authenticate') ?? '')?.[1] === prmUrl,
    'no token: 401 with resource_metadata', { status: res.status, www: res.headers.get('www-authenticate') });
  const prm = await (await fetch(prmUrl)).json();
  check(prm.resource === mcpUrl && prm.authorization_servers?.[0] === issuer, 'PRM: resource and authorization server', prm);
  check(['calendar.read', 'outbound.token.fetch'].every((s) => prm.scopes_supported?.includes(s)),
    'PRM: scopes_supported lists calendar.read and outbound.token.fetch', prm.scopes_supported);
}

// ---- a token without calendar.read: 403 insufficient_scope ----
{
  const token = await tokenFor('U2alice', 'outbound.token.fetch');
  const { client, transport } = await connect(token);
  const tools = await client.listTools();
  const tool = tools.tools.find((t) => t.name === 'get_calendar_events');
  check(tool !== undefined, 'listTools shows get_calendar_events', tools.tools.map((t) => t.name));
  check(tool?.inputSchema?.properties?.max_results?.type === 'integer', 'get_calendar_events takes max_results: integer', tool?.inputSchema);
  const res = await fetch(mcpUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${token}`,
      'mcp-session-id': transport.sessionId, 'mcp-protocol-version': transport.protocolVersion ?? '2025-11-25',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'get_calendar_events', arguments: {} } }),
  });
  const www = res.headers.get('www-authenticate') ?? '';
  check(res.status === 403 && /error="insufficient_scope"/.test(www) && /scope="[^"]*calendar\.read/.test(www),
    'no calendar.read: HTTP 403 insufficient_scope naming calendar.read', { status: res.status, www });
  check(descope.requests.length === 0 && calendar.requests.length === 0, 'no calendar.read: neither Descope nor the calendar API was called');
  await transport.terminateSession().catch(() => {});
  await client.close();
}

// ---- a proper token: events as structuredContent ----
let aliceToken;
{
  aliceToken = await tokenFor('U2alice', 'calendar.read outbound.token.fetch');
  const { client, transport } = await connect(aliceToken);
  const r = await client.callTool({ name: 'get_calendar_events', arguments: { max_results: 3 } });
  const ev = r.structuredContent?.events;
  check(r.isError !== true && Array.isArray(ev) && ev.length === 3, 'calendar.read: 3 events as structuredContent', r);
  check(ev?.[0]?.id === 'ev1' && ev[0].summary === 'Meeting 1' && typeof ev[0].start === 'string' && typeof ev[0].end === 'string',
    'events carry id, summary, start, end', ev?.[0]);
  check(/Meeting 1/.test(text(r)) && /Meeting 3/.test(text(r)), 'the text content lists the events', text(r));
  const d = descope.requests.at(-1);
  check(d?.method === 'POST' && d.url === '/v1/mgmt/outbound/app/user/token', 'Descope: POST /v1/mgmt/outbound/app/user/token', d?.url);
  check(d?.headers.authorization === `Bearer ${PID}:${aliceToken}`, 'Descope: Authorization is Bearer <pid>:<MCP access token>');
  const body = JSON.parse(d?.body ?? '{}');
  check(body.appId === 'google-calendar' && body.userId === 'U2alice' && JSON.stringify(body.scopes) === JSON.stringify([GOOGLE_SCOPE]) &&
    typeof body.options === 'object', 'Descope: body {appId: google-calendar, userId, scopes: [calendar.readonly], options}', body);
  const c = calendar.requests.at(-1);
  const u = new URL(c?.url ?? '/', 'http://x');
  check(c?.method === 'GET' && u.pathname === '/calendar/v3/calendars/primary/events', 'calendar: GET /calendar/v3/calendars/primary/events', c?.url);
  const tmin = Date.parse(u.searchParams.get('timeMin') ?? '');
  check(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(u.searchParams.get('timeMin') ?? '') && Math.abs(tmin - Date.now()) < 60_000 &&
    u.searchParams.get('maxResults') === '3' && u.searchParams.get('orderBy') === 'startTime' && u.searchParams.get('singleEvents') === 'true',
  'calendar: timeMin=now (RFC 3339 UTC), maxResults=3, orderBy=startTime, singleEvents=true', c?.url);
  check(c?.headers.authorization === `Bearer ${CONN_TOKENS.U2alice}`, 'calendar: Authorization is the connection token');

  // Default max_results is 5.
  const r5 = await client.callTool({ name: 'get_calendar_events', arguments: {} });
  check(r5.structuredContent?.events?.length === 5 && new URL(calendar.requests.at(-1).url, 'http://x').searchParams.get('maxResults') === '5',
    'max_results defaults to 5', r5.structuredContent);

  // Schema validation: out of range or wrong type never reaches Descope or the calendar.
  const before = [descope.requests.length, calendar.requests.length];
  for (const bad of [0, 251, 'ten', 2.5]) {
    let res;
    let err;
    try { res = await client.callTool({ name: 'get_calendar_events', arguments: { max_results: bad } }); } catch (e) { err = e; }
    check((res?.isError === true) || (err !== undefined && /-32602|Invalid/i.test(String(err))),
      `max_results=${JSON.stringify(bad)}: refused by schema validation`, res ?? String(err));
  }
  check(descope.requests.length === before[0] && calendar.requests.length === before[1], 'refused arguments reach neither Descope nor the calendar');
  await transport.terminateSession().catch(() => {});
  await client.close();
}

// ---- a user who has not connected: isError naming the connect URL ----
async function callAs(sub) {
  const token = await tokenFor(sub, 'calendar.read outbound.token.fetch');
  const { client, transport } = await connect(token);
  const r = await client.callTool({ name: 'get_calendar_events', arguments: {} });
  await transport.terminateSession().catch(() => {});
  await client.close();
  return r;
}
{
  const calls = calendar.requests.length;
  const r = await callAs('U2bob');
  check(r.isError === true && /not connected/i.test(text(r)) && text(r).includes(CONNECT_URL), 'not connected: isError with the message and the connect URL', r);
  const connect = descope.requests.find((q) => q.url === '/v1/mgmt/outbound/app/connect');
  check(connect !== undefined && JSON.parse(connect.body).appId === 'google-calendar', 'not connected: the connect URL was asked for google-calendar', connect?.body);
  check(calendar.requests.length === calls, 'not connected: the calendar API was not called');

  const d = await callAs('U2denied');
  check(d.isError === true && /policy denied/i.test(text(d)), 'policy denied: a clear tool error', text(d));
  const b = await callAs('U2busy');
  check(b.isError === true && /rate limit/i.test(text(b)) && /42 s/.test(text(b)), 'rate limited: a clear tool error with Retry-After', text(b));
  const s = await callAs('U2stale');
  check(s.isError === true && /refused the connection token \(HTTP 401\)/.test(text(s)) && /reconnect/.test(text(s)),
    'calendar API refuses the connection token: a clear tool error asking to reconnect', text(s));
  check(calendar.requests.at(-1)?.headers.authorization === `Bearer ${CONN_TOKENS.U2stale}`, 'the refused call carried that connection token');
}

// ---- unreachable calendar API: a clear tool error (a second server, calendar base on a closed port) ----
{
  const port2 = await freePort();
  const closed = await freePort();
  const url2 = `http://127.0.0.1:${port2}/mcp`;
  const srv2 = spawnTracked(bin, ['--listen', `127.0.0.1:${port2}`, '--well-known-url', wellKnown,
    '--mcp-server-url', url2, '--descope-api-base', descope.base, '--calendar-api-base', `http://127.0.0.1:${closed}`]);
  await waitForPort(port2, srv2);
  const token = await new jose.SignJWT({ scope: 'calendar.read outbound.token.fetch' })
    .setProtectedHeader({ alg: 'RS256', kid: 'cal-1', typ: 'at+jwt' })
    .setIssuer(issuer).setSubject('U2alice').setAudience(url2).setIssuedAt().setExpirationTime('10m').sign(privateKey);
  mcpTokens.push(token);
  const client = new Client({ name: 'calendar-e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url2), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  const r = await client.callTool({ name: 'get_calendar_events', arguments: {} });
  check(r.isError === true && /unreachable/i.test(text(r)), 'calendar API unreachable: a clear tool error', text(r));
  await client.close();
}

// ---- a non-loopback http calendar base is refused at start-up ----
{
  const r = spawnTracked(bin, ['--listen', '127.0.0.1:0', '--well-known-url', wellKnown, '--mcp-server-url', mcpUrl,
    '--calendar-api-base', 'http://calendar.example.test']);
  const code = await new Promise((resolve) => r.on('exit', resolve));
  check(code === 2, 'plain-http non-loopback --calendar-api-base: exit 2', r.output);
}

// ---- no token passthrough: every request the calendar API got ----
{
  check(calendar.requests.length >= 2, 'the calendar API was called', calendar.requests.length);
  const leaked = calendar.requests.filter((q) => mcpTokens.some((t) => JSON.stringify(q).includes(t)));
  check(leaked.length === 0, 'the calendar API NEVER received an MCP access token (any header, URL or body)', leaked.map((q) => q.url));
  const conns = Object.values(CONN_TOKENS).map((t) => `Bearer ${t}`);
  check(calendar.requests.every((q) => conns.includes(q.headers.authorization)),
    'every calendar request carried a connection token');
  check(descope.requests.every((q) => !Object.values(CONN_TOKENS).some((t) => JSON.stringify(q).includes(t))),
    'no connection token was ever sent back to Descope');
}

check(srv.exitCode === null && srv.signalCode === null, 'the server is still running at the end', srv.output.slice(-500));
check(!mcpTokens.some((t) => srv.output.includes(t)) && !Object.values(CONN_TOKENS).some((t) => srv.output.includes(t)), 'no token in the server output');
as.close();
descope.close();
calendar.close();
finish();
