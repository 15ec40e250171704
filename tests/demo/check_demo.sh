#!/usr/bin/env bash
# demo.run: runs the demo's running part (scripts/demo-run.sh) against this build tree and
# checks that the four narrated steps happened, and that it stopped what it started.
# Usage: check_demo.sh SOURCE_DIR BUILD_DIR
set -u
src=$1 build=$2
out=$(NO_COLOR=1 timeout -k 5 100 bash "$src/scripts/demo-run.sh" "$build" 2>&1)
rc=$?
printf '%s\n' "$out"
fail=0
expect() { # REGEX WHAT
  if grep -Eq -- "$1" <<<"$out"; then echo "ok   - $2"; else echo "FAIL - $2"; fail=1; fi
}
[ "$rc" -eq 0 ] && echo "ok   - demo-run.sh exit 0" || { echo "FAIL - demo-run.sh exit $rc"; fail=1; }
expect '-> +HTTP 401' 'step 1: a request without a token gets 401'
expect 'resource_metadata="http://127\.0\.0\.1:[0-9]+/\.well-known/oauth-protected-resource/mcp"' 'step 1: the challenge names the PRM'
expect 'authorization_servers http://127\.0\.0\.1:[0-9]+/v1/apps/agentic/' 'step 1: the PRM names the sandbox as authorization server'
expect 'token_endpoint +http://127\.0\.0\.1:[0-9]+/' 'step 1: the authorization server metadata was fetched'
expect '^  ok step 1/4' 'step 1 ok'
expect 'error="insufficient_scope"' 'step 2: the 403 challenge says insufficient_scope'
expect '^  ok step 2/4' 'step 2 ok'
expect 'upcoming events?:' 'step 3: events are listed'
expect '^  ok step 3/4' 'step 3 ok'
expect 'not connected yet.*http://127\.0\.0\.1:[0-9]+/sandbox/connect\?ticket=' 'step 4: the not-connected error carries the connect URL'
expect '^  ok step 4/4' 'step 4 ok'
expect '^4/4 steps behaved as expected' 'summary'
# Everything it started is stopped: nothing listens any more on the ports it announced.
for url in $(grep -Eo 'http://127\.0\.0\.1:[0-9]+' <<<"$(grep -E '^  (sandbox|calendar server)' <<<"$out")" | sort -u); do
  port=${url##*:}
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "FAIL - port $port still open after the demo"; fail=1
  else
    echo "ok   - port $port closed after the demo"
  fi
done
exit "$fail"
