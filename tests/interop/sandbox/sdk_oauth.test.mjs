// The official MCP TypeScript SDK's OAuth client (the code MCP Inspector runs) logs in against
// `descope-mcp sandbox`: protected-resource metadata -> AS discovery -> dynamic client
// registration -> authorization code + PKCE through the sandbox's consent page -> token.
// The token is then verified with jose against the sandbox's JWKS.
// A tiny node HTTP server plays the MCP server's metadata endpoint (RFC 9728) only.
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import { auth } from '@modelcontextprotocol/sdk/client/auth.js';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import { check, deadline, finish, log, requireBinary, spawnTracked, stopChild } from '../lib/harness.mjs';

deadline(60);
const bin = requireBinary('descope-mcp');

const sb = spawnTracked(bin, ['sandbox', '--listen', '127.0.0.1:0', '--exit-after', '55']);
const ready = await new Promise((resolve, reject) => {
  const rl = readline.createInterface({ input: sb.stdout });
  rl.once('line', (l) => resolve(JSON.parse(l)));
  sb.once('exit', (c) => reject(new Error(`sandbox exited ${c}: ${sb.output}`)));
});
log(`# sandbox issuer ${ready.issuer}`);

// The MCP server's protected-resource metadata, pointing at the sandbox issuer.
const prm = http.createServer((req, res) => {
  const { port } = prm.address();
  if (req.url === '/.well-known/oauth-protected-resource/mcp') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({
      resource: `http://127.0.0.1:${port}/mcp`,
      authorization_servers: [ready.issuer],
      scopes_supported: ['calendar.read', 'outbound.token.fetch'],
      bearer_methods_supported: ['header'],
    }));
  } else {
    res.writeHead(404).end();
  }
});
await new Promise((r) => prm.listen(0, '127.0.0.1', r));
const serverUrl = `http://127.0.0.1:${prm.address().port}/mcp`;
const redirect = 'http://localhost:6274/oauth/callback';

class Provider {
  constructor() { this.saved = {}; }
  get redirectUrl() { return redirect; }
  get clientMetadata() {
    return {
      client_name: 'MCP SDK interop', redirect_uris: [redirect],
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() { return 'state-42'; }
  clientInformation() { return this.saved.client; }
  saveClientInformation(c) { this.saved.client = c; }
  tokens() { return this.saved.tokens; }
  saveTokens(t) { this.saved.tokens = t; }
  redirectToAuthorization(u) { this.saved.authUrl = u; }
  saveCodeVerifier(v) { this.saved.verifier = v; }
  codeVerifier() { return this.saved.verifier; }
}

try {
  const p = new Provider();
  const scope = 'calendar.read outbound.token.fetch';
  const first = await auth(p, { serverUrl, scope });
  check(first === 'REDIRECT', 'SDK discovers the sandbox and asks for a redirect', first);
  check(p.saved.client?.client_id?.startsWith('DC'), 'SDK registered a client by DCR', p.saved.client);
  const au = p.saved.authUrl;
  check(au && au.href.startsWith(`${ready.api_base}/oauth2/v1/apps/authorize?`), 'authorization URL is the sandbox', au?.href);
  check(au?.searchParams.get('code_challenge_method') === 'S256', 'SDK uses PKCE S256');
  check(au?.searchParams.get('resource') === serverUrl, 'SDK sends the resource (RFC 8707)', au?.searchParams.get('resource'));

  // The "browser": load the consent page, pick U2alice, approve.
  const page = await (await fetch(au)).text();
  const req = /name=request value="([^"]+)"/.exec(page)?.[1];
  check(!!req, 'consent page has a request id');
  const approve = await fetch(`${ready.api_base}/oauth2/v1/apps/authorize`, {
    method: 'POST', redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ request: req, user: 'U2alice', action: 'approve' }),
  });
  const loc = new URL(approve.headers.get('location'));
  check(approve.status === 302 && loc.href.startsWith(redirect), 'approve redirects to the client', loc.href);
  check(loc.searchParams.get('state') === 'state-42' && loc.searchParams.get('iss') === ready.issuer, 'state and iss');

  const second = await auth(p, { serverUrl, scope, authorizationCode: loc.searchParams.get('code') });
  check(second === 'AUTHORIZED', 'SDK exchanges the code', second);
  const tok = p.saved.tokens;
  check(tok?.token_type?.toLowerCase() === 'bearer' && tok.access_token, 'SDK saved a bearer token');

  const jwks = createRemoteJWKSet(new URL(ready.jwks_uri));
  const { payload } = await jwtVerify(tok.access_token, jwks, {
    issuer: ready.issuer, audience: serverUrl, typ: 'at+jwt', algorithms: ['RS256'],
  });
  check(payload.sub === 'U2alice', 'jose verifies the token: sub U2alice', payload);
  check(payload.scope === scope && payload.azp === p.saved.client.client_id, 'scope and azp', payload);
  check(decodeProtectedHeader(tok.access_token).kid, 'token header has a kid');
} catch (e) {
  check(false, 'SDK OAuth flow against the sandbox', String(e?.stack ?? e));
} finally {
  prm.close();
  await stopChild(sb);
}
finish();
