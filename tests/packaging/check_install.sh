#!/usr/bin/env bash
# Installs the build tree into a scratch prefix and builds a consumer two ways:
# CMake find_package(dmcp) and pkg-config. Both consumers must run and print the version.
set -euo pipefail
build=$1 consumer=$2 cc=$3
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/include/dmcp/dmcp.h"
test -f "$tmp/prefix/include/dmcp/version.h"
ls "$tmp"/prefix/lib*/libdmcp.so.0 >/dev/null   # SONAME link by major version

cmake -S "$consumer" -B "$tmp/cmake-consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
      -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$tmp/cmake-consumer" >/dev/null
LD_LIBRARY_PATH=$(echo "$tmp"/prefix/lib*) "$tmp/cmake-consumer/consumer" | grep -q '^dmcp '

pcdir=$(dirname "$(ls "$tmp"/prefix/lib*/pkgconfig/dmcp.pc)")
flags=$(PKG_CONFIG_PATH=$pcdir pkg-config --cflags --libs dmcp)
# shellcheck disable=SC2086
"$cc" -std=c17 -Wall -Werror "$consumer/consumer.c" -o "$tmp/pc-consumer" $flags
LD_LIBRARY_PATH=$(echo "$tmp"/prefix/lib*) "$tmp/pc-consumer" | grep -q '^dmcp '
echo "installed package consumed through find_package and pkg-config"
