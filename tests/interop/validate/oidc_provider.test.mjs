// interop.validate.oidc_provider: JWT access tokens issued by a real OpenID provider
// (oidc-provider, npm) are validated by `descope-mcp validate` through discovery and JWKS over
// HTTP, for RS256, PS256, ES256 and EdDSA, from a plain issuer and from a Descope-shaped issuer
// path. Also: wrong audience → exit 1, missing scope → exit 3 with the Python SDK's JSON, token
// from stdin (`-`), `--require-typ at+jwt`, unreachable key source → exit 4.
import {
  check, deadline, finish, freePort, log, parseJson, pyjwtVerify, requireBinary, run, PYTHON,
} from '../lib/harness.mjs';
import { ALGS, DESCOPE_PATH, getToken, startProvider } from '../oidc/provider-lib.mjs';

deadline(55);
const cli = requireBinary('descope-mcp');

// The byte-exact insufficient-scope JSON of the Python SDK (`json.dumps(indent=2)`),
// computed by Python itself (descope-wire-protocol.md §6).
async function pythonInsufficientScopeJson(required, tokenScopes) {
  const prog = `
import json, sys
req, tok = json.loads(sys.argv[1]), json.loads(sys.argv[2])
missing = []
for s in req:
    if s not in tok and s not in missing:
        missing.append(s)
out = {"error": "insufficient_scope",
       "scope": " ".join(sorted(set(tok) | set(req))),
       "error_description": "Token missing required scopes: " + ", ".join(missing),
       "missing_scopes": missing, "token_scopes": tok, "required_scopes": req}
sys.stdout.write(json.dumps(out, indent=2))
`;
  const r = await run(PYTHON, ['-c', prog, JSON.stringify(required), JSON.stringify(tokenScopes)]);
  if (r.code !== 0) throw new Error(`python: ${r.stderr}`);
  return r.stdout;
}

const resourcePort = await freePort();
const resource = `http://127.0.0.1:${resourcePort}/mcp`;
const requested = 'calendar.read tools.call';

for (const path of ['', DESCOPE_PATH]) {
  const p = await startProvider({ path });
  log(`# oidc-provider issuer ${p.issuer}`);
  try {
    const tokens = {};
    for (const alg of ALGS) {
      const c = p.clients[alg];
      tokens[alg] = await getToken({ tokenEndpoint: p.tokenEndpoint, clientId: c.client_id, clientSecret: c.client_secret, resource, scope: requested });
    }

    // The harness is right: an independent verifier accepts every token it got.
    const py = await pyjwtVerify(ALGS.map((alg) => ({ name: alg, token: tokens[alg] })), { jwksUrl: p.jwksUri, issuer: p.issuer, audience: resource });
    if (py) {
      for (const alg of ALGS) {
        check(py.get(alg)?.pyjwt === 'valid', `PyJWT accepts the ${alg} token of ${p.issuer}`, py.get(alg));
      }
    }

    for (const alg of ALGS) {
      const clientId = p.clients[alg].client_id;
      const header = JSON.parse(Buffer.from(tokens[alg].split('.')[0], 'base64url'));
      const issued = JSON.parse(Buffer.from(tokens[alg].split('.')[1], 'base64url'));
      check(header.alg === alg, `oidc-provider signed with ${alg}`, header);
      const r = await run(cli, ['validate', '--well-known-url', p.issuer, '--audience', resource, tokens[alg]]);
      const out = parseJson(r.stdout);
      check(r.code === 0, `${alg}: validate exits 0`, { code: r.code, stdout: r.stdout, stderr: r.stderr });
      check(out?.user_id === clientId, `${alg}: user_id is the client id ${clientId}`, out);
      check(JSON.stringify(out?.scopes) === JSON.stringify(issued.scope.split(' ')), `${alg}: scopes as issued (${issued.scope})`, out?.scopes);
      check(out?.claims?.iss === p.issuer && out?.claims?.aud === resource && out?.claims?.jti === issued.jti,
        `${alg}: claims carry iss, aud and jti of the token`, out?.claims);
    }

    const rs = tokens.RS256;
    {
      const r = await run(cli, ['validate', '--well-known-url', p.issuer, '--audience', `http://127.0.0.1:${resourcePort}/other`, rs]);
      const out = parseJson(r.stdout);
      check(r.code === 1, 'wrong audience: exit 1', { code: r.code, stdout: r.stdout, stderr: r.stderr });
      check(out?.error === 'invalid_token' && typeof out?.error_description === 'string' &&
        Object.keys(out).length === 2, 'wrong audience: {"error":"invalid_token","error_description"}', out);
      check(!r.stdout.includes(rs) && !r.stderr.includes(rs), 'wrong audience: the token is not echoed');
    }
    {
      const r = await run(cli, ['validate', '--well-known-url', p.issuer, '--audience', resource, '--require-scope', 'admin.write', rs]);
      const issuedScopes = JSON.parse(Buffer.from(rs.split('.')[1], 'base64url')).scope.split(' ');
      const expected = await pythonInsufficientScopeJson(['admin.write'], issuedScopes);
      check(r.code === 3, 'missing admin.write: exit 3', { code: r.code, stdout: r.stdout, stderr: r.stderr });
      check(r.stdout.replace(/\n+$/, '') === expected, 'missing admin.write: stdout is byte-for-byte the Python SDK to_json()',
        { got: r.stdout, expected });
    }
    {
      const r = await run(cli, ['validate', '--well-known-url', p.issuer, '--audience', resource, '--require-scope', 'tools.call', '--require-scope', 'calendar.read', '--require-typ', 'at+jwt', '-'], { input: `${tokens.EdDSA}\n` });
      check(r.code === 0 && parseJson(r.stdout)?.user_id === p.clients.EdDSA.client_id,
        'token from stdin (-), held scopes required, --require-typ at+jwt: exit 0', { code: r.code, stdout: r.stdout, stderr: r.stderr });
    }
    {
      // Scope granted on request: admin.write is in the resource server's scopes.
      const c = p.clients.ES256;
      const t = await getToken({ tokenEndpoint: p.tokenEndpoint, clientId: c.client_id, clientSecret: c.client_secret, resource, scope: 'tools.call admin.write' });
      const r = await run(cli, ['validate', '--well-known-url', p.issuer, '--audience', resource, '--require-scope', 'admin.write', t]);
      check(r.code === 0 && parseJson(r.stdout)?.scopes?.includes('admin.write'), 'token with admin.write: --require-scope admin.write exits 0',
        { code: r.code, stdout: r.stdout, stderr: r.stderr });
    }
  } finally {
    await p.close();
  }
}

{
  // Nothing listens there and nothing is cached: the key source is unreachable (exit 4).
  const dead = await freePort();
  const fake = `${Buffer.from('{"alg":"RS256","kid":"k"}').toString('base64url')}.` +
    `${Buffer.from(JSON.stringify({ iss: `http://127.0.0.1:${dead}`, aud: resource, exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url')}.c2ln`;
  const r = await run(cli, ['validate', '--well-known-url', `http://127.0.0.1:${dead}`, '--audience', resource, fake]);
  check(r.code === 4, 'unreachable discovery: exit 4', { code: r.code, stdout: r.stdout, stderr: r.stderr });
}

finish();
