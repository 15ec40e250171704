// interop.scale.conformance (issue 10): three conformance-server instances sharing one
// redis-server (--store), behind nginx round robin without stickiness. The MCP conformance
// suite 0.1.16 (pinned), spec version 2025-11-25, runs against nginx with no expected-failure
// list: any failed scenario fails this test. Then every instance's metrics must show that it
// served part of the run (so the suite's sessions really were spread over the instances).
// Exit 77 when redis-server or nginx is not installed.
import path from 'node:path';
import {
  check, deadline, finish, INTEROP_DIR, log, requireBinary, run,
} from '../lib/harness.mjs';
import {
  metricSum, metrics, requireTools, startInstances, startNginx, startRedis, tempDir,
} from '../lib/cluster.mjs';

deadline(110);
await requireTools(['redis-server', 'nginx']);
const bin = requireBinary('conformance-server');
const suite = path.join(INTEROP_DIR, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');

const redis = await startRedis();
const insts = await startInstances(bin, 3, { redis });
const lb = await startNginx(insts);
// The suite sends Host: localhost:<port>; nginx passes the Host on unchanged.
const url = `http://localhost:${lb.port}/mcp`;
log(`# 3 x conformance-server (${insts.map((x) => x.port).join(', ')}), redis :${redis.port}, nginx ${url}`);

const out = tempDir('scale-conformance');
const r = await run(process.execPath, [suite, 'server', '--url', url, '--spec-version', '2025-11-25', '-o', out], { timeoutMs: 80000 });
const text = r.stdout + r.stderr;
const failed = [...text.matchAll(/^.*(FAIL|✗).*$/gm)].map((m) => m[0]).slice(0, 20);
log(text.split('\n').filter((l) => /passed|failed|Total|Summary/i.test(l)).slice(-6).join('\n'));
check(r.code === 0, 'conformance 0.1.16, spec 2025-11-25, through nginx over 3 instances: every scored scenario passes (no expected-failure list)', failed.length ? failed : text.slice(-1500));

const served = [];
for (const inst of insts) {
  const m = await metrics(inst);
  served.push(metricSum(m, 'dmcp_http_requests_total'));
}
log(`# requests per instance (dmcp_http_requests_total): ${served.join(', ')}`);
check(served.every((n) => n > 0), 'every instance served part of the run', served);
for (const inst of insts) {
  check(inst.child.exitCode === null && inst.child.signalCode === null, `instance ${inst.i} is still running`, inst.child.output.slice(-400));
}
finish();
