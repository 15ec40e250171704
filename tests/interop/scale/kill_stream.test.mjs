// interop.scale.kill_stream (issue 10): three mcp-echo-server instances (OAuth on) sharing one
// redis-server, behind nginx round robin. The official TS client calls the streamed `count`
// tool (N numbered progress + log events, slowly). The tool ends its SSE response every few
// events (SSE polling, 2025-11-25), so the client resumes with GET + Last-Event-ID through
// nginx, landing on whichever instance nginx picks, while the handler keeps running on the
// instance that took the POST. As soon as the resumed stream is held by an instance that is
// NOT running the handler, that instance is killed with SIGKILL mid-call. The client must then
// reconnect through nginx to another instance with Last-Event-ID and receive every event
// exactly once (progress 1..N and log lines 1..N, no gap, no duplicate) and the result.
// Which instance answered a request: nginx's X-Upstream header (docs/scaling.md); which one
// runs the handler: the pid the tool names in its events.
// Exit 77 when redis-server or nginx is not installed.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import {
  check, deadline, finish, freePort, log, requireBinary,
} from '../lib/harness.mjs';
import {
  requireTools, startInstances, startNginx, startRedis,
} from '../lib/cluster.mjs';
import { getToken, startProvider } from '../oidc/provider-lib.mjs';

deadline(100);
await requireTools(['redis-server', 'nginx']);
const bin = requireBinary('mcp-echo-server');
const N = 3;
const EVENTS = 40;

const provider = await startProvider();
const redis = await startRedis();
const lbPort = await freePort();
const url = `http://127.0.0.1:${lbPort}/mcp`;
const insts = await startInstances(bin, N, {
  redis, args: () => ['--well-known-url', provider.issuer, '--mcp-server-url', url],
});
const lb = await startNginx(insts, { port: lbPort });
const byAddr = new Map(insts.map((x) => [`127.0.0.1:${x.port}`, x]));
const byPid = new Map(insts.map((x) => [x.child.pid, x]));
log(`# ${N} x mcp-echo-server (${insts.map((x) => `${x.port}/pid ${x.child.pid}`).join(', ')}), redis :${redis.port}, nginx ${url}`);

const token = await getToken({ tokenEndpoint: provider.tokenEndpoint, clientId: provider.clients.ES256.client_id, clientSecret: provider.clients.ES256.client_secret, resource: url, scope: 'tools.call' });

// Every response the client gets, with the instance nginx sent it to.
const responses = [];
let onResumed = () => {};
const recordingFetch = async (input, init) => {
  const res = await fetch(input, init);
  const h = new Headers(init?.headers);
  const entry = {
    method: init?.method ?? 'GET', lastEventId: h.get('last-event-id'), status: res.status,
    upstream: res.headers.get('x-upstream'), at: Date.now(),
  };
  responses.push(entry);
  if (entry.method === 'GET' && entry.lastEventId && res.status === 200 && res.body) {
    // Kill only once the resumed stream has delivered its first bytes (the server's priming
    // event restating the position). Killed before any byte, the TS SDK 1.32.2 reconnects
    // with the last id seen on the resumed stream itself, which is none, i.e. a plain GET
    // that can never replay the call: a client defect no server can make up for.
    let first = true;
    const body = res.body.pipeThrough(new TransformStream({
      transform(chunk, ctl) {
        ctl.enqueue(chunk);
        if (first) { first = false; onResumed(entry); }
      },
    }));
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  }
  return res;
};

const client = new Client({ name: 'dmcp-scale-kill', version: '1.0.0' });
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
  fetch: recordingFetch,
  reconnectionOptions: { initialReconnectionDelay: 100, maxReconnectionDelay: 1000, reconnectionDelayGrowFactor: 1.5, maxRetries: 20 },
});
const transportErrors = [];
transport.onerror = (e) => transportErrors.push(String(e?.message ?? e));

const progress = [];
const logs = [];
let handlerPid;
let killed; // { inst, afterEvents }
try {
  await client.connect(transport);
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    const m = /^event (\d+)\/\d+ from pid (\d+)$/.exec(String(n.params.data));
    if (m) logs.push(Number(m[1]));
  });

  onResumed = (entry) => {
    const holder = byAddr.get(entry.upstream);
    const handler = byPid.get(handlerPid);
    if (killed || !holder || !handler || holder === handler) return;
    // A resumed stream held by an instance that does not run the handler: kill it, mid-call.
    killed = { inst: holder, afterEvents: progress.length, at: Date.now() };
    log(`# killing instance ${holder.i} (pid ${holder.child.pid}, holds the resumed stream after ${progress.length} events; the handler runs on instance ${handler.i})`);
    holder.child.kill('SIGKILL');
  };

  const result = await client.callTool({ name: 'count', arguments: { n: EVENTS, interval_ms: 100, close_every: 3 } }, undefined, {
    timeout: 60000,
    resetTimeoutOnProgress: true,
    onprogress: (p) => {
      progress.push(p.progress);
      const m = /from pid (\d+)$/.exec(p.message ?? '');
      if (m && handlerPid === undefined) handlerPid = Number(m[1]);
    },
  });
  check(result.content?.[0]?.text === `counted ${EVENTS}`, 'the call completes with its result', result);
} catch (e) {
  check(false, 'the count call through nginx', String(e?.stack ?? e));
}

const expected = Array.from({ length: EVENTS }, (_, k) => k + 1);
log(`# handler on pid ${handlerPid}; ${responses.filter((r) => r.method === 'GET' && r.lastEventId).length} resumptions: ${responses.filter((r) => r.method === 'GET' && r.lastEventId).map((r) => `${r.status}@${byAddr.get(r.upstream)?.i ?? r.upstream}`).join(' ')}`);
check(byPid.has(handlerPid), 'the events name the instance running the handler', handlerPid);
check(killed !== undefined, 'a resumed stream landed on an instance not running the handler, and that instance was killed (SIGKILL) mid-call', responses.map((r) => `${r.method} ${r.status} ${r.upstream}`));
if (killed) {
  check(killed.afterEvents < EVENTS, `the kill happened mid-call (after ${killed.afterEvents} of ${EVENTS} events)`, killed.afterEvents);
  check(killed.inst.child.signalCode === 'SIGKILL', `instance ${killed.inst.i} died of SIGKILL`, killed.inst.child.signalCode);
  const later = responses.filter((r) => r.method === 'GET' && r.lastEventId && r.at > killed.at && r.status === 200);
  check(later.length > 0 && later.every((r) => byAddr.get(r.upstream) !== killed.inst),
    'after the kill the client resumed with Last-Event-ID through nginx on another instance', later.map((r) => r.upstream));
}
check(JSON.stringify(progress) === JSON.stringify(expected), `progress events: 1..${EVENTS}, each exactly once, in order`, progress);
check(JSON.stringify(logs) === JSON.stringify(expected), `log events: 1..${EVENTS}, each exactly once, in order`, logs);

await transport.terminateSession().catch(() => {});
await client.close().catch(() => {});
for (const inst of insts) {
  if (inst === killed?.inst) continue;
  check(inst.child.exitCode === null && inst.child.signalCode === null, `instance ${inst.i} is still running`, inst.child.output.slice(-400));
}
finish();
