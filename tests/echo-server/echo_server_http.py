#!/usr/bin/env python3
"""Contract test for <build>/bin/mcp-echo-server, driven from outside (loopback only).

    echo_server_http.py MCP_ECHO_SERVER MINT_TOOL [TOKEN_ARG]

A loopback OpenID issuer (discovery + JWKS, in a daemon thread) and tokens signed by
tests/cli/mint_tool.c. Checks the flags, the environment fallbacks, auth over HTTP (401 with
the challenge, PRM at both locations, whoami, admin_echo 403 / allowed, --require-scope, a
session refused to another principal), --stateless, --stdio without auth, exit 2 without a
well-known URL, and that SIGTERM stops the server with status 0 and nothing on stdout.
With TOKEN_ARG (examples/token-arg), also the seed's pattern: the token as a tool argument.
"""
import http.client
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BIN, MINT = sys.argv[1], sys.argv[2]
TOKEN_ARG = sys.argv[3] if len(sys.argv) > 3 else None
ACCEPT = "application/json, text/event-stream"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)
    print("ok   - " + what)


# ---- a loopback issuer ----
tmp = tempfile.mkdtemp(prefix="dmcp-echo-")
jwks_path = os.path.join(tmp, "jwks.json")
ISSUER_PORT = free_port()
ISSUER = f"http://127.0.0.1:{ISSUER_PORT}"


def mint(payloads):
    lines = [f"ES256\t-\t{json.dumps(p)}" for p in payloads]
    p = subprocess.run([MINT, jwks_path], input="\n".join(lines) + "\n", capture_output=True,
                       text=True, timeout=60, check=True)
    return p.stdout.split()


def claims(aud, sub, scope, azp="client-1", exp_in=600):
    now = int(time.time())
    return {"iss": ISSUER, "aud": aud, "sub": sub, "azp": azp, "scope": scope,
            "iat": now - 5, "exp": now + exp_in}


class Issuer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/.well-known/openid-configuration":
            doc = {"issuer": ISSUER, "jwks_uri": ISSUER + "/jwks",
                   "scopes_supported": ["openid", "offline_access", "tools.call", "admin.write"]}
            body = json.dumps(doc).encode()
        elif self.path == "/jwks":
            with open(jwks_path, "rb") as f:
                body = f.read()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


issuer = http.server.ThreadingHTTPServer(("127.0.0.1", ISSUER_PORT), Issuer)
threading.Thread(target=issuer.serve_forever, daemon=True).start()


# ---- the server under test ----
def start(extra, env=None, port=None):
    port = port or free_port()
    proc = subprocess.Popen([BIN, "--listen", f"127.0.0.1:{port}"] + extra,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, **(env or {})))
    for _ in range(400):  # 20 s: sanitizer builds on a loaded machine start slowly
        if proc.poll() is not None:
            raise SystemExit("server exited: " + proc.stderr.read().decode())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=30)
    out = proc.stdout.read()
    if rc != 0:
        print(proc.stderr.read().decode(errors="replace"))
    check(rc == 0, "SIGTERM: exit status 0")
    check(out == b"", "HTTP mode writes nothing to stdout")


def request(port, method, path, body=None, token=None, session=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    h = {"Content-Type": "application/json", "Accept": ACCEPT}
    if token:
        h["Authorization"] = "Bearer " + token
    if session:
        h["Mcp-Session-Id"] = session
    h.update(headers or {})
    c.request(method, path, json.dumps(body) if body is not None else None, h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r, (json.loads(data) if data else None)


def call(name, args, i):
    return {"jsonrpc": "2.0", "id": i, "method": "tools/call",
            "params": {"name": name, "arguments": args}}


INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}}}

# ---- no well-known URL over HTTP: exit 2 with a message ----
env = {k: v for k, v in os.environ.items() if k not in ("DESCOPE_MCP_WELL_KNOWN_URL",
                                                         "MCP_SERVER_URL")}
p = subprocess.run([BIN, "--listen", "127.0.0.1:1"], capture_output=True, timeout=15, env=env)
check(p.returncode == 2 and b"--well-known-url" in p.stderr,
      "HTTP without a well-known URL: exit 2 naming --well-known-url")

# ---- stateful, auth on ----
port = free_port()
url = f"http://127.0.0.1:{port}/mcp"
rm = f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"
alice, alice2, bob, admin, other_aud = mint([
    claims(url, "alice", "tools.call"),
    claims(url, "alice", "tools.call", exp_in=900),  # a refreshed token, same principal
    claims(url, "bob", "tools.call"),
    claims(url, "root", "tools.call admin.write"),
    claims(f"http://127.0.0.1:{port}/other", "alice", "tools.call"),
])
proc, _ = start(["--well-known-url", ISSUER, "--mcp-server-url", url], port=port)
try:
    st, r, body = request(port, "POST", "/mcp", INIT)
    check(st == 401 and r.getheader("WWW-Authenticate") ==
          f'Bearer scope="openid tools.call admin.write", resource_metadata="{rm}"' and
          body is None,
          "no token: 401 without error code or body; scope = PRM scopes_supported")
    for path in ("/.well-known/oauth-protected-resource",
                 "/.well-known/oauth-protected-resource/mcp"):
        st, r, prm = request(port, "GET", path)
        check(st == 200 and prm == {"resource": url, "authorization_servers": [ISSUER],
                                    "scopes_supported": ["openid", "tools.call", "admin.write"],
                                    "bearer_methods_supported": ["header"]},
              f"PRM at {path}")
    st, r, body = request(port, "POST", "/mcp", INIT, token=other_aud)
    check(st == 401 and 'error="invalid_token"' in r.getheader("WWW-Authenticate"),
          "token for another audience: 401 invalid_token")

    st, r, body = request(port, "POST", "/mcp", INIT, token=alice)
    sid = r.getheader("Mcp-Session-Id")
    check(st == 200 and sid and body["result"]["protocolVersion"] == "2025-11-25", "initialize")
    st, _, _ = request(port, "POST", "/mcp", {"jsonrpc": "2.0",
                                              "method": "notifications/initialized"},
                       token=alice, session=sid)
    check(st == 202, "initialized -> 202")
    st, _, body = request(port, "POST", "/mcp", {"jsonrpc": "2.0", "id": 2,
                                                 "method": "tools/list"}, alice, sid)
    names = sorted(t["name"] for t in body["result"]["tools"])
    check(names == ["admin_echo", "ask_name", "bump", "count", "echo", "whoami"], f"tools {names}")
    st, _, body = request(port, "POST", "/mcp", call("echo", {"text": "hello"}, 3), alice, sid)
    check(body["result"]["content"][0]["text"] == "hello", "echo")
    st, _, body = request(port, "POST", "/mcp", call("whoami", {}, 4), alice2, sid)
    check(body["result"]["structuredContent"] == {"user_id": "alice", "scopes": ["tools.call"],
                                                  "client_id": "client-1"},
          "whoami with a refreshed token on the same session")
    st, r, body = request(port, "POST", "/mcp", call("admin_echo", {"text": "adm"}, 5), alice, sid)
    check(st == 403 and r.getheader("WWW-Authenticate") ==
          'Bearer error="insufficient_scope", error_description="Token missing required scopes: '
          f'admin.write", scope="admin.write tools.call", resource_metadata="{rm}"',
          "admin_echo without admin.write: 403 insufficient_scope")
    st, _, body = request(port, "POST", "/mcp", call("echo", {}, 6), alice, sid)
    check(body["result"].get("isError") is True, "missing text -> isError")
    st, _, _ = request(port, "POST", "/mcp", {"jsonrpc": "2.0", "id": 7, "method": "ping"}, bob,
                       sid)
    check(st == 404, "another principal's token on the session -> 404")
    st, _, _ = request(port, "POST", "/mcp", {"jsonrpc": "2.0", "id": 8, "method": "ping"}, alice)
    check(st == 400, "no session -> 400")
    st, r, body = request(port, "POST", "/mcp", INIT, token=admin)
    sid2 = r.getheader("Mcp-Session-Id")
    st, _, body = request(port, "POST", "/mcp", call("admin_echo", {"text": "adm"}, 9), admin,
                          sid2)
    check(st == 200 and body["result"]["content"][0]["text"] == "adm",
          "admin_echo with admin.write")
finally:
    stop(proc)

# ---- stateless, environment fallbacks, canonical resource ----
port = free_port()
url = f"http://127.0.0.1:{port}/mcp"
(tok,) = mint([claims(url, "carol", "tools.call")])
proc, _ = start(["--stateless"], port=port, env={
    "DESCOPE_MCP_WELL_KNOWN_URL": ISSUER + "/.well-known/openid-configuration",
    "MCP_SERVER_URL": f"HTTP://127.0.0.1:{port}/mcp"})
try:
    st, r, body = request(port, "POST", "/mcp", call("echo", {"text": "x"}, 1), tok)
    check(st == 200 and r.getheader("Mcp-Session-Id") is None and
          body["result"]["content"][0]["text"] == "x", "stateless via environment variables")
    st, _, prm = request(port, "GET", "/.well-known/oauth-protected-resource/mcp")
    check(prm["resource"] == url, "MCP_SERVER_URL canonicalised (scheme lower-cased)")
finally:
    stop(proc)

# ---- browser Origins: the loopback default, and --allow-origin narrowing it ----
port = free_port()
url = f"http://127.0.0.1:{port}/mcp"
proc, _ = start(["--well-known-url", ISSUER, "--mcp-server-url", url], port=port)
try:
    # The documented development default: any loopback origin, whatever its port, gets past
    # the Origin check (here to the 401 of a request without a token).
    for origin in ("http://localhost:5173", "http://127.0.0.1:9", "https://[::1]:8443"):
        st, r, _ = request(port, "POST", "/mcp", INIT, headers={"Origin": origin})
        check(st == 401 and r.getheader("Access-Control-Allow-Origin") == origin,
              f"loopback default admits {origin}")
    st, _, _ = request(port, "POST", "/mcp", INIT, headers={"Origin": "http://evil.example"})
    check(st == 403, "loopback default refuses a non-loopback origin")
finally:
    stop(proc)
port = free_port()
url = f"http://127.0.0.1:{port}/mcp"
proc, _ = start(["--well-known-url", ISSUER, "--mcp-server-url", url,
                 "--allow-origin", "http://localhost:5173",
                 "--allow-origin", "HTTPS://App.Example.com"], port=port)
try:
    for origin in ("http://localhost:5173", "https://app.example.com"):
        st, _, _ = request(port, "POST", "/mcp", INIT, headers={"Origin": origin})
        check(st == 401, f"--allow-origin admits {origin}")
    for origin in ("http://localhost:5174", "http://127.0.0.1:5173", "http://app.example.com"):
        st, r, body = request(port, "POST", "/mcp", INIT, headers={"Origin": origin})
        check(st == 403 and "Origin" in body["error"]["message"],
              f"--allow-origin refuses {origin}")
    st, _, _ = request(port, "POST", "/mcp", INIT)
    check(st == 401, "--allow-origin: requests without Origin (non-browser clients) unaffected")
finally:
    stop(proc)
p = subprocess.run([BIN, "--listen", "127.0.0.1:1", "--well-known-url", ISSUER,
                    "--allow-origin", "localhost"], capture_output=True, timeout=15)
check(p.returncode == 1 and b"--allow-origin localhost" in p.stderr,
      "--allow-origin without a scheme: exit 1 naming it")

# ---- --require-scope (server-wide) ----
port = free_port()
url = f"http://127.0.0.1:{port}/mcp"
without, with_, expired = mint([claims(url, "dan", "tools.call"),
                                claims(url, "dan", "tools.call admin.write"),
                                claims(url, "dan", "tools.call", exp_in=-3600)])
proc, _ = start(["--well-known-url", ISSUER, "--mcp-server-url", url,
                 "--require-scope", "admin.write", "--require-scope", "tools.call"], port=port)
try:
    st, r, _ = request(port, "POST", "/mcp", INIT)
    check(st == 401 and 'scope="admin.write tools.call"' in r.getheader("WWW-Authenticate"),
          "--require-scope: the 401 names the required scopes")
    st, r, _ = request(port, "POST", "/mcp", INIT, token=without)
    check(st == 403 and 'error="insufficient_scope"' in r.getheader("WWW-Authenticate"),
          "--require-scope: a token without it -> 403")
    st, r, _ = request(port, "POST", "/mcp", INIT, token=expired)
    check(st == 401 and 'error_description="Token expired"' in r.getheader("WWW-Authenticate"),
          "--require-scope: an expired token lacking it -> 401 (validity before scope)")
    st, _, _ = request(port, "POST", "/mcp", INIT, token=with_)
    check(st == 200, "--require-scope: a token with it -> 200")
finally:
    stop(proc)

# ---- --help and --limit ----
p = subprocess.run([BIN, "--help"], capture_output=True, timeout=15)
check(p.returncode == 0 and b"usage:" in p.stdout and b"max-sessions-per-principal" in p.stdout
      and b"header-timeout" in p.stdout, "--help: usage and every limit on stdout, exit 0")
p = subprocess.run([BIN, "--limit", "no-such-limit=1", "--well-known-url", ISSUER],
                   capture_output=True, timeout=15)
check(p.returncode == 2 and b"no-such-limit" in p.stderr, "--limit with an unknown name: exit 2")
p = subprocess.run([BIN, "--limit", "max-body=1", "--listen", "127.0.0.1:1",
                    "--well-known-url", ISSUER], capture_output=True, timeout=15)
check(p.returncode != 0 and b"max-body" in p.stderr, "--limit out of range: refused, named")
port = free_port()
url = f"http://127.0.0.1:{port}/mcp"
erin, frank = mint([claims(url, "erin", "tools.call"), claims(url, "frank", "tools.call")])
proc, _ = start(["--well-known-url", ISSUER, "--mcp-server-url", url,
                 "--limit", "max-sessions=1"], port=port)
try:
    st, _, _ = request(port, "POST", "/mcp", INIT, token=erin)
    check(st == 200, "--limit max-sessions=1: the first session opens")
    st, r, _ = request(port, "POST", "/mcp", INIT, token=frank)
    check(st == 503 and r.getheader("Retry-After") is not None,
          "--limit max-sessions=1: the second gets 503 with Retry-After")
finally:
    stop(proc)

# ---- operations: --access-log, --log-level, --metrics-listen; no token in any log ----
port, mport = free_port(), free_port()
url = f"http://127.0.0.1:{port}/mcp"
good, bad_scope, expired = mint([claims(url, "gina", "tools.call"),
                                 claims(url, "gina", "profile"),
                                 claims(url, "gina", "tools.call", exp_in=-3600)])
logfile = os.path.join(tmp, "access.log")
proc, _ = start(["--well-known-url", ISSUER, "--mcp-server-url", url, "--access-log", logfile,
                 "--log-level", "debug", "--metrics-listen", f"127.0.0.1:{mport}"], port=port)
try:
    st, r, _ = request(port, "POST", "/mcp", INIT, token=good)
    check(st == 200, "ops: initialize with a good token")
    sid = r.getheader("Mcp-Session-Id")
    st, _, _ = request(port, "POST", "/mcp", call("whoami", {}, 2), token=good, session=sid,
                       headers={"MCP-Protocol-Version": "2025-11-25"})
    st, _, _ = request(port, "POST", "/mcp", call("admin_echo", {"text": "x"}, 3), token=good,
                       session=sid, headers={"MCP-Protocol-Version": "2025-11-25"})
    check(st == 403, "ops: admin_echo without admin.write -> 403")
    st, _, _ = request(port, "POST", "/mcp", INIT, token=expired)
    check(st == 401, "ops: expired token -> 401")
    st, _, _ = request(port, "POST", "/mcp", INIT, token=bad_scope)
    c = http.client.HTTPConnection("127.0.0.1", mport, timeout=10)
    c.request("GET", "/metrics")
    mr = c.getresponse()
    metrics = mr.read().decode()
    c.close()
    check(mr.status == 200 and "dmcp_token_validations_total" in metrics and
          'reason="expired"' in metrics, "ops: /metrics on its own port counts the refusals")
    st, _, _ = request(port, "GET", "/metrics")
    check(st == 404, "ops: /metrics is not on the public port")
finally:
    stop(proc)
with open(logfile) as f:
    lines = [json.loads(l) for l in f if l.strip()]
check(len(lines) >= 5 and any(l.get("user_id") == "gina" for l in lines),
      f"ops: the access log has a JSON line per request ({len(lines)})")
everything = open(logfile).read() + proc.stderr.read().decode(errors="replace")
for tok in (good, bad_scope, expired):
    for piece in [tok] + tok.split("."):
        check(piece not in everything, "ops: no token (or token segment) in the logs")

if TOKEN_ARG:
    p = subprocess.run([TOKEN_ARG, "--help"], capture_output=True, timeout=15)
    check(p.returncode == 0 and b"usage: token-arg" in p.stdout, "token-arg --help: exit 0")
    p = subprocess.run([TOKEN_ARG, "--nope"], capture_output=True, timeout=15)
    check(p.returncode == 2 and b"usage: token-arg" in p.stderr, "token-arg: a stray flag: exit 2")

# ---- --stdio: no auth ----
msgs = [INIT, {"jsonrpc": "2.0", "method": "notifications/initialized"},
        call("admin_echo", {"text": "local"}, 2), call("whoami", {}, 3)]
p = subprocess.run([BIN, "--stdio"], input="".join(json.dumps(m) + "\n" for m in msgs).encode(),
                   capture_output=True, timeout=15, env=env)
out = [json.loads(line) for line in p.stdout.decode().splitlines()]
check(p.returncode == 0 and len(out) == 3, "--stdio: answers on stdout, exit 0 at end of input")
# JSON-RPC responses may arrive in any order (handlers run concurrently): match them by id.
by_id = {m.get("id"): m for m in out}
check(by_id[2]["result"]["content"][0]["text"] == "local", "--stdio: admin_echo without auth")
check(by_id[3]["result"]["structuredContent"] == {"user_id": None, "scopes": [],
                                                  "client_id": None}, "--stdio: whoami is nobody")

# ---- examples/token-arg: the token as a tool argument, validated with the core API ----
if TOKEN_ARG:
    url = "http://127.0.0.1:9/mcp"
    user, admin, expired = mint([claims(url, "ursula", "tools.call"),
                                 claims(url, "root", "tools.call admin.write"),
                                 claims(url, "ursula", "tools.call", exp_in=-3600)])
    msgs = [INIT, {"jsonrpc": "2.0", "method": "notifications/initialized"},
            call("whoami", {"access_token": user}, 2),
            call("admin_echo", {"access_token": user, "text": "no"}, 3),
            call("admin_echo", {"access_token": admin, "text": "yes"}, 4),
            call("whoami", {"access_token": expired}, 5)]
    p = subprocess.run([TOKEN_ARG], input="".join(json.dumps(m) + "\n" for m in msgs).encode(),
                       capture_output=True, timeout=30,
                       env=dict(env, DESCOPE_MCP_WELL_KNOWN_URL=ISSUER, MCP_SERVER_URL=url))
    out = {m["id"]: m["result"] for m in map(json.loads, p.stdout.decode().splitlines())}
    check(p.returncode == 0, "token-arg: exit 0 at end of input")
    check(out[2]["structuredContent"] == {"user_id": "ursula", "scopes": ["tools.call"],
                                          "client_id": "client-1"}, "token-arg: whoami")
    scope_err = json.loads(out[3]["content"][0]["text"])
    check(out[3].get("isError") is True and scope_err["error"] == "insufficient_scope" and
          scope_err["missing_scopes"] == ["admin.write"],
          "token-arg: admin_echo without admin.write -> the seed's insufficient-scope JSON")
    check(out[4]["content"][0]["text"] == "yes", "token-arg: admin_echo with admin.write")
    check(out[5].get("isError") is True and out[5]["content"][0]["text"] == "Token expired" and
          expired not in p.stdout.decode() and expired not in p.stderr.decode(),
          "token-arg: an expired token is refused with the reason only")
issuer.shutdown()
print("ok")
