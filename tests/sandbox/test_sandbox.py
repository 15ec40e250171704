#!/usr/bin/python3
"""End-to-end test of `descope-mcp sandbox`, driven from outside over HTTP.

Tokens are verified with PyJWT (Debian's python3-jwt) against the sandbox's published JWKS:
an independent verifier. Every process started here stops by itself (--exit-after, timeouts,
and a kill in `finally`).

usage: test_sandbox.py <path to descope-mcp>
"""
import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.parse

try:
    import jwt  # PyJWT
except ImportError:  # pragma: no cover
    print("SKIP: PyJWT (python3-jwt) not available to /usr/bin/python3")
    sys.exit(77)

BIN = sys.argv[1]
RESOURCE = "http://127.0.0.1:9/mcp"
CAL_SCOPE = "https://www.googleapis.com/auth/calendar.readonly"
FAILURES = []
CHECKS = 0


def check(cond, what):
    global CHECKS
    CHECKS += 1
    if not cond:
        FAILURES.append(what)
        print("FAIL:", what)


class Sandbox:
    def __init__(self, args):
        # stderr goes to a file: an unread pipe could fill up and stall the server.
        self.err = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([BIN, "sandbox", "--exit-after", "90"] + args,
                                     stdout=subprocess.PIPE, stderr=self.err, text=True)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            self.err.seek(0)
            raise SystemExit("sandbox did not start: " + self.err.read())
        self.info = json.loads(line)
        u = urllib.parse.urlsplit(self.info["api_base"])
        self.host, self.port = u.hostname, u.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.seek(0)
        banner = self.err.read()
        check("NOT FOR PRODUCTION" in banner, "the sandbox says it is a development tool")
        check(self.info["management_key"] not in banner and
              self.info["dev_client_secret"] not in banner, "no secret on stderr")
        self.err.close()
        return self.proc.returncode

    def req(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection(self.host, self.port, timeout=5)
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str) and "Content-Type" not in h:
            h["Content-Type"] = "application/x-www-form-urlencoded"
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read().decode()
        c.close()
        try:
            js = json.loads(data)
        except ValueError:
            js = None
        return r.status, r, js, data


def basic(cid, secret):
    return "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode()


def form(**kw):
    return urllib.parse.urlencode(kw)


def path_of(url):
    u = urllib.parse.urlsplit(url)
    return u.path + ("?" + u.query if u.query else "")


def verify(sb, token, aud):
    st, _, jwks, _ = sb.req("GET", path_of(sb.info["jwks_uri"]))
    key = jwt.PyJWK(jwks["keys"][0])
    hdr = jwt.get_unverified_header(token)
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=aud,
                        issuer=sb.info["issuer"], options={"require": ["exp", "iat", "nbf"]})
    return hdr, claims


def test_cli_refusals():
    for bad in ["0.0.0.0:0", "10.1.2.3:0", "example.com:0", "127.0.0.1", "127.0.0.1:99999",
                "[::]:0", "[::ffff:10.0.0.1]:0", "128.0.0.1:0"]:
        p = subprocess.run([BIN, "sandbox", "--listen", bad, "--exit-after", "2"],
                           capture_output=True, text=True, timeout=10)
        check(p.returncode == 2 and p.stdout == "", f"--listen {bad} refused with exit 2")
    p = subprocess.run([BIN, "sandbox", "--bogus", "x"], capture_output=True, text=True,
                       timeout=10)
    check(p.returncode == 2, "unknown option: exit 2")


def test_discovery(sb):
    info = sb.info
    iss = info["issuer"]
    pid, sid = info["project_id"], info["mcp_server_id"]
    check(iss == f"{info['api_base']}/v1/apps/agentic/{pid}/{sid}", "issuer shape")
    check(info["well_known_url"] == iss + "/.well-known/openid-configuration", "well_known_url")
    ipath = urllib.parse.urlsplit(iss).path
    docs = []
    for p in [ipath + "/.well-known/openid-configuration",
              "/.well-known/oauth-authorization-server" + ipath,
              "/.well-known/openid-configuration" + ipath]:
        st, r, js, _ = sb.req("GET", p)
        check(st == 200 and js is not None, f"discovery at {p}")
        check("max-age" in (r.getheader("Cache-Control") or ""), f"discovery max-age at {p}")
        docs.append(js)
    check(docs[0] == docs[1] == docs[2], "the three discovery forms agree")
    d = docs[0]
    check(d["issuer"] == iss, "discovery issuer")
    check(d["jwks_uri"] == f"{info['api_base']}/{pid}/.well-known/jwks.json", "jwks_uri")
    for s in ["calendar.read", "tools.call", "admin.write", "outbound.token.fetch"]:
        check(s in d["scopes_supported"], f"scopes_supported has {s}")
    check(d["code_challenge_methods_supported"] == ["S256"], "S256 only")
    check({"authorization_code", "client_credentials"} <= set(d["grant_types_supported"]),
          "grant types")
    check(d["registration_endpoint"].endswith(f"/v1/mgmt/mcp/client/{pid}/{sid}/register"),
          "registration endpoint")
    st, _, _, _ = sb.req("GET", ipath + "/x/.well-known/openid-configuration")
    check(st == 404, "other issuer paths are 404")
    st, _, _, _ = sb.req("POST", ipath + "/.well-known/openid-configuration", "")
    check(st == 405, "POST on discovery is 405")
    st, r, _, _ = sb.req("OPTIONS", "/oauth2/v1/apps/token")
    check(st == 204 and r.getheader("Access-Control-Allow-Origin") == "*", "CORS preflight")
    # JWKS at both locations, with max-age.
    st1, r1, j1, _ = sb.req("GET", f"/{pid}/.well-known/jwks.json")
    st2, r2, j2, _ = sb.req("GET", f"/v2/keys/{pid}")
    check(st1 == 200 and st2 == 200 and j1 == j2, "JWKS at both locations")
    check(re.search(r"max-age=\d+", r1.getheader("Cache-Control") or "") is not None,
          "JWKS Cache-Control max-age")
    k = j1["keys"][0]
    check(k["kty"] == "RSA" and k["alg"] == "RS256" and k["use"] == "sig" and k["kid"],
          "JWK shape")
    check(len(base64.urlsafe_b64decode(k["n"] + "==")) >= 256, "RSA key >= 2048 bits")
    st, _, _, _ = sb.req("GET", "/Pother/.well-known/jwks.json")
    check(st == 404, "JWKS of another project is 404")


def cc_token(sb, scope, sub=None, cid=None, secret=None, resource=RESOURCE):
    kw = {"grant_type": "client_credentials", "scope": scope, "resource": resource}
    if sub:
        kw["sub"] = sub
    return sb.req("POST", "/oauth2/v1/apps/token", form(**kw), {
        "Authorization": basic(cid or sb.info["dev_client_id"],
                               secret or sb.info["dev_client_secret"])})


def dev_token(sb, sub, scopes, aud=RESOURCE, ttl=None, auth=None):
    body = {"sub": sub, "scopes": scopes, "aud": aud}
    if ttl is not None:
        body["ttl"] = ttl
    return sb.req("POST", "/sandbox/token", body, {
        "Authorization": auth or basic(sb.info["dev_client_id"], sb.info["dev_client_secret"])})


def test_tokens(sb):
    st, r, js, _ = cc_token(sb, "calendar.read tools.call")
    check(st == 200 and js["token_type"] == "Bearer" and js["expires_in"] > 0, "cc token")
    check(r.getheader("Cache-Control") == "no-store", "token response no-store")
    hdr, c = verify(sb, js["access_token"], RESOURCE)
    check(hdr["alg"] == "RS256" and hdr["typ"] == "at+jwt" and hdr["kid"], "token header")
    check(c["sub"] == "sandbox-dev" and c["azp"] == "sandbox-dev" and
          c["client_id"] == "sandbox-dev", "cc subject is the client")
    check(c["scope"] == "calendar.read tools.call" and c["aud"] == RESOURCE, "cc scope/aud")
    check(c["iat"] <= time.time() + 5 and c["exp"] - c["iat"] == 3600 and c["jti"], "times")

    st, _, js, _ = cc_token(sb, "calendar.read", sub="U2alice")
    check(st == 200 and verify(sb, js["access_token"], RESOURCE)[1]["sub"] == "U2alice",
          "dev client chooses sub")
    st, r, js, _ = cc_token(sb, "calendar.read", secret="wrong-secret")
    check(st == 401 and js["error"] == "invalid_client" and r.getheader("WWW-Authenticate"),
          "wrong client secret: 401 invalid_client")
    st, _, js, _ = cc_token(sb, "calendar.read", cid="nobody")
    check(st == 401 and js["error"] == "invalid_client", "unknown client: 401")
    st, _, js, _ = cc_token(sb, "calendar.write")
    check(st == 400 and js["error"] == "invalid_scope", "unsupported scope: invalid_scope")
    st, _, js, _ = cc_token(sb, "calendar.read", resource="not a uri")
    check(st == 400 and js["error"] == "invalid_target", "bad resource: invalid_target")
    st, _, js, _ = cc_token(sb, "calendar.read", sub="U2alice bad")
    check(st == 400, "malformed sub refused")
    st, _, js, _ = sb.req("POST", "/oauth2/v1/apps/token",
                          "grant_type=client_credentials&scope=tools.call&scope=admin.write",
                          {"Authorization": basic(sb.info["dev_client_id"],
                                                  sb.info["dev_client_secret"])})
    check(st == 400 and js["error"] == "invalid_request", "repeated parameter refused")
    st, _, js, _ = sb.req("POST", "/oauth2/v1/apps/token", form(
        grant_type="client_credentials", client_id=sb.info["dev_client_id"],
        client_secret=sb.info["dev_client_secret"], scope="tools.call"))
    check(st == 200, "client_secret_post works")
    st, _, js, _ = sb.req("POST", "/oauth2/v1/apps/token", form(grant_type="password"), {
        "Authorization": basic(sb.info["dev_client_id"], sb.info["dev_client_secret"])})
    check(st == 400 and js["error"] == "unsupported_grant_type", "unsupported grant")

    # A registered (non-dev) confidential client may not pick the subject.
    st, _, reg, _ = sb.req("POST", sb_reg_path(sb), {
        "client_name": "cc app", "grant_types": ["client_credentials"],
        "token_endpoint_auth_method": "client_secret_basic"})
    check(st == 201 and reg["client_secret"], "DCR confidential client")
    st, _, js, _ = cc_token(sb, "tools.call", sub="U2alice", cid=reg["client_id"],
                            secret=reg["client_secret"])
    check(st == 400 and "dev" in js["error_description"], "non-dev client cannot set sub")
    st, _, js, _ = cc_token(sb, "tools.call", cid=reg["client_id"], secret=reg["client_secret"])
    check(st == 200 and verify(sb, js["access_token"], RESOURCE)[1]["sub"] == reg["client_id"],
          "non-dev client gets its own subject")
    st, _, js, _ = dev_token(sb, "U2alice", ["tools.call"],
                             auth=basic(reg["client_id"], reg["client_secret"]))
    check(st == 403, "/sandbox/token refuses non-dev clients")

    # The sandbox-only dev token endpoint.
    st, _, js, _ = dev_token(sb, "U9custom", ["calendar.read", "my.scope"], ttl=120)
    check(st == 200, "dev token")
    hdr, c = verify(sb, js["access_token"], RESOURCE)
    check(c["sub"] == "U9custom" and c["scope"] == "calendar.read my.scope" and
          c["exp"] - c["iat"] == 120 and c["azp"] == "sandbox-dev", "dev token claims")
    st, _, js, _ = dev_token(sb, "U2alice", [], aud=[RESOURCE, "P2other"])
    check(st == 200 and verify(sb, js["access_token"], "P2other")[1]["aud"] ==
          [RESOURCE, "P2other"], "dev token with an audience array")
    st, _, js, _ = sb.req("POST", "/sandbox/token", {"sub": "U2alice"})
    check(st == 401, "dev token needs dev client credentials")
    st, _, js, _ = dev_token(sb, "U2alice", ["x"], ttl=0)
    check(st == 400, "dev token ttl 0 refused")


def sb_reg_path(sb):
    return f"/v1/mgmt/mcp/client/{sb.info['project_id']}/{sb.info['mcp_server_id']}/register"


def outbound(sb, path, body, cred):
    return sb.req("POST", "/v1/mgmt/outbound/app/" + path, body,
                  {"Authorization": f"Bearer {sb.info['project_id']}:{cred}"})


def test_outbound_and_calendar(sb):
    mk = sb.info["management_key"]
    alice = dev_token(sb, "U2alice", ["calendar.read", "outbound.token.fetch"])[2]["access_token"]
    bob = dev_token(sb, "U2bob", ["outbound.token.fetch"])[2]["access_token"]
    noscope = dev_token(sb, "U2alice", ["calendar.read"])[2]["access_token"]
    expired = dev_token(sb, "U2alice", ["outbound.token.fetch"], ttl=-30)[2]["access_token"]
    req = {"appId": "google-calendar", "userId": "U2alice", "scopes": [CAL_SCOPE],
           "options": {}}

    st, _, js, _ = outbound(sb, "user/token", req, alice)
    check(st == 200 and set(js) == {"token"}, "user token with alice's access token")
    t = js["token"]
    check(t["appId"] == "google-calendar" and t["userId"] == "U2alice" and
          t["scopes"] == [CAL_SCOPE] and t["accessToken"] and "refreshToken" not in t and
          t["hasRefreshToken"] is True, "token object fields")
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", t["accessTokenExpiry"]) is not None,
          "accessTokenExpiry is RFC 3339")
    conn_token = t["accessToken"]
    st, _, js, _ = outbound(sb, "user/token/latest",
                            {"appId": "google-calendar", "userId": "U2alice", "options": {}},
                            alice)
    check(st == 200 and js["token"]["accessToken"] == conn_token, "latest user token")
    st, _, js, _ = outbound(sb, "user/token/latest", req, alice)
    check(st == 400 and js["errorCode"], "latest refuses the scopes field")
    st, _, js, _ = outbound(sb, "user/token", dict(req, userId="U2bob"), alice)
    check(st == 403 and js["errorCode"] == "E011004", "another user's id: 403")
    st, _, js, _ = outbound(sb, "user/token", req, noscope)
    check(st == 403 and "outbound.token.fetch" in js["errorMessage"],
          "without outbound.token.fetch: 403")
    st, _, js, _ = outbound(sb, "user/token", req, "garbage.token.here")
    check(st == 401 and set(js) == {"errorCode", "errorDescription", "errorMessage"},
          "garbage token: 401 with Descope error body")
    st, _, js, _ = outbound(sb, "user/token", req, expired)
    check(st == 401, "expired token: 401")
    h, p, s = alice.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    claims["sub"] = "U2bob"
    forged_p = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    st, _, js, _ = outbound(sb, "user/token", dict(req, userId="U2bob"), f"{h}.{forged_p}.{s}")
    check(st == 401, "tampered payload: 401")
    st, _, js, _ = sb.req("POST", "/v1/mgmt/outbound/app/user/token", req,
                          {"Authorization": f"Bearer P2wrong:{alice}"})
    check(st == 401, "wrong project id in bearer: 401")
    st, _, js, _ = sb.req("POST", "/v1/mgmt/outbound/app/user/token", req,
                          {"Authorization": f"Bearer {alice}"})
    check(st == 401, "bearer without project id: 401")
    st, _, js, _ = sb.req("POST", "/v1/mgmt/outbound/app/user/token", req)
    check(st == 401, "no Authorization: 401")
    st, _, js, _ = outbound(sb, "user/token", dict(req, userId="U2bob"), bob)
    check(st == 404 and js["errorCode"] == "E111504", "bob not connected: 404 E111504")
    st, _, js, _ = outbound(sb, "user/token", dict(req, scopes=[CAL_SCOPE, "more"]), alice)
    check(st == 404, "scopes beyond the connection's: 404")
    st, _, js, _ = outbound(sb, "user/token", dict(req, extra=1), alice)
    check(st == 400, "unknown body field: 400")
    st, _, js, _ = outbound(sb, "user/token", dict(req, userId="U2bob"), mk)
    check(st == 404, "management key, bob: 404")
    st, _, js, _ = outbound(sb, "user/token", req, mk)
    check(st == 200 and js["token"]["accessToken"] == conn_token, "management key, alice")
    st, _, js, _ = outbound(sb, "user/token", req, mk[:-1] + ("0" if mk[-1] != "0" else "1"))
    check(st == 401, "wrong management key: 401")
    treq = {"appId": "google-calendar", "tenantId": "T2acme", "scopes": [CAL_SCOPE],
            "options": {}}
    st, _, js, _ = outbound(sb, "tenant/token", treq, mk)
    check(st == 200 and js["token"]["tenantId"] == "T2acme", "tenant token, management key")
    st, _, js, _ = outbound(sb, "tenant/token/latest",
                            {"appId": "google-calendar", "tenantId": "T2acme", "options": {}}, mk)
    check(st == 200, "latest tenant token")
    st, _, js, _ = outbound(sb, "tenant/token", treq, alice)
    check(st == 403, "tenant token with an access token: 403")
    st, _, js, _ = sb.req("GET", "/v1/mgmt/outbound/apps-with-user-token?userId=U2alice", None,
                          {"Authorization": f"Bearer {sb.info['project_id']}:{alice}"})
    check(st == 200 and js == {"appIds": ["google-calendar"]}, "connected apps of alice")
    st, _, js, _ = sb.req("GET", "/v1/mgmt/outbound/apps-with-user-token?userId=U2bob", None,
                          {"Authorization": f"Bearer {sb.info['project_id']}:{alice}"})
    check(st == 403, "alice may not list bob's apps")

    # The calendar API takes the connection token, and nothing else.
    cal = "/calendar/v3/calendars/primary/events"
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    q = f"?timeMin={now}&maxResults=3&orderBy=startTime&singleEvents=true"
    st, _, js, _ = sb.req("GET", cal + q, None, {"Authorization": "Bearer " + conn_token})
    check(st == 200 and js["kind"] == "calendar#events" and len(js["items"]) == 3,
          "calendar with the connection token")
    ev = js["items"][0]
    check(ev["summary"] and ev["start"]["dateTime"] >= now and ev["end"]["dateTime"] and
          ev["id"], "event shape, after timeMin")
    st, r, js, _ = sb.req("GET", cal + q, None, {"Authorization": "Bearer " + alice})
    check(st == 401 and r.getheader("WWW-Authenticate"), "calendar refuses the MCP token")
    st, _, _, _ = sb.req("GET", cal + q)
    check(st == 401, "calendar refuses no token")
    st, _, js, _ = sb.req("GET", cal + "?timeMin=2999-01-01T00:00:00Z", None,
                          {"Authorization": "Bearer " + conn_token})
    check(st == 200 and js["items"] == [], "timeMin filters")
    st, _, _, _ = sb.req("GET", cal + "?maxResults=0", None,
                         {"Authorization": "Bearer " + conn_token})
    check(st == 400, "maxResults 0 refused")

    # forceRefresh rotates the connection token; the old one stops working.
    st, _, js, _ = outbound(sb, "user/token",
                            dict(req, options={"forceRefresh": True, "withRefreshToken": True}),
                            alice)
    check(st == 200 and js["token"]["accessToken"] != conn_token and
          js["token"]["refreshToken"], "forceRefresh rotates; withRefreshToken adds it")
    st, _, _, _ = sb.req("GET", cal, None, {"Authorization": "Bearer " + conn_token})
    check(st == 401, "the rotated-out connection token is refused")
    st, _, _, _ = sb.req("GET", cal, None,
                         {"Authorization": "Bearer " + js["token"]["accessToken"]})
    check(st == 200, "the new connection token works")

    # Bob connects through the connect URL, then can fetch.
    st, _, js, _ = outbound(sb, "connect", {"appId": "google-calendar", "options": {
        "redirectUrl": "http://127.0.0.1:9/done"}}, bob)
    check(st == 200 and js["url"].startswith(sb.info["api_base"] + "/sandbox/connect?"),
          "connect URL")
    st, _, _, page = sb.req("GET", path_of(js["url"]))
    m = re.search(r'name=ticket value="([^"]+)"', page)
    check(st == 200 and m is not None, "connect page")
    st, r, _, _ = sb.req("POST", "/sandbox/connect", form(ticket=m.group(1)))
    check(st == 302 and r.getheader("Location") == "http://127.0.0.1:9/done", "connect done")
    st, _, _, _ = sb.req("POST", "/sandbox/connect", form(ticket=m.group(1)))
    check(st == 400, "a connect ticket is single-use")
    st, _, js, _ = outbound(sb, "user/token", dict(req, userId="U2bob"), bob)
    check(st == 200 and js["token"]["userId"] == "U2bob", "bob connected now")
    st, _, js, _ = outbound(sb, "connect", {"appId": "google-calendar"}, mk)
    check(st == 400, "connect with the management key needs a tenant")


def test_connection_token_cli(sb, tmp):
    """The library's connection client (descope-mcp connection-token) against the sandbox."""
    def tokfile(name, sub, scopes):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(dev_token(sb, sub, scopes)[2]["access_token"])
        return path

    alice = tokfile("alice", "U2alice", ["calendar.read", "outbound.token.fetch"])
    carol = tokfile("carol", "U2carol", ["outbound.token.fetch"])
    noscope = tokfile("noscope", "U2alice", ["calendar.read"])
    env = dict(os.environ, SBX_MK=sb.info["management_key"])

    def run(*args):
        p = subprocess.run([BIN, "connection-token", "--well-known-url", sb.info["well_known_url"],
                            "--app-id", "google-calendar"] + list(args),
                           capture_output=True, text=True, timeout=20, env=env)
        return p.returncode, p.stdout

    rc, out = run("--user-id", "U2alice", "--scope", CAL_SCOPE, "--access-token-file", alice)
    check(rc == 0 and json.loads(out)["accessToken"].startswith("sbx-conn-"),
          "connection-token CLI: alice's token (exit 0)")
    rc, out = run("--user-id", "U2carol", "--access-token-file", carol)
    check(rc == 5, f"connection-token CLI: not connected (exit 5, got {rc})")
    rc, out = run("--user-id", "U2bob", "--access-token-file", alice)
    check(rc == 6, f"connection-token CLI: another user (exit 6, got {rc})")
    rc, out = run("--user-id", "U2alice", "--access-token-file", noscope)
    check(rc == 6, f"connection-token CLI: no outbound.token.fetch (exit 6, got {rc})")
    rc, out = run("--tenant-id", "T2acme", "--scope", CAL_SCOPE, "--management-key-env", "SBX_MK")
    check(rc == 0 and json.loads(out)["tenantId"] == "T2acme",
          "connection-token CLI: tenant token with the management key")


def test_validate_cli(sb):
    """The library's validator through discovery (descope-mcp validate --well-known-url)."""
    def run(token, *args):
        p = subprocess.run([BIN, "validate", "--well-known-url", sb.info["well_known_url"],
                            "--audience", RESOURCE] + list(args) + ["-"], input=token,
                           capture_output=True, text=True, timeout=20)
        return p.returncode, p.stdout

    good = cc_token(sb, "calendar.read tools.call", sub="U2alice")[2]["access_token"]
    rc, out = run(good, "--require-scope", "calendar.read")
    check(rc == 0, f"validate CLI accepts a sandbox token via discovery (got {rc}: {out})")
    rc, _ = run(good, "--require-scope", "admin.write")
    check(rc == 3, f"validate CLI: missing scope is exit 3 (got {rc})")
    other = dev_token(sb, "U2alice", ["tools.call"], aud="http://127.0.0.1:9/other")[2]
    rc, _ = run(other["access_token"])
    check(rc == 1, f"validate CLI: wrong audience is exit 1 (got {rc})")
    expired = dev_token(sb, "U2alice", ["tools.call"], ttl=-60)[2]["access_token"]
    rc, _ = run(expired)
    check(rc == 1, f"validate CLI: expired is exit 1 (got {rc})")


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def authorize(sb, client_id, redirect, challenge, user="U2alice", action="approve", **extra):
    q = dict(response_type="code", client_id=client_id, redirect_uri=redirect,
             code_challenge=challenge, code_challenge_method="S256", state="st&1",
             scope="calendar.read outbound.token.fetch", resource=RESOURCE)
    q.update(extra)
    q = {k: v for k, v in q.items() if v is not None}
    st, r, _, page = sb.req("GET", "/oauth2/v1/apps/authorize?" + form(**q))
    if st != 200:
        return st, r, None
    m = re.search(r'name=request value="([^"]+)"', page)
    st, r, _, _ = sb.req("POST", "/oauth2/v1/apps/authorize",
                         form(request=m.group(1), user=user, action=action))
    return st, r, page


def code_of(r):
    loc = urllib.parse.urlsplit(r.getheader("Location"))
    return dict(urllib.parse.parse_qsl(loc.query)), loc


def test_authorization_code(sb):
    redirect = "http://127.0.0.1:9/cb"
    st, _, reg, _ = sb.req("POST", sb_reg_path(sb), {
        "client_name": "Inspector <b>", "redirect_uris": [redirect],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none"})
    check(st == 201 and "client_secret" not in reg and reg["redirect_uris"] == [redirect],
          "DCR public client")
    cid = reg["client_id"]
    st, _, js, _ = sb.req("POST", sb_reg_path(sb), {"redirect_uris": ["http://evil.example/cb"]})
    check(st == 400 and js["error"] == "invalid_redirect_uri", "DCR: http non-loopback refused")
    st, _, js, _ = sb.req("POST", sb_reg_path(sb), {"redirect_uris": []})
    check(st == 400, "DCR: no redirect URIs refused")

    verifier, challenge = pkce()
    st, r, page = authorize(sb, cid, redirect, challenge)
    check(page is not None and "Inspector &lt;b&gt;" in page and "Inspector <b>" not in page,
          "consent page escapes the client name")
    check(st == 302, "approve redirects")
    params, loc = code_of(r)
    check(loc.netloc == "127.0.0.1:9" and loc.path == "/cb" and params.get("state") == "st&1"
          and params.get("iss") == sb.info["issuer"] and params.get("code"),
          "redirect carries code, state and iss")
    tok = lambda code, v, ru=redirect, c=cid: sb.req("POST", "/oauth2/v1/apps/token", form(
        grant_type="authorization_code", code=code, code_verifier=v, redirect_uri=ru,
        client_id=c, resource=RESOURCE))
    st, _, js, _ = tok(params["code"], pkce()[0])
    check(st == 400 and js["error"] == "invalid_grant", "wrong code_verifier: invalid_grant")
    st, _, js, _ = tok(params["code"], verifier)
    check(st == 400 and js["error"] == "invalid_grant", "a code is single-use (even on failure)")

    st, r, _ = authorize(sb, cid, redirect, challenge)
    code = code_of(r)[0]["code"]
    st, _, js, _ = tok(code, verifier, ru=redirect + "x")
    check(st == 400 and js["error"] == "invalid_grant", "redirect_uri mismatch refused")
    st, r, _ = authorize(sb, cid, redirect, challenge)
    code = code_of(r)[0]["code"]
    st, _, js, _ = tok(code, verifier, c="sandbox-dev")
    check(st == 401, "another client cannot redeem without its secret")
    st, r, _ = authorize(sb, cid, redirect, challenge, user="U2bob")
    code = code_of(r)[0]["code"]
    st, _, js, _ = tok(code, verifier)
    check(st == 200, "code + PKCE exchange")
    hdr, c = verify(sb, js["access_token"], RESOURCE)
    check(c["sub"] == "U2bob" and c["azp"] == cid and
          c["scope"] == "calendar.read outbound.token.fetch", "authorization_code claims")
    st, _, js, _ = tok(code, verifier)
    check(st == 400, "code replay refused")

    st, r, _ = authorize(sb, cid, redirect, challenge, action="deny")
    check(st == 302 and code_of(r)[0].get("error") == "access_denied", "deny: access_denied")
    st, r, _ = authorize(sb, cid, redirect, None, code_challenge_method=None)
    check(st == 302 and code_of(r)[0].get("error") == "invalid_request", "PKCE required")
    st, r, _ = authorize(sb, cid, redirect, challenge, code_challenge_method="plain")
    check(st == 302 and code_of(r)[0].get("error") == "invalid_request", "plain PKCE refused")
    st, r, _ = authorize(sb, cid, "http://127.0.0.1:9/other", challenge)
    check(st == 400 and r.getheader("Location") is None,
          "unregistered redirect_uri: error page, no redirect")
    st, r, _ = authorize(sb, "unknown", redirect, challenge)
    check(st == 400 and r.getheader("Location") is None, "unknown client: error page")
    st, r, _ = authorize(sb, cid, redirect, challenge, scope="root")
    check(st == 302 and code_of(r)[0].get("error") == "invalid_scope", "unknown scope")
    st, r, _ = authorize(sb, cid, redirect, challenge, user="U2mallory")
    check(st == 400, "unknown user refused")
    # The dev client may use any loopback redirect URI (RFC 8252 §7.3).
    st, r, _ = authorize(sb, "sandbox-dev", "http://localhost:6274/oauth/callback", challenge)
    check(st == 302 and code_of(r)[0].get("code"), "dev client, loopback redirect")


def main():
    test_cli_refusals()
    tmp = tempfile.mkdtemp(prefix="dmcp-sandbox-")
    state = os.path.join(tmp, "state.json")
    sb = Sandbox(["--listen", "127.0.0.1:0", "--state", state])
    try:
        check(stat.S_IMODE(os.stat(state).st_mode) == 0o600, "state file mode 0600")
        test_discovery(sb)
        test_tokens(sb)
        test_outbound_and_calendar(sb)
        test_authorization_code(sb)
        test_connection_token_cli(sb, tmp)
        test_validate_cli(sb)
        kid = sb.req("GET", path_of(sb.info["jwks_uri"]))[2]["keys"][0]["kid"]
        info1 = sb.info
    finally:
        rc = sb.stop()
    check(rc == 0, "SIGTERM: clean exit 0")

    # The state file keeps keys, ids, registered clients and new connections.
    st_json = json.load(open(state))
    check(stat.S_IMODE(os.stat(state).st_mode) == 0o600, "state file still 0600")
    check(any(c["app_id"] == "google-calendar"
              for u in st_json["users"] if u["id"] == "U2bob" for c in u["connections"]),
          "bob's connection persisted")
    sb = Sandbox(["--listen", "127.0.0.1:0", "--state", state])
    try:
        kid2 = sb.req("GET", path_of(sb.info["jwks_uri"]))[2]["keys"][0]["kid"]
        check(kid2 == kid and sb.info["management_key"] == info1["management_key"],
              "restart with --state keeps the key and management key")
        bob = dev_token(sb, "U2bob", ["outbound.token.fetch"])[2]["access_token"]
        st, _, _, _ = outbound(sb, "user/token/latest",
                               {"appId": "google-calendar", "userId": "U2bob", "options": {}},
                               bob)
        check(st == 200, "bob still connected after restart")
    finally:
        sb.stop()

    # Without --state everything is new per run.
    sb = Sandbox(["--listen", "127.0.0.1:0"])
    try:
        kid3 = sb.req("GET", path_of(sb.info["jwks_uri"]))[2]["keys"][0]["kid"]
        check(kid3 != kid and sb.info["state_file"] is None, "no --state: fresh keys")
    finally:
        sb.stop()

    # A corrupt state file is refused, not overwritten.
    bad = os.path.join(tmp, "bad.json")
    with open(bad, "w") as f:
        f.write('{"version": 1, "project_id": "P:x"}')
    p = subprocess.run([BIN, "sandbox", "--listen", "127.0.0.1:0", "--state", bad,
                        "--exit-after", "2"], capture_output=True, text=True, timeout=10)
    check(p.returncode == 2 and open(bad).read().startswith('{"version": 1'),
          "malformed state refused and left alone")

    # --exit-after stops it by itself.
    t0 = time.time()
    p = subprocess.run([BIN, "sandbox", "--listen", "127.0.0.1:0", "--exit-after", "1"],
                       capture_output=True, text=True, timeout=15)
    check(p.returncode == 0 and time.time() - t0 < 10, "--exit-after stops the sandbox")

    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
    print(f"{CHECKS - len(FAILURES)}/{CHECKS} checks passed")
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
