// interop.gateway.multi: one gateway endpoint in front of two different upstreams — the
// recording TS SDK server (tools only) and our conformance-server (tools, prompts, resources)
// — with the official TS client: tools and prompts of each listed under their prefix and
// routed back without it; resources merged; a resource read reaches the upstream that has it
// (the first one answering "method not found" is skipped).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  check, deadline, finish, freePort, INTEROP_DIR, log, requireBinary, spawnTracked, waitForPort,
} from '../lib/harness.mjs';
import { getToken, startProvider } from '../oidc/provider-lib.mjs';

deadline(60);
const gatewayBin = requireBinary('descope-mcp');
const confBin = requireBinary('conformance-server');
const provider = await startProvider();
const [recPort, confPort, gwPort] = [await freePort(), await freePort(), await freePort()];
const rec = spawnTracked(process.execPath, [path.join(INTEROP_DIR, 'gateway', 'recorder-upstream.mjs'), '--listen', `127.0.0.1:${recPort}`]);
const conf = spawnTracked(confBin, ['--listen', `127.0.0.1:${confPort}`]);
await waitForPort(recPort, rec);
await waitForPort(confPort, conf);
const mcpUrl = `http://127.0.0.1:${gwPort}/mcp`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmcp-gwm-'));
const cfg = path.join(dir, 'gw.json');
fs.writeFileSync(cfg, JSON.stringify({
  listen: `127.0.0.1:${gwPort}`,
  auth: { well_known_url: provider.issuer, mcp_server_url: mcpUrl },
  upstreams: [
    { name: 'rec', url: `http://127.0.0.1:${recPort}/mcp` },
    { name: 'conf', url: `http://127.0.0.1:${confPort}/mcp` },
  ],
}));
const gw = spawnTracked(gatewayBin, ['gateway', '--config', cfg]);
await waitForPort(gwPort, gw, 20000);
log(`# gateway ${mcpUrl}: rec :${recPort} + conformance-server :${confPort}`);
const c0 = provider.clients.ES256;
const token = await getToken({ tokenEndpoint: provider.tokenEndpoint, clientId: c0.client_id, clientSecret: c0.client_secret, resource: mcpUrl, scope: 'tools.call' });
const client = new Client({ name: 'gw-multi', version: '1' });
await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));

const caps = client.getServerCapabilities();
check(caps?.tools && caps?.prompts && caps?.resources, 'the gateway declares tools, prompts and resources (merged from its upstreams)', JSON.stringify(caps));
const tools = (await client.listTools()).tools.map((t) => t.name);
check(tools.includes('rec__echo') && tools.includes('conf__test_simple_text'), 'tools of both upstreams, prefixed', tools.join(','));
const t = await client.callTool({ name: 'conf__test_simple_text', arguments: {} });
check(t.content?.[0]?.type === 'text' && t.isError !== true, 'a conformance-server tool through its prefix', JSON.stringify(t));
const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
check(prompts.includes('conf__test_simple_prompt') && !prompts.some((p) => !p.startsWith('conf__')), 'prompts listed under the prefix of the upstream that has them', prompts.join(','));
const p = await client.getPrompt({ name: 'conf__test_simple_prompt', arguments: {} });
check(Array.isArray(p.messages) && p.messages.length > 0, 'prompts/get routed to its upstream without the prefix', JSON.stringify(p));
const res = (await client.listResources()).resources.map((r) => r.uri);
check(res.includes('test://static-text'), 'resources merged', res.join(','));
const r = await client.readResource({ uri: 'test://static-text' });
check(typeof r.contents?.[0]?.text === 'string', 'resources/read reaches the upstream that has the resource (rec, asked first, has none)', JSON.stringify(r));
let unknown;
try { await client.callTool({ name: 'nobody__x', arguments: {} }); } catch (e) { unknown = e; }
check(unknown && /Unknown tool/.test(unknown.message), 'a name no upstream prefix matches: -32602 Unknown tool', unknown?.message);
await client.close();
fs.rmSync(dir, { recursive: true, force: true });
finish();
