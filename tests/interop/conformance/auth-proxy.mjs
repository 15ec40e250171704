#!/usr/bin/env node
// Loopback proxy for the authenticated conformance run: the conformance runner cannot send an
// Authorization header (mcp-transport.md §7.1), so this proxy adds `Authorization: Bearer
// <token>` to every request and forwards it unchanged otherwise — Host and Origin included, so
// the server's DNS-rebinding checks still see what the suite sent. Responses (JSON and SSE) are
// streamed back as they arrive.
// Usage: auth-proxy.mjs --upstream 127.0.0.1:PORT --token-file FILE [--port N] [--max-seconds N]
// Prints {"listening": PORT} when ready.
import fs from 'node:fs';
import http from 'node:http';
import { parseArgs } from '../lib/args.mjs';

const a = parseArgs(process.argv.slice(2));
const [upHost, upPort] = a.upstream.split(':');
const token = fs.readFileSync(a['token-file'], 'utf8').trim();
const agent = new http.Agent({ keepAlive: true });

const server = http.createServer((req, res) => {
  const headers = { ...req.headers, authorization: `Bearer ${token}` };
  const up = http.request({ host: upHost, port: Number(upPort), method: req.method, path: req.url, headers, agent }, (ur) => {
    res.writeHead(ur.statusCode, ur.statusMessage, ur.rawHeaders);
    res.flushHeaders();
    ur.pipe(res);
  });
  up.on('error', (e) => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' });
    }
    res.end(`auth-proxy: upstream error ${e.code ?? e.message}\n`);
  });
  res.on('close', () => { if (!res.writableFinished) up.destroy(); });
  req.pipe(up);
});
server.listen(Number(a.port ?? 0), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ listening: server.address().port })}\n`);
});
const stop = () => { server.closeAllConnections?.(); server.close(() => process.exit(0)); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
setTimeout(stop, Number(a['max-seconds'] ?? 300) * 1000).unref();
