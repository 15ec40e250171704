// Shared plumbing for the interop tests: check counting, a hard deadline, child processes that
// never outlive the test, free loopback ports, and ctest's skip code (77).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SKIP = 77;
export const INTEROP_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const children = new Set();
let failures = 0;
let passes = 0;

function killAll() {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try { c.kill('SIGKILL'); } catch { /* already gone */ }
    }
  }
  children.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => { killAll(); process.exit(1); });
}

export function log(msg) {
  process.stdout.write(`${msg}\n`);
}

export function check(cond, what, detail) {
  if (cond) {
    passes++;
    log(`ok   - ${what}`);
  } else {
    failures++;
    log(`FAIL - ${what}${detail !== undefined ? `\n       ${typeof detail === 'string' ? detail : JSON.stringify(detail)}` : ''}`);
  }
  return !!cond;
}

export function skip(reason) {
  log(`SKIP: ${reason}`);
  killAll();
  process.exit(SKIP);
}

export function finish() {
  log(`# ${passes} passed, ${failures} failed`);
  killAll();
  process.exit(failures === 0 && passes > 0 ? 0 : 1);
}

// Aborts the whole test after `seconds`, so a hung peer cannot hang ctest.
export function deadline(seconds) {
  setTimeout(() => {
    log(`FAIL - test exceeded its ${seconds} s budget`);
    killAll();
    process.exit(1);
  }, seconds * 1000).unref();
}

export function binDir() {
  const d = process.env.DMCP_BIN_DIR;
  if (!d) {
    log('FAIL - DMCP_BIN_DIR is not set (ctest sets it to <build>/bin)');
    process.exit(1);
  }
  return d;
}

// Path of a project executable. Every binary these tests drive is part of the build, so a
// missing one is a failure (a broken or renamed target), never a skip.
export function requireBinary(name) {
  const p = path.join(binDir(), name);
  if (!fs.existsSync(p)) {
    check(false, `${p} exists (it is built by this project)`);
    finish();
  }
  return p;
}

// A loopback port nothing listens on now. The kernel may hand the same ephemeral port to two
// calls in a row once the first probe socket is closed; a port given out once in this process is
// never given out again, so two servers of one test cannot be told to share a port.
const givenPorts = new Set();
export async function freePort() {
  for (let tries = 0; tries < 64; tries++) {
    const port = await new Promise((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port: p } = s.address();
        s.close(() => resolve(p));
      });
    });
    if (!givenPorts.has(port)) { givenPorts.add(port); return port; }
  }
  throw new Error('freePort: no new loopback port after 64 tries');
}

// The inode of the socket listening on 127.0.0.1:port (or any address), from /proc/net/tcp{,6};
// undefined when none (or when /proc is not there).
function listeningInode(port) {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try { text = fs.readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      // c[1] local address:port, c[3] state (0A = LISTEN), c[9] inode
      if (c.length > 9 && c[3] === '0A' && c[1].endsWith(`:${hex}`)) return c[9];
    }
  }
  return undefined;
}

function holdsSocket(pid, inode) {
  let fds;
  try { fds = fs.readdirSync(`/proc/${pid}/fd`); } catch { return false; }
  for (const fd of fds) {
    try { if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`) return true; } catch { /* gone */ }
  }
  return false;
}

function descendants(pid) {
  const out = [pid];
  for (let i = 0; i < out.length && out.length < 256; i++) {
    let tasks = [];
    try { tasks = fs.readdirSync(`/proc/${out[i]}/task`); } catch { continue; }
    for (const t of tasks) {
      try {
        const kids = fs.readFileSync(`/proc/${out[i]}/task/${t}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      } catch { /* gone */ }
    }
  }
  return out;
}

// True when the socket listening on port belongs to pid or one of its descendants (a wrapper
// such as npx may start the real server), or when /proc cannot tell.
export function portHeldBy(port, pid) {
  if (!fs.existsSync('/proc/net/tcp')) return true;
  const inode = listeningInode(port);
  return inode !== undefined && descendants(pid).some((p) => holdsSocket(p, inode));
}

// Spawns a child that is SIGKILLed when the test ends, whatever the way it ends.
export function spawnTracked(cmd, args, opts = {}) {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  children.add(c);
  c.output = '';
  c.stdout?.on('data', (d) => { c.output += d; });
  c.stderr?.on('data', (d) => { c.output += d; });
  c.on('exit', () => children.delete(c));
  return c;
}

export function stopChild(c) {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) { resolve(); return; }
    const t = setTimeout(() => { try { c.kill('SIGKILL'); } catch { /* gone */ } }, 3000);
    c.once('exit', () => { clearTimeout(t); resolve(); });
    c.kill('SIGTERM');
  });
}

// Runs a command to completion with a time limit; resolves {code, signal, stdout, stderr}.
export function run(cmd, args, { input, timeoutMs = 20000, env } = {}) {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
    children.add(c);
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => { stdout += d; });
    c.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => { try { c.kill('SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    c.on('error', (e) => { stderr += String(e); });
    c.on('close', (code, signal) => {
      clearTimeout(t);
      children.delete(c);
      resolve({ code, signal, stdout, stderr });
    });
    c.stdin.on('error', () => { /* child may exit before reading */ });
    c.stdin.end(input ?? '');
  });
}

// Waits until something accepts TCP connections on 127.0.0.1:port (or the child exits).
export async function waitForPort(port, child, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`process exited (${child.exitCode ?? child.signalCode}) before listening:\n${child.output}`);
    }
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    // Listening is not enough: another process may hold the port (a collision with a parallel
    // test, or a server that failed to bind while something else answers). The child must own
    // the listening socket.
    if (ok && (!child || portHeldBy(port, child.pid))) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (child && listeningInode(port) !== undefined) {
    throw new Error(`127.0.0.1:${port} is held by another process, not pid ${child.pid}:\n${child.output}`);
  }
  throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

export function parseJson(text) {
  try { return JSON.parse(text); } catch { return undefined; }
}

export const PYTHON = '/usr/bin/python3';

// Runs tests/interop/pyjwt/verify.py over [{name, token}]; resolves Map name → result,
// or null when Debian's python3-jwt is missing.
export async function pyjwtVerify(items, { jwksFile, jwksUrl, issuer, audience }) {
  if (!fs.existsSync(PYTHON)) return null;
  const args = [path.join(INTEROP_DIR, 'pyjwt', 'verify.py'), '--issuer', issuer, '--audience', audience];
  if (jwksFile) args.push('--jwks-file', jwksFile);
  if (jwksUrl) args.push('--jwks-url', jwksUrl);
  const r = await run(PYTHON, args, { input: items.map((i) => JSON.stringify({ name: i.name, token: i.token })).join('\n') + '\n' });
  if (r.code === SKIP) return null;
  if (r.code !== 0) throw new Error(`pyjwt verify.py failed (${r.code}): ${r.stderr}`);
  const out = new Map();
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const d = JSON.parse(line);
    out.set(d.name, d);
  }
  return out;
}

// Which PyJWT verify.py imports, and which of its known leniencies that version has, so a
// differential expects a leniency only of the versions that have it (and fails when PyJWT's
// verdict disagrees with its version). Resolves null when Debian's python3-jwt is missing.
//  - crit: PyJWT before 2.12.0 ignores the JWS `crit` header (RFC 7515 §4.1.11) and accepts a
//    token whose critical extension it does not understand: CVE-2026-32597 (GHSA-752w-5fwx-jx9f).
//    Debian backported the fix to bookworm in 2.6.0-1+deb12u1; upstream's version string stays
//    2.6.0, so the Debian package version decides. scripts/deps.sh installs at least that one.
const PYJWT_CRIT_FIXED = '2.12.0';
const PYJWT_CRIT_FIXED_DEB = new Map([['2.6.0', '2.6.0-1+deb12u1']]); // upstream → first fixed Debian version
export const PYJWT_CRIT_CVE = 'CVE-2026-32597';

function upstreamAtLeast(v, min) {
  const a = v.split('.').map((x) => parseInt(x, 10) || 0);
  const b = min.split('.').map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

export async function pyjwtAbout() {
  if (!fs.existsSync(PYTHON)) return null;
  const r = await run(PYTHON, [path.join(INTEROP_DIR, 'pyjwt', 'verify.py'), '--about']);
  if (r.code === SKIP) return null;
  const about = r.code === 0 ? parseJson(r.stdout) : undefined;
  if (!about?.version || !about?.file) throw new Error(`pyjwt verify.py --about failed (${r.code}): ${r.stderr}`);
  // The Debian package that owns the imported module, if one does (not a pip install).
  const owner = await run('dpkg-query', ['-S', about.file]);
  const pkg = owner.code === 0 ? owner.stdout.split(':')[0].trim() : '';
  let deb = null;
  if (pkg) {
    const v = await run('dpkg-query', ['-W', '-f=${Version}', pkg]);
    if (v.code === 0 && v.stdout.trim()) deb = v.stdout.trim();
  }
  let refusesCrit = upstreamAtLeast(about.version, PYJWT_CRIT_FIXED);
  const debFixed = PYJWT_CRIT_FIXED_DEB.get(about.version);
  if (!refusesCrit && deb && debFixed) {
    refusesCrit = (await run('dpkg', ['--compare-versions', deb, 'ge', debFixed])).code === 0;
  }
  const label = deb ? `${about.version} (Debian ${pkg} ${deb})` : `${about.version} (${about.file})`;
  return { version: about.version, deb, label, refusesCrit };
}
