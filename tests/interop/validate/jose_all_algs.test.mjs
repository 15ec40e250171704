// interop.validate.jose_all_algs: tokens minted by `jose` (npm) for every accepted algorithm are
// valid, and each deliberately broken token is invalid, through one `descope-mcp validate --batch`
// run with a static JWKS file (one result line per token, asserted per line). A loopback
// "attacker" JWKS server is up during the run and must never be contacted (jku/x5u are never
// used to find keys). PyJWT (Debian) is run over the same tokens: where it accepts a token that
// we must reject (string exp), the difference is reported and our rejection asserted.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  check, deadline, finish, freePort, log, parseJson, pyjwtVerify, requireBinary, run,
} from '../lib/harness.mjs';
import { mintAll } from '../mint/mint-lib.mjs';

deadline(50);
const cli = requireBinary('descope-mcp');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dmcp-jose-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

// The attacker's key server: counts every request it gets.
let attackerHits = 0;
let attackerBody = '{"keys":[]}';
const attacker = http.createServer((req, res) => {
  attackerHits++;
  res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
  res.end(attackerBody);
});
await new Promise((r) => attacker.listen(0, '127.0.0.1', r));
const attackerUrl = `http://127.0.0.1:${attacker.address().port}/jwks.json`;

const issuer = 'http://127.0.0.1:1/jose-issuer';
const audience = `http://127.0.0.1:${await freePort()}/mcp`;
const minted = await mintAll({ issuer, audience, attackerJwksUrl: attackerUrl });
attackerBody = JSON.stringify(minted.attackerJwks);
const jwksFile = path.join(dir, 'jwks.json');
fs.writeFileSync(jwksFile, JSON.stringify(minted.jwks));
const tokens = minted.tokens;
log(`# ${tokens.filter((t) => t.expect === 'valid').length} valid and ${tokens.filter((t) => t.expect === 'invalid').length} broken tokens`);

// Independent verifier first: it proves the good tokens are good (harness sanity), and names
// the broken ones it would wrongly accept.
const py = await pyjwtVerify(tokens, { jwksFile, issuer, audience });
const pyjwtLenient = [];
if (py) {
  for (const t of tokens) {
    const v = py.get(t.name)?.pyjwt;
    if (t.expect === 'valid') {
      check(v === 'valid', `harness: PyJWT accepts ${t.name}`, py.get(t.name));
    } else if (v === 'valid') {
      pyjwtLenient.push(t.name);
    }
  }
  log(`# differential: PyJWT 2.6 accepts ${pyjwtLenient.length ? pyjwtLenient.join(', ') : 'none'} of the broken tokens; we must reject them`);
  check(pyjwtLenient.includes('exp-string'), 'harness: PyJWT accepts the string-exp token (known leniency, so the differential is live)');
} else {
  log('# PyJWT (Debian python3-jwt) unavailable: differential part not run');
}

const r = await run(cli, ['validate', '--batch', '--jwks-file', jwksFile, '--issuer', issuer, '--audience', audience],
  { input: tokens.map((t) => t.token).join('\n') + '\n', timeoutMs: 30000 });
check(r.code === 0, 'validate --batch exits 0 once all tokens are read', { code: r.code, stderr: r.stderr.slice(0, 500) });
const lines = r.stdout.split('\n').filter((l) => l.length > 0);
check(lines.length === tokens.length, `one result line per token (${tokens.length})`, { got: lines.length });

tokens.forEach((t, i) => {
  const line = lines[i];
  const out = line === undefined ? undefined : parseJson(line);
  const compact = line !== undefined && !line.includes('\n') && out !== undefined && JSON.stringify(out) === line;
  if (t.expect === 'valid') {
    check(out && out.user_id === 'user-123' && Array.isArray(out.scopes) &&
      out.scopes.join(' ') === 'calendar.read tools.call' && out.claims?.iss === issuer,
    `${t.name}: valid (${t.why})`, line);
  } else {
    const isInvalid = out && out.error === 'invalid_token' && typeof out.error_description === 'string';
    const note = pyjwtLenient.includes(t.name) ? ' [PyJWT accepts it]' : '';
    check(isInvalid, `${t.name}: rejected as invalid_token (${t.why})${note}`, line);
  }
  check(compact, `${t.name}: result line is compact JSON`, line);
  check(line === undefined || !line.includes(t.token.split('.')[2] || t.token), `${t.name}: result does not echo the token`);
});

// Leeway: tokens just outside the default leeway pass with --leeway 60, the rest stay invalid.
{
  const set = tokens.filter((t) => t.validWithLeeway !== undefined || t.name === 'expired' || t.name === 'nbf-future');
  const r2 = await run(cli, ['validate', '--batch', '--leeway', '60', '--jwks-file', jwksFile, '--issuer', issuer, '--audience', audience],
    { input: set.map((t) => t.token).join('\n') + '\n', timeoutMs: 20000 });
  const l2 = r2.stdout.split('\n').filter((l) => l.length > 0);
  check(r2.code === 0 && l2.length === set.length, '--leeway 60 batch: one line per token', { code: r2.code, lines: l2.length });
  set.forEach((t, i) => {
    const out = parseJson(l2[i] ?? '');
    if (t.validWithLeeway !== undefined) {
      check(out?.user_id === 'user-123', `${t.name}: valid with --leeway 60`, l2[i]);
    } else {
      check(out?.error === 'invalid_token', `${t.name}: still invalid with --leeway 60`, l2[i]);
    }
  });
}

check(attackerHits === 0, 'the attacker JWKS (jku/x5u) was never fetched', { attackerHits });
attacker.close();
finish();
