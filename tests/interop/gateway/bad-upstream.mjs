#!/usr/bin/env node
// A misbehaving upstream for the gateway's fault tests: a correct initialize (with a session
// id) and tools/list, then tools/call answers per tool name: garbage (invalid JSON), huge
// (10 MiB of JSON), badsse (an SSE event that is not JSON), hang (never), die (the process
// exits mid-call: the gateway sees the connection drop), forget (404 once: session lost),
// initializes (how many initialize requests it has seen), connections (how many TCP
// connections it has accepted), chunked (the result in a chunked JSON body).
// --keep-alive-ms N closes the connection N ms after each response, without telling the client
// (no Connection: close): the gateway then finds kept connections dead on reuse.
// Usage: bad-upstream.mjs --listen 127.0.0.1:PORT [--keep-alive-ms N]
import http from 'node:http';
import { parseArgs } from '../lib/args.mjs';

const args = parseArgs(process.argv.slice(2));
const [host, portText] = (args.listen ?? '127.0.0.1:0').split(':');
let forgotten = false;
let initializes = 0;
let connections = 0;
const tools = ['garbage', 'huge', 'badsse', 'hang', 'die', 'forget', 'initializes', 'connections', 'chunked'].map((name) => ({ name, inputSchema: { type: 'object' } }));

const server = http.createServer(async (req, res) => {
  if (req.method === 'DELETE') { res.writeHead(200).end(); return; }
  if (req.method !== 'POST') { res.writeHead(405).end(); return; }
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const msg = JSON.parse(Buffer.concat(chunks).toString());
  const reply = (result) => {
    res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'bad-session-1' });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
  };
  if (msg.id === undefined) { res.writeHead(202).end(); return; }
  if (msg.method === 'initialize') {
    initializes++;
    reply({ protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'bad', version: '1' } });
  } else if (msg.method === 'tools/list') {
    reply({ tools });
  } else if (msg.method === 'tools/call') {
    const n = msg.params?.name;
    if (n === 'garbage') { res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":'); }
    else if (n === 'huge') { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text: 'x'.repeat(10 * 1024 * 1024) }] } })); }
    else if (n === 'badsse') { res.writeHead(200, { 'content-type': 'text/event-stream' }); res.end('event: message\ndata: {nope\n\n'); }
    else if (n === 'hang') { /* never */ }
    else if (n === 'die') { process.exit(3); }
    else if (n === 'forget') {
      // The first call: the upstream "lost" the session (404); the gateway must open a new
      // one and retry once.
      if (!forgotten) { forgotten = true; res.writeHead(404).end(); } else reply({ content: [{ type: 'text', text: 'recovered' }] });
    } else if (n === 'initializes') reply({ content: [{ type: 'text', text: String(initializes) }] });
    else if (n === 'connections') reply({ content: [{ type: 'text', text: String(connections) }] });
    else if (n === 'chunked') { // no Content-Length: Node frames it chunked, in two writes
      res.writeHead(200, { 'content-type': 'application/json' });
      const text = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text: 'chunked ok' }] } });
      res.write(text.slice(0, 10));
      setTimeout(() => res.end(text.slice(10)), 20);
    }
    else reply({ content: [{ type: 'text', text: 'unknown' }], isError: true });
  } else {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'Method not found' } }));
  }
});
server.on('connection', () => { connections++; });
if (args['keep-alive-ms'] !== undefined) {
  // Closes the connection N ms after each response, with no Connection: close to warn the client.
  const ms = Number(args['keep-alive-ms']);
  server.on('request', (req, res) => res.on('finish', () => setTimeout(() => req.socket.destroy(), ms)));
}
server.listen(Number(portText), host, () => console.log('listening'));
