#!/bin/sh
# The shared library exports only the public API: every defined dynamic symbol starts with
# "dmcp_" and none with the internal prefix "dmcp__".
set -eu
lib=$1
syms=$(nm -D --defined-only "$lib" | awk '$2 ~ /[TDBRW]/ {print $3}' | sed 's/@.*//')
[ -n "$syms" ] || { echo "no exported symbols in $lib"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '^dmcp_' || true)
internal=$(printf '%s\n' "$syms" | grep '^dmcp__' || true)
if [ -n "$bad$internal" ]; then
  echo "unexpected exports:"; printf '%s\n' $bad $internal; exit 1
fi
# The state store API (issue 10, include/dmcp/store.h), the signer (dmcp/signer.h) and the
# deferred forwarder answer (dmcp/forward.h) must be exported.
for want in dmcp_store_open dmcp_store_open_flags dmcp_store_set_prefix dmcp_store_free dmcp_server_set_store \
    dmcp_signer_new dmcp_signer_new_file dmcp_signer_sign dmcp_signer_jwks_json dmcp_signer_free dmcp_server_add_static \
    dmcp_call_answer; do
  printf '%s\n' "$syms" | grep -qx "$want" || { echo "missing export: $want"; exit 1; }
done
echo "$(printf '%s\n' "$syms" | wc -l) exported symbols, all dmcp_"
