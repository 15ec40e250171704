// interop.harness: proves the harness itself before it judges our code. Tokens from
// oidc-provider (plain and Descope-shaped issuer) verify with PyJWT and with jose through the
// provider's discovery + JWKS; the jose-minted set verifies with PyJWT exactly as labelled,
// except the known PyJWT leniencies (string exp; an unknown crit header before the fix of
// CVE-2026-32597), each asserted for the versions that have it so the differential stays live.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as jose from 'jose';
import { check, deadline, finish, log, pyjwtAbout, pyjwtVerify, PYJWT_CRIT_CVE, skip } from '../lib/harness.mjs';
import { ALGS, DESCOPE_PATH, getToken, startProvider } from '../oidc/provider-lib.mjs';
import { mintAll } from '../mint/mint-lib.mjs';

deadline(40);
if (!fs.existsSync('/usr/bin/python3')) skip('Debian /usr/bin/python3 (python3-jwt) is absent');
const resource = 'http://127.0.0.1:9/mcp';

for (const p of [await startProvider(), await startProvider({ path: DESCOPE_PATH })]) {
  const disco = await (await fetch(p.wellKnownUrl)).json();
  check(disco.issuer === p.issuer, `discovery issuer is ${p.issuer}`, disco.issuer);
  const jwks = jose.createRemoteJWKSet(new URL(disco.jwks_uri));
  const items = [];
  for (const alg of ALGS) {
    const c = p.clients[alg];
    const token = await getToken({ tokenEndpoint: disco.token_endpoint, clientId: c.client_id, clientSecret: c.client_secret, resource, scope: 'tools.call bogus.scope' });
    items.push({ name: alg, token });
    const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, { issuer: p.issuer, audience: resource, algorithms: [alg], typ: 'at+jwt' });
    check(payload.sub === c.client_id && payload.client_id === c.client_id && payload.scope === 'tools.call' &&
      typeof payload.exp === 'number' && payload.nbf === undefined && protectedHeader.alg === alg,
    `${alg}: jose verifies the oidc-provider token (sub = client id, unknown scope dropped, no nbf)`, payload);
  }
  const py = await pyjwtVerify(items, { jwksUrl: disco.jwks_uri, issuer: p.issuer, audience: resource });
  if (!py) skip('PyJWT (Debian python3-jwt) is not installed');
  for (const it of items) check(py.get(it.name)?.pyjwt === 'valid', `${it.name}: PyJWT verifies the oidc-provider token`, py.get(it.name));
  let err = '';
  try {
    const c = p.clients.RS256;
    await getToken({ tokenEndpoint: disco.token_endpoint, clientId: c.client_id, clientSecret: c.client_secret, resource: 'https://evil.example/mcp', scope: 'tools.call' });
  } catch (e) { err = e.message; }
  check(err.includes('invalid_target'), 'oidc-provider refuses a non-loopback resource (invalid_target)', err);
  await p.close();
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmcp-harness-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
const issuer = 'http://127.0.0.1:1/iss';
const m = await mintAll({ issuer, audience: resource, attackerJwksUrl: 'http://127.0.0.1:9/attacker.json' });
fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify(m.jwks));
const py = await pyjwtVerify(m.tokens, { jwksFile: path.join(dir, 'jwks.json'), issuer, audience: resource });
// Known leniencies, each expected only of the PyJWT versions that have it (token → why).
const about = await pyjwtAbout();
log(`# PyJWT ${about.label}: ${about.refusesCrit ? 'refuses' : 'ignores'} an unknown crit header`);
const lenient = new Map([['exp-string', 'known leniency: PyJWT 2.6 accepts a string exp (interop-tools.md)']]);
if (!about.refusesCrit) lenient.set('crit-header', `known leniency of unpatched PyJWT, ${PYJWT_CRIT_CVE}`);
for (const t of m.tokens) {
  const want = t.expect === 'valid' || lenient.has(t.name) ? 'valid' : 'invalid';
  check(py.get(t.name)?.pyjwt === want, `${t.name}: PyJWT says ${want}${lenient.has(t.name) ? ` (${lenient.get(t.name)})` : ''}`, py.get(t.name));
}
log(`# ${m.tokens.length} jose tokens checked`);
finish();
