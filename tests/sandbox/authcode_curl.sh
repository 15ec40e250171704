#!/usr/bin/env bash
# Authorization code + PKCE (S256) against `descope-mcp sandbox`, driven with curl only:
# register a public client (RFC 7591), load the consent page, approve as U2alice, exchange the
# code, then use the token at the connections API and show that the calendar API refuses it.
# Everything started here stops by itself (--exit-after, curl --max-time, trap).
# usage: authcode_curl.sh <path to descope-mcp>
set -euo pipefail
BIN=$1
PY=/usr/bin/python3
tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
j() { $PY -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }
c() { curl -sS --noproxy '*' --max-time 5 "$@"; }

"$BIN" sandbox --listen 127.0.0.1:0 --exit-after 60 >"$tmp/ready" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do [ -s "$tmp/ready" ] && break; sleep 0.05; done
[ -s "$tmp/ready" ] || fail "sandbox not ready: $(cat "$tmp/err")"
ready=$(head -1 "$tmp/ready")
API=$(j 'd["api_base"]' <<<"$ready")
WK=$(j 'd["well_known_url"]' <<<"$ready")
P=$(j 'd["project_id"]' <<<"$ready")
RES=http://127.0.0.1:9/mcp
CB=http://127.0.0.1:9/callback

meta=$(c "$WK")
REG=$(j 'd["registration_endpoint"]' <<<"$meta")
AUTHZ=$(j 'd["authorization_endpoint"]' <<<"$meta")
TOKEN=$(j 'd["token_endpoint"]' <<<"$meta")

client=$(c -H 'Content-Type: application/json' \
  -d "{\"client_name\":\"curl\",\"redirect_uris\":[\"$CB\"],\"token_endpoint_auth_method\":\"none\"}" "$REG")
CID=$(j 'd["client_id"]' <<<"$client")

verifier=$(head -c 48 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
# S256 (RFC 7636 §4.2) computed by Python: the openssl CLI is not a project dependency.
challenge=$($PY -c 'import base64, hashlib, sys
print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).decode().rstrip("="))' "$verifier")

page=$(c -G "$AUTHZ" --data-urlencode response_type=code --data-urlencode "client_id=$CID" \
  --data-urlencode "redirect_uri=$CB" --data-urlencode "code_challenge=$challenge" \
  --data-urlencode code_challenge_method=S256 --data-urlencode state=xyz \
  --data-urlencode 'scope=calendar.read outbound.token.fetch' --data-urlencode "resource=$RES")
req=$(grep -o 'name=request value="[^"]*"' <<<"$page" | sed 's/.*value="\(.*\)"/\1/')
[ -n "$req" ] || fail "no consent request id in the page"

loc=$(c -o /dev/null -w '%{redirect_url}' -d "request=$req&user=U2alice&action=approve" "$AUTHZ")
case "$loc" in "$CB?code="*"&state=xyz&iss="*) ;; *) fail "bad redirect: $loc" ;; esac
code=$(sed 's/.*[?&]code=\([^&]*\).*/\1/' <<<"$loc")

# A wrong verifier burns the code (single use); a fresh code with the right one works.
st=$(c -o /dev/null -w '%{http_code}' -d grant_type=authorization_code -d "code=$code" \
  -d "code_verifier=${verifier}x" -d "redirect_uri=$CB" -d "client_id=$CID" "$TOKEN")
[ "$st" = 400 ] || fail "wrong verifier gave $st"
page=$(c -G "$AUTHZ" --data-urlencode response_type=code --data-urlencode "client_id=$CID" \
  --data-urlencode "redirect_uri=$CB" --data-urlencode "code_challenge=$challenge" \
  --data-urlencode code_challenge_method=S256 \
  --data-urlencode 'scope=calendar.read outbound.token.fetch' --data-urlencode "resource=$RES")
req=$(grep -o 'name=request value="[^"]*"' <<<"$page" | sed 's/.*value="\(.*\)"/\1/')
loc=$(c -o /dev/null -w '%{redirect_url}' -d "request=$req&user=U2alice&action=approve" "$AUTHZ")
code=$(sed 's/.*[?&]code=\([^&]*\).*/\1/' <<<"$loc")
tok=$(c -d grant_type=authorization_code -d "code=$code" -d "code_verifier=$verifier" \
  -d "redirect_uri=$CB" -d "client_id=$CID" --data-urlencode "resource=$RES" "$TOKEN")
AT=$(j 'd["access_token"]' <<<"$tok")
[ "$(j 'd["scope"]' <<<"$tok")" = "calendar.read outbound.token.fetch" ] || fail "scope: $tok"

# PyJWT checks the token against the JWKS (independent verifier).
JWKS=$(c "$(j 'd["jwks_uri"]' <<<"$meta")")
sub=$(JWKS="$JWKS" AT="$AT" ISS="$(j 'd["issuer"]' <<<"$meta")" RES="$RES" $PY -c '
import json, os, jwt
k = jwt.PyJWK(json.loads(os.environ["JWKS"])["keys"][0])
c = jwt.decode(os.environ["AT"], k.key, algorithms=["RS256"], audience=os.environ["RES"],
               issuer=os.environ["ISS"])
print(c["sub"])')
[ "$sub" = U2alice ] || fail "sub $sub"

# The token fetches Alice's calendar connection; the calendar takes that, not the MCP token.
conn=$(c -H "Authorization: Bearer $P:$AT" -H 'Content-Type: application/json' \
  -d '{"appId":"google-calendar","userId":"U2alice","scopes":["https://www.googleapis.com/auth/calendar.readonly"],"options":{}}' \
  "$API/v1/mgmt/outbound/app/user/token")
CT=$(j 'd["token"]["accessToken"]' <<<"$conn")
n=$(c -H "Authorization: Bearer $CT" "$API/calendar/v3/calendars/primary/events?maxResults=2" | j 'len(d["items"])')
[ "$n" = 2 ] || fail "calendar items: $n"
st=$(c -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $AT" "$API/calendar/v3/calendars/primary/events")
[ "$st" = 401 ] || fail "calendar accepted the MCP token ($st)"
echo "authorization code + PKCE with curl: ok"
