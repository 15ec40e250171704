#!/usr/bin/env node
// An upstream for the relay test (tests/interop/gateway/relay.test.mjs): the official TS SDK
// server (McpServer + StreamableHTTPServerTransport, no auth) that asks roots/list right after
// notifications/initialized, outside any request, i.e. on its standalone GET stream. It waits
// for that stream to be open (else the SDK drops the message), and retries while the gateway
// answers that the client has no stream open yet (a readiness poll, up to ~5 s). Every final
// outcome is recorded per client name: GET /outcomes returns them.
// Tool flood_roots {n, tag}: n roots/list at once, outside the call (the relay's bounds).
// Usage: roots-upstream.mjs --listen 127.0.0.1:PORT
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest, ListRootsResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { parseArgs } from '../lib/args.mjs';

const args = parseArgs(process.argv.slice(2));
const [host, portText] = (args.listen ?? '127.0.0.1:0').split(':');
const outcomes = [];
const getOpen = new Map(); // session id -> resolve of "its GET stream is open"
const getWait = new Map(); // session id -> promise

async function askRoots(mcp, sid) {
  await getWait.get(sid);
  const who = mcp.server.getClientVersion()?.name;
  if (who === 'hangs') return; // the bounds test counts only its own requests
  for (let i = 0; i < 50; i++) {
    try {
      const r = await mcp.server.request({ method: 'roots/list' }, ListRootsResultSchema, { timeout: 10000 });
      outcomes.push({ who, roots: r.roots });
      return;
    } catch (e) {
      if (/no stream open/.test(e.message) && i < 49) {
        await new Promise((res) => setTimeout(res, 100));
        continue;
      }
      outcomes.push({ who, error: { code: e.code, message: e.message } });
      return;
    }
  }
}

function buildServer(sidRef) {
  const mcp = new McpServer({ name: 'roots-upstream', version: '1.0.0' }, { capabilities: {} });
  mcp.registerTool('ping_tool', { description: 'answers pong', inputSchema: {} },
    async () => ({ content: [{ type: 'text', text: 'pong' }] }));
  // n roots/list at once, 100 ms after the call returned (outside it: on the GET stream);
  // each outcome is recorded as {who: 'flood-<tag>', ...}.
  mcp.registerTool('flood_roots', { description: 'n roots/list outside the call', inputSchema: { n: z.number(), tag: z.string() } },
    async ({ n, tag }) => {
      setTimeout(() => {
        for (let i = 0; i < n; i++) {
          mcp.server.request({ method: 'roots/list' }, ListRootsResultSchema, { timeout: 60000 })
            .then((r) => outcomes.push({ who: `flood-${tag}`, roots: r.roots }),
              (e) => outcomes.push({ who: `flood-${tag}`, error: { code: e.code, message: e.message } }));
        }
      }, 100);
      return { content: [{ type: 'text', text: 'scheduled' }] };
    });
  mcp.server.oninitialized = () => { askRoots(mcp, sidRef.id); };
  return mcp;
}

const transports = new Map();
const srv = http.createServer(async (req, res) => {
  if (req.url.startsWith('/outcomes')) {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(outcomes));
    return;
  }
  let body;
  if (req.method === 'POST') {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    body = JSON.parse(Buffer.concat(chunks).toString());
  }
  const sid = req.headers['mcp-session-id'];
  let transport = sid ? transports.get(sid) : undefined;
  if (!transport) {
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      res.writeHead(sid ? 404 : 400).end();
      return;
    }
    const sidRef = {};
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sidRef.id = id;
        transports.set(id, transport);
        getWait.set(id, new Promise((r) => getOpen.set(id, r)));
      },
    });
    transport.onclose = () => { if (transport.sessionId) transports.delete(transport.sessionId); };
    await buildServer(sidRef).connect(transport);
  }
  const p = transport.handleRequest(req, res, body);
  if (req.method === 'GET' && sid) {
    // The SDK drops a message sent before the standalone stream is registered: poll its
    // (internal) stream table until it is.
    const t = transport._webStandardTransport ?? transport;
    const poll = () => (t._streamMapping?.has(t._standaloneSseStreamId) ? getOpen.get(sid)?.() : setTimeout(poll, 20));
    poll();
  }
  await p;
});
srv.listen(Number(portText), host, () => console.log(`listening ${srv.address().port}`));
