#!/bin/sh
# The rooms and their one-way doors (DEVELOPERS.md "The shape of the house"):
#   src/auth, src/descope (auth core): OpenSSL, jansson, libcurl; no HTTP server, no MCP.
#   src/mcp (MCP runtime): jansson, libmicrohttpd; no Descope, no JWT, no libcurl/OpenSSL.
#   src/store (state store, issue 10): jansson, hiredis; no HTTP server, no MCP, no auth.
#     The runtime sees only store/store.h; hiredis appears nowhere else.
#   src/glue: the only place that includes both.
#   src/gateway (issue 11): include/dmcp/ public headers, libcurl, jansson, POSIX; its own
#     gateway/ headers; nothing of the other rooms' internals.
#   tools/, examples/: public headers only (no src/ internals).
set -u
src=$1/src
fail=0
bad() { echo "layout: $1"; fail=1; }
inc() { grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($2)" $1 2>/dev/null; }

out=$(inc "$src/auth/*.[ch] $src/descope/*.[ch]" 'microhttpd|dmcp/server\.h|dmcp/protect\.h|mcp/|glue/')
[ -z "$out" ] || bad "the auth core reaches into the HTTP server / MCP runtime:
$out"
out=$(inc "$src/mcp/*.[ch]" 'curl|openssl|dmcp/auth\.h|dmcp/descope\.h|dmcp/protect\.h|auth/|descope/|glue/|jose\.h|http\.h|url\.h')
[ -z "$out" ] || bad "the MCP runtime reaches into the auth core or its dependencies:
$out"
out=$(inc "$src/gateway/*.[ch]" 'microhttpd|openssl|mcp/|auth/|glue/|descope/|common/|internal\.h|mcp_internal|glue_internal|auth_internal|descope_internal|jose\.h|http\.h|url\.h|jsonlite')
[ -z "$out" ] || bad "the gateway reaches past the library's public headers:
$out"
out=$(inc "$src/mcp/*.[ch]" 'hiredis|store/store_impl\.h')
[ -z "$out" ] || bad "the MCP runtime reaches past the store interface (store/store.h) into an implementation:
$out"
out=$(inc "$src/store/*.[ch]" 'microhttpd|curl|openssl|dmcp/auth\.h|dmcp/descope\.h|dmcp/protect\.h|auth/|descope/|glue/|mcp/|jose\.h')
[ -z "$out" ] || bad "the store reaches into the HTTP server, the MCP runtime or the auth core:
$out"
out=$(grep -lE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]hiredis' -r "$src" 2>/dev/null | grep -v "^$src/store/" || true)
[ -z "$out" ] || bad "hiredis outside src/store:
$out"
out=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"(internal|jose|http|url|jsonlite|auth_internal|mcp_internal|glue_internal)\.h"' \
      "$1/tools" "$1/examples" 2>/dev/null)
[ -z "$out" ] || bad "tools/examples use internal headers:
$out"
[ $fail -eq 0 ] && echo "layout: rooms respected (auth core, MCP runtime, store, glue, gateway; tools and examples on public headers)"
exit $fail
