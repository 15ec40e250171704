// interop.mcp.stdio_eras: 2026-07-28 over stdio. The official v2 client
// (@modelcontextprotocol/client 2.4.0, StdioClientTransport, version negotiation 'auto': it
// probes with server/discover) against `<build>/bin/mcp-echo-server --stdio`:
//   - the era is modern (server/discover chose it) and no initialize was ever sent; every
//     request carried the 2026 _meta and every result a resultType (checked on the wire);
//   - listTools, echo;
//   - elicitation: ask_name answered input_required on the wire, the client's elicitation
//     handler answered, the retry completed with the greeting;
//   - subscriptions/listen {resourceSubscriptions: [echo://counter]}: acknowledged, a bump
//     delivers notifications/resources/updated tagged with the subscription id; after close()
//     (notifications/cancelled over stdio) a bump delivers nothing;
// and, beside it, the v1 client (1.32.2) doing the same over 2025 on its own --stdio process:
// elicitation as a server->client request, resources/subscribe + notifications/resources/updated.
// Exit 77 only when the binary does not exist.
import { Client as ClientV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { check, deadline, finish, requireBinary } from '../lib/harness.mjs';

deadline(60);
const bin = requireBinary('mcp-echo-server');
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
const waitFor = async (pred, ms = 10000) => {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  return pred();
};
const PV = 'io.modelcontextprotocol/protocolVersion';
const SUB = 'io.modelcontextprotocol/subscriptionId';

// ---- v2 client, 2026-07-28 ----
{
  const sent = [];
  const recv = [];
  const transport = new StdioV2({ command: bin, args: ['--stdio'], env, stderr: 'pipe' });
  // The wire, both ways: wrap send, and the onmessage the client installs.
  const send = transport.send.bind(transport);
  transport.send = (m, o) => { sent.push(m); return send(m, o); };
  let onmsg;
  Object.defineProperty(transport, 'onmessage', {
    configurable: true,
    get: () => onmsg,
    set: (fn) => { onmsg = fn ? (m, e) => { recv.push(m); fn(m, e); } : fn; },
  });
  const client = new ClientV2({ name: 'dmcp-interop-v2-stdio', version: '1.0.0' },
    { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: 'auto' } });
  const asked = [];
  client.setRequestHandler('elicitation/create', async (req) => { asked.push(req.params); return { action: 'accept', content: { name: 'Ada' } }; });
  const updates = [];
  client.setNotificationHandler('notifications/resources/updated', (n) => { updates.push(n.params); });
  const errors = [];
  client.onerror = (e) => { errors.push(String(e)); };
  try {
    await client.connect(transport);
    check(client.getProtocolEra?.() === 'modern', 'v2 over stdio: server/discover chose 2026-07-28 (era modern)', client.getProtocolEra?.());
    const tools = await client.listTools();
    check(tools.tools.some((t) => t.name === 'ask_name') && tools.tools.some((t) => t.name === 'bump'), 'v2 over stdio: listTools has ask_name and bump', tools.tools.map((t) => t.name));
    const echo = await client.callTool({ name: 'echo', arguments: { text: 'héllo stdio' } });
    check(echo.content?.[0]?.text === 'héllo stdio', 'v2 over stdio: echo', echo);

    const mark = recv.length;
    const r = await client.callTool({ name: 'ask_name', arguments: {} });
    check(r.content?.[0]?.text === 'Hello, Ada!' && asked.length === 1 && asked[0].message === 'What is your name?', 'v2 over stdio: ask_name elicits and greets the answer', { r, asked });
    const types = recv.slice(mark).filter((m) => m.result !== undefined).map((m) => m.result.resultType);
    check(types.length === 2 && types[0] === 'input_required' && types[1] === 'complete', 'v2 over stdio: on the wire, input_required then complete', types);

    const sub = await client.listen({ resourceSubscriptions: ['echo://counter'] });
    check(sub.honoredFilter?.resourceSubscriptions?.includes('echo://counter'), 'v2 over stdio: subscriptions/listen acknowledged with echo://counter', sub.honoredFilter);
    const b = await client.callTool({ name: 'bump', arguments: {} });
    const got = await waitFor(() => updates.length >= 1);
    const listenId = sent.find((m) => m.method === 'subscriptions/listen')?.id;
    const tagged = recv.find((m) => m.method === 'notifications/resources/updated');
    check(got && updates[0].uri === 'echo://counter' && tagged?.params?._meta?.[SUB] === listenId,
      'v2 over stdio: a bump delivers notifications/resources/updated tagged with the subscription id', { updates, tagged, listenId });
    const read = await client.readResource({ uri: 'echo://counter' }, { cacheMode: 'bypass' });
    check(read.contents?.[0]?.text === b.content?.[0]?.text, 'v2 over stdio: the counter reads the bumped value', { read, b });
    await sub.close();
    const before = updates.length;
    await client.callTool({ name: 'bump', arguments: {} });
    await new Promise((res) => setTimeout(res, 300));
    check(updates.length === before, 'v2 over stdio: after close() (notifications/cancelled), a bump delivers nothing', updates);
    check(sent.some((m) => m.method === 'notifications/cancelled' && m.params?.requestId === listenId), 'v2 over stdio: close() sent notifications/cancelled for the listen', sent.filter((m) => m.method === 'notifications/cancelled'));

    const requests = sent.filter((m) => m.method !== undefined && m.id !== undefined);
    check(!sent.some((m) => m.method === 'initialize') && requests.every((m) => m.params?._meta?.[PV] === '2026-07-28'),
      'v2 over stdio: no initialize; every request carried the 2026 _meta', requests.map((m) => m.method));
    const results = recv.filter((m) => m.result !== undefined && m.id !== listenId);
    check(results.length >= 6 && results.every((m) => typeof m.result.resultType === 'string'), 'v2 over stdio: every result carries resultType', results.length);
  } catch (e) {
    check(false, 'v2 over stdio', String(e?.stack ?? e));
  }
  check(errors.length === 0, 'v2 over stdio: the client saw no transport or protocol error', errors);
  await client.close();
}

// ---- v1 client, 2025-11-25, the same tools on its own process ----
{
  const transport = new StdioV1({ command: bin, args: ['--stdio'], env, stderr: 'pipe' });
  const client = new ClientV1({ name: 'dmcp-interop-v1-stdio', version: '1.0.0' }, { capabilities: { elicitation: {} } });
  const asked = [];
  client.setRequestHandler(ElicitRequestSchema, async (req) => { asked.push(req.params); return { action: 'accept', content: { name: 'Grace' } }; });
  const updates = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { updates.push(n.params.uri); });
  try {
    await client.connect(transport);
    const r = await client.callTool({ name: 'ask_name', arguments: {} });
    check(r.content?.[0]?.text === 'Hello, Grace!' && asked.length === 1, 'v1 over stdio (2025): ask_name sends elicitation/create and greets the answer', { r, asked });
    await client.subscribeResource({ uri: 'echo://counter' });
    await client.callTool({ name: 'bump', arguments: {} });
    check(await waitFor(() => updates.length >= 1) && updates[0] === 'echo://counter', 'v1 over stdio (2025): resources/subscribe, a bump delivers notifications/resources/updated', updates);
  } catch (e) {
    check(false, 'v1 over stdio', String(e?.stack ?? e));
  }
  await client.close();
}
finish();
