#!/usr/bin/env node
// The baseline the HTTP benchmark (bench/http/run.sh) compares our C server with: the official
// MCP TypeScript SDK (McpServer + StreamableHTTPServerTransport, JSON responses) behind the
// SDK's own `requireBearerAuth` middleware with a `jose` verifier, serving the same contract as
// <build>/bin/mcp-echo-server: tools echo {text}, whoami {}, admin_echo {text} (scope
// admin.write, 403 insufficient_scope step-up), PRM at the path-inserted well-known URL.
// Written the way the SDK's documentation suggests, not tuned, not handicapped.
//
// Usage: ts-echo-server.mjs --stdio   (no auth, like mcp-echo-server --stdio), or
//        ts-echo-server.mjs --listen 127.0.0.1:PORT --well-known-url ISSUER
//                           --mcp-server-url http://127.0.0.1:PORT/mcp [--stateless]
//                           [--require-scope SCOPE]...
//                           [--max-seconds N]
import { randomUUID } from 'node:crypto';
import express from 'express';
import * as jose from 'jose';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { getOAuthProtectedResourceMetadataUrl } from '@modelcontextprotocol/sdk/server/auth/router.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { parseArgs } from '../lib/args.mjs';

const args = parseArgs(process.argv.slice(2), ['stateless', 'stdio'], ['require-scope']);
const [host, portText] = (args.listen ?? '127.0.0.1:0').split(':');
const issuerArg = (args['well-known-url'] ?? process.env.DESCOPE_MCP_WELL_KNOWN_URL ?? '').replace(/\/\.well-known\/openid-configuration$/, '');
const mcpUrl = args.stdio ? null : new URL(args['mcp-server-url'] ?? process.env.MCP_SERVER_URL);
const stateless = !!args.stateless;

function buildServer() {
  const server = new McpServer({ name: 'ts-echo-baseline', version: '1.0.0' });
  server.registerTool('echo', { description: 'Echo the text back', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }));
  server.registerTool('whoami', { description: 'The caller', inputSchema: {} },
    async (_args, extra) => {
      const who = { user_id: extra.authInfo?.extra?.sub ?? '', scopes: extra.authInfo?.scopes ?? [], client_id: extra.authInfo?.clientId ?? '' };
      return { content: [{ type: 'text', text: JSON.stringify(who) }], structuredContent: who };
    });
  server.registerTool('admin_echo', { description: 'Echo, needs admin.write', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }));
  return server;
}

if (args.stdio) {
  await buildServer().connect(new StdioServerTransport());
} else {
  await startHttp();
}

async function startHttp() {
// Discovery once, keys once (jose's local key set): the cheapest honest verifier.
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
      throw new InvalidTokenError('Invalid token');
    }
  },
};

const prmUrl = getOAuthProtectedResourceMetadataUrl(mcpUrl);
const prm = {
  resource: mcpUrl.href,
  authorization_servers: [disco.issuer],
  scopes_supported: ['tools.call', 'calendar.read', 'admin.write'],
  bearer_methods_supported: ['header'],
};

const app = express();
app.use(express.json({ limit: '1mb' }));
app.get(new URL(prmUrl).pathname, (_req, res) => { res.set('access-control-allow-origin', '*').json(prm); });
app.get('/.well-known/oauth-protected-resource', (_req, res) => { res.set('access-control-allow-origin', '*').json(prm); });

const auth = requireBearerAuth({ verifier, requiredScopes: args['require-scope'] ?? [], resourceMetadataUrl: prmUrl, expectedResource: mcpUrl });

// Per-tool scope step-up (HTTP 403), as the C server does for admin_echo.
function toolScopes(req, res, next) {
  const b = req.body;
  if (b && b.method === 'tools/call' && b.params?.name === 'admin_echo' && !req.auth.scopes.includes('admin.write')) {
    const scope = [...new Set([...req.auth.scopes, 'admin.write'])].sort().join(' ');
    res.set('WWW-Authenticate', `Bearer error="insufficient_scope", error_description="Token missing required scopes: admin.write", scope="${scope}", resource_metadata="${prmUrl}"`);
    res.status(403).json({ error: 'insufficient_scope', error_description: 'Token missing required scopes: admin.write' });
    return;
  }
  next();
}

const transports = new Map();
const mcpPath = mcpUrl.pathname;

app.post(mcpPath, auth, toolScopes, async (req, res) => {
  if (stateless) {
    const server = buildServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => { transport.close(); server.close(); });
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
    return;
  }
  const sid = req.headers['mcp-session-id'];
  let transport = sid ? transports.get(sid) : undefined;
  if (!transport) {
    if (sid || !isInitializeRequest(req.body)) {
      res.status(sid ? 404 : 400).json({ jsonrpc: '2.0', error: { code: -32000, message: sid ? 'Session not found' : 'Missing session id' }, id: null });
      return;
    }
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: true,
      onsessioninitialized: (id) => { transports.set(id, transport); },
    });
    transport.onclose = () => { if (transport.sessionId) transports.delete(transport.sessionId); };
    await buildServer().connect(transport);
  }
  await transport.handleRequest(req, res, req.body);
});

const bySession = async (req, res) => {
  const sid = req.headers['mcp-session-id'];
  const transport = sid ? transports.get(sid) : undefined;
  if (stateless || !transport) {
    res.status(stateless ? 405 : (sid ? 404 : 400)).end();
    return;
  }
  await transport.handleRequest(req, res);
};
app.get(mcpPath, auth, bySession);
app.delete(mcpPath, auth, bySession);

const httpServer = app.listen(Number(portText), host, () => {
  const a = httpServer.address();
  process.stdout.write(`${JSON.stringify({ listening: `http://${a.address}:${a.port}${mcpPath}` })}\n`);
});
const stop = () => { httpServer.closeAllConnections?.(); httpServer.close(() => process.exit(0)); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setTimeout(stop, Number(args['max-seconds'] ?? 600) * 1000).unref();
}
