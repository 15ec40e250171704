// interop.gateway.connections: the gateway fetches the caller's Descope connection token (from
// tests/connections-cli/fake_descope, with the caller's oidc-provider token as the fake
// expects it) and hands it to the upstream in the configured header; an app the user has not
// connected gives a tool error saying so, and the upstream is not called. The caller's token
// is sent to Descope only, never upstream.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  check, deadline, finish, freePort, INTEROP_DIR, log, requireBinary, skip, spawnTracked, waitForPort,
} from '../lib/harness.mjs';
import { DESCOPE_PATH, getToken, startProvider } from '../oidc/provider-lib.mjs';

deadline(60);
const gatewayBin = requireBinary('descope-mcp');
const fake = path.join(path.dirname(gatewayBin), '..', 'tests', 'fake_descope');
if (!fs.existsSync(fake)) skip(`${fake} is not built`);
const provider = await startProvider({ path: DESCOPE_PATH });
const gwPort = await freePort();
const recPort = await freePort();
const mcpUrl = `http://127.0.0.1:${gwPort}/mcp`;
const c0 = provider.clients.RS256;
const token = await getToken({ tokenEndpoint: provider.tokenEndpoint, clientId: c0.client_id, clientSecret: c0.client_secret, resource: mcpUrl, scope: 'tools.call outbound.token.fetch' });

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmcp-gwc-'));
const portFile = path.join(dir, 'port');
const fd = spawnTracked(fake, ['--port-file', portFile, '--lifetime', '120'], { env: { ...process.env, FAKE_PROJECT_ID: 'P2test', FAKE_ACCESS_TOKEN: token } });
for (let i = 0; i < 100 && !fs.existsSync(portFile); i++) await new Promise((r) => setTimeout(r, 50));
const fakePort = Number(fs.readFileSync(portFile, 'utf8').trim());
const rec = spawnTracked(process.execPath, [path.join(INTEROP_DIR, 'gateway', 'recorder-upstream.mjs'), '--listen', `127.0.0.1:${recPort}`]);
await waitForPort(recPort, rec);

const cfg = path.join(dir, 'gw.json');
fs.writeFileSync(cfg, JSON.stringify({
  listen: `127.0.0.1:${gwPort}`,
  auth: { well_known_url: provider.issuer, mcp_server_url: mcpUrl, descope_api_base: `http://127.0.0.1:${fakePort}` },
  upstreams: [
    { name: 'cal', url: `http://127.0.0.1:${recPort}/mcp` },
    { name: 'drive', url: `http://127.0.0.1:${recPort}/mcp` },
  ],
  connections: [
    { app: 'ok', header: 'X-Conn-Token', upstream: 'cal', scopes: ['https://example.com/read'] },
    { app: 'notconnected', header: 'X-Drive-Token', upstream: 'drive' },
  ],
}));
const gw = spawnTracked(gatewayBin, ['gateway', '--config', cfg]);
await waitForPort(gwPort, gw, 20000);
log(`# gateway ${mcpUrl}, fake Descope :${fakePort}, recorder :${recPort}`);

const client = new Client({ name: 'gw-conn', version: '1' });
await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
const text = (r) => r?.content?.[0]?.text;

const r = await client.callTool({ name: 'cal__headers', arguments: {} });
const h = JSON.parse(text(r) ?? '{}');
check(/^conn-token-for-.+/.test(h['x-conn-token'] ?? ''), 'the upstream got the connection token in the configured header', JSON.stringify(h));
check(h['x-conn-token'] === `conn-token-for-${h['x-mcp-user-id']}`, 'the connection token is the caller\'s (user id matches)', `${h['x-conn-token']} / ${h['x-mcp-user-id']}`);
check(h.authorization === undefined && !JSON.stringify(h).includes(token), 'no Authorization and no MCP token upstream');
check(h['x-drive-token'] === undefined, 'an app configured for another upstream is not sent here');

await fetch(`http://127.0.0.1:${recPort}/recorded?reset`);
const before = (await (await fetch(`http://127.0.0.1:${recPort}/recorded`)).json()).length;
const nc = await client.callTool({ name: 'drive__echo', arguments: { text: 'x' } });
check(nc.isError === true && /not connected/.test(text(nc) ?? ''), 'not connected: a tool error saying so', JSON.stringify(nc));
const after = (await (await fetch(`http://127.0.0.1:${recPort}/recorded`)).json()).filter((x) => x.method === 'POST');
check(after.length === before, 'not connected: the upstream was not called', `${before} -> ${after.length}`);
await client.close();
const exited = new Promise((r) => gw.once('exit', (code) => r(code)));
gw.kill('SIGTERM');
const code = await exited;
check(code === 0, 'the gateway stops cleanly on SIGTERM (exit 0; under ASan also: no leak)', `${code} ${gw.output.slice(-2000)}`);
check(!gw.output.includes(token) && !gw.output.includes('conn-token-for'), 'no token in the gateway\'s output');
fs.rmSync(dir, { recursive: true, force: true });
finish();
