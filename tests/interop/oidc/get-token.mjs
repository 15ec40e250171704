#!/usr/bin/env node
// Requests a client-credentials access token with a resource indicator and prints it.
// Usage: get-token.mjs --token-endpoint URL --client-id ID --client-secret S --resource URL
//                      [--scope "a b"]
import { getToken } from './provider-lib.mjs';
import { parseArgs } from '../lib/args.mjs';

const a = parseArgs(process.argv.slice(2));
try {
  const t = await getToken({
    tokenEndpoint: a['token-endpoint'], clientId: a['client-id'], clientSecret: a['client-secret'],
    resource: a.resource, scope: a.scope,
  });
  process.stdout.write(t + '\n');
} catch (e) {
  process.stderr.write(`get-token: ${e.message}\n`);
  process.exit(1);
}
