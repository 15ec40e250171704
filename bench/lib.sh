# Shared by the benchmark scripts (bench/http/run.sh, bench/gateway/run.sh, bench/gateway/stdio.sh):
# a work folder removed at exit, the processes started (each killed with its process group, so
# a bridge's stdio children go with it), free loopback ports and JSON field reads. Source it
# after setting node22; then call bench_init NAME.
bench_init() { # name
  work=$(mktemp -d "${TMPDIR:-/tmp}/dmcp-bench-$1.XXXXXX")
  pids=()
  trap bench_cleanup EXIT
  trap 'exit 1' INT TERM
}
bench_cleanup() {
  for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
# A loopback port nothing listens on, never one this script was already given (the kernel can
# hand out the same ephemeral port twice in a row once the probe socket is closed).
free_port() {
  local p
  for _ in $(seq 1 64); do
    p=$("$node22" -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    if ! grep -qx "$p" "$work/.ports" 2>/dev/null; then echo "$p" >>"$work/.ports"; echo "$p"; return 0; fi
  done
  return 1
}
wait_port() { # port pid: 0 once the port accepts, 1 when pid died or after 20 s
  for _ in $(seq 1 400); do
    kill -0 "$2" 2>/dev/null || return 1
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  return 1
}
json_get() { "$node22" -e 'const d=JSON.parse(process.argv[1]);console.log(eval("d"+process.argv[2]))' "$1" "$2"; }
