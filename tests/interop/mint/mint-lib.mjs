// Mints access tokens with `jose` (npm) for every JWS algorithm we accept, plus deliberately
// broken ones that a strict validator must reject. The broken ones are signed by hand with
// node:crypto because jose (correctly) refuses to produce most of them.
import crypto from 'node:crypto';
import * as jose from 'jose';

export const GOOD_ALGS = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA',
];

const GEN = {
  RS256: { modulusLength: 2048 }, RS384: { modulusLength: 2048 }, RS512: { modulusLength: 2048 },
  PS256: { modulusLength: 2048 }, PS384: { modulusLength: 2048 }, PS512: { modulusLength: 2048 },
  ES256: {}, ES384: {}, ES512: {}, EdDSA: { crv: 'Ed25519' },
};

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const b64uJson = (obj) => b64u(JSON.stringify(obj));

// Signs header.payload exactly as given (no claim or header checks) with an RS256 KeyObject.
function signRs256Raw(header, payload, privateKeyObject) {
  const input = `${typeof header === 'string' ? header : b64uJson(header)}.` +
    `${typeof payload === 'string' ? payload : b64uJson(payload)}`;
  const sig = crypto.sign('sha256', Buffer.from(input), privateKeyObject);
  return `${input}.${b64u(sig)}`;
}

// opts: { issuer, audience, subject = 'user-123', scope, attackerJwksUrl }
// Returns { jwks (public, what the validator trusts), attackerJwks, tokens: [{name, alg,
// expect: 'valid'|'invalid', token, why}] }.
export async function mintAll(opts) {
  const issuer = opts.issuer;
  const audience = opts.audience;
  const subject = opts.subject ?? 'user-123';
  const scope = opts.scope ?? 'calendar.read tools.call';
  const now = Math.floor(Date.now() / 1000);

  const priv = {};
  const publicKeys = [];
  for (const alg of GOOD_ALGS) {
    const { privateKey, publicKey } = await jose.generateKeyPair(alg, { ...GEN[alg], extractable: true });
    priv[alg] = privateKey;
    const jwk = await jose.exportJWK(publicKey);
    jwk.kid = `k-${alg.toLowerCase()}`;
    jwk.alg = alg;
    jwk.use = 'sig';
    publicKeys.push(jwk);
  }
  const jwks = { keys: publicKeys };

  const baseClaims = () => ({ scope, client_id: 'jose-client', azp: 'jose-client' });
  const tokens = [];
  const good = async (name, alg, { header = {}, claims = {}, kid = `k-${alg.toLowerCase()}`, why }) => {
    const jwt = new jose.SignJWT({ ...baseClaims(), ...claims })
      .setProtectedHeader({ alg, typ: 'at+jwt', ...(kid ? { kid } : {}), ...header })
      .setIssuer(issuer)
      .setSubject(subject)
      .setAudience(claims.aud ?? audience)
      .setIssuedAt(now)
      .setJti(crypto.randomUUID())
      .setExpirationTime(now + 600);
    tokens.push({ name, alg, expect: 'valid', token: await jwt.sign(priv[alg]), why });
  };

  for (const alg of GOOD_ALGS) {
    await good(`good-${alg}`, alg, { why: `valid ${alg} token` });
  }
  await good('good-aud-array', 'ES256', { claims: { aud: ['https://other.example/api', audience] },
    why: 'aud as an array that contains the audience' });
  await good('good-no-kid-unique-alg', 'ES384', { kid: null,
    why: 'no kid, and exactly one key in the set is for ES384' });
  await good('good-typ-jwt', 'RS256', { header: { typ: 'JWT' }, why: 'typ JWT is accepted by default' });

  // ---- broken tokens, all meant to be rejected ----
  const rsaKeyObject = crypto.KeyObject.from(priv.RS256);
  const rsaPublicPem = crypto.createPublicKey(rsaKeyObject).export({ type: 'spki', format: 'pem' });
  const claims = (extra = {}) => ({
    iss: issuer, sub: subject, aud: audience, iat: now, exp: now + 600, jti: crypto.randomUUID(),
    ...baseClaims(), ...extra,
  });
  const bad = (name, token, why, extra = {}) => tokens.push({ name, alg: 'n/a', expect: 'invalid', token, why, ...extra });
  const rsHeader = (extra = {}) => ({ alg: 'RS256', typ: 'at+jwt', kid: 'k-rs256', ...extra });

  bad('alg-none', `${b64uJson({ alg: 'none', typ: 'at+jwt', kid: 'k-rs256' })}.${b64uJson(claims())}.`,
    'alg none, empty signature');
  bad('alg-None-mixed-case', `${b64uJson({ alg: 'nOnE', kid: 'k-rs256' })}.${b64uJson(claims())}.`,
    'alg none in another case');
  {
    const input = `${b64uJson({ alg: 'HS256', typ: 'at+jwt', kid: 'k-rs256' })}.${b64uJson(claims())}`;
    const mac = crypto.createHmac('sha256', rsaPublicPem).update(input).digest();
    bad('hs256-rsa-public-key-as-secret', `${input}.${b64u(mac)}`,
      'HS256 keyed with the RSA public key (PEM) of a trusted kid');
  }
  bad('wrong-kid-other-key', signRs256Raw(rsHeader({ kid: 'k-es256' }), claims(), rsaKeyObject),
    'RS256 signature, kid of the ES256 key');
  bad('wrong-kid-other-rsa-key', signRs256Raw(rsHeader({ kid: 'k-rs384' }), claims(), rsaKeyObject),
    'RS256 signature by the RS256 key, kid of the RS384 key (alg mismatch with the JWK)');
  bad('unknown-kid', signRs256Raw(rsHeader({ kid: 'no-such-kid' }), claims(), rsaKeyObject),
    'kid not in the key set');
  bad('expired', signRs256Raw(rsHeader(), claims({ iat: now - 7200, exp: now - 3600 }), rsaKeyObject),
    'exp one hour ago');
  // Just outside the default 5 s leeway, inside a 60 s one (`validWithLeeway`).
  bad('expired-30s-ago', signRs256Raw(rsHeader(), claims({ iat: now - 630, exp: now - 30 }), rsaKeyObject),
    'exp 30 s ago', { validWithLeeway: 60 });
  bad('nbf-in-30s', signRs256Raw(rsHeader(), claims({ nbf: now + 30 }), rsaKeyObject),
    'nbf 30 s ahead', { validWithLeeway: 60 });
  bad('wrong-aud', signRs256Raw(rsHeader(), claims({ aud: 'http://127.0.0.1:1/not-this-server' }), rsaKeyObject),
    'aud names another resource');
  bad('wrong-aud-array', signRs256Raw(rsHeader(), claims({ aud: ['http://127.0.0.1:1/a', 'http://127.0.0.1:1/b'] }), rsaKeyObject),
    'aud array without this resource');
  bad('wrong-iss', signRs256Raw(rsHeader(), claims({ iss: 'http://127.0.0.1:1/evil' }), rsaKeyObject),
    'iss of another issuer');
  bad('iss-trailing-slash', signRs256Raw(rsHeader(), claims({ iss: `${issuer}/` }), rsaKeyObject),
    'iss with a trailing slash (exact match required)');
  bad('nbf-future', signRs256Raw(rsHeader(), claims({ nbf: now + 3600 }), rsaKeyObject),
    'nbf one hour ahead');
  bad('exp-string', signRs256Raw(rsHeader(), claims({ exp: String(now + 600) }), rsaKeyObject),
    'exp given as a string (RFC 7519 §2 NumericDate is a number)');
  bad('exp-missing', signRs256Raw(rsHeader(), (() => { const c = claims(); delete c.exp; return c; })(), rsaKeyObject),
    'no exp');
  bad('crit-header', signRs256Raw(rsHeader({ crit: ['x-dmcp-ext'], 'x-dmcp-ext': true }), claims(), rsaKeyObject),
    'crit names an extension nobody understands');
  bad('bad-signature', (() => {
    const t = signRs256Raw(rsHeader(), claims(), rsaKeyObject).split('.');
    const sig = Buffer.from(t[2], 'base64url');
    sig[sig.length - 1] ^= 0x01;
    return `${t[0]}.${t[1]}.${b64u(sig)}`;
  })(), 'last signature byte flipped');
  bad('stripped-signature', (() => {
    const t = signRs256Raw(rsHeader(), claims(), rsaKeyObject).split('.');
    return `${t[0]}.${t[1]}.`;
  })(), 'RS256 header, empty signature');

  // Attacker key: trusted by nobody; the token points at it through jku / embeds it as jwk.
  const { privateKey: atkPriv, publicKey: atkPub } = await jose.generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const atkJwk = { ...(await jose.exportJWK(atkPub)), kid: 'attacker', alg: 'RS256', use: 'sig' };
  const attackerJwks = { keys: [atkJwk] };
  const atkKeyObject = crypto.KeyObject.from(atkPriv);
  if (opts.attackerJwksUrl) {
    bad('jku-attacker', signRs256Raw(rsHeader({ kid: 'attacker', jku: opts.attackerJwksUrl }), claims(), atkKeyObject),
      'signed by an attacker key published at a loopback jku');
    bad('jku-attacker-trusted-kid', signRs256Raw(rsHeader({ jku: opts.attackerJwksUrl }), claims(), atkKeyObject),
      'attacker key, jku, and the kid of a trusted key');
    bad('x5u-attacker', signRs256Raw(rsHeader({ kid: 'attacker', x5u: opts.attackerJwksUrl }), claims(), atkKeyObject),
      'attacker key referenced through x5u');
  }
  bad('jwk-embedded-attacker', signRs256Raw(rsHeader({ kid: 'attacker', jwk: atkJwk }), claims(), atkKeyObject),
    'attacker key embedded in the header as jwk');

  return { jwks, attackerJwks, tokens };
}
