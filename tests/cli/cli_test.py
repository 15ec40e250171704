#!/usr/bin/python3
"""The `descope-mcp validate` contract (issue 2), checked from the outside.

Usage: cli_test.py DESCOPE_MCP MINT_TOOL

Keys and tokens come from mint_tool (one key per alg, kid = alg). Everything binds to
127.0.0.1 only; the one HTTP server (discovery + JWKS for the Descope-shaped URL) runs in a
daemon thread and serves a bounded number of requests.
"""
import http.server
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time

CLI, MINT = sys.argv[1], sys.argv[2]
ISS = "https://issuer.example.test"
AUD = "https://mcp.example.com/mcp"
ALGS = ["RS256", "PS256", "ES256", "EdDSA"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def loads(text):
    """json.loads that turns unparsable output into a recorded failure, not a crash."""
    try:
        return json.loads(text)
    except ValueError:
        check(False, f"not JSON: {text!r}")
        return {}


def run(args, stdin=None, timeout=30):
    p = subprocess.run([CLI, "validate"] + args, input=stdin, capture_output=True,
                       text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def claims(**kw):
    now = int(time.time())
    c = {"iss": ISS, "aud": [AUD, "P2abc"], "sub": "U-sub", "dsub": "U2dsub",
         "azp": "client-1", "scope": "tools.call calendar.read", "iat": now - 10,
         "nbf": now - 10, "exp": now + 600, "jti": "j1"}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


def mint(specs, jwks_path):
    lines = []
    for alg, header, payload in specs:
        h = "-" if header is None else json.dumps(header)
        lines.append(f"{alg}\t{h}\t{json.dumps(payload)}")
    p = subprocess.run([MINT, jwks_path], input="\n".join(lines) + "\n", capture_output=True,
                       text=True, timeout=60, check=True)
    toks = p.stdout.split()
    assert len(toks) == len(specs)
    return toks


def batch_prompt(args, steps, wait=10):
    """Writes each step to a live `validate --batch` and requires its one result line back
    within `wait` seconds, before anything more is written. A step's text may be a pair: the
    first part is written alone, and no answer may come until the second part completes it."""
    p = subprocess.Popen([CLI, "validate"] + args, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    pending = b""

    def read_line(timeout):
        nonlocal pending
        deadline = time.monotonic() + timeout
        while b"\n" not in pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([p.stdout], [], [], left)[0]:
                return None
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                return None
            pending += chunk
        line, pending = pending.split(b"\n", 1)
        return line.decode()

    try:
        for i, (text, want) in enumerate(steps):
            parts = text if isinstance(text, tuple) else (text,)
            for k, part in enumerate(parts):
                p.stdin.write(part.encode())
                p.stdin.flush()
                if k + 1 < len(parts):
                    check(read_line(0.3) is None, f"batch prompt step {i}: answer before the "
                                                  "line was complete")
            line = read_line(wait)
            check(line is not None, f"batch prompt step {i}: no result line within {wait} s "
                                    "while stdin stays open")
            if line is None:
                return
            obj = loads(line)
            got = obj.get("user_id") or obj.get("error_description")
            check(got == want, f"batch prompt step {i}: {got!r} != {want!r}")
    finally:
        p.stdin.close()
        try:
            rest = p.stdout.read()
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rest, rc = b"", None
    check(rc == 0 and pending + rest == b"", f"batch prompt: rc={rc}, extra output {rest!r}")


def main():
    tmp = tempfile.mkdtemp(prefix="dmcp-cli-")
    jwks = os.path.join(tmp, "jwks.json")
    now = int(time.time())
    specs = [(a, None, claims()) for a in ALGS]
    specs += [
        ("ES256", None, claims(exp=now - 60)),                       # 4 expired
        ("ES256", None, claims(aud="https://other.example/mcp")),    # 5 wrong aud (string)
        ("ES256", None, claims(iss=ISS + "/")),                      # 6 trailing-slash iss
        ("ES256", None, claims(exp=now - 10)),                       # 7 within --leeway 300
        ("ES256", None, claims(nbf=now + 120, iat=now)),             # 8 not yet valid
        ("ES256", {"alg": "ES256", "typ": "at+jwt", "kid": "ES256"}, claims()),  # 9 at+jwt
        ("ES256", None, claims(scope=None, dsub=None)),              # 10 no scope, sub only
        ("EdDSA", None, claims(scope="b\u00e9ta \"q\" a/b")),        # 11 odd scopes
    ]
    toks = mint(specs, jwks)
    base = ["--jwks-file", jwks, "--issuer", ISS, "--audience", AUD]

    # --help and usage errors
    rc, out, _ = run(["--help"])
    check(rc == 0 and "usage: descope-mcp validate" in out and "--batch" in out, "--help")
    for args, what in [([], "no args"), (["--bogus", toks[0]], "unknown option"),
                       (base + ["--leeway", "301", toks[0]], "leeway > 300"),
                       (base + ["--leeway", "-1", toks[0]], "negative leeway"),
                       (base + ["--require-typ", "JWT", toks[0]], "typ other than at+jwt"),
                       (base + [toks[0], toks[1]], "two tokens"),
                       (["--audience", AUD, toks[0]], "no key source"),
                       (base + ["--batch", toks[0]], "--batch with a token argument"),
                       (["--jwks-file", os.path.join(tmp, "missing.json"), "--issuer", ISS,
                         "--audience", AUD, toks[0]], "unreadable JWKS file")]:
        rc, out, err = run(args)
        check(rc == 2 and out == "" and err != "", f"exit 2: {what} (rc={rc})")

    # A generic issuer with no --audience is a configuration error (not a silent skip).
    rc, out, err = run(["--jwks-file", jwks, "--issuer", ISS, toks[0]])
    check(rc == 2 and "--audience" in err, f"generic issuer without audience: rc={rc}")

    # exit 0 for every algorithm; shape {"user_id","scopes","claims"} in that order
    for i, alg in enumerate(ALGS):
        rc, out, _ = run(base + [toks[i]])
        check(rc == 0, f"valid {alg}: rc={rc} out={out!r}")
        if rc == 0:
            obj = loads(out)
            check(list(obj) == ["user_id", "scopes", "claims"], f"{alg}: key order {list(obj)}")
            check(obj["user_id"] == "U2dsub", f"{alg}: user id prefers dsub")
            check(obj["scopes"] == ["tools.call", "calendar.read"], f"{alg}: scopes")
            check(obj["claims"]["iss"] == ISS and obj["claims"]["jti"] == "j1", f"{alg}: claims")
            check(out.count("\n") == 1, f"{alg}: one line")
    # token from stdin
    rc, out, _ = run(base + ["-"], stdin=toks[2] + "\n")
    check(rc == 0 and loads(out)["user_id"] == "U2dsub", f"stdin token: rc={rc}")
    rc, out, _ = run(["--audience", "https://other.example/mcp", "--audience", AUD,
                      "--jwks-file", jwks, "--issuer", ISS, toks[1]])
    check(rc == 0, f"second --audience accepted: rc={rc}")
    # sub when there is no dsub; no scope claim gives []
    rc, out, _ = run(base + [toks[10]])
    check(rc == 0 and loads(out)["user_id"] == "U-sub" and loads(out)["scopes"] == [],
          f"sub fallback / no scopes: rc={rc} {out!r}")

    # exit 1: invalid, with the §5 description and never the token
    tampered = toks[0][:-4] + ("AAAA" if not toks[0].endswith("AAAA") else "BBBB")
    cases = [(toks[4], "Token expired", []), (toks[5], "Token not issued for this resource", []),
             (toks[6], "Token not issued for this resource", []),
             (toks[8], "Token not yet valid", []),
             (tampered, "Invalid token", []), ("not.a.jwt", "Invalid token", []),
             (toks[0], "Invalid token", ["--require-typ", "at+jwt"])]
    for tok, desc, extra in cases:
        rc, out, err = run(base + extra + [tok])
        ok = rc == 1
        if ok:
            obj = loads(out)
            ok = obj == {"error": "invalid_token", "error_description": desc} and \
                list(obj) == ["error", "error_description"]
        check(ok, f"exit 1 '{desc}' {extra}: rc={rc} out={out!r}")
        check(tok not in out and tok not in err, "token never echoed")
    # leeway: expired 10 s ago passes with --leeway 300 (the maximum: a slow, sanitized run on a
    # loaded machine may reach this line minutes after minting), fails with --leeway 0
    rc, _, _ = run(base + ["--leeway", "300", toks[7]])
    check(rc == 0, f"--leeway 300 accepts exp-10s: rc={rc}")
    rc, _, _ = run(base + ["--leeway", "0", toks[7]])
    check(rc == 1, f"--leeway 0 rejects exp-10s: rc={rc}")
    rc, _, _ = run(base + ["--require-typ", "at+jwt", toks[9]])
    check(rc == 0, f"--require-typ at+jwt accepts typ at+jwt: rc={rc}")

    # exit 3: valid but lacking scopes, body exactly json.dumps(indent=2)
    def scope_body(required, token):
        missing = []
        for r in required:
            if r not in token and r not in missing:
                missing.append(r)
        return {"error": "insufficient_scope", "scope": " ".join(sorted(set(token) | set(required))),
                "error_description": "Token missing required scopes: " + ", ".join(missing),
                "missing_scopes": missing, "token_scopes": token, "required_scopes": required}
    rc, out, _ = run(base + ["--require-scope", "tools.call", toks[0]])
    check(rc == 0, f"granted scope: rc={rc}")
    req = ["mail.send", "tools.call", "a\u00e9\U0001F600", "mail.send"]
    rc, out, _ = run(base + sum((["--require-scope", s] for s in req), []) + [toks[11]])
    tok_scopes = ["b\u00e9ta", "\"q\"", "a/b"]
    want = json.dumps(scope_body(req, tok_scopes), indent=2)
    check(rc == 3 and out == want + "\n", f"exit 3 body: rc={rc}\n{out!r}\n{want!r}")
    # an invalid token with missing scopes is 401 first (validity before scope)
    rc, _, _ = run(base + ["--require-scope", "x", toks[4]])
    check(rc == 1, f"expired + missing scope gives 1: rc={rc}")

    # --batch: one compact line per input line, one validator, exit 0
    batch_in = "\n".join([toks[0], toks[4], "", "garbage", toks[11], "x" * 70000, toks[3]])
    rc, out, _ = run(base + ["--batch", "--require-scope", "mail.send"], stdin=batch_in + "\n")
    lines = out.split("\n")
    check(rc == 0 and lines[-1] == "" and len(lines) == 8, f"batch: rc={rc} lines={len(lines)}")
    if len(lines) == 8:
        want3 = json.dumps(scope_body(["mail.send"], ["tools.call", "calendar.read"]),
                           separators=(",", ":"))
        check(lines[0] == want3, f"batch line 1 compact to_json: {lines[0]!r}")
        check(loads(lines[1])["error_description"] == "Token expired", "batch expired")
        check(loads(lines[2])["error"] == "invalid_token", "batch empty line")
        check(loads(lines[3])["error"] == "invalid_token", "batch garbage")
        want4 = json.dumps(scope_body(["mail.send"], tok_scopes), separators=(",", ":"))
        check(lines[4] == want4, f"batch unicode to_json compact: {lines[4]!r} != {want4!r}")
        check(loads(lines[5])["error"] == "invalid_token", "batch over-long line")
        check(loads(lines[6])["error"] == "insufficient_scope", "batch last line")
    rc, out, _ = run(base + ["--batch"], stdin=toks[0] + "\r\n" + toks[1])
    objs = [loads(l) for l in out.splitlines()]
    check(rc == 0 and [o.get("user_id") for o in objs] == ["U2dsub", "U2dsub"],
          f"batch without final newline, CRLF: rc={rc} {out!r}")
    rc, out, _ = run(base + ["--batch"], stdin="")
    check(rc == 0 and out == "", "batch on empty input")

    # --batch answers each line as soon as it is read: a script writes one token, waits for
    # its result line (stdin still open), then writes the next. Output held until EOF (or
    # until a buffer fills) fails here.
    batch_prompt(base + ["--batch"], [
        (toks[0] + "\n", "U2dsub"), (toks[4] + "\n", "Token expired"), ("\n", "Invalid token"),
        ("garbage\r\n", "Invalid token"), ("x" * 70000 + "\n", "Invalid token"),
        ((toks[3][:50], toks[3][50:] + "\n"), "U2dsub"), (toks[1] + "\n", "U2dsub")])

    # exit 4: key source unreachable (a loopback port nobody listens on), nothing cached
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    rc, out, _ = run(["--jwks-url", f"http://127.0.0.1:{port}/jwks.json", "--issuer", ISS,
                      "--audience", AUD, toks[0]])
    check(rc == 4, f"unreachable key source gives 4: rc={rc} out={out!r}")

    # Descope-shaped URL on loopback: discovery + JWKS; no --audience => project id accepted
    jwks_doc = open(jwks, "rb").read()
    state = {"port": 0}

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            pfx = "/v1/apps/agentic/P2abc/MS35x"
            if self.path == pfx + "/.well-known/openid-configuration":
                body = json.dumps({"issuer": f"http://127.0.0.1:{state['port']}{pfx}",
                                   "jwks_uri": f"http://127.0.0.1:{state['port']}/P2abc/jwks"}).encode()
            elif self.path == "/P2abc/jwks":
                body = jwks_doc
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    state["port"] = srv.server_address[1]
    srv.timeout = 5
    t = threading.Thread(target=lambda: [srv.handle_request() for _ in range(20)], daemon=True)
    t.start()
    origin = f"http://127.0.0.1:{state['port']}"
    iss2 = origin + "/v1/apps/agentic/P2abc/MS35x"
    wk = iss2 + "/.well-known/openid-configuration"
    t2 = mint([("RS256", None, claims(iss=iss2, aud="P2abc")),
               ("RS256", None, claims(iss=origin + "/v1/apps/P2abc", aud=["P2abc"])),
               ("RS256", None, claims(iss=iss2, aud=AUD))],
              os.path.join(tmp, "jwks2.json"))
    # the second mint made new keys: serve those
    jwks_doc = open(os.path.join(tmp, "jwks2.json"), "rb").read()
    rc, out, err = run(["--well-known-url", wk, "--batch"], stdin="\n".join(t2) + "\n")
    lines = out.splitlines()
    check(rc == 0 and len(lines) == 3, f"descope batch: rc={rc} {out!r} {err!r}")
    if len(lines) == 3:
        check("user_id" in loads(lines[0]), f"descope: pid audience by default {lines[0]}")
        check("user_id" in loads(lines[1]), f"descope: project-level issuer {lines[1]}")
        check(loads(lines[2]).get("error_description") == "Token not issued for this resource",
              f"descope: other aud refused without --audience {lines[2]}")
    srv.server_close()

    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
