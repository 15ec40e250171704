// interop.gateway.keepalive: the gateway's HTTP upstream client on kept-alive connections, for
// both clients (the plain-HTTP fast path, and libcurl with DMCP_GW_HTTP_CLIENT=curl): an
// upstream that silently closes idle connections after 1 ms (Node's keepAliveTimeout) makes
// every call after a pause meet a dead connection, and every call must still succeed (the one
// retry on a new connection); with a patient upstream, 20 calls reuse kept connections (one, on
// the fast path); a chunked
// answer sent in two writes arrives whole.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  check, deadline, finish, freePort, INTEROP_DIR, log, requireBinary, spawnTracked, waitForPort,
} from '../lib/harness.mjs';
import { getToken, startProvider } from '../oidc/provider-lib.mjs';

deadline(90);
const gatewayBin = requireBinary('descope-mcp');
const provider = await startProvider();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmcp-gwk-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const text = (r) => r?.content?.[0]?.text;

async function round(client, keepAliveMs) {
  const upPort = await freePort();
  const up = spawnTracked(process.execPath, [path.join(INTEROP_DIR, 'gateway', 'bad-upstream.mjs'), '--listen', `127.0.0.1:${upPort}`,
    ...(keepAliveMs !== undefined ? ['--keep-alive-ms', String(keepAliveMs)] : [])]);
  await waitForPort(upPort, up);
  const gwPort = await freePort();
  const url = `http://127.0.0.1:${gwPort}/mcp`;
  const cfg = path.join(dir, `gw-${client}-${keepAliveMs ?? 'default'}.json`);
  fs.writeFileSync(cfg, JSON.stringify({
    listen: `127.0.0.1:${gwPort}`, auth: { well_known_url: provider.issuer, mcp_server_url: url },
    upstreams: [{ name: 'bad', url: `http://127.0.0.1:${upPort}/mcp` }], timeouts: { request_ms: 5000 },
  }));
  const env = { ...process.env };
  if (client === 'curl') env.DMCP_GW_HTTP_CLIENT = 'curl'; else delete env.DMCP_GW_HTTP_CLIENT;
  const gw = spawnTracked(gatewayBin, ['gateway', '--config', cfg], { env });
  await waitForPort(gwPort, gw, 20000);
  const c0 = provider.clients.ES256;
  const token = await getToken({ tokenEndpoint: provider.tokenEndpoint, clientId: c0.client_id, clientSecret: c0.client_secret, resource: url, scope: 'tools.call' });
  const mcp = new Client({ name: 'gw-keepalive', version: '1' });
  await mcp.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return { up, gw, mcp };
}

for (const client of ['fast', 'curl']) {
  // An upstream that drops idle connections after 1 ms.
  let r = await round(client, 1);
  let good = 0;
  const errors = [];
  for (let i = 0; i < 8; i++) {
    await sleep(60);
    try {
      const res = await r.mcp.callTool({ name: 'initializes', arguments: {} });
      if (/^\d+$/.test(text(res) ?? '') && !res.isError) good++; else errors.push(JSON.stringify(res));
    } catch (e) { errors.push(String(e)); }
  }
  let conns = -1;
  try { conns = Number(text(await r.mcp.callTool({ name: 'connections', arguments: {} }))); } catch (e) { errors.push(String(e)); }
  check(good === 8, `${client}: 8 calls, each after the upstream closed the kept connection, all answered`, [...errors.slice(0, 2), r.gw.output.slice(-1500)]);
  check(conns >= 8, `${client}: the upstream saw a new connection for each of them (${conns})`, conns);
  check(r.gw.exitCode === null, `${client}: the gateway is still running`);
  await r.mcp.close();
  r.gw.kill('SIGTERM');
  r.up.kill('SIGKILL');

  // A patient upstream: one connection carries the calls; a chunked answer arrives whole.
  r = await round(client, undefined);
  const before = Number(text(await r.mcp.callTool({ name: 'connections', arguments: {} })));
  for (let i = 0; i < 20; i++) await r.mcp.callTool({ name: 'initializes', arguments: {} });
  const after = Number(text(await r.mcp.callTool({ name: 'connections', arguments: {} })));
  // The fast path keeps one pool of connections; libcurl one connection per pooled easy handle
  // (a GET-stream handle may come back for a POST with its own connection): a few, not 20.
  if (client === 'fast') check(after === before, `fast: 20 calls in a row reuse the kept connection (connections ${before} -> ${after})`, `${before} ${after}`);
  else check(after - before <= 2, `curl: 20 calls in a row reuse kept connections (connections ${before} -> ${after})`, `${before} ${after}`);
  const ch = await r.mcp.callTool({ name: 'chunked', arguments: {} });
  check(text(ch) === 'chunked ok', `${client}: a chunked JSON answer in two writes arrives whole`, JSON.stringify(ch));
  await r.mcp.close();
  r.gw.kill('SIGTERM');
  r.up.kill('SIGKILL');
}
log('# both clients: fast (plain-HTTP socket pool) and curl (DMCP_GW_HTTP_CLIENT=curl)');
fs.rmSync(dir, { recursive: true, force: true });
finish();
