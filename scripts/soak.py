#!/usr/bin/env python3
"""Soak and chaos run of mcp-echo-server on loopback (issue 12). Usually started by
scripts/soak.sh; the ctest `soak.short` runs `--short`.

    soak.py --server BIN --mint MINT_TOOL [--minutes N | --short] [--sanitized] [--keep]

One server (stateful, auth on, small limits so that deadlines and idle expiry run within the
run), a loopback OpenID issuer whose JWKS rotates keys, goes down, comes back and answers
slowly, and for the whole load period: wrk (POST tools/call echo on 32 sessions of 32
principals, one wrk run per phase), session churn, SSE clients dropping mid-stream, slow-header
and slow-body clients, a connection flood from 127.0.0.2, oversized and malformed requests,
and a principal past its rate. Then the load stops and the idle timeouts run.

Pass criteria (exit 1 naming each one that failed): no crash (SIGTERM exit 0), no sanitizer
report (with --sanitized), RSS after warm-up grows < 10 %, fds / sessions / SSE streams /
connections return to their start values, valid requests refused only by a declared limit
(429/503 with Retry-After), slow and idle clients closed by their deadlines, and a token signed
by a rotated-in key validates within the refetch cooldown (60 s) of the key's publication.
Every loop is bounded by a count and by time; a watchdog ends the run (exit 3) if it overruns;
every child is killed on exit or signal.
"""
import argparse
import glob
import http.server
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "soak"))
import clients as C  # noqa: E402

COOLDOWN = 60     # the key source's refetch cooldown (docs/validator.md, "Key source")
SLOW_JWKS = 3.0   # seconds the slow JWKS takes to answer (under the 5 s fetch timeout)
LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "soak", "load.lua")

children = []  # every process we start, killed on exit


def kill_children():
    for p in children:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass


def on_signal(signum, _frame):
    raise SystemExit(f"soak: stopped by signal {signum}")


_given_ports = set()


def free_port():
    """A loopback port nothing listens on, never one handed out before in this run (the kernel
    can return the same ephemeral port twice once the probe socket is closed)."""
    for _ in range(64):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port not in _given_ports:
            _given_ports.add(port)
            return port
    raise SystemExit("soak: no new loopback port after 64 tries")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---- the issuer: discovery + a JWKS that rotates, goes down and answers slowly ----
class Keys:
    def __init__(self):
        self.lock = threading.Lock()
        self.jwks = {"keys": []}
        self.mode = "up"  # up | down | slow
        self.served = {"up": 0, "down": 0, "slow": 0}


def issuer_handler(issuer_url, keys):
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/.well-known/openid-configuration":
                body = json.dumps({"issuer": issuer_url, "jwks_uri": issuer_url + "/jwks",
                                   "scopes_supported": ["openid", "tools.call"]}).encode()
            elif self.path == "/jwks":
                with keys.lock:
                    mode, body = keys.mode, json.dumps(keys.jwks).encode()
                    keys.served[mode] += 1
                if mode == "down":
                    self.send_error(503)
                    return
                if mode == "slow":
                    time.sleep(SLOW_JWKS)
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "max-age=300")  # the key source's minimum TTL
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    return H


def mint_generation(mint, tmp, gen, issuer, aud, subjects, exp_in):
    """A fresh ES256 key published as kid soak-g<gen>; one token per subject signed by it.
    Returns (jwk, {subject: token})."""
    kid = f"soak-g{gen}"
    path = os.path.join(tmp, f"g{gen}.json")
    now = int(time.time())
    hdr = json.dumps({"alg": "ES256", "typ": "JWT", "kid": kid})
    lines = []
    for sub in subjects:
        e = -3600 if sub == "expired" else exp_in
        lines.append("ES256\t" + hdr + "\t" + json.dumps(
            {"iss": issuer, "aud": aud, "sub": sub, "azp": "soak", "scope": "tools.call",
             "iat": now - 5, "exp": now + e}))
    p = subprocess.run([mint, path], input="\n".join(lines) + "\n", capture_output=True,
                       text=True, timeout=120, check=True)
    with open(path) as f:
        jwk = next(k for k in json.load(f)["keys"] if k.get("kid") == "ES256")
    jwk["kid"] = kid
    return jwk, dict(zip(subjects, p.stdout.split()))


# ---- the server's figures ----
def proc_figures(pid):
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])  # kB
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def scrape(mport):
    c = C.conn(mport, timeout=10)
    c.request("GET", "/metrics")
    r = c.getresponse()
    text = r.read().decode()
    c.close()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        try:
            out[name_labels] = float(value)
        except ValueError:
            pass
    return out


def family(metrics, name, label):
    """{label value: sample} of one family."""
    res = {}
    for k, v in metrics.items():
        if k.startswith(name + "{"):
            labels = dict(p.split("=", 1) for p in k[len(name) + 1:-1].split(",") if "=" in p)
            key = ",".join(labels.get(lab, "").strip('"') for lab in label.split(","))
            res[key] = res.get(key, 0) + v
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--mint", required=True)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--short", action="store_true", help="the ctest mode: about 100 s in all")
    ap.add_argument("--sanitized", action="store_true",
                    help="the server is an ASan/UBSan build: check for sanitizer reports")
    ap.add_argument("--wrk", default="wrk")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--server-arg", action="append", default=[],
                    help="one more server argument, after the soak's own (e.g. to show that a "
                         "criterion fails: --server-arg=--limit --server-arg=session-idle=0)")
    a = ap.parse_args()
    if shutil.which(a.wrk) is None:
        print(f"soak: {a.wrk} not found: the load generator is required (skipped)")
        return 77
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    T = 75 if a.short else max(120, int(a.minutes * 60))
    warm = 15 if a.short else min(60, int(0.1 * T))
    every = 15 if a.short else 60
    session_idle, idle, hdr_to, body_to = (10, 5, 4, 6) if a.short else (30, 5, 4, 6)
    per_ip = 128
    drain_max = session_idle + idle + 30
    budget = T + drain_max + COOLDOWN + 240
    wd = threading.Timer(budget, lambda: (print("FAIL: watchdog: the run overran "
                                                f"{budget} s", flush=True), kill_children(),
                                          os._exit(3)))
    wd.daemon = True
    wd.start()
    tmp = tempfile.mkdtemp(prefix="dmcp-soak-")
    try:
        return run(a, T, warm, every, session_idle, idle, hdr_to, body_to, per_ip, drain_max,
                   tmp)
    finally:
        kill_children()
        if not a.keep:
            subprocess.run(["rm", "-rf", tmp], check=False)
        else:
            print(f"work folder kept: {tmp}")


def run(a, T, warm, every, session_idle, idle, hdr_to, body_to, per_ip, drain_max, tmp):
    rng = random.Random(12)
    tally = C.Tally()
    failures = []
    ip = free_port()
    issuer = f"http://127.0.0.1:{ip}"
    keys = Keys()
    srv_http = http.server.ThreadingHTTPServer(("127.0.0.1", ip), issuer_handler(issuer, keys))
    threading.Thread(target=srv_http.serve_forever, daemon=True).start()

    port, mport = free_port(), free_port()
    aud = f"http://127.0.0.1:{port}/mcp"
    loaders = [f"load-{i:02d}" for i in range(32)]
    subjects = loaders + ["churn", "greedy", "probe", "slow", "abuse", "expired"] + \
        [f"sse-{i}" for i in range(4)]
    exp_in = T + drain_max + 3600
    gens = {}
    for g in range(3):  # g0 at start, g1 and g2 rotated in later
        gens[g] = mint_generation(a.mint, tmp, g, issuer, aud, subjects, exp_in)
    with keys.lock:
        keys.jwks = {"keys": [gens[0][0]]}
    tok = dict(gens[0][1])  # the tokens clients use now (switched after a rotation validates)

    asan_prefix = os.path.join(tmp, "sanitizer")
    env = dict(os.environ)
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        prev = env.get(var, "")
        env[var] = (prev + ":" if prev else "") + f"log_path={asan_prefix}"
    err_path = os.path.join(tmp, "server.stderr")
    limits = {"session-idle": session_idle, "idle-timeout": idle, "header-timeout": hdr_to,
              "body-timeout": body_to, "max-connections-per-ip": per_ip, "rate": 300,
              "rate-burst": 600}
    cmd = [a.server, "--listen", f"127.0.0.1:{port}", "--well-known-url", issuer,
           "--mcp-server-url", aud, "--metrics-listen", f"127.0.0.1:{mport}"]
    for k, v in limits.items():
        cmd += ["--limit", f"{k}={v}"]
    cmd += a.server_arg
    log("server: " + " ".join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd)))
    with open(err_path, "wb") as err:
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
    children.append(server)
    for _ in range(600):
        if server.poll() is not None:
            raise SystemExit("FAIL: the server exited at start:\n" + open(err_path).read())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        raise SystemExit("FAIL: the server did not start")
    time.sleep(1.0)
    rss0, fds0 = proc_figures(server.pid)
    m0 = scrape(mport)
    base = {"sessions": m0.get("dmcp_sessions_open", 0), "sse": m0.get("dmcp_sse_streams_open", 0),
            "conns": m0.get("dmcp_connections_open", 0), "fds": fds0}
    samples = [("start", 0.0, rss0, fds0, base["sessions"], base["sse"], base["conns"],
                os.getloadavg()[0])]
    log(f"start: RSS {rss0 / 1024:.1f} MiB, {fds0} fds, sessions {base['sessions']:.0f}")

    stop = threading.Event()
    t_start = time.monotonic()

    def now():
        return time.monotonic() - t_start

    # wrk sessions: one per load principal, kept busy by wrk
    creds = {}
    for sub in loaders:
        sid = C.open_session(port, tok[sub], tally, "setup")
        if sid is None:
            raise SystemExit("FAIL: could not open the load sessions")
        creds[sub] = sid

    # The schedule: phases (wrk runs one per phase) and what the JWKS does in each.
    if a.short:
        phases = [("warmup", 0, warm, "up", None), ("rotate+slow", warm, 65, "slow", 1),
                  ("jwks-down", 65, T, "down", None)]
    else:
        f = [0, warm, int(0.22 * T), int(0.34 * T), int(0.5 * T), T]
        phases = [("warmup", f[0], f[1], "up", None), ("rotate", f[1], f[2], "up", 1),
                  ("jwks-down", f[2], f[3], "down", None), ("jwks-slow", f[3], f[4], "slow", None),
                  ("rotate-2", f[4], f[5], "up", 2)]
    wrk_results = []
    rotations = []
    tok_lock = threading.Lock()

    def creds_file():
        path = os.path.join(tmp, "creds.tsv")
        with tok_lock, open(path + ".new", "w") as fh:
            for sub in loaders:
                fh.write(f"{tok[sub]}\t{creds[sub]}\n")
        os.replace(path + ".new", path)
        return path

    def load():
        for name, t0, t1, _mode, _rot in phases:
            while now() < t0 and not stop.is_set():
                time.sleep(0.05)
            dur = int(round(t1 - now()))
            if dur < 1 or stop.is_set():
                continue
            p = subprocess.Popen([a.wrk, "-t2", "-c16", f"-d{dur}s", "--timeout", "10s",
                                  "-s", LUA, f"http://127.0.0.1:{port}/mcp", "--", creds_file()],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            children.append(p)
            out, _ = p.communicate(timeout=dur + 60)
            line = next((x for x in out.splitlines() if x.startswith("SOAKJSON ")), None)
            if line is None:
                tally.bad("load", f"wrk ({name}) printed no figures: {out[-500:]!r}")
                continue
            r = json.loads(line[len("SOAKJSON "):])
            r["phase"] = name
            wrk_results.append(r)
            log(f"wrk {name}: {r['requests']} requests, p50 {r['p50_us'] / 1000:.1f} ms, "
                f"p99 {r['p99_us'] / 1000:.1f} ms, statuses {r['status']}")

    def rotate(gen, published_at):
        """Present a token of the rotated-in key once a second until it validates."""
        sub = "probe"
        bound = COOLDOWN + SLOW_JWKS + 5
        sid = None
        while now() - published_at < bound + 5 and not stop.is_set():
            try:
                c = C.conn(port, timeout=10)
                st, h, _ = C.post(c, C.INIT, gens[gen][1][sub])
                c.close()
                sid = h.get("Mcp-Session-Id")
            except OSError:
                st = 0
            tally.st("keyprobe", st)
            if st == 200:
                took = now() - published_at
                rotations.append((gen, took, bound))
                log(f"rotation: a token of soak-g{gen} validates {took:.1f} s after publication")
                if sid:
                    try:
                        c = C.conn(port)
                        C.post(c, None, gens[gen][1][sub], sid, method="DELETE")
                        c.close()
                    except OSError:
                        pass
                with tok_lock:  # the next phases' clients use the new key
                    tok.update(gens[gen][1])
                return
            time.sleep(1.0)
        rotations.append((gen, None, bound))

    def poke():
        """While the JWKS is down or slow, a token with a kid not yet published asks for
        refetches (within the cooldown), so the failed and slow fetches really happen."""
        for _ in range(int(T) + 5):
            if stop.is_set():
                return
            with keys.lock:
                mode = keys.mode
            if mode in ("down", "slow") and not (len(keys.jwks["keys"]) > 2):
                try:
                    c = C.conn(port, timeout=10)
                    st, _, _ = C.post(c, C.INIT, gens[2][1]["probe"])
                    c.close()
                    tally.st("keyprobe", st)
                except OSError:
                    pass
            stop.wait(2.0)

    def slow_and_flood():
        for _ in range(int(T / 5) + 2):
            if stop.is_set():
                return
            with tok_lock:
                t_slow, t_probe = tok["slow"], tok["probe"]
            ths = [C.spawn(C.trickle, port, tally, stop, "header", 20, hdr_to),
                   C.spawn(C.trickle, port, tally, stop, "body", 10, body_to, t_slow, None)]
            fl = C.spawn(C.flood, port, tally, stop, 300, per_ip, idle)
            time.sleep(2.0)
            sid = C.open_session(port, t_probe, tally, "probe")
            if sid:
                worst = max(C.probe(port, t_probe, sid, tally) for _ in range(5))
                tally.ev("probe", "calls", 5)
                with tally.lock:
                    tally.events[("probe", "worst latency ms")] = max(
                        tally.events.get(("probe", "worst latency ms"), 0), int(worst * 1000))
                if worst > 5.0:
                    tally.bad("refusals", f"probe from 127.0.0.1 took {worst:.1f} s during the "
                                          "flood and the slow clients")
                c = C.conn(port)
                C.post(c, None, t_probe, sid, method="DELETE")
                c.close()
            for t in ths + [fl]:
                t.join(timeout=60)

    def sampler():
        n = 1
        while not stop.is_set():
            if stop.wait(max(0.0, n * every - now())):
                return
            try:
                rss, fds = proc_figures(server.pid)
                m = scrape(mport)
            except (OSError, ValueError):
                return
            samples.append((f"t+{n * every}s", now(), rss, fds, m.get("dmcp_sessions_open", 0),
                            m.get("dmcp_sse_streams_open", 0), m.get("dmcp_connections_open", 0),
                            os.getloadavg()[0]))
            log(f"sample t+{now():.0f}s: RSS {rss / 1024:.1f} MiB, {fds} fds, sessions "
                f"{m.get('dmcp_sessions_open', 0):.0f}, SSE {m.get('dmcp_sse_streams_open', 0):.0f}"
                f", connections {m.get('dmcp_connections_open', 0):.0f}, "
                f"load {os.getloadavg()[0]:.1f}")
            n += 1

    def greedy():
        c_tok = None
        sid = None
        for _ in range(int(T)):
            if stop.is_set():
                return
            with tok_lock:
                if c_tok != tok["greedy"]:
                    c_tok = tok["greedy"]
                    sid = C.open_session(port, c_tok, tally, "greedy")
            if sid:
                C.greedy(port, c_tok, sid, tally, stop, 1500)
            stop.wait(2.0)

    def churn():
        while not stop.is_set():
            with tok_lock:
                t = tok["churn"]
            C.churn(port, t, tally, stop, 50)

    def sse(i):
        while not stop.is_set():
            with tok_lock:
                t = tok[f"sse-{i}"]
            C.sse(port, t, tally, stop, 30, random.Random(i))

    def abuse():
        for _ in range(int(T) * 2):
            if stop.is_set():
                return
            with tok_lock:
                t, e = tok["abuse"], gens[0][1]["expired"]
            C.abuse(port, t, None, e, tally, stop, 10)

    threads = [C.spawn(load), C.spawn(sampler), C.spawn(poke), C.spawn(slow_and_flood),
               C.spawn(greedy), C.spawn(churn), C.spawn(abuse)] + \
        [C.spawn(sse, i) for i in range(4)]
    rot_threads = []
    for name, t0, t1, mode, rot in phases:
        while now() < t0 and server.poll() is None:
            time.sleep(0.1)
        with keys.lock:
            keys.mode = mode
            if rot is not None:
                keys.jwks = {"keys": keys.jwks["keys"] + [gens[rot][0]]}
        log(f"phase {name}: JWKS {mode}" + (f", soak-g{rot} published" if rot else ""))
        if rot is not None:
            rot_threads.append(C.spawn(rotate, rot, now()))
    while now() < T and server.poll() is None:
        time.sleep(0.2)
    with keys.lock:
        keys.mode = "up"
    warm_rss = next((s[2] for s in samples if s[1] >= warm - 1), None)
    last_load = samples[-1]
    log("load ends; waiting for the clients and the idle timeouts")
    for t in rot_threads:
        t.join(timeout=COOLDOWN + 30)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    for t in threads:
        if t.is_alive():
            failures.append("bounded: a client thread did not stop")

    crashed = server.poll() is not None
    # drain: fds, sessions, streams and connections back to where they started
    end_vals = None
    t_drain = time.monotonic()
    while not crashed and time.monotonic() - t_drain < drain_max:
        rss_e, fds_e = proc_figures(server.pid)
        m = scrape(mport)
        end_vals = (rss_e, fds_e, m.get("dmcp_sessions_open", 0),
                    m.get("dmcp_sse_streams_open", 0), m.get("dmcp_connections_open", 0))
        if (fds_e <= base["fds"] and end_vals[2] <= base["sessions"] and
                end_vals[3] <= base["sse"] and end_vals[4] <= base["conns"]):
            break
        time.sleep(1.0)
    drained_in = time.monotonic() - t_drain
    final_metrics = scrape(mport) if not crashed else {}
    if end_vals:
        samples.append(("end", now(), end_vals[0], end_vals[1], end_vals[2], end_vals[3],
                        end_vals[4], os.getloadavg()[0]))

    # stop the server: SIGTERM, exit 0 (LeakSanitizer runs at exit in a sanitized build)
    rc = server.poll()
    if rc is None:
        server.send_signal(signal.SIGTERM)
        try:
            rc = server.wait(timeout=120)
        except subprocess.TimeoutExpired:
            rc = "hung"
    stderr_text = open(err_path, errors="replace").read()
    reports = sorted(glob.glob(asan_prefix + "*"))

    # ---- figures ----
    print("\n================ soak summary ================")
    print(f"mode: {'short' if a.short else f'{T / 60:g} min'}, server {a.server}"
          f" ({'ASan+UBSan' if a.sanitized else 'not sanitized'}), load {T} s, warm-up {warm} s")
    print("limits: " + " ".join(f"{k}={v}" for k, v in limits.items()))
    print("\nwrk load per phase (POST tools/call echo, 32 sessions, 16 connections):")
    print(f"  {'phase':<12} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8}  statuses / socket errors")
    total_wrk = {}
    for r in wrk_results:
        secs = r["duration_us"] / 1e6 or 1
        errs = {k: v for k, v in r["errors"].items() if v}
        print(f"  {r['phase']:<12} {r['requests']:>9} {r['requests'] / secs:>8.0f} "
              f"{r['p50_us'] / 1000:>8.2f} {r['p99_us'] / 1000:>8.2f} {r['max_us'] / 1000:>8.1f}"
              f"  {r['status']} {errs or ''}")
        for k, v in r["status"].items():
            total_wrk[k] = total_wrk.get(k, 0) + v
        if r["no_retry_after"]:
            tally.bad("refusals", f"wrk {r['phase']}: {r['no_retry_after']} 429/503 without "
                                  "Retry-After")
        if r["bad_body"]:
            tally.bad("refusals", f"wrk {r['phase']}: {r['bad_body']} 200s without the echo")
        for k, v in r["status"].items():
            if int(k) not in (200, 429, 503):
                tally.bad("refusals", f"wrk {r['phase']}: {v} answers {k}")
        if errs:
            tally.bad("refusals", f"wrk {r['phase']}: socket errors {errs}")
    print("\nanswers by client (status: count):")
    by_client = {}
    for (cl, st), n in sorted(tally.status.items()):
        by_client.setdefault(cl, []).append(f"{st}: {n}")
    by_client["wrk"] = [f"{k}: {v}" for k, v in sorted(total_wrk.items())]
    for cl, v in sorted(by_client.items()):
        print(f"  {cl:<10} " + ", ".join(v))
    print("events: " + ", ".join(f"{cl} {ev}: {n}" for (cl, ev), n in sorted(tally.events.items())))
    fm = final_metrics
    print("\nfrom /metrics at the end:")
    print("  requests by status:   " + json.dumps(family(fm, "dmcp_http_requests_total", "status")))
    print("  limit refusals:       " + json.dumps(family(fm, "dmcp_limit_refusals_total", "limit")))
    flooded = tally.events.get(("flood", "closed at accept"), 0)
    if flooded and not family(fm, "dmcp_limit_refusals_total", "limit").get("per_ip_connections"):
        print(f"  SERVER DEFECT: {flooded} flood connections were closed at accept by "
              "max-connections-per-ip, but dmcp_limit_refusals_total{limit=\"per_ip_connections\"}"
              " did not count them")
    print("  token validations:    " + json.dumps(family(fm, "dmcp_token_validations_total",
                                                          "outcome,reason")))
    print("  token cache hits/misses: "
          f"{fm.get('dmcp_token_cache_hits_total', 0):.0f}/"
          f"{fm.get('dmcp_token_cache_misses_total', 0):.0f}")
    print("  JWKS fetches:         " + json.dumps(family(fm, "dmcp_jwks_fetches_total", "outcome"))
          + f"; the issuer served the JWKS {keys.served}")
    print("\nserver process, and the machine's 1-minute load average (2 shared cores):")
    print(f"  {'sample':<9} {'time':>7} {'RSS MiB':>8} {'fds':>5} {'sess.':>6} {'SSE':>4} "
          f"{'conns':>5} {'load':>5}")
    for label, t, rss, fds, ses, sse_n, cn, la in samples:
        print(f"  {label:<9} {t:>6.0f}s {rss / 1024:>8.1f} {fds:>5} {ses:>6.0f} {sse_n:>4.0f} "
              f"{cn:>5.0f} {la:>5.1f}")
    print(f"drained (fds/sessions/streams/connections at their start values) in "
          f"{drained_in:.1f} s")
    for gen, took, bound in rotations:
        print(f"rotation soak-g{gen}: " + (f"valid {took:.1f} s after publication"
                                           if took is not None else "never validated") +
              f" (bound {bound:.0f} s: cooldown {COOLDOWN} s + slow JWKS + 5 s)")

    # ---- criteria ----
    def crit(name, ok, detail):
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")
        if not ok:
            failures.append(name)

    print("\ncriteria:")
    crit("no crash", rc == 0, f"SIGTERM exit status {rc}")
    if a.sanitized:
        san = [p for p in reports] + (["stderr"] if any(
            s in stderr_text for s in ("AddressSanitizer", "LeakSanitizer", "runtime error:"))
            else [])
        crit("no sanitizer report", not san, "none" if not san else f"reports: {san}")
        for p in reports[:3]:
            print(open(p, errors="replace").read()[:4000])
    else:
        print("  n/a   no sanitizer report: the server is not a sanitized build")
    if warm_rss and end_vals:
        grow = max(last_load[2], end_vals[0]) / warm_rss - 1
        crit("RSS after warm-up grows < 10%", grow < 0.10,
             f"{warm_rss / 1024:.1f} MiB after warm-up, {last_load[2] / 1024:.1f} at the end of "
             f"the load, {end_vals[0] / 1024:.1f} after the drain ({grow * 100:+.1f}%)")
    else:
        crit("RSS after warm-up grows < 10%", False, "no samples")
    if end_vals:
        crit("fds, sessions, streams and connections back to baseline",
             end_vals[1] <= base["fds"] and end_vals[2] <= base["sessions"] and
             end_vals[3] <= base["sse"] and end_vals[4] <= base["conns"],
             f"fds {base['fds']} -> {end_vals[1]}, sessions {base['sessions']:.0f} -> "
             f"{end_vals[2]:.0f}, SSE {base['sse']:.0f} -> {end_vals[3]:.0f}, connections "
             f"{base['conns']:.0f} -> {end_vals[4]:.0f}")
    ref = [v for c_, v in tally.violations if c_ in ("refusals", "load")]
    crit("valid requests refused only by a declared limit (429/503 + Retry-After)", not ref,
         "yes" if not ref else f"{len(ref)} violations, first: {ref[:5]}")
    slow = [v for c_, v in tally.violations if c_ == "slow clients"]
    crit("slow and idle clients closed by their deadlines", not slow,
         "yes" if not slow else f"{len(slow)} violations, first: {slow[:5]}")
    rot_ok = rotations and all(t is not None and t <= b for _, t, b in rotations)
    crit("rotated-in keys validate within the refetch cooldown", bool(rot_ok),
         ", ".join(f"soak-g{g}: {'never' if t is None else f'{t:.1f} s'}"
                   for g, t, _ in rotations) or "no rotation ran")
    if rc != 0 and stderr_text:
        print("server stderr (last 3000 bytes):\n" + stderr_text[-3000:])
    print("==============================================")
    if failures:
        print("SOAK FAILED: " + "; ".join(failures))
        return 1
    print("SOAK PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
