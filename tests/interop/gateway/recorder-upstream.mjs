#!/usr/bin/env node
// A recording upstream for the gateway tests: the official TS SDK server (McpServer +
// StreamableHTTPServerTransport, sessions, SSE) with NO auth of its own, recording the headers
// of every HTTP request it receives. GET /recorded returns them (and resets with ?reset).
// Tools: echo {text}, admin_echo {text}, slow_progress {steps} (progress notifications, 300 ms
// apart), ask_llm {prompt} (sampling/createMessage to the client, through the gateway),
// headers {} (the headers of this very call), notify_later {} (an unsolicited
// notifications/tools/list_changed 300 ms later, i.e. on the GET stream), hang {} (never answers).
// Usage: recorder-upstream.mjs --listen 127.0.0.1:PORT
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { parseArgs } from '../lib/args.mjs';

const args = parseArgs(process.argv.slice(2));
const [host, portText] = (args.listen ?? '127.0.0.1:0').split(':');
const recorded = [];

function buildServer() {
  const server = new McpServer({ name: 'recorder', version: '1.0.0' }, { capabilities: { logging: {} } });
  server.registerTool('echo', { description: 'Echo', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }));
  server.registerTool('admin_echo', { description: 'Echo (admin)', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text: `admin:${text}` }] }));
  server.registerTool('headers', { description: 'Headers of this call', inputSchema: {} },
    async (_a, extra) => ({ content: [{ type: 'text', text: JSON.stringify(extra.requestInfo?.headers ?? {}) }] }));
  server.registerTool('slow_progress', { description: 'Progress', inputSchema: { steps: z.number() } },
    async ({ steps }, extra) => {
      const token = extra._meta?.progressToken;
      for (let i = 1; i <= steps; i++) {
        if (token !== undefined) {
          await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: steps, message: `t=${Date.now()}` } });
        }
        await new Promise((r) => setTimeout(r, 300));
      }
      return { content: [{ type: 'text', text: `done at ${Date.now()}` }] };
    });
  server.registerTool('ask_llm', { description: 'Sampling', inputSchema: { prompt: z.string() } },
    async ({ prompt }, extra) => {
      const r = await extra.sendRequest({ method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 50 } },
        (await import('@modelcontextprotocol/sdk/types.js')).CreateMessageResultSchema);
      return { content: [{ type: 'text', text: `llm said: ${r.content.text}` }] };
    });
  server.registerTool('notify_later', { description: 'tools/list_changed on the GET stream, 300 ms later', inputSchema: {} },
    async () => {
      setTimeout(() => { server.sendToolListChanged(); }, 300);
      return { content: [{ type: 'text', text: 'scheduled' }] };
    });
  server.registerTool('hang', { description: 'Never answers', inputSchema: {} },
    () => new Promise(() => {}));
  return server;
}

const transports = new Map();
const srv = http.createServer(async (req, res) => {
  if (req.url.startsWith('/recorded')) {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(recorded));
    if (req.url.includes('reset')) recorded.length = 0;
    return;
  }
  recorded.push({ method: req.method, headers: req.headers });
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
    transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => transports.set(id, transport),
    });
    transport.onclose = () => { if (transport.sessionId) transports.delete(transport.sessionId); };
    await buildServer().connect(transport);
  }
  await transport.handleRequest(req, res, body);
});
srv.listen(Number(portText), host, () => console.log(`listening ${srv.address().port}`));
