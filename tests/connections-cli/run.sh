#!/usr/bin/env bash
# Contract test of `descope-mcp connection-token` (exit codes, stdout JSON, secrets) against
# fake_descope. Every process started here is bounded (timeout, --lifetime) and stopped on exit.
set -u
CLI=$1
FAKE=$2
work=$(mktemp -d)
fpid=
cleanup() {
    if [ -n "$fpid" ]; then kill "$fpid" 2>/dev/null; wait "$fpid" 2>/dev/null; fi
    rm -rf "$work"
}
trap cleanup EXIT

export FAKE_PROJECT_ID=P2fakeproj
export FAKE_ACCESS_TOKEN=eyJ.mcp-access-SECRETTOKEN-0123456789.sig
export FAKE_MANAGEMENT_KEY=K2-management-SECRETKEY-abcdef
export CLI_TEST_MGMT_KEY=$FAKE_MANAGEMENT_KEY
unset DESCOPE_BASE_URL
# an environment proxy must not capture the loopback fake
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost

"$FAKE" --port-file "$work/port" --lifetime 600 &
fpid=$!
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { echo "fake did not start"; exit 1; }
port=$(cat "$work/port")
WK="http://127.0.0.1:$port/v1/apps/agentic/$FAKE_PROJECT_ID/MS2srv/.well-known/openid-configuration"
printf '%s\n' "$FAKE_ACCESS_TOKEN" >"$work/at"
printf 'wrong-token\n' >"$work/bad"
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')

pass=0
fail=0
# run NAME EXPECTED_EXIT ARGS... ; leaves stdout in $work/out
run() {
    local name=$1 want=$2
    shift 2
    timeout 30 "$CLI" connection-token "$@" >"$work/out" 2>"$work/err"
    local rc=$?
    local ok=1
    if [ "$rc" != "$want" ]; then
        echo "FAIL $name: exit $rc, want $want"; sed 's/^/  stderr: /' "$work/err"; ok=0
    fi
    if grep -q -e "SECRETTOKEN" -e "SECRETKEY" "$work/out" "$work/err"; then
        echo "FAIL $name: a credential appears in the output"; ok=0
    fi
    if [ $ok = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
    return $((1 - ok))
}
# jcheck NAME PYTHON-EXPR over j = json of $work/out
jcheck() {
    if python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
        "$work/out" "$2"; then
        pass=$((pass + 1))
    else
        echo "FAIL $1: $2"; sed 's/^/  stdout: /' "$work/out"; fail=$((fail + 1))
    fi
}

A=(--well-known-url "$WK" --access-token-file "$work/at")
M=(--well-known-url "$WK" --management-key-env CLI_TEST_MGMT_KEY)

# --- exit 0: the four variants with both credentials
for cred in A M; do
    declare -n C=$cred
    run "user scopes $cred" 0 "${C[@]}" --app-id ok --user-id U1 --scope s1 --scope s2 &&
        jcheck "user scopes $cred" 'j["accessToken"]=="conn-token-for-U1" and j["id"]=="/user/token" and j["scopes"]==["s1","s2"] and j["userId"]=="U1" and "tenantId" not in j'
    run "user latest $cred" 0 "${C[@]}" --app-id ok --user-id U1 &&
        jcheck "user latest $cred" 'j["id"]=="/user/token/latest" and j["scopes"]==[]'
    run "user in tenant $cred" 0 "${C[@]}" --app-id ok --user-id U1 --tenant-id T1 --scope s1 &&
        jcheck "user in tenant $cred" 'j["id"]=="/user/token" and j["userId"]=="U1" and j["tenantId"]=="T1"'
    run "tenant scopes $cred" 0 "${C[@]}" --app-id ok --tenant-id T1 --scope s1 &&
        jcheck "tenant scopes $cred" 'j["id"]=="/tenant/token" and j["accessToken"]=="conn-token-for-T1" and "userId" not in j'
    run "tenant latest $cred" 0 "${C[@]}" --app-id ok --tenant-id T1 &&
        jcheck "tenant latest $cred" 'j["id"]=="/tenant/token/latest"'
    unset -n C
done
run "options" 0 "${A[@]}" --app-id ok --user-id U1 --with-refresh-token --force-refresh &&
    jcheck "options" 'j["hasRefreshToken"] is True and j["refreshToken"]=="refresh-for-test" and j["externalIdentifier"]=="forced"'
run "no options" 0 "${A[@]}" --app-id ok --user-id U1 &&
    jcheck "no options" 'j["hasRefreshToken"] is False and "refreshToken" not in j and j["externalIdentifier"]=="cached"'
# the API base: --api-base, then DESCOPE_BASE_URL, then the well-known URL's origin
WKC="http://127.0.0.1:$closed/$FAKE_PROJECT_ID/.well-known/openid-configuration"
run "api-base option" 0 --well-known-url "$WKC" --access-token-file "$work/at" --app-id ok --user-id U1 --api-base "http://127.0.0.1:$port/"
DESCOPE_BASE_URL="http://127.0.0.1:$port" run "DESCOPE_BASE_URL" 0 --well-known-url "$WKC" --access-token-file "$work/at" --app-id ok --user-id U1
# a token file without a trailing newline
printf '%s' "$FAKE_ACCESS_TOKEN" >"$work/at2"
run "token file without newline" 0 --well-known-url "$WK" --access-token-file "$work/at2" --app-id ok --user-id U1

# --- API errors
run "not connected" 5 "${A[@]}" --app-id notconnected --user-id U1 --scope s &&
    jcheck "not connected" 'j["error"]=="not_connected" and j["status"]==404 and j["errorCode"]=="E111504"'
run "denied 403" 6 "${A[@]}" --app-id denied --user-id U1 &&
    jcheck "denied 403" 'j["error"]=="policy_denied" and j["status"]==403'
run "denied 401" 6 "${A[@]}" --app-id unauthorized --tenant-id T1
run "wrong credential" 6 --well-known-url "$WK" --access-token-file "$work/bad" --app-id ok --user-id U1
run "rate limited" 7 "${M[@]}" --app-id ratelimited --user-id U1 &&
    jcheck "rate limited" 'j["error"]=="rate_limited" and j["status"]==429 and j["retryAfter"]==9'
run "upstream 500" 1 "${A[@]}" --app-id broken --user-id U1 &&
    jcheck "upstream 500" 'j["error"]=="upstream" and j["status"]==500 and j["errorCode"]=="E011002" and j["errorDescription"]=="Request is invalid" and j["errorMessage"]=="Something broke"'
run "non-JSON error" 1 "${A[@]}" --app-id nojson --user-id U1 &&
    jcheck "non-JSON error" 'j["status"]==502 and j["errorCode"] is None'
run "2xx without accessToken" 1 "${A[@]}" --app-id notoken --user-id U1 &&
    jcheck "2xx without accessToken" 'j["error"]=="upstream" and j["status"]==200'
run "echoed credential" 1 "${A[@]}" --app-id echo --user-id U1 &&
    jcheck "echoed credential" 'j["errorMessage"]=="[redacted]"'
run "echoed key" 1 "${M[@]}" --app-id echo --user-id U1
run "unreachable" 4 "${A[@]}" --app-id ok --user-id U1 --api-base "http://127.0.0.1:$closed" &&
    jcheck "unreachable" 'j["error"]=="unreachable"'

# --- usage and configuration: exit 2
run "no arguments" 2
run "no app" 2 "${A[@]}" --user-id U1
run "no user or tenant" 2 "${A[@]}" --app-id ok
run "no well-known" 2 --access-token-file "$work/at" --app-id ok --user-id U1
run "no credential" 2 --well-known-url "$WK" --app-id ok --user-id U1
run "two credentials" 2 "${A[@]}" --management-key-env CLI_TEST_MGMT_KEY --app-id ok --user-id U1
run "secret on argv" 2 "${A[@]}" --app-id ok --user-id U1 "$FAKE_ACCESS_TOKEN"
run "unknown option" 2 "${A[@]}" --app-id ok --user-id U1 --access-token x
run "not a Descope URL" 2 --well-known-url "http://127.0.0.1:$port/oidc" --access-token-file "$work/at" --app-id ok --user-id U1
run "https required" 2 --well-known-url "http://example.com/$FAKE_PROJECT_ID" --access-token-file "$work/at" --app-id ok --user-id U1
run "bad api base" 2 "${A[@]}" --app-id ok --user-id U1 --api-base "http://example.com"
DESCOPE_BASE_URL="ftp://x" run "bad DESCOPE_BASE_URL" 2 "${A[@]}" --app-id ok --user-id U1
run "missing token file" 2 --well-known-url "$WK" --access-token-file "$work/nope" --app-id ok --user-id U1
run "unset key variable" 2 --well-known-url "$WK" --management-key-env CLI_TEST_UNSET_VAR --app-id ok --user-id U1
printf 'bad token\n' >"$work/space"
run "token with a space" 2 --well-known-url "$WK" --access-token-file "$work/space" --app-id ok --user-id U1
run "help" 0 --help && grep -q -- "--tenant-id ID" "$work/out" && pass=$((pass + 1))

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
