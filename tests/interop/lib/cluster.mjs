// Scale-out plumbing for the interop tests (issue 10, docs/scaling.md): a loopback
// redis-server, N server instances sharing it through --store, and a round-robin balancer
// (nginx or HAProxy, no stickiness) in front. Every process is started here, tracked by PID
// and killed when the test ends, however it ends (harness.mjs kills its children on exit;
// nginx's worker, which outlives a SIGKILLed master, is killed by PID here too). The config
// files are written to a temporary folder, removed at exit; nginxConf() and haproxyConf() are
// the exact configurations docs/scaling.md shows.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  freePort, log, run, spawnTracked, stopChild, waitForPort,
} from './harness.mjs';

const tmpDirs = [];
const extraPids = new Set(); // processes not our direct children (nginx's worker)
process.on('exit', () => {
  for (const pid of extraPids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
  for (const d of tmpDirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* best effort */ }
  }
});

export function tempDir(tag) {
  const d = fs.mkdtempSync(path.join(process.env.TMPDIR ?? os.tmpdir(), `dmcp-${tag}-`));
  tmpDirs.push(d);
  return d;
}

export function which(cmd) {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', ...(process.env.PATH ?? '').split(':')]) {
    const p = path.join(dir, cmd);
    try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
  }
  return null;
}

// ---- Redis ----

// One RESP command on a fresh connection; resolves the reply (string, number, array, null) or
// rejects on an error reply / connection failure / timeout.
export function redisCommand(port, args, { password, timeoutMs = 5000 } = {}) {
  const enc = (a) => `*${a.length}\r\n${a.map((x) => `$${Buffer.byteLength(String(x))}\r\n${x}\r\n`).join('')}`;
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const want = password ? 2 : 1;
    const replies = [];
    const t = setTimeout(() => { s.destroy(); reject(new Error('redis: timeout')); }, timeoutMs);
    s.on('error', (e) => { clearTimeout(t); reject(e); });
    s.on('connect', () => {
      if (password) s.write(enc(['AUTH', password]));
      s.write(enc(args));
    });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const r = parseResp(buf, 0);
        if (!r) return;
        replies.push(r.value);
        buf = buf.subarray(r.end);
        if (replies.length === want) {
          clearTimeout(t);
          s.destroy();
          const v = replies[want - 1];
          if (v instanceof Error) reject(v); else resolve(v);
          return;
        }
      }
    });
  });
}

function parseResp(buf, at) {
  const nl = buf.indexOf('\r\n', at);
  if (nl < 0) return null;
  const type = String.fromCharCode(buf[at]);
  const line = buf.toString('utf8', at + 1, nl);
  const next = nl + 2;
  if (type === '+') return { value: line, end: next };
  if (type === '-') return { value: new Error(line), end: next };
  if (type === ':') return { value: Number(line), end: next };
  if (type === '$') {
    const n = Number(line);
    if (n < 0) return { value: null, end: next };
    if (buf.length < next + n + 2) return null;
    return { value: buf.toString('utf8', next, next + n), end: next + n + 2 };
  }
  if (type === '*') {
    const n = Number(line);
    if (n < 0) return { value: null, end: next };
    const out = [];
    let p = next;
    for (let i = 0; i < n; i++) {
      const r = parseResp(buf, p);
      if (!r) return null;
      out.push(r.value);
      p = r.end;
    }
    return { value: out, end: p };
  }
  throw new Error(`redis: unexpected reply type ${type}`);
}

// INFO commandstats → Map command → calls.
export async function redisCommandStats(port, opts) {
  const text = await redisCommand(port, ['INFO', 'commandstats'], opts);
  const out = new Map();
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1], Number(m[2]));
  return out;
}

// Starts redis-server on a free loopback port, without persistence. stop() and start() again
// reuse the same port (the Redis-restart test).
export async function startRedis({ password } = {}) {
  const bin = which('redis-server');
  if (!bin) throw new Error('redis-server is not installed (scripts/deps.sh)');
  const dir = tempDir('redis');
  const port = await freePort();
  const r = {
    port,
    password,
    url: `redis://${password ? `:${password}@` : ''}127.0.0.1:${port}`,
    child: null,
    async start() {
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'];
      if (password) args.push('--requirepass', password);
      r.child = spawnTracked(bin, args);
      await waitForPort(port, r.child, 15000);
      // Accepting TCP is not yet serving (loading): wait for PING.
      const end = Date.now() + 15000;
      for (;;) {
        try { if (await redisCommand(port, ['PING'], { password }) === 'PONG') break; } catch (e) {
          if (Date.now() > end) throw e;
        }
        await new Promise((res) => setTimeout(res, 50));
      }
    },
    async stop() { if (r.child) await stopChild(r.child); },
    kill() { if (r.child) r.child.kill('SIGKILL'); },
    cmd(args) { return redisCommand(port, args, { password }); },
    stats() { return redisCommandStats(port, { password }); },
  };
  await r.start();
  return r;
}

// ---- server instances ----

// Does this build's binary take --store? (Before issue 10's store lands it does not: the tests
// then run the instances without a shared store and fail where sessions must be shared.)
const storeSupport = new Map();
export async function supportsStore(bin, pre = []) {
  const k = [bin, ...pre].join(' ');
  if (!storeSupport.has(k)) {
    const r = await run(bin, [...pre, '--help'], { timeoutMs: 10000 });
    storeSupport.set(k, /--store\b/.test(r.stdout + r.stderr));
  }
  return storeSupport.get(k);
}

// Starts n instances of `bin` on free loopback ports. args(i, port) gives each instance's own
// arguments; every instance also gets --metrics-listen (own port) and --access-log (own file),
// and --store <redis.url> when redis is given. Resolves [{i, port, metricsPort, accessLog,
// child, url}].
// pre: arguments before all others (a subcommand: ['gateway']).
export async function startInstances(bin, n, { args = () => [], redis, storePrefix, env, pre = [] } = {}) {
  const dir = tempDir('instances');
  let store = !!redis;
  if (store && !(await supportsStore(bin, pre))) {
    log(`# ${path.basename(bin)} has no --store option in this build: instances run WITHOUT a shared store`);
    store = false;
  }
  const out = [];
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    const metricsPort = await freePort();
    const accessLog = path.join(dir, `access-${i}.log`);
    const a = [...pre, '--listen', `127.0.0.1:${port}`, '--metrics-listen', `127.0.0.1:${metricsPort}`,
      '--access-log', accessLog, ...args(i, port)];
    if (store) a.push('--store', redis.url);
    if (store && storePrefix) a.push('--store-prefix', storePrefix);
    const inst = { i, port, metricsPort, accessLog, bin, args: a, url: `http://127.0.0.1:${port}/mcp`, env };
    inst.start = async () => {
      inst.child = spawnTracked(bin, a, env ? { env: { ...process.env, ...env } } : {});
      await waitForPort(port, inst.child, 20000);
      await waitForPort(metricsPort, inst.child, 20000);
    };
    out.push(inst);
  }
  await Promise.all(out.map((x) => x.start()));
  return out;
}

// Prometheus text → [{name, labels: {..}, value}].
export function parseMetrics(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

export async function metrics(inst) {
  const res = await fetch(`http://127.0.0.1:${inst.metricsPort}/metrics`);
  return parseMetrics(await res.text());
}

// Sum of a metric's samples whose labels include `match`.
export function metricSum(samples, name, match = {}) {
  let s = 0;
  for (const x of samples) {
    if (x.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => x.labels[k] === v)) s += x.value;
  }
  return s;
}

// Access-log lines of an instance, parsed.
export function accessLines(inst) {
  let text = '';
  try { text = fs.readFileSync(inst.accessLog, 'utf8'); } catch { return []; }
  return text.split('\n').filter(Boolean).map((l) => { try { return JSON.parse(l); } catch { return { bad: l }; } });
}

// ---- balancers ----

// The nginx configuration of docs/scaling.md: round robin over the instances, no stickiness,
// HTTP/1.1 keep-alive to the upstreams, no buffering (SSE), long read timeout (SSE streams),
// a failed upstream retried on the next one (connection refused / reset before a response).
export function nginxConf({ listen, upstreams, prefix }) {
  return `# nginx in front of N MCP server instances sharing one Redis (docs/scaling.md)
worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http {
  access_log ${prefix}/access.log;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  upstream mcp {
${upstreams.map((u) => `    server ${u} max_fails=1 fail_timeout=10s;`).join('\n')}
    keepalive 32;
  }
  server {
    listen ${listen};
    location / {
      proxy_pass http://mcp;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_cache off;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 3;
      # Names the instance that answered (the kill test reads it); drop it if your instance
      # addresses are private.
      add_header X-Upstream $upstream_addr always;
    }
  }
}
`;
}

function childrenOf(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { return []; }
}

export async function startNginx(instances, { port: wantPort } = {}) {
  const bin = which('nginx');
  if (!bin) throw new Error('nginx is not installed (scripts/deps.sh: nginx-light)');
  const prefix = tempDir('nginx');
  const port = wantPort ?? await freePort();
  const conf = path.join(prefix, 'nginx.conf');
  fs.writeFileSync(conf, nginxConf({ listen: `127.0.0.1:${port}`, upstreams: instances.map((x) => `127.0.0.1:${x.port}`), prefix }));
  const child = spawnTracked(bin, ['-p', prefix, '-c', conf, '-e', path.join(prefix, 'error.log')]);
  await waitForPort(port, child, 15000);
  for (const w of childrenOf(child.pid)) extraPids.add(w);
  return { port, child, conf, prefix, url: `http://127.0.0.1:${port}/mcp`, errorLog: () => fs.readFileSync(path.join(prefix, 'error.log'), 'utf8') };
}

// The HAProxy configuration of docs/scaling.md: the same policy as nginx (round robin, no
// stickiness, long timeouts for SSE, one retry on another server when a connection fails).
export function haproxyConf({ listen, upstreams }) {
  return `# HAProxy in front of N MCP server instances sharing one Redis (docs/scaling.md)
global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h
  retries 2
  option redispatch
frontend mcp_in
  bind ${listen}
  default_backend mcp
backend mcp
  balance roundrobin
${upstreams.map((u, i) => `  server mcp${i + 1} ${u} check inter 2s`).join('\n')}
`;
}

export async function startHaproxy(instances, { port: wantPort } = {}) {
  const bin = which('haproxy');
  if (!bin) throw new Error('haproxy is not installed (scripts/deps.sh)');
  const prefix = tempDir('haproxy');
  const port = wantPort ?? await freePort();
  const conf = path.join(prefix, 'haproxy.cfg');
  fs.writeFileSync(conf, haproxyConf({ listen: `127.0.0.1:${port}`, upstreams: instances.map((x) => `127.0.0.1:${x.port}`) }));
  // -db: foreground, no daemon; -f: the config.
  const child = spawnTracked(bin, ['-db', '-f', conf]);
  await waitForPort(port, child, 15000);
  return { port, child, conf, url: `http://127.0.0.1:${port}/mcp` };
}

// Skips the test (77) when a Debian tool it drives is not installed (scripts/deps.sh installs
// them all; CI runs it).
export async function requireTools(names) {
  const { skip } = await import('./harness.mjs');
  const missing = names.filter((n) => !which(n));
  if (missing.length) skip(`${missing.join(', ')} not installed (scripts/deps.sh installs them)`);
}

// Raw MCP-over-HTTP helpers for the tests that need to see statuses and headers.
export const ACCEPT = 'application/json, text/event-stream';
export const PROTO = '2025-11-25';

export async function rawPost(url, body, { token, session, headers = {}, signal } = {}) {
  const h = { 'content-type': 'application/json', accept: ACCEPT, ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (session) { h['mcp-session-id'] = session; h['mcp-protocol-version'] = PROTO; }
  const res = await fetch(url, { method: 'POST', headers: h, body: JSON.stringify(body), signal });
  const text = await res.text();
  let json;
  const ct = res.headers.get('content-type') ?? '';
  if (ct.includes('application/json')) {
    try { json = JSON.parse(text); } catch { /* not JSON */ }
  } else if (ct.includes('text/event-stream')) {
    for (const line of text.split('\n')) {
      if (line.startsWith('data:')) {
        try { const m = JSON.parse(line.slice(5)); if (m.id !== undefined) json = m; } catch { /* keep going */ }
      }
    }
  }
  return { status: res.status, headers: res.headers, text, json };
}

// initialize + notifications/initialized; resolves the session id (or throws with the status).
export async function rawSession(url, token, name = 'raw') {
  const r = await rawPost(url, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: PROTO, capabilities: {}, clientInfo: { name, version: '1' } } }, { token });
  const sid = r.headers.get('mcp-session-id');
  if (r.status !== 200 || !sid) {
    const e = new Error(`initialize: HTTP ${r.status} ${r.text.slice(0, 200)}`);
    e.status = r.status;
    e.retryAfter = r.headers.get('retry-after');
    throw e;
  }
  await rawPost(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { token, session: sid });
  return sid;
}
