"""The soak's clients (scripts/soak.py): well-behaved and misbehaving, all on loopback.

Every loop here is bounded twice: by a count and by the run's stop event / deadline. Each
client records what it saw in a shared Tally; a client that sees something the server must
never do (a valid request refused without a declared limit, a slow client held past its
deadline) records a violation with the evidence.
"""
import http.client
import json
import random
import select
import socket
import struct
import threading
import time

ACCEPT = "application/json, text/event-stream"
PROTO = "2025-11-25"
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": PROTO, "capabilities": {},
                   "clientInfo": {"name": "soak", "version": "1"}}}
# A valid request may be refused only by a declared limit: these statuses, with Retry-After.
LIMIT_STATUSES = (429, 503)


class Tally:
    """Thread-safe counters: statuses per client class, violations with evidence."""

    def __init__(self):
        self.lock = threading.Lock()
        self.status = {}      # (client, status) -> n
        self.events = {}      # (client, event) -> n
        self.violations = []  # (criterion, text)

    def st(self, client, status):
        with self.lock:
            self.status[(client, status)] = self.status.get((client, status), 0) + 1

    def ev(self, client, event, n=1):
        with self.lock:
            self.events[(client, event)] = self.events.get((client, event), 0) + n

    def bad(self, criterion, text):
        with self.lock:
            if len(self.violations) < 200:
                self.violations.append((criterion, text))

    def valid(self, client, status, headers, ok=(200,)):
        """A valid request's answer: ok, or a declared limit with Retry-After."""
        self.st(client, status)
        if status in ok:
            return True
        if status in LIMIT_STATUSES and headers.get("Retry-After"):
            return False
        self.bad("refusals", f"{client}: a valid request got {status} "
                             f"(Retry-After={headers.get('Retry-After')!r})")
        return False


def conn(port, host="127.0.0.1", timeout=15, source=None):
    c = http.client.HTTPConnection(host, port, timeout=timeout,
                                   source_address=(source, 0) if source else None)
    return c


def post(c, body, token=None, session=None, extra=None, method="POST", path="/mcp"):
    h = {"Content-Type": "application/json", "Accept": ACCEPT}
    if token:
        h["Authorization"] = "Bearer " + token
    if session:
        h["Mcp-Session-Id"] = session
        h["MCP-Protocol-Version"] = PROTO
    h.update(extra or {})
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    c.request(method, path, data, h)
    r = c.getresponse()
    payload = r.read()
    return r.status, {k: v for k, v in r.getheaders()}, payload


def call(text, i=2):
    return {"jsonrpc": "2.0", "id": i, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"text": text}}}


def open_session(port, token, tally, client):
    """initialize + notifications/initialized; the session id, or None (refused by a limit)."""
    c = conn(port)
    try:
        st, h, _ = post(c, INIT, token)
        if not tally.valid(client, st, h):
            return None
        sid = h.get("Mcp-Session-Id")
        st2, h2, _ = post(c, {"jsonrpc": "2.0", "method": "notifications/initialized"}, token,
                          sid)
        tally.valid(client, st2, h2, ok=(202,))
        return sid
    finally:
        c.close()


def churn(port, token, tally, stop, max_iter):
    """Session churn: initialize, one call, DELETE; again."""
    for _ in range(max_iter):
        if stop.is_set():
            return
        try:
            sid = open_session(port, token, tally, "churn")
            if sid is None:
                stop.wait(1.0)
                continue
            c = conn(port)
            st, h, body = post(c, call("churn"), token, sid)
            if tally.valid("churn", st, h) and b"churn" not in body:
                tally.bad("refusals", "churn: echo answered without the text")
            st, h, _ = post(c, None, token, sid, method="DELETE")
            tally.valid("churn", st, h)
            c.close()
            tally.ev("churn", "sessions")
        except OSError as e:
            tally.bad("refusals", f"churn: connection error {e!r}")
            stop.wait(0.5)


def _rst_close(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def sse(port, token, tally, stop, max_iter, rng):
    """SSE clients: GET the session's stream, read for a while, drop mid-stream (FIN or RST),
    then GET again at once: the server must serve it (not 409)."""
    sid = None
    for n in range(max_iter):
        if stop.is_set():
            break
        try:
            if sid is None or n % 10 == 0:
                if sid is not None:
                    c = conn(port)
                    st, h, _ = post(c, None, token, sid, method="DELETE")
                    tally.valid("sse", st, h)
                    c.close()
                sid = open_session(port, token, tally, "sse")
                if sid is None:
                    stop.wait(1.0)
                    continue
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall((f"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                       f"Authorization: Bearer {token}\r\nMcp-Session-Id: {sid}\r\n"
                       f"MCP-Protocol-Version: {PROTO}\r\n\r\n").encode())
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 8192:
                chunk = s.recv(4096)
                if not chunk:
                    break
                head += chunk
            line = head.split(b"\r\n", 1)[0].decode(errors="replace")
            status = int(line.split()[1]) if line.startswith("HTTP/1.1 ") else 0
            hdrs = {}
            for hl in head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
                k, _, v = hl.decode(errors="replace").partition(":")
                hdrs[k.strip()] = v.strip()
            if status == 0:
                tally.bad("refusals", f"sse: GET answered {line!r}")
            elif tally.valid("sse", status, hdrs):
                s.settimeout(0.2)
                end = time.monotonic() + rng.uniform(0.2, 2.0)
                while time.monotonic() < end:  # stream: read whatever comes
                    try:
                        if not s.recv(4096):
                            break
                    except socket.timeout:
                        pass
                tally.ev("sse", "dropped mid-stream")
            if rng.random() < 0.5:
                _rst_close(s)
            else:
                s.close()
        except OSError as e:
            tally.bad("refusals", f"sse: connection error {e!r}")
            stop.wait(0.5)
    if sid is not None:
        try:
            c = conn(port)
            post(c, None, token, sid, method="DELETE")
            c.close()
        except OSError:
            pass


def _closed(s):
    """True when the peer closed s (EOF or reset); never blocks."""
    try:
        if not select.select([s], [], [], 0)[0]:
            return False
        data = s.recv(65536, socket.MSG_DONTWAIT)
        return data == b"" or data.startswith(b"HTTP/")
    except (BlockingIOError, socket.timeout):
        return False
    except OSError:
        return True


def trickle(port, tally, stop, kind, count, deadline_s, token=None, session=None, source=None):
    """Slow clients: `count` connections that send their head (kind 'header') or body
    (kind 'body') one byte per 0.5 s. The server must close each within its deadline
    (+ the once-a-second housekeeper + slack); the time each one lasted is recorded."""
    socks = []
    for _ in range(count):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5,
                                         source_address=(source, 0) if source else None)
        except OSError as e:
            tally.bad("refusals", f"slow-{kind}: cannot connect: {e!r}")
            continue
        if kind == "header":
            s.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        else:
            s.sendall((f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                       f"\r\nAccept: {ACCEPT}\r\nAuthorization: Bearer {token}\r\n"
                       f"Mcp-Session-Id: {session}\r\nMCP-Protocol-Version: {PROTO}\r\n"
                       f"Content-Length: 4000\r\n\r\n{{").encode())
        socks.append([s, time.monotonic()])
    limit = deadline_s + 4.0
    end = time.monotonic() + limit + 2
    byte = b"X" if kind == "header" else b" "
    while socks and time.monotonic() < end and not stop.is_set():
        for item in list(socks):
            s, t0 = item
            if _closed(s):
                held = time.monotonic() - t0
                tally.ev(f"slow-{kind}", "closed by the server")
                if held > limit:
                    tally.bad("slow clients", f"slow-{kind}: held {held:.1f} s > {limit:.0f} s")
                s.close()
                socks.remove(item)
                continue
            try:
                s.send(byte)
            except OSError:
                pass
        stop.wait(0.5)
    for s, t0 in socks:
        if not stop.is_set():
            tally.bad("slow clients", f"slow-{kind}: still open after "
                                      f"{time.monotonic() - t0:.1f} s")
        s.close()


def flood(port, tally, stop, count, cap, idle_s, source="127.0.0.2"):
    """A connection flood from another loopback address: `count` connections held open
    without a request. At most `cap` may stay open (per-address cap); the held ones must be
    closed by the idle timeout. Returns (held, closed at once)."""
    socks = []
    for _ in range(count):
        if stop.is_set():
            break
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5,
                                         source_address=(source, 0))
            socks.append(s)
        except OSError:
            tally.ev("flood", "connect failed")
    time.sleep(1.5)  # the server closes the excess at accept
    held = [s for s in socks if not _closed(s)]
    n_closed = len(socks) - len(held)
    tally.ev("flood", "connections", len(socks))
    tally.ev("flood", "closed at accept", n_closed)
    if len(held) > cap:
        tally.bad("refusals", f"flood: {len(held)} connections from {source} held open, "
                              f"more than max-connections-per-ip={cap}")
    t0 = time.monotonic()
    limit = idle_s + 5.0
    while held and time.monotonic() - t0 < limit + 1 and not stop.is_set():
        held = [s for s in held if not _closed(s)]
        stop.wait(0.5)
    if held and not stop.is_set():
        tally.bad("slow clients", f"flood: {len(held)} idle connections still open after "
                                  f"{limit:.0f} s (idle-timeout {idle_s} s)")
    for s in socks:
        s.close()
    return n_closed


def probe(port, token, session, tally, client="probe"):
    """One well-behaved call from 127.0.0.1; its latency in seconds."""
    t0 = time.monotonic()
    try:
        c = conn(port, timeout=10)
        st, h, body = post(c, call("probe"), token, session)
        c.close()
        tally.valid(client, st, h)
    except OSError as e:
        tally.bad("refusals", f"{client}: {e!r}")
    return time.monotonic() - t0


def raw(port, data, timeout=10):
    """Sends raw bytes, returns the status of the answer (0: closed without one)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    except OSError:
        buf = b""
    finally:
        s.close()
    line = buf.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 and line[1].isdigit() else 0


def abuse(port, token, session, expired, tally, stop, max_iter):
    """Oversized and malformed requests, each with the status the server must answer."""
    def req(body, extra_headers="", length=None, tok=token, sid=session):
        h = (f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             f"Accept: {ACCEPT}\r\nMCP-Protocol-Version: {PROTO}\r\n")
        if tok:
            h += f"Authorization: Bearer {tok}\r\n"
        if sid:
            h += f"Mcp-Session-Id: {sid}\r\n"
        h += extra_headers
        h += f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
        return h.encode() + body

    cases = [
        ("oversized header", req(b"{}", "X-Big: " + "a" * 70000 + "\r\n"), (431,)),
        ("oversized body", req(b"", length=5 * 1024 * 1024), (413,)),
        ("malformed JSON", req(b'{"jsonrpc":"2.0",'), (400,)),
        ("bad UTF-8", req(b'{"jsonrpc":"2.0","id":1,"method":"ping","x":"\xff\xfe"}'), (400,)),
        ("deep nesting", req(b"[" * 5000 + b"]" * 5000), (400,)),
        ("two Authorization headers", req(json.dumps(call("x")).encode(),
                                          f"Authorization: Bearer {token}\r\n"), (400,)),
        ("garbage token", req(json.dumps(call("x")).encode(), tok="abc.def.ghi"), (401,)),
        ("expired token", req(json.dumps(call("x")).encode(), tok=expired), (401,)),
        ("unknown session", req(json.dumps(call("x")).encode(), sid="no-such-session"), (404,)),
        ("no token", req(json.dumps(call("x")).encode(), tok=None), (401,)),
    ]
    for n in range(max_iter):
        if stop.is_set():
            return
        name, data, want = cases[n % len(cases)]
        try:
            st = raw(port, data)
        except OSError as e:
            st = 0
            tally.ev("abuse", f"connect error {e!r}")
        tally.st("abuse", st)
        if st not in want:
            tally.bad("refusals", f"abuse: {name} answered {st}, expected {want}")
        stop.wait(0.05)


def greedy(port, token, session, tally, stop, max_iter):
    """One principal sending as fast as it can on one connection: the rate limit answers
    429 with Retry-After; nothing else may refuse it."""
    c = None
    for _ in range(max_iter):
        if stop.is_set():
            break
        try:
            if c is None:
                c = conn(port)
            st, h, _ = post(c, call("greedy"), token, session)
            tally.valid("greedy", st, h)
        except (OSError, http.client.HTTPException) as e:
            tally.bad("refusals", f"greedy: {e!r}")
            c = None
            stop.wait(0.5)
    if c is not None:
        c.close()


def spawn(fn, *args):
    t = threading.Thread(target=fn, args=args, daemon=True)
    t.start()
    return t


__all__ = ["Tally", "churn", "sse", "trickle", "flood", "probe", "abuse", "greedy", "spawn",
           "open_session", "conn", "post", "call", "random"]
