#!/usr/bin/env node
// Mints the jose token set into a folder:
//   jwks.json           public keys the validator trusts (one per algorithm, kid k-<alg>)
//   attacker-jwks.json  a key nobody trusts (served by tests at --attacker-jwks-url)
//   tokens.jsonl        one {"name","alg","expect":"valid"|"invalid","token","why"} per line
//   tokens.txt          the tokens alone, one per line, same order (for --batch)
// Usage: mint.mjs --out DIR --issuer ISS --audience AUD [--attacker-jwks-url URL]
import fs from 'node:fs';
import path from 'node:path';
import { mintAll } from './mint-lib.mjs';
import { parseArgs } from '../lib/args.mjs';

const a = parseArgs(process.argv.slice(2));
if (!a.out || !a.issuer || !a.audience) {
  process.stderr.write('usage: mint.mjs --out DIR --issuer ISS --audience AUD [--attacker-jwks-url URL]\n');
  process.exit(2);
}
const r = await mintAll({ issuer: a.issuer, audience: a.audience, attackerJwksUrl: a['attacker-jwks-url'] });
fs.mkdirSync(a.out, { recursive: true });
fs.writeFileSync(path.join(a.out, 'jwks.json'), JSON.stringify(r.jwks, null, 2) + '\n');
fs.writeFileSync(path.join(a.out, 'attacker-jwks.json'), JSON.stringify(r.attackerJwks) + '\n');
fs.writeFileSync(path.join(a.out, 'tokens.jsonl'), r.tokens.map((t) => JSON.stringify(t)).join('\n') + '\n');
fs.writeFileSync(path.join(a.out, 'tokens.txt'), r.tokens.map((t) => t.token).join('\n') + '\n');
process.stdout.write(`minted ${r.tokens.length} tokens into ${a.out}\n`);
