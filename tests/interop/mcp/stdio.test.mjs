// interop.mcp.stdio: the official MCP TypeScript SDK client over stdio
// (StdioClientTransport) against `<build>/bin/mcp-echo-server --stdio` (no auth on stdio, MCP
// 2025-11-25 Authorization §1.2): initialize, listTools, callTool echo several times, a bad
// tool name answered as a JSON-RPC error, and nothing but MCP on stdout (every line the SDK
// reads parses as JSON-RPC, so the transport reports no error). Exit 77 only when the binary does
// not exist. `--peer ts` runs it against the TypeScript-SDK baseline (proves this test).
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { check, deadline, finish, INTEROP_DIR, log, requireBinary } from '../lib/harness.mjs';
import { parseArgs } from '../lib/args.mjs';

deadline(30);
const args = parseArgs(process.argv.slice(2));
const peer = args.peer ?? 'c';
const server = peer === 'ts'
  ? { command: process.execPath, args: [path.join(INTEROP_DIR, 'baseline', 'ts-echo-server.mjs'), '--stdio'] }
  : { command: requireBinary('mcp-echo-server'), args: ['--stdio'] };

const transportErrors = [];
let stderrText = '';
const transport = new StdioClientTransport({ ...server, stderr: 'pipe', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
transport.stderr?.on('data', (d) => { stderrText += d; });
const client = new Client({ name: 'dmcp-interop-stdio', version: '1.0.0' });
client.onerror = (e) => { transportErrors.push(String(e)); };
try {
  await client.connect(transport);
  const info = client.getServerVersion();
  check(typeof info?.name === 'string', `initialize over stdio (server ${info?.name} ${info?.version})`, info);
  check(client.getServerCapabilities()?.tools !== undefined, 'the server declares the tools capability', client.getServerCapabilities());
  const tools = await client.listTools();
  const names = tools.tools.map((t) => t.name);
  check(['echo', 'whoami', 'admin_echo'].every((n) => names.includes(n)), 'listTools has echo, whoami, admin_echo', names);
  const echoTool = tools.tools.find((t) => t.name === 'echo');
  check(echoTool?.inputSchema?.type === 'object' && echoTool.inputSchema.properties?.text !== undefined, 'echo declares an object input schema with text', echoTool?.inputSchema);
  for (const text of ['one', 'zwei — drei', 'x'.repeat(4096), 'line\nbreak "quoted"']) {
    const r = await client.callTool({ name: 'echo', arguments: { text } });
    check(r.isError !== true && r.content?.[0]?.text === text, `echo round-trips ${JSON.stringify(text.slice(0, 20))}${text.length > 20 ? '…' : ''}`, r);
  }
  let err;
  try {
    const r = await client.callTool({ name: 'no_such_tool', arguments: {} });
    err = r.isError ? 'isError' : undefined;
  } catch (e) { err = e; }
  if (peer === 'ts') {
    check(err !== undefined, 'unknown tool: an error (the TS SDK answers isError or -32602)', String(err));
  } else {
    check(err?.code === -32602, 'unknown tool: JSON-RPC error -32602', String(err));
  }
  const after = await client.callTool({ name: 'echo', arguments: { text: 'still here' } });
  check(after.content?.[0]?.text === 'still here', 'the server keeps serving after an error', after);
  await client.ping();
  check(true, 'ping answers');
} catch (e) {
  check(false, 'stdio session', String(e?.stack ?? e));
}
check(transportErrors.length === 0, 'nothing but MCP on stdout (the SDK saw no unparsable line)', transportErrors);
await client.close();
if (stderrText) log(`# server stderr: ${stderrText.slice(0, 300).replace(/\n/g, ' | ')}`);
finish();
