#!/usr/bin/env python3
"""Contract test for <build>/bin/mcp-echo-server over Streamable HTTP (loopback only).

Starts the binary on a free 127.0.0.1 port (stateful, then --stateless), talks JSON-RPC to
/mcp with the standard library HTTP client, and checks that SIGTERM stops it with status 0.
"""
import http.client
import json
import signal
import socket
import subprocess
import sys
import time

BIN = sys.argv[1]
HDRS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start(extra):
    port = free_port()
    proc = subprocess.Popen([BIN, "--listen", f"127.0.0.1:{port}"] + extra,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start")


def post(port, body, session=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    h = dict(HDRS)
    if session:
        h["Mcp-Session-Id"] = session
    c.request("POST", "/mcp", json.dumps(body), h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("Mcp-Session-Id"), (json.loads(data) if data else None)


def call(name, args, i):
    return {"jsonrpc": "2.0", "id": i, "method": "tools/call",
            "params": {"name": name, "arguments": args}}


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=15)
    out = proc.stdout.read()
    assert rc == 0, f"exit status {rc}"
    assert out == b"", "HTTP mode must not write to stdout"


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)


INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "t", "version": "1"}}}

# Stateful.
proc, port = start([])
try:
    st, sid, body = post(port, INIT)
    check(st == 200 and sid and body["result"]["protocolVersion"] == "2025-11-25", "initialize")
    st, _, _ = post(port, {"jsonrpc": "2.0", "method": "notifications/initialized"}, sid)
    check(st == 202, "initialized -> 202")
    st, _, body = post(port, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, sid)
    names = sorted(t["name"] for t in body["result"]["tools"])
    check(names == ["admin_echo", "echo", "whoami"], f"tools {names}")
    st, _, body = post(port, call("echo", {"text": "hello"}, 3), sid)
    check(body["result"]["content"][0]["text"] == "hello", "echo")
    st, _, body = post(port, call("whoami", {}, 4), sid)
    check(body["result"]["structuredContent"] == {"user_id": None, "scopes": [],
                                                  "client_id": None}, "whoami")
    st, _, body = post(port, call("admin_echo", {"text": "adm"}, 5), sid)
    check(body["result"]["content"][0]["text"] == "adm", "admin_echo without auth")
    st, _, body = post(port, call("echo", {}, 6), sid)
    check(body["result"].get("isError") is True, "missing text -> isError")
    st, _, _ = post(port, {"jsonrpc": "2.0", "id": 7, "method": "ping"})
    check(st == 400, "no session -> 400")
finally:
    stop(proc)

# Stateless.
proc, port = start(["--stateless"])
try:
    st, sid, body = post(port, call("echo", {"text": "x"}, 1))
    check(st == 200 and sid is None and body["result"]["content"][0]["text"] == "x", "stateless")
finally:
    stop(proc)

# Auth flags are accepted (and announced on stderr) until the glue lands.
proc, port = start(["--well-known-url", "https://api.descope.com/P2abc/.well-known/"
                    "openid-configuration", "--mcp-server-url", "http://127.0.0.1/mcp",
                    "--require-scope", "a", "--require-scope", "b"])
stop(proc)
check(b"auth options" in proc.stderr.read(), "auth options note on stderr")
print("ok")
