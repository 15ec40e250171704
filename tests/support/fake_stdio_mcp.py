#!/usr/bin/env python3
"""A scripted stdio MCP server for the gateway's stdio upstream tests (test_gateway_stdio).

One JSON-RPC message per line. Tools (tools/call name):
  whoami    -> its pid, the initialize params it got, the id the request arrived with
  progress  -> 3 notifications/progress with the request's progressToken, then the result
  sample    -> sends sampling/createMessage to the client, returns the client's answer text
  crash     -> exits with status 7 without answering
  slow      -> answers after arguments.ms milliseconds (unless cancelled first)
  garbage   -> writes a line that is not JSON, then the result
  later     -> the result, then 300 ms later a notifications/message outside any request
  cancelled -> the request ids named by the notifications/cancelled it received, and how many
               slow calls are running
"""
import json
import os
import sys
import threading
import time

lock = threading.Lock()
init_params = None
cancelled = []
pending_client = {}  # our request id -> Event, answer
running = [0]  # slow calls in progress


def send(msg):
    with lock:
        sys.stdout.write(json.dumps(msg, separators=(",", ":")) + "\n")
        sys.stdout.flush()


def result(rid, text, extra=None):
    r = {"content": [{"type": "text", "text": text}]}
    if extra:
        r.update(extra)
    send({"jsonrpc": "2.0", "id": rid, "result": r})


def call(rid, params):
    name = params.get("name")
    args = params.get("arguments") or {}
    meta = params.get("_meta") or {}
    if name == "whoami":
        result(rid, "me", {"pid": os.getpid(), "init": init_params, "wireId": rid})
    elif name == "progress":
        for i in range(3):
            send({"jsonrpc": "2.0", "method": "notifications/progress",
                  "params": {"progressToken": meta.get("progressToken"), "progress": i + 1,
                             "total": 3}})
        result(rid, "done")
    elif name == "sample":
        ev = threading.Event()
        cid = "s-%d" % rid if isinstance(rid, int) else "s-x"
        pending_client[cid] = [ev, None]
        send({"jsonrpc": "2.0", "id": cid, "method": "sampling/createMessage",
              "params": {"messages": [{"role": "user",
                                       "content": {"type": "text", "text": "hello?"}}],
                         "maxTokens": 10}})
        ev.wait(30)
        ans = pending_client.pop(cid)[1] or {}
        text = ((ans.get("result") or {}).get("content") or {}).get("text")
        if text is None:
            text = "error:" + json.dumps(ans.get("error"))
        result(rid, "client said: " + text)
    elif name == "crash":
        sys.stderr.write("fake: crashing as asked\n")
        sys.stderr.flush()
        os._exit(7)
    elif name == "slow":
        deadline = time.time() + args.get("ms", 1000) / 1000.0
        running[0] += 1
        try:
            while time.time() < deadline:
                if rid in cancelled:
                    return
                time.sleep(0.01)
        finally:
            running[0] -= 1
        result(rid, "slow done")
    elif name == "garbage":
        with lock:
            sys.stdout.write("this is not json\n")
            sys.stdout.flush()
        result(rid, "after garbage")
    elif name == "later":
        result(rid, "now")
        time.sleep(0.3)
        send({"jsonrpc": "2.0", "method": "notifications/message",
              "params": {"level": "info", "data": "later"}})
    elif name == "cancelled":
        result(rid, "ids", {"ids": cancelled, "running": running[0]})
    else:
        send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32602, "message": "no tool"}})


def main():
    global init_params
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        msg = json.loads(line)
        method = msg.get("method")
        rid = msg.get("id")
        if method is None:  # an answer to our request
            ent = pending_client.get(rid)
            if ent:
                ent[1] = msg
                ent[0].set()
            continue
        if method == "initialize":
            init_params = msg.get("params")
            send({"jsonrpc": "2.0", "id": rid, "result": {
                "protocolVersion": init_params.get("protocolVersion", "2025-11-25"),
                "capabilities": {"tools": {}}, "serverInfo": {"name": "fake", "version": "1"}}})
        elif method == "notifications/cancelled":
            cancelled.append(msg["params"]["requestId"])
        elif method == "tools/call" and (msg.get("params") or {}).get("name") == "deaf":
            # Stops reading its input for a while (its stdin pipe fills up meanwhile).
            time.sleep(((msg["params"].get("arguments") or {}).get("ms", 1000)) / 1000.0)
            result(rid, "heard again")
        elif method == "tools/call":
            threading.Thread(target=call, args=(rid, msg.get("params") or {}), daemon=True).start()
        elif rid is not None:
            send({"jsonrpc": "2.0", "id": rid, "result": {}})


main()
