// interop.gateway.assertion: the gateway signs a short-lived assertion for the upstream with its
// own key (config "assertion") and publishes the key as a JWKS on its listen address. Checked
// with two verifiers that are not ours: jose (npm, the TS SDK's own JOSE library) through
// createRemoteJWKSet on the gateway's JWKS URL, and PyJWT (Debian python3-jwt).
//   - gateway A: key_file (a P-256 PEM made here by node:crypto), X-MCP-Assertion, ttl 30 s;
//   - gateway B: a key generated at start, carried as "Authorization: Bearer <jwt>".
// The kid is the RFC 7638 thumbprint (jose computes it from the PEM's public key); claims iss =
// the gateway's URL, aud = the upstream's URL, sub/client_id/scope of the caller, exp = iat +
// ttl, a fresh jti per request; B's assertion does not verify with A's keys; the caller's
// token never goes upstream; the JWKS path answers GET only and holds no private member;
// every exchange of a session (initialize, notifications, calls, GET stream, DELETE) carries one.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { calculateJwkThumbprint, createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import {
  check, deadline, finish, freePort, INTEROP_DIR, log, pyjwtVerify, requireBinary, spawnTracked, waitForPort,
} from '../lib/harness.mjs';
import { getToken, startProvider } from '../oidc/provider-lib.mjs';

deadline(90);
const gatewayBin = requireBinary('descope-mcp');
const provider = await startProvider();
const recPort = await freePort();
const upUrl = `http://127.0.0.1:${recPort}/mcp`;
const rec = spawnTracked(process.execPath, [path.join(INTEROP_DIR, 'gateway', 'recorder-upstream.mjs'), '--listen', `127.0.0.1:${recPort}`]);
await waitForPort(recPort, rec);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmcp-gwa-'));
const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const keyFile = path.join(dir, 'gateway-key.pem');
fs.writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
const wantKid = await calculateJwkThumbprint(publicKey.export({ format: 'jwk' }), 'sha256');

async function startGateway(name, assertion) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/mcp`;
  const cfg = path.join(dir, `${name}.json`);
  fs.writeFileSync(cfg, JSON.stringify({
    listen: `127.0.0.1:${port}`,
    auth: { well_known_url: provider.issuer, mcp_server_url: url },
    upstreams: [{ name: 'rec', url: upUrl }],
    assertion,
  }));
  const child = spawnTracked(gatewayBin, ['gateway', '--config', cfg]);
  await waitForPort(port, child, 20000);
  // The start-up probe (no caller, so no assertion) is done once the gateway listens: what the
  // recorder holds from here on is the sessions' traffic.
  await fetch(`http://127.0.0.1:${recPort}/recorded?reset`);
  const c0 = provider.clients.ES256;
  const token = await getToken({ tokenEndpoint: provider.tokenEndpoint, clientId: c0.client_id, clientSecret: c0.client_secret, resource: url, scope: 'tools.call' });
  const client = new Client({ name: `gw-assert-${name}`, version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  return { port, url, child, token, client, base: `http://127.0.0.1:${port}` };
}

const headersOf = async (gw) => JSON.parse((await gw.client.callTool({ name: 'headers', arguments: {} })).content?.[0]?.text ?? '{}');

// ---- gateway A: key_file, default header, ttl 30 ----
const A = await startGateway('a', { key_file: keyFile, ttl_seconds: 30 });
log(`# gateway A ${A.url}, B below; recorder ${upUrl}`);
const jwksRes = await fetch(`${A.base}/.well-known/jwks.json`);
const jwks = await jwksRes.json();
check(jwksRes.status === 200 && (jwksRes.headers.get('content-type') ?? '').startsWith('application/json'),
  'A: GET /.well-known/jwks.json is 200 application/json', `${jwksRes.status} ${jwksRes.headers.get('content-type')}`);
const k = jwks.keys?.[0];
check(jwks.keys?.length === 1 && k.kty === 'EC' && k.crv === 'P-256' && k.alg === 'ES256' && k.use === 'sig',
  'A: the JWKS holds one P-256 ES256 signing key', JSON.stringify(jwks));
check(['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].every((m) => !(m in k)), 'A: no private member in the JWKS', Object.keys(k));
check(k.kid === wantKid && await calculateJwkThumbprint(k) === wantKid,
  "A: kid is the RFC 7638 thumbprint of key_file's public key (computed by jose)", `${k.kid} vs ${wantKid}`);
const post = await fetch(`${A.base}/.well-known/jwks.json`, { method: 'POST', body: '{}' });
check(post.status === 405, 'A: POST to the JWKS path is 405', post.status);
const unauth = await fetch(A.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
check(unauth.status === 401, 'A: the MCP endpoint still needs a token (401)', unauth.status);

const h1 = await headersOf(A);
const h2 = await headersOf(A);
const jwt1 = h1['x-mcp-assertion'];
check(typeof jwt1 === 'string' && jwt1.split('.').length === 3, 'A: the upstream got an X-MCP-Assertion JWT', Object.keys(h1));
check(h1.authorization === undefined && !JSON.stringify(h1).includes(A.token), "A: the caller's token is not upstream");
let p1;
try {
  ({ payload: p1 } = await jwtVerify(jwt1, createRemoteJWKSet(new URL(`${A.base}/.well-known/jwks.json`)),
    { issuer: A.url, audience: upUrl, algorithms: ['ES256'] }));
  check(true, "A: jose verifies it with the gateway's JWKS URL (iss = gateway URL, aud = upstream URL)");
} catch (e) {
  check(false, "A: jose verifies it with the gateway's JWKS URL", String(e));
}
if (p1) {
  check(p1.sub === h1['x-mcp-user-id'] && typeof p1.sub === 'string' && p1.sub.length > 0, 'A: sub is the caller (as the identity header says)', `${p1.sub} / ${h1['x-mcp-user-id']}`);
  check(p1.client_id === h1['x-mcp-client-id'], 'A: client_id is the caller\'s client', `${p1.client_id} / ${h1['x-mcp-client-id']}`);
  check(p1.scope === h1['x-mcp-scopes'] && p1.scope.split(' ').includes('tools.call'), 'A: scope is the caller\'s scopes', p1.scope);
  check(p1.exp - p1.iat === 30 && Math.abs(p1.iat - Date.now() / 1000) < 30, 'A: exp = iat + ttl_seconds (30)', `${p1.iat} ${p1.exp}`);
  check(/^[0-9a-f]{32}$/.test(p1.jti ?? ''), 'A: jti is 128 random bits (hex)', p1.jti);
  const hdr = decodeProtectedHeader(jwt1);
  check(hdr.kid === wantKid && hdr.alg === 'ES256' && hdr.typ === 'JWT', 'A: header {alg ES256, typ JWT, kid}', JSON.stringify(hdr));
}
const p2 = JSON.parse(Buffer.from(h2['x-mcp-assertion'].split('.')[1], 'base64url').toString());
check(p1 && p2.jti !== p1.jti, 'A: each request gets a fresh jti', `${p1?.jti} ${p2.jti}`);
try {
  await jwtVerify(jwt1, createRemoteJWKSet(new URL(`${A.base}/.well-known/jwks.json`)), { issuer: A.url, audience: 'http://other.example/mcp' });
  check(false, 'A: an assertion for this upstream is refused for another audience');
} catch (e) {
  check(/aud/.test(String(e)), 'A: an assertion for this upstream is refused for another audience', String(e));
}
const py = await pyjwtVerify([{ name: 'a', token: jwt1 }], { jwksUrl: `${A.base}/.well-known/jwks.json`, issuer: A.url, audience: upUrl });
if (py === null) log('# PyJWT (python3-jwt) is not installed: second verifier skipped');
else check(py.get('a')?.pyjwt === 'valid', 'A: PyJWT verifies it too', JSON.stringify(py.get('a')));

// ---- gateway B: a generated key, carried in Authorization ----
const B = await startGateway('b', { header: 'Authorization', jwks_path: '/keys' });
const hb = await headersOf(B);
const auth = hb.authorization ?? '';
check(auth.startsWith('Bearer ') && auth !== `Bearer ${B.token}` && !auth.includes(B.token),
  'B: Authorization carries "Bearer <assertion>", never the caller\'s token', auth.slice(0, 20));
const jwtB = auth.slice(7);
const jwksB = await (await fetch(`${B.base}/keys`)).json();
check(jwksB.keys?.[0]?.kid !== wantKid, 'B: a generated key (another kid)', jwksB.keys?.[0]?.kid);
try {
  await jwtVerify(jwtB, createLocalJWKSet(jwksB), { issuer: B.url, audience: upUrl });
  check(true, "B: jose verifies it with B's JWKS (at jwks_path /keys)");
} catch (e) {
  check(false, "B: jose verifies it with B's JWKS", String(e));
}
try {
  await jwtVerify(jwtB, createLocalJWKSet(jwks), { audience: upUrl });
  check(false, "B's assertion is refused with A's keys");
} catch (e) {
  check(true, "B's assertion is refused with A's keys");
}
const bOld = await fetch(`${B.base}/.well-known/jwks.json`);
check(bOld.status === 404, 'B: the default JWKS path is not served when jwks_path moves it', bOld.status);

for (const gw of [A, B]) {
  await gw.client.close();
  const exited = new Promise((r) => gw.child.once('exit', (code) => r(code)));
  gw.child.kill('SIGTERM'); // ends the client sessions: their upstream sessions are DELETEd
  const code = await exited;
  check(code === 0, `gateway ${gw === A ? 'A' : 'B'} stops cleanly on SIGTERM`, `${code} ${gw.child.output.slice(-1500)}`);
  check(!gw.child.output.includes(gw.token) && !gw.child.output.includes('PRIVATE'), `gateway ${gw === A ? 'A' : 'B'}: no token or key in its output`);
}

// Every exchange of B's upstream session carried a valid assertion of its own (fresh per
// exchange: a header fixed at initialize would outlive its ttl): initialize, the initialized
// notification, the calls, the GET stream, the DELETE at shutdown. A's, after B's start, too.
const recorded = await (await fetch(`http://127.0.0.1:${recPort}/recorded`)).json();
const bad = [];
const seenB = new Set();
for (const r of recorded) {
  const a = r.headers['x-mcp-assertion'];
  const b = (r.headers.authorization ?? '').replace(/^Bearer /, '');
  try {
    if (a) await jwtVerify(a, createLocalJWKSet(jwks), { issuer: A.url, audience: upUrl });
    else if (b) { await jwtVerify(b, createLocalJWKSet(jwksB), { issuer: B.url, audience: upUrl }); seenB.add(r.method); }
    else bad.push(`${r.method} without an assertion`);
  } catch (e) { bad.push(`${r.method}: ${e}`); }
}
check(bad.length === 0 && recorded.length >= 4, `every request the upstream received since B started (${recorded.length}) carried a valid assertion`, bad.slice(0, 4));
check(seenB.has('POST') && seenB.has('DELETE'), "B: the session's POSTs and its DELETE at shutdown carried B's assertion", [...seenB]);
check(/generated at start: replicas and restarts need key_file/.test(B.child.output), 'B says at start that a generated key does not survive restarts or serve replicas', B.child.output.slice(0, 600));
fs.rmSync(dir, { recursive: true, force: true });
finish();
