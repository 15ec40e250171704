// A real OpenID provider (oidc-provider, npm) on loopback, issuing JWT access tokens through the
// client-credentials grant and resource indicators (RFC 8707): the authorization server the
// interop tests validate against. One client per signing algorithm, all for the same audience.
import http from 'node:http';
import express from 'express';
import Provider, { errors } from 'oidc-provider';
import * as jose from 'jose';

export const ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'];
export const SCOPES = 'calendar.read tools.call admin.write outbound.token.fetch';

// A Descope-shaped issuer path (wire protocol §4.1 form 1): the validator derives the project id
// from it, so serving it from a real provider checks that derivation against real discovery.
export const DESCOPE_PATH = '/v1/apps/agentic/P2test/MS2test';

const KEY_SPECS = {
  RS256: ['RS256', { modulusLength: 2048 }],
  PS256: ['PS256', { modulusLength: 2048 }],
  ES256: ['ES256', {}],
  EdDSA: ['EdDSA', { crv: 'Ed25519' }],
};

async function makeJwks() {
  const keys = [];
  for (const alg of ALGS) {
    const [a, opts] = KEY_SPECS[alg];
    const { privateKey } = await jose.generateKeyPair(a, { ...opts, extractable: true });
    const jwk = await jose.exportJWK(privateKey);
    jwk.alg = alg;
    jwk.use = 'sig';
    jwk.kid = `oidc-${alg.toLowerCase()}`;
    keys.push(jwk);
  }
  return { keys };
}

export function clientIdFor(alg) {
  return `client-${alg.toLowerCase()}`;
}

function isLoopbackResource(resource) {
  try {
    const u = new URL(resource);
    return (u.protocol === 'http:' || u.protocol === 'https:') &&
      (u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]') &&
      u.hash === '';
  } catch {
    return false;
  }
}

// Starts the provider. opts: { port = 0, path = '' (issuer path, e.g. DESCOPE_PATH),
// ttl = 600 }. Returns { issuer, tokenEndpoint, jwksUri, clients: {alg: {client_id,
// client_secret}}, close() }.
export async function startProvider(opts = {}) {
  const port = opts.port ?? 0;
  const path = (opts.path ?? '').replace(/\/+$/, '');
  const ttl = opts.ttl ?? 600;
  const jwks = await makeJwks();

  const clients = {};
  const clientAlg = new Map();
  for (const alg of ALGS) {
    const id = clientIdFor(alg);
    const secret = `secret-${alg.toLowerCase()}-${jose.base64url.encode(crypto.getRandomValues(new Uint8Array(12)))}`;
    clients[alg] = { client_id: id, client_secret: secret };
    clientAlg.set(id, alg);
  }

  // Bind first, so that the issuer can carry the real ephemeral port.
  const app = express();
  const server = http.createServer(app);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const realPort = server.address().port;
  const issuer = `http://127.0.0.1:${realPort}${path}`;

  const provider = new Provider(issuer, {
    jwks,
    clients: ALGS.map((alg) => ({
      client_id: clients[alg].client_id,
      client_secret: clients[alg].client_secret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
    })),
    // Client-credentials grants carry no state worth keeping; match their TTL to the token's.
    ttl: { ClientCredentials: () => ttl },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // Without a resolved resource oidc-provider issues opaque tokens; we want JWTs only.
        defaultResource: () => undefined,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resourceIndicator, client) => {
          if (!isLoopbackResource(resourceIndicator)) {
            throw new errors.InvalidTarget();
          }
          return {
            scope: SCOPES,
            audience: resourceIndicator,
            accessTokenTTL: ttl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: clientAlg.get(client.clientId) ?? 'RS256' } },
          };
        },
      },
    },
    enabledJWA: {
      // Defaults omit nothing we need today; listing them makes the intent explicit.
      idTokenSigningAlgValues: ALGS,
    },
  });
  provider.proxy = false;
  // Quiet the expected "in-memory adapter" / "unsupported runtime" noise only on stdout; errors
  // still reach stderr through the default handlers.
  provider.on('server_error', (ctx, err) => { process.stderr.write(`oidc-provider: ${err}\n`); });

  if (path) {
    app.use(path, provider.callback());
  } else {
    app.use(provider.callback());
  }

  return {
    issuer,
    port: realPort,
    wellKnownUrl: `${issuer}/.well-known/openid-configuration`,
    tokenEndpoint: `${issuer}/token`,
    jwksUri: `${issuer}/jwks`,
    clients,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}

// Client-credentials token request (RFC 6749 §4.4) with a resource indicator (RFC 8707).
// Returns the access token string; throws with the server's error body otherwise.
export async function getToken({ tokenEndpoint, clientId, clientSecret, resource, scope }) {
  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  if (resource) body.set('resource', resource);
  if (scope) body.set('scope', scope);
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
  const res = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body,
    signal: AbortSignal.timeout(10000),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = null; }
  if (!res.ok || !json || typeof json.access_token !== 'string') {
    throw new Error(`token request failed: HTTP ${res.status} ${text.slice(0, 300)}`);
  }
  return json.access_token;
}
