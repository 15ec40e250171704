// interop.scale.redis_restart (issue 10): two mcp-echo-server instances (OAuth on) sharing one
// redis-server, behind nginx. Load runs through nginx the whole time (4 clients in a loop:
// tools/call echo in a session, and a new session now and then). Redis is stopped, then
// started again on the same port:
//   - before: every request succeeds;
//   - while Redis is down: no instance crashes; a request that needs the store (a new session)
//     gets 503 with Retry-After; no request gets any other 5xx or a dropped connection; what
//     needs no store keeps working (the protected-resource metadata, 401 without a token);
//   - after: full service without a restart of the instances: new sessions and calls on every
//     instance, and a load phase with no error at all.
// (Redis runs without persistence here, so sessions created before the outage are gone after
// it: a client re-initializes. That is the documented behaviour, docs/scaling.md.)
// Exit 77 when redis-server or nginx is not installed.
import {
  check, deadline, finish, freePort, log, requireBinary,
} from '../lib/harness.mjs';
import {
  rawPost, rawSession, requireTools, startInstances, startNginx, startRedis,
} from '../lib/cluster.mjs';
import { getToken, startProvider } from '../oidc/provider-lib.mjs';

deadline(100);
await requireTools(['redis-server', 'nginx']);
const bin = requireBinary('mcp-echo-server');

const provider = await startProvider();
const redis = await startRedis();
const lbPort = await freePort();
const url = `http://127.0.0.1:${lbPort}/mcp`;
const insts = await startInstances(bin, 2, {
  redis, args: () => ['--well-known-url', provider.issuer, '--mcp-server-url', url],
});
await startNginx(insts, { port: lbPort });
log(`# 2 x mcp-echo-server (${insts.map((x) => x.port).join(', ')}), redis :${redis.port}, nginx ${url}`);
const token = await getToken({ tokenEndpoint: provider.tokenEndpoint, clientId: provider.clients.ES256.client_id, clientSecret: provider.clients.ES256.client_secret, resource: url, scope: 'tools.call' });

// One load phase: `workers` loops until stop(); each result is {kind, status, retryAfter, err}.
function load(workers = 4) {
  const results = [];
  let running = true;
  const loops = Array.from({ length: workers }, async (_, w) => {
    let sid = null;
    let k = 0;
    while (running) {
      k++;
      try {
        if (!sid || k % 20 === 0) {
          if (sid) await fetch(url, { method: 'DELETE', headers: { authorization: `Bearer ${token}`, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' } }).catch(() => {});
          try {
            sid = await rawSession(url, token, `load-${w}`);
            results.push({ kind: 'initialize', status: 200 });
          } catch (e) {
            results.push({ kind: 'initialize', status: e.status, retryAfter: e.retryAfter, err: e.status ? undefined : String(e) });
            sid = null;
            await new Promise((r) => setTimeout(r, 20));
            continue;
          }
        }
        const r = await rawPost(url, { jsonrpc: '2.0', id: k, method: 'tools/call', params: { name: 'echo', arguments: { text: `w${w} ${k}` } } }, { token, session: sid });
        const ok = r.status === 200 && r.json?.result?.content?.[0]?.text === `w${w} ${k}`;
        results.push({ kind: 'call', status: ok ? 200 : r.status, retryAfter: r.headers.get('retry-after'), bad: r.status === 200 && !ok ? r.text.slice(0, 200) : undefined });
        if (r.status === 404) sid = null; // the session is gone (Redis lost it): initialize again
      } catch (e) {
        results.push({ kind: 'call', status: 0, err: String(e?.cause ?? e) });
      }
    }
  });
  return { results, async stop() { running = false; await Promise.all(loops); } };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const summary = (rs) => {
  const m = {};
  for (const r of rs) { const k = `${r.kind}:${r.status}`; m[k] = (m[k] ?? 0) + 1; }
  return m;
};

// ---- before ----
{
  const l = load();
  await sleep(1500);
  await l.stop();
  log(`# before: ${JSON.stringify(summary(l.results))}`);
  check(l.results.length > 20 && l.results.every((r) => r.status === 200 && !r.bad), 'before the outage: every request through nginx succeeds', summary(l.results));
}

// ---- Redis down ----
{
  const l = load();
  await sleep(300);
  await redis.stop();
  log('# redis-server stopped');
  const t0 = Date.now();
  await sleep(3000);
  const during = l.results.slice();
  // Needs no store: PRM and the 401 challenge.
  const prm = await fetch(`http://127.0.0.1:${lbPort}/.well-known/oauth-protected-resource/mcp`);
  check(prm.status === 200, 'Redis down: the protected-resource metadata is still served (200)', prm.status);
  const noTok = await rawPost(url, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
  check(noTok.status === 401, 'Redis down: a request without a token still gets 401', noTok.status);
  // A new session needs the store, on every instance.
  for (const inst of insts) {
    let status; let retryAfter;
    try { await rawSession(inst.url, token); status = 200; } catch (e) { status = e.status; retryAfter = e.retryAfter; }
    check(status === 503 && /^\d+$/.test(retryAfter ?? ''), `Redis down: instance ${inst.i}: initialize → 503 with Retry-After`, { status, retryAfter });
  }
  await l.stop();
  log(`# during the outage (${Date.now() - t0} ms): ${JSON.stringify(summary(during))}`);
  const refused = during.filter((r) => r.status !== 200);
  check(refused.some((r) => r.status === 503), 'Redis down: requests through nginx get 503', summary(during));
  const wrong = refused.filter((r) => !(r.status === 503 && /^\d+$/.test(r.retryAfter ?? '')));
  check(wrong.length === 0, 'Redis down: every refused request is a 503 with Retry-After (no 404 for a session the store still has, no other error, no dropped connection)', wrong.slice(0, 5));
  for (const inst of insts) {
    check(inst.child.exitCode === null && inst.child.signalCode === null, `Redis down: instance ${inst.i} did not crash`, inst.child.output.slice(-400));
  }
}

// ---- Redis back ----
{
  await redis.start();
  log('# redis-server started again on the same port');
  const t0 = Date.now();
  let back = false;
  while (Date.now() - t0 < 30000) {
    const ok = await Promise.all(insts.map((x) => rawSession(x.url, token).then(() => true, () => false)));
    if (ok.every(Boolean)) { back = true; break; }
    await sleep(200);
  }
  check(back, `Redis back: every instance opens sessions again without a restart (after ${Date.now() - t0} ms)`);
  for (const inst of insts) {
    let sid;
    try { sid = await rawSession(url, token); } catch (e) { check(false, 'Redis back: initialize through nginx', String(e)); continue; }
    const r = await rawPost(inst.url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'back' } } }, { token, session: sid });
    check(r.status === 200 && r.json?.result?.content?.[0]?.text === 'back', `Redis back: a session opened through nginx is served by instance ${inst.i}`, { status: r.status, body: r.text.slice(0, 200) });
  }
  const l = load();
  await sleep(1500);
  await l.stop();
  log(`# after: ${JSON.stringify(summary(l.results))}`);
  check(l.results.length > 20 && l.results.every((r) => r.status === 200 && !r.bad), 'Redis back: full service, every request through nginx succeeds', summary(l.results));
}
for (const inst of insts) {
  check(inst.child.exitCode === null && inst.child.signalCode === null, `instance ${inst.i} is still running at the end`, inst.child.output.slice(-400));
}
finish();
