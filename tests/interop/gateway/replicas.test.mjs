// interop.gateway.replicas (issue 11, "replicas without affinity"): three `descope-mcp gateway`
// replicas share one loopback redis-server (--store) behind nginx round robin, no stickiness,
// in front of one Streamable HTTP upstream with sessions (the recording TS SDK server). The
// official TS client (1.32.2, oidc-provider token) talks to nginx only:
//   - one client session, many tools/call: answered correctly, landing on every replica
//     (access logs), through ONE upstream session (the recorder saw one initialize and one
//     upstream session id: the replicas continue the session another one opened);
//   - the client session with another principal's token is refused (404) on every replica;
//   - a replica stopped (SIGTERM) lets go of the session without ending it upstream (no
//     upstream DELETE), and the others carry on with the same upstream session;
//   - DELETE through nginx ends the upstream session exactly once, and the session is gone
//     (404) on every replica still running.
// Exit 77 when redis-server or nginx is not installed.
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  check, deadline, finish, freePort, INTEROP_DIR, log, requireBinary, spawnTracked, waitForPort,
} from '../lib/harness.mjs';
import {
  accessLines, rawPost, requireTools, startInstances, startNginx, startRedis,
} from '../lib/cluster.mjs';
import { getToken, startProvider } from '../oidc/provider-lib.mjs';

deadline(120);
await requireTools(['redis-server', 'nginx']);
const bin = requireBinary('descope-mcp');
const N = 3;
const CALLS = 24;

const provider = await startProvider();
const redis = await startRedis();
const recPort = await freePort();
const rec = spawnTracked(process.execPath, [path.join(INTEROP_DIR, 'gateway', 'recorder-upstream.mjs'), '--listen', `127.0.0.1:${recPort}`]);
await waitForPort(recPort, rec, 20000);
const lbPort = await freePort();
const url = `http://127.0.0.1:${lbPort}/mcp`;
const insts = await startInstances(bin, N, {
  pre: ['gateway'], redis,
  args: () => ['--well-known-url', provider.issuer, '--mcp-server-url', url, '--upstream', `http://127.0.0.1:${recPort}/mcp`],
});
await startNginx(insts, { port: lbPort });
log(`# ${N} x descope-mcp gateway (${insts.map((x) => x.port).join(', ')}), redis :${redis.port}, nginx ${url}, upstream :${recPort}`);

const tokenFor = (alg) => getToken({ tokenEndpoint: provider.tokenEndpoint, clientId: provider.clients[alg].client_id, clientSecret: provider.clients[alg].client_secret, resource: url, scope: 'tools.call' });
const tokenA = await tokenFor('ES256');
const tokenB = await tokenFor('RS256');
const recorded = async () => (await (await fetch(`http://127.0.0.1:${recPort}/recorded`)).json());
const upstreamView = (list) => ({
  initializes: list.filter((r) => r.method === 'POST' && !r.headers['mcp-session-id']).length,
  sids: [...new Set(list.map((r) => r.headers['mcp-session-id']).filter(Boolean))],
  deletes: list.filter((r) => r.method === 'DELETE').length,
});
const callsOn = (inst) => accessLines(inst).filter((l) => l.method === 'tools/call').length;

const client = new Client({ name: 'dmcp-gw-replicas', version: '1.0.0' });
const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${tokenA}` } } });
let sid;
const calls = async (from, n) => {
  let good = 0;
  const errors = [];
  for (let k = from; k < from + n; k++) {
    try {
      const r = await client.callTool({ name: 'echo', arguments: { text: `call ${k}` } });
      if (r.content?.[0]?.text === `call ${k}`) good++; else errors.push(r);
    } catch (e) { errors.push(String(e)); }
  }
  return { good, errors };
};
await fetch(`http://127.0.0.1:${recPort}/recorded?reset`); // forget each replica's start-up probe
try {
  await client.connect(transport);
  sid = transport.sessionId;
  check(typeof sid === 'string' && sid.length > 0, 'the TS client opened a session through nginx', sid);
  const first = await calls(0, CALLS);
  check(first.good === CALLS, `${CALLS} tools/call echo through nginx, all answered correctly`, first.errors.slice(0, 3));
  const per = insts.map(callsOn);
  log(`# tools/call per replica (access logs): ${per.join(', ')}`);
  check(per.every((n) => n > 0), 'the calls landed on every replica', per);
  const up = upstreamView(await recorded());
  check(up.initializes === 1 && up.sids.length === 1, 'the upstream saw one initialize and one upstream session for the client session', up);

  for (const inst of insts) {
    const other = await rawPost(inst.url, { jsonrpc: '2.0', id: 9, method: 'tools/list' }, { token: tokenB, session: sid });
    check(other.status === 404, `replica ${inst.i}: the session with another principal's token is refused (404)`, { status: other.status, body: other.text.slice(0, 200) });
  }

  // One replica stops: it lets go of the session; the others carry on with the same upstream session.
  insts[0].child.kill('SIGTERM');
  await new Promise((resolve) => { if (insts[0].child.exitCode !== null) resolve(); else insts[0].child.once('exit', resolve); });
  const after = await calls(CALLS, CALLS);
  check(after.good === CALLS, `after replica 0 stopped (SIGTERM), ${CALLS} more calls through nginx all answered`, after.errors.slice(0, 3));
  const up2 = upstreamView(await recorded());
  check(up2.deletes === 0 && up2.initializes === 1 && up2.sids.length === 1,
    'the stopped replica did not end the upstream session (no DELETE upstream; still one upstream session)', up2);

  await transport.terminateSession();
  // The gateway ends the upstream session after answering the client (its closer thread):
  // poll for the DELETE, then give a duplicate from another replica time to show.
  let up3 = upstreamView(await recorded());
  for (let k = 0; k < 100 && up3.deletes === 0; k++) {
    await new Promise((r) => setTimeout(r, 100));
    up3 = upstreamView(await recorded());
  }
  await new Promise((r) => setTimeout(r, 1000));
  up3 = upstreamView(await recorded());
  check(up3.deletes === 1, 'DELETE through nginx ends the upstream session exactly once', up3);
  for (const inst of insts.slice(1)) {
    const gone = await rawPost(inst.url, { jsonrpc: '2.0', id: 10, method: 'tools/list' }, { token: tokenA, session: sid });
    check(gone.status === 404, `replica ${inst.i}: after DELETE the session is gone (404)`, gone.status);
  }
} catch (e) {
  check(false, 'the TS client session through the replicas', String(e?.stack ?? e));
}
await client.close().catch(() => {});
for (const inst of insts.slice(1)) {
  check(inst.child.exitCode === null && inst.child.signalCode === null, `replica ${inst.i} is still running`, inst.child.output?.slice(-400));
}
finish();
