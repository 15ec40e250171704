#!/usr/bin/env node
// Runs oidc-provider on 127.0.0.1 and prints one JSON line when ready:
//   {"issuer","well_known_url","token_endpoint","jwks_uri","clients":{"RS256":{"client_id","client_secret"},...}}
// Usage: provider.mjs [--port N] [--path /v1/apps/agentic/P2test/MS2test|--descope-path]
//                     [--ttl SECONDS] [--max-seconds N]
// Stops on SIGINT/SIGTERM, when stdin closes (if --stdin-lifetime), or after --max-seconds
// (default 300) so that a forgotten process never outlives its test.
import { startProvider, DESCOPE_PATH } from './provider-lib.mjs';
import { parseArgs } from '../lib/args.mjs';

// stdout carries only the ready line: oidc-provider's own notices go to stderr.
console.log = console.error;
console.info = console.error;
console.warn = console.error;

const args = parseArgs(process.argv.slice(2), ['descope-path', 'stdin-lifetime']);
const p = await startProvider({
  port: args.port ? Number(args.port) : 0,
  path: args['descope-path'] ? DESCOPE_PATH : (args.path ?? ''),
  ttl: args.ttl ? Number(args.ttl) : 600,
});
process.stdout.write(JSON.stringify({
  issuer: p.issuer,
  well_known_url: p.wellKnownUrl,
  token_endpoint: p.tokenEndpoint,
  jwks_uri: p.jwksUri,
  clients: p.clients,
}) + '\n');

const stop = async () => { await p.close(); process.exit(0); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
if (args['stdin-lifetime']) {
  process.stdin.on('end', stop);
  process.stdin.resume();
}
setTimeout(stop, Number(args['max-seconds'] ?? 300) * 1000).unref?.();
setInterval(() => {}, 1 << 30);
