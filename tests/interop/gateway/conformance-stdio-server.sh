#!/usr/bin/env bash
# A conformance "server" for conformance/run.sh (CONFORMANCE_SERVER=this): takes the flags
# run.sh gives conformance-server (--listen, --well-known-url, --mcp-server-url) and starts
# `descope-mcp gateway` with them in front of `conformance-server --stdio`, so the whole suite
# goes through the gateway's auth and its stdio upstream. Needs DMCP_BIN_DIR.
set -u
bin=${DMCP_BIN_DIR:?DMCP_BIN_DIR is not set}
exec "$bin/descope-mcp" gateway "$@" --upstream-stdio -- "$bin/conformance-server" --stdio
