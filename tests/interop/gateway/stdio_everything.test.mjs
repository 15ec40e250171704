// interop.gateway.stdio.everything: `descope-mcp gateway --upstream-stdio` in front of the official
// @modelcontextprotocol/server-everything (pinned, run over stdio by the gateway with the pinned
// node), reached by the official TypeScript client (@modelcontextprotocol/sdk 1.32.2) with tokens
// from a loopback oidc-provider. Checks:
//   - no token -> 401 with resource_metadata; the SDK's discovery finds the PRM (resource = the
//     gateway's URL, authorization_servers = [issuer]);
//   - tools listed (including the ones server-everything registers only for a client that
//     declared sampling: proof the child was initialized with the client's capabilities) and
//     called;
//   - a tool behind a scope rule (--tool-scope get-env=admin.write): 403 insufficient_scope
//     without the scope, works with it;
//   - progress notifications of trigger-long-running-operation arrive live (the first one long
//     before the result);
//   - trigger-sampling-request: the upstream's sampling/createMessage reaches the client and the
//     client's answer reaches the upstream (it quotes it back);
//   - the child of one session killed mid-call: that call fails with an error at once, another
//     session keeps working on its own child, a new session gets a fresh child, and so does the
//     crashed session's next call;
//   - SIGTERM: the gateway exits 0 and no child outlives it.
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { discoverOAuthProtectedResourceMetadata } from '@modelcontextprotocol/sdk/client/auth.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  check, deadline, finish, freePort, INTEROP_DIR, log, requireBinary, spawnTracked, waitForPort,
} from '../lib/harness.mjs';
import { getToken, startProvider } from '../oidc/provider-lib.mjs';

deadline(110);
const gwBin = requireBinary('descope-mcp');
const everything = path.join(INTEROP_DIR, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
check(fs.existsSync(everything), 'server-everything is installed (pinned in package-lock.json)', everything);

const provider = await startProvider();
const port = await freePort();
const mcpUrl = `http://127.0.0.1:${port}/mcp`;
const prmUrl = `http://127.0.0.1:${port}/.well-known/oauth-protected-resource/mcp`;
const gw = spawnTracked(gwBin, ['gateway', '--listen', `127.0.0.1:${port}`,
  '--well-known-url', provider.issuer, '--mcp-server-url', mcpUrl,
  '--tool-scope', 'get-env=admin.write',
  '--upstream-stdio', '--', process.execPath, everything, 'stdio']);
await waitForPort(port, gw, 20000);
log(`# gateway at ${mcpUrl} (pid ${gw.pid}), upstream: node server-everything stdio`);

const tokenFor = (scope) => getToken({ tokenEndpoint: provider.tokenEndpoint, clientId: provider.clients.ES256.client_id, clientSecret: provider.clients.ES256.client_secret, resource: mcpUrl, scope });
const accept = 'application/json, text/event-stream';
const SAMPLED = 'the client sampled this';
let samplingCalls = 0;

async function connect(token) {
  const client = new Client({ name: 'dmcp-gw-interop', version: '1.0.0' }, { capabilities: { sampling: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, async (req) => {
    samplingCalls += 1;
    const asked = req.params.messages?.[0]?.content?.text ?? '';
    return { role: 'assistant', model: 'interop-model', content: { type: 'text', text: `${SAMPLED} (asked: ${asked.slice(0, 60)})` } };
  });
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return { client, transport };
}
const text = (r) => (r?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');

// The gateway's children: processes whose parent is the gateway.
function childrenOf(pid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}
async function waitFor(cond, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await cond();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

// ---- no token: 401 and discovery ----
{
  const res = await fetch(mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }) });
  const www = res.headers.get('www-authenticate') ?? '';
  check(res.status === 401, 'no token: HTTP 401', res.status);
  check(/^Bearer /i.test(www) && www.includes(`resource_metadata="${prmUrl}"`), 'no token: WWW-Authenticate names the PRM', www);
  check(childrenOf(gw.pid).length === 0, 'no token: no child was started for it');
  const prm = await discoverOAuthProtectedResourceMetadata(mcpUrl);
  check(prm.resource === mcpUrl, 'PRM: resource = the gateway URL', prm.resource);
  check(Array.isArray(prm.authorization_servers) && prm.authorization_servers[0] === provider.issuer, 'PRM: authorization_servers = [issuer]', prm.authorization_servers);
}

const basic = await tokenFor('tools.call');
const admin = await tokenFor('tools.call admin.write');

// ---- tools ----
const A = await connect(basic);
{
  const tools = (await A.client.listTools()).tools.map((t) => t.name);
  log(`# tools: ${tools.join(' ')}`);
  check(tools.includes('echo') && tools.includes('trigger-long-running-operation'), 'tools/list through the gateway', tools);
  check(tools.includes('trigger-sampling-request'), 'the child was initialized with the client\'s capabilities (sampling-only tool listed)', tools);
  const r = await A.client.callTool({ name: 'echo', arguments: { message: 'through the gateway' } });
  check(text(r).includes('through the gateway') && !r.isError, 'tools/call echo', text(r));
  const s = await A.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } });
  check(text(s).includes('42'), 'tools/call get-sum', text(s));
}

// ---- scope rule ----
{
  const sid = A.transport.sessionId;
  const res = await fetch(mcpUrl, { method: 'POST', headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${basic}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, body: JSON.stringify({ jsonrpc: '2.0', id: 'g1', method: 'tools/call', params: { name: 'get-env', arguments: {} } }) });
  const www = res.headers.get('www-authenticate') ?? '';
  check(res.status === 403, 'get-env without admin.write: HTTP 403', `${res.status} ${await res.text().catch(() => '')}`);
  check(/error="insufficient_scope"/.test(www) && /scope="[^"]*admin\.write/.test(www), 'get-env without admin.write: insufficient_scope naming admin.write', www);
  const B = await connect(admin);
  const r = await B.client.callTool({ name: 'get-env', arguments: {} });
  check(!r.isError && text(r).length > 0, 'get-env with admin.write works', text(r).slice(0, 80));
  const leaked = text(r).includes(admin) || text(r).includes(basic);
  check(!leaked, 'the upstream never saw the caller\'s token (not in its environment)');
  await B.client.close();
}

// ---- progress, live ----
{
  const t0 = Date.now();
  const seen = [];
  const r = await A.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 3, steps: 3 } }, undefined, {
    onprogress: (p) => seen.push({ at: Date.now() - t0, ...p }), timeout: 60000,
  });
  const done = Date.now() - t0;
  log(`# progress at ${seen.map((p) => `${p.at}ms(${p.progress}/${p.total})`).join(', ')}; result at ${done}ms`);
  check(seen.length >= 3, 'progress notifications arrived (3 steps)', seen.length);
  check(seen.length > 0 && seen[0].at < done - 1000, 'the first progress arrived live, over a second before the result', `${seen[0]?.at} vs ${done}`);
  check(text(r).length > 0 && !r.isError, 'the long-running operation completed', text(r).slice(0, 80));
}

// ---- sampling ----
{
  const before = samplingCalls;
  const r = await A.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'say hi', maxTokens: 20 } }, undefined, { timeout: 60000 });
  check(samplingCalls === before + 1, 'the upstream\'s sampling/createMessage reached the client', samplingCalls - before);
  check(text(r).includes(SAMPLED), 'the client\'s answer reached the upstream (it quotes it back)', text(r).slice(0, 200));
}

// ---- a child killed mid-call ----
{
  const before = new Set(childrenOf(gw.pid));
  const C = await connect(basic);
  await C.client.listTools(); // the upstream session (its child) is opened by the first forwarded call
  const cChild = await waitFor(() => childrenOf(gw.pid).find((p) => !before.has(p)), 20000, 'the new session\'s child');
  log(`# session C has child ${cChild}; children now ${childrenOf(gw.pid).join(' ')}`);
  const t0 = Date.now();
  const call = C.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 30, steps: 30 } }, undefined, {
    onprogress: () => {}, timeout: 60000,
  }).then((r) => ({ ok: true, r }), (e) => ({ ok: false, e }));
  await new Promise((r) => setTimeout(r, 1500));
  process.kill(cChild, 'SIGKILL');
  const out = await call;
  const took = Date.now() - t0;
  const why = out.ok ? JSON.stringify(out.r).slice(0, 200) : String(out.e?.message ?? out.e);
  log(`# the call on the killed child ended after ${took} ms: ${why}`);
  check(!out.ok || out.r.isError, 'the call on the killed child ends with an error', why);
  check(took < 25000, 'the error came when the child died, not at the end of the operation', took);
  // Other sessions are unaffected.
  const r = await A.client.callTool({ name: 'echo', arguments: { message: 'still here' } });
  check(text(r).includes('still here'), 'another session keeps working on its own child', text(r));
  // A new session gets a fresh child.
  const D = await connect(basic);
  const d = await D.client.callTool({ name: 'echo', arguments: { message: 'fresh child' } });
  check(text(d).includes('fresh child'), 'a new session works (a fresh child)', text(d));
  check(!childrenOf(gw.pid).includes(cChild), 'the killed child was reaped (no zombie left)');
  // The session whose child died: its next call gets a fresh child (the stdio upstream answers
  // NOT_FOUND for a dead child, and the gateway reopens the upstream session and retries).
  const again = await C.client.callTool({ name: 'echo', arguments: { message: 'after the crash' } }).then((x) => ({ ok: true, x }), (e) => ({ ok: false, e }));
  log(`# the crashed session's next call: ${again.ok ? text(again.x) : again.e?.message}`);
  check(again.ok && text(again.x).includes('after the crash'), 'the crashed session\'s next call works on a fresh child', again.ok ? text(again.x) : again.e?.message);
  await D.client.close();
  await C.client.close().catch(() => {});
}

await A.client.close();
check(gw.exitCode === null, 'the gateway is still running');

// ---- SIGTERM: the gateway stops cleanly and takes its children with it ----
{
  const kids = childrenOf(gw.pid);
  check(kids.length > 0, 'children are running before SIGTERM', kids);
  const exited = new Promise((r) => gw.once('exit', (code, signal) => r({ code, signal })));
  gw.kill('SIGTERM');
  const how = await Promise.race([exited, new Promise((r) => setTimeout(() => r({ code: 'none' }), 20000))]);
  check(how.code === 0, 'SIGTERM: the gateway exits 0', JSON.stringify(how));
  const left = kids.filter((p) => { try { process.kill(p, 0); return !fs.readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z '); } catch { return false; } });
  check(left.length === 0, 'SIGTERM: no stdio child outlives the gateway', left);
}
finish();
