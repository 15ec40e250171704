// interop.scale.notify (issue 10): server-wide notifications reach the stream that another
// instance holds. Two conformance-server instances share one redis-server (no balancer: the
// test picks the instance of each request). A session is opened on instance 0, its standalone
// GET stream is opened on instance 0, and the tool that changes the tool list
// (test_trigger_tool_change) is called in that session on instance 1. The GET stream on
// instance 0 must receive notifications/tools/list_changed exactly once; instance 1 (which
// holds no stream of the session) must not have answered it on the POST.
// Exit 77 when redis-server is not installed.
import {
  check, deadline, finish, log, requireBinary,
} from '../lib/harness.mjs';
import {
  PROTO, rawPost, rawSession, requireTools, startInstances, startRedis,
} from '../lib/cluster.mjs';

deadline(60);
await requireTools(['redis-server']);
const bin = requireBinary('conformance-server');
const redis = await startRedis();
const insts = await startInstances(bin, 2, { redis });
log(`# 2 x conformance-server (${insts.map((x) => x.port).join(', ')}), redis :${redis.port}`);

const sid = await rawSession(insts[0].url, undefined, 'notify');
check(typeof sid === 'string', 'a session opened on instance 0', sid);

// The GET stream on instance 0, read until it has been quiet for a while after the trigger.
const ac = new AbortController();
const got = [];
let opened;
const ready = new Promise((r) => { opened = r; });
const reader = (async () => {
  const res = await fetch(insts[0].url, {
    headers: { accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': PROTO },
    signal: ac.signal,
  });
  check(res.status === 200, 'GET stream opened on instance 0', res.status);
  opened();
  const dec = new TextDecoder();
  let buf = '';
  try {
    for await (const chunk of res.body) {
      buf += dec.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const ev = buf.slice(0, i);
        buf = buf.slice(i + 2);
        for (const line of ev.split('\n')) {
          if (line.startsWith('data:') && line.slice(5).trim()) got.push(JSON.parse(line.slice(5)));
        }
      }
    }
  } catch { /* aborted */ }
})();
await ready;

const r = await rawPost(insts[1].url, { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'test_trigger_tool_change', arguments: {} } }, { session: sid });
check(r.status === 200 && r.json?.result?.content?.[0]?.text === 'tools list changed', 'the trigger ran on instance 1 (the session found there through the store)', { status: r.status, body: r.text.slice(0, 200) });
check(!r.text.includes('list_changed'), 'instance 1 did not put the notification on the POST answer', r.text.slice(0, 300));

const until = Date.now() + 10000;
while (Date.now() < until && !got.some((m) => m.method === 'notifications/tools/list_changed')) {
  await new Promise((res) => setTimeout(res, 50));
}
await new Promise((res) => setTimeout(res, 500)); // a duplicate would arrive by now
ac.abort();
await reader;
const changes = got.filter((m) => m.method === 'notifications/tools/list_changed');
check(changes.length === 1, 'the GET stream on instance 0 received notifications/tools/list_changed exactly once', got);
for (const inst of insts) {
  check(inst.child.exitCode === null && inst.child.signalCode === null, `instance ${inst.i} is still running`, inst.child.output.slice(-400));
}
finish();
