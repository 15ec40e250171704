#!/usr/bin/env node
// The 2026-07-28 baseline of bench/http/run.sh: the official MCP TypeScript SDK v2
// (@modelcontextprotocol/server 2.4.0, pinned in tests/interop/package.json) in its stateless
// pattern — `createMcpHandler(factory)`, one McpServer per request — behind the SDK's own
// web-standard `requireBearerAuth` gate with a `jose` 6 verifier (keys fetched once), on
// plain node:http (the `@modelcontextprotocol/node` adapter is not installed; the few lines
// below do what its `toNodeHandler` does: node request -> web Request -> handler.fetch -> node
// response). Same contract as <build>/bin/mcp-echo-server: tools echo {text}, whoami {},
// admin_echo {text} (scope admin.write via the SDK's `requireScopes`), PRM at the
// path-inserted well-known URL. Written the way the SDK documents it, not tuned, not handicapped.
//
// Usage: ts2-echo-server.mjs --listen 127.0.0.1:PORT --well-known-url ISSUER
//                            --mcp-server-url http://127.0.0.1:PORT/mcp [--max-seconds N]
// (--stateless is accepted and ignored: this pattern has no sessions.)
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Packages live in tests/interop/node_modules (the one pinned install of the project).
const nm = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'tests', 'interop', 'node_modules');
const load = (p) => import(pathToFileURL(join(nm, p)).href);
const {
  McpServer, createMcpHandler, requireBearerAuth, requireScopes, OAuthError, OAuthErrorCode,
  getOAuthProtectedResourceMetadataUrl,
} = await load('@modelcontextprotocol/server/dist/index.mjs');
const jose = await load('jose/dist/webapi/index.js');
const { z } = await load('zod/index.js');
const { parseArgs } = await import(pathToFileURL(join(nm, '..', 'lib', 'args.mjs')).href);

const args = parseArgs(process.argv.slice(2), ['stateless']);
const [host, portText] = (args.listen ?? '127.0.0.1:0').split(':');
const issuerArg = (args['well-known-url'] ?? '').replace(/\/\.well-known\/openid-configuration$/, '');
const mcpUrl = new URL(args['mcp-server-url']);

const disco = await (await fetch(`${issuerArg}/.well-known/openid-configuration`)).json();
if (disco.issuer !== issuerArg) throw new Error(`discovery issuer ${disco.issuer} != ${issuerArg}`);
const keySet = jose.createLocalJWKSet(await (await fetch(disco.jwks_uri)).json());

const verifier = {
  async verifyAccessToken(token) {
    try {
      const { payload } = await jose.jwtVerify(token, keySet, {
        issuer: disco.issuer,
        audience: mcpUrl.href,
        algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
      });
      return {
        token,
        clientId: payload.azp ?? payload.client_id ?? '',
        scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
        expiresAt: payload.exp,
        resource: new URL(Array.isArray(payload.aud) ? mcpUrl.href : payload.aud),
        extra: { sub: payload.sub },
      };
    } catch {
      throw new OAuthError(OAuthErrorCode.InvalidToken, 'Invalid token');
    }
  },
};

const prmUrl = getOAuthProtectedResourceMetadataUrl(mcpUrl);
const prm = JSON.stringify({
  resource: mcpUrl.href,
  authorization_servers: [disco.issuer],
  scopes_supported: ['tools.call', 'calendar.read', 'admin.write'],
  bearer_methods_supported: ['header'],
});

function buildServer() {
  const server = new McpServer({ name: 'ts2-echo-baseline', version: '1.0.0' });
  server.registerTool('echo', { description: 'Echo the text back', inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: 'text', text }] }));
  server.registerTool('whoami', { description: 'The caller', inputSchema: z.object({}) },
    async (_args, ctx) => {
      const a = ctx.http?.authInfo;
      const who = { user_id: a?.extra?.sub ?? '', scopes: a?.scopes ?? [], client_id: a?.clientId ?? '' };
      return { content: [{ type: 'text', text: JSON.stringify(who) }], structuredContent: who };
    });
  server.registerTool('admin_echo', { description: 'Echo, needs admin.write', inputSchema: z.object({ text: z.string() }),
    scopeChallenge: requireScopes('admin.write') },
  async ({ text }) => ({ content: [{ type: 'text', text }] }));
  return server;
}

const handler = createMcpHandler(() => buildServer());
const gate = requireBearerAuth({ verifier, resourceMetadataUrl: prmUrl, expectedResource: mcpUrl });
const prmPath = new URL(prmUrl).pathname;

const httpServer = createServer(async (req, res) => {
  try {
    const url = new URL(req.url, `http://${req.headers.host ?? `${host}:${portText}`}`);
    if (req.method === 'GET' && (url.pathname === prmPath || url.pathname === '/.well-known/oauth-protected-resource')) {
      res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': '*' }).end(prm);
      return;
    }
    if (url.pathname !== mcpUrl.pathname) { res.writeHead(404).end(); return; }
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (Array.isArray(v)) v.forEach((x) => headers.append(k, x)); else if (v !== undefined) headers.set(k, v);
    }
    const body = chunks.length ? Buffer.concat(chunks) : undefined;
    const request = new Request(url, { method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body });
    const auth = await gate(request);
    const response = auth instanceof Response ? auth : await handler.fetch(request, { authInfo: auth });
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (response.body) {
      for await (const chunk of response.body) res.write(chunk);
    }
    res.end();
  } catch (e) {
    if (!res.headersSent) res.writeHead(500);
    res.end(String(e?.message ?? e));
  }
});
httpServer.keepAliveTimeout = 60_000;
httpServer.listen(Number(portText), host, () => {
  const a = httpServer.address();
  process.stdout.write(`${JSON.stringify({ listening: `http://${a.address}:${a.port}${mcpUrl.pathname}` })}\n`);
});
const stop = () => { httpServer.closeAllConnections?.(); httpServer.close(() => process.exit(0)); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setTimeout(stop, Number(args['max-seconds'] ?? 600) * 1000).unref();
