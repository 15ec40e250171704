#!/usr/bin/python3
"""Second, independent verifier (PyJWT, Debian python3-jwt) for the interop harness.

Reads JSON lines {"name", "token", ...} from stdin and writes one JSON line per token:
{"name", "pyjwt": "valid"|"invalid", "error"?, "claims"?}. The key is chosen by kid, or, without
a kid, the only key whose "alg" is the token's. Proves the harness's tokens are what it says,
and records where PyJWT is more lenient than our validator must be.
Usage: verify.py (--jwks-file F | --jwks-url URL) --issuer ISS --audience AUD
       verify.py --about   (one JSON line {"version", "file"}: which PyJWT this python imports)
Run it with Debian's /usr/bin/python3 (another python3 earlier on PATH may lack python3-jwt).
"""
import argparse
import json
import sys
import urllib.request

try:
    import jwt
except ImportError:  # the caller maps this to a skip
    sys.stderr.write("pyjwt: python3-jwt is not installed\n")
    sys.exit(77)


def load_jwks(args):
    if args.jwks_file:
        with open(args.jwks_file, encoding="utf-8") as f:
            return json.load(f)
    # Loopback only, by the tests: bypass any proxy configured in the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(args.jwks_url, timeout=10) as r:
        return json.load(r)


def main():
    if sys.argv[1:] == ["--about"]:
        # The caller maps the file to its Debian package and version: upstream's version string
        # says nothing about fixes Debian backported (2.6.0-1 and 2.6.0-1+deb12u1 both say 2.6.0).
        sys.stdout.write(json.dumps({"version": jwt.__version__, "file": jwt.__file__}) + "\n")
        return 0
    p = argparse.ArgumentParser()
    p.add_argument("--jwks-file")
    p.add_argument("--jwks-url")
    p.add_argument("--issuer", required=True)
    p.add_argument("--audience", required=True)
    args = p.parse_args()
    keys = load_jwks(args)["keys"]
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        item = json.loads(line)
        out = {"name": item.get("name")}
        try:
            header = jwt.get_unverified_header(item["token"])
            kid = header.get("kid")
            if kid is not None:
                cands = [k for k in keys if k.get("kid") == kid]
            else:
                cands = [k for k in keys if k.get("alg") == header.get("alg")]
            if len(cands) != 1:
                raise jwt.InvalidTokenError("no unique key for kid/alg")
            jwk = cands[0]
            key = jwt.PyJWK(jwk).key
            claims = jwt.decode(item["token"], key, algorithms=[jwk["alg"]],
                                audience=args.audience, issuer=args.issuer,
                                options={"require": ["exp"]})
            out["pyjwt"] = "valid"
            out["claims"] = claims
        except Exception as e:  # every PyJWT rejection is an answer, not a harness failure
            out["pyjwt"] = "invalid"
            out["error"] = f"{type(e).__name__}: {e}"
        sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
