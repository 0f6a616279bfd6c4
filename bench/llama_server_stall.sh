#!/usr/bin/env bash
# Minimal reproduction of the llama-server stall of issue 26: `llama-server -np 32 --cache-ram 0` driven
# by `batchwise run --endpoint` stopped all processing at 182 of 400 seed requests right after its 22nd
# slot started, while /health kept answering; a client holding 32 in flight from the start finished.
# Each mode gets a fresh server, and keeps its log, /slots and /metrics snapshots and the client's output:
#   ramp       a plain client that opens slots as batchwise's old limiter did: 8 at first, one more per
#              window of max(4, limit) answers, up to NP (what preceded the stall)
#   fixed      the same client with NP in flight from the start (what finished)
#   batchwise  `batchwise run --endpoint` as it is now (starts at /props total_slots, reports a stall)
#   bench/llama_server_stall.sh MODEL.gguf [N=400] [NP=32] [OUT_DIR]
# Environment: LLAMA_SERVER (default build/llama.cpp/bin/llama-server), BATCHWISE (build/batchwise),
#   CTX (llama-server -c, default NP x 2,304), SERVER_FLAGS (more llama-server flags: "-ngl 99 -kvu"),
#   PREFIX_TOKENS (2000), OUTPUT_TOKENS (32), MODES ("ramp fixed batchwise"), STALL_S (60: no answer for
#   this long with requests out counts as a stall; the mode is then ended).
# Output: OUT_DIR/summary.jsonl (one line per mode) and OUT_DIR/MODE/{llama-server.log,client.log,slots-*.json}.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:?usage: bench/llama_server_stall.sh MODEL.gguf [N] [NP] [OUT_DIR]}
n=${2:-400}
np=${3:-32}
out=${4:-$root/build/llama-server-stall}
server=${LLAMA_SERVER:-$root/build/llama.cpp/bin/llama-server}
[ -x "$server" ] || server=$root/build/bin/llama-server
bw=${BATCHWISE:-$root/build/batchwise}
ctx=${CTX:-$((np * 2304))}
stall_s=${STALL_S:-60}
modes=${MODES:-ramp fixed batchwise}
py=$(command -v python3)
mkdir -p "$out"
: > "$out/summary.jsonl"
"$bw" -q gen-workload seed --force -n "$n" --prefix-tokens "${PREFIX_TOKENS:-2000}" \
  --output-tokens "${OUTPUT_TOKENS:-32}" --ignore-eos -o "$out/in.jsonl"

# GET URL [TIMEOUT_S=2]: the body on stdout; fails on an HTTP error or no answer. python3, not curl: the GPU machines'
# image has no curl (on 2026-12-07 every setting there waited out its limit on /health, the server long up).
http_get() {
  "$py" - "$1" "${2:-2}" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2])) as r:
        sys.stdout.buffer.write(r.read())
except Exception:
    sys.exit(1)
PY
}
free_port() { "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

for mode in $modes; do
  dir=$out/$mode
  rm -rf "$dir" && mkdir -p "$dir"
  port=$(free_port)
  url=http://127.0.0.1:$port
  # shellcheck disable=SC2086
  "$server" -m "$model" --host 127.0.0.1 --port "$port" -np "$np" -c "$ctx" --cache-ram 0 --slots --metrics \
    ${SERVER_FLAGS:-} > "$dir/llama-server.log" 2>&1 &
  server_pid=$!
  # Up to 5 min to load; a server that exits meanwhile (a flag this build lacks, out of memory) ends the mode
  # at once, its log's end shown, instead of waiting out the 5 minutes.
  for _ in $(seq 600); do
    http_get "$url/health" > /dev/null 2>&1 && break
    kill -0 $server_pid 2>/dev/null || break
    sleep 0.5
  done
  if ! kill -0 $server_pid 2>/dev/null; then
    echo "$mode: llama-server exited before it answered /health; the end of its log:" >&2
    tail -15 "$dir/llama-server.log" >&2
    "$py" -c 'import json,sys; print(json.dumps({"mode": sys.argv[1], "requests": int(sys.argv[2]), "np": int(sys.argv[3]), "done": 0, "stalled": False, "server_failed_to_start": True}))' \
      "$mode" "$n" "$np" >> "$out/summary.jsonl"
    continue
  fi
  http_get "$url/props" > "$dir/props.json" || true
  # Snapshots of the slots every 5 s while the client runs: which slots were processing when it stopped.
  (i=0; while kill -0 $server_pid 2>/dev/null; do
     http_get "$url/slots" > "$dir/slots-$(printf %04d $i).json" 2>/dev/null || true
     i=$((i + 1)); sleep 5; done) &
  sampler_pid=$!
  t0=$(date +%s.%N)
  if [ "$mode" = batchwise ]; then
    set +e
    "$bw" run "$out/in.jsonl" -o "$dir/out.jsonl" --endpoint "$url" --max-concurrency "$np" --restart --force \
      --json > "$dir/report.json" 2> "$dir/client.log"
    rc=$?
    set -e
    done_n=$(wc -l < "$dir/out.jsonl" 2>/dev/null || "$py" -c "import json; print(json.load(open('$dir/report.json'))['ok'])" 2>/dev/null || echo 0)
    stalled=$(grep -q " stalled" "$dir/client.log" && echo true || echo false)
  else
    start=$([ "$mode" = fixed ] && echo "$np" || echo 8)
    set +e
    "$py" - "$out/in.jsonl" "$url" "$start" "$np" "$stall_s" > "$dir/client.json" 2> "$dir/client.log" <<'PY'
import http.client, json, sys, threading, time, urllib.parse
path, url, start, most, stall_s = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
bodies = [json.dumps(json.loads(l)["body"]) for l in open(path) if l.strip()]
host = urllib.parse.urlparse(url)
lock = threading.Condition()
state = {"limit": start, "out": 0, "next": 0, "done": 0, "failed": 0, "window": 0, "last_answer": time.time()}
def worker():
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=3600)
    while True:
        with lock:
            while state["out"] >= state["limit"] and state["next"] < len(bodies):
                lock.wait()
            if state["next"] >= len(bodies):
                return
            i = state["next"]; state["next"] += 1; state["out"] += 1
            print(f"{time.time():.3f} send {i} (in flight {state['out']}, limit {state['limit']})", file=sys.stderr, flush=True)
        ok = False
        for attempt in range(2):  # a kept-alive connection the server closed: once more on a new one
            try:
                conn.request("POST", "/v1/chat/completions", bodies[i], {"Content-Type": "application/json"})
                r = conn.getresponse(); r.read(); ok = r.status == 200
                if not ok:
                    print(f"{time.time():.3f} request {i}: HTTP {r.status}", file=sys.stderr, flush=True)
                break
            except Exception as e:
                print(f"{time.time():.3f} request {i}: {e!r}", file=sys.stderr, flush=True)
                conn = http.client.HTTPConnection(host.hostname, host.port, timeout=3600)
        with lock:
            state["out"] -= 1; state["done" if ok else "failed"] += 1; state["last_answer"] = time.time()
            # batchwise's old limiter: +1 per window of max(4, limit) answers while the endpoint is full
            state["window"] += 1
            if state["window"] >= max(4, state["limit"]) and state["limit"] < most:
                state["limit"] += 1; state["window"] = 0
                print(f"{time.time():.3f} limit -> {state['limit']}", file=sys.stderr, flush=True)
            lock.notify_all()
t0 = time.time()
for _ in range(most):
    threading.Thread(target=worker, daemon=True).start()
stalled = False
while True:
    time.sleep(0.5)
    with lock:
        finished = state["done"] + state["failed"] >= len(bodies)
        if not finished and state["out"] > 0 and time.time() - state["last_answer"] > stall_s:
            stalled = True
        snapshot = dict(state)
    if finished or stalled:
        break
wall = time.time() - t0
print(json.dumps({"done": snapshot["done"], "failed": snapshot["failed"], "in_flight": snapshot["out"],
                  "limit": snapshot["limit"], "stalled": stalled, "wall_s": round(wall, 1),
                  "requests_per_s": round(snapshot["done"] / wall, 2)}))
PY
    rc=$?
    set -e
    done_n=$("$py" -c "import json; print(json.load(open('$dir/client.json'))['done'])" 2>/dev/null || echo 0)
    stalled=$("$py" -c "import json; print(str(json.load(open('$dir/client.json'))['stalled']).lower())" 2>/dev/null || echo false)
  fi
  t1=$(date +%s.%N)
  http_get "$url/slots" > "$dir/slots-end.json" 2>/dev/null || true
  http_get "$url/metrics" > "$dir/metrics-end.txt" 2>/dev/null || true
  kill $server_pid 2>/dev/null || true
  # A server that ignores SIGTERM for 10 s is killed: the next mode must not wait on it.
  for _ in $(seq 20); do kill -0 $server_pid 2>/dev/null || break; sleep 0.5; done
  kill -9 $server_pid 2>/dev/null || true
  wait $server_pid 2>/dev/null || true
  kill $sampler_pid 2>/dev/null || true
  wait $sampler_pid 2>/dev/null || true
  # The server's own account: how many slots it launched, and what it printed last.
  launched=$(grep -c "processing task" "$dir/llama-server.log" || true)
  processing=$("$py" -c "import json; print(sum(1 for s in json.load(open('$dir/slots-end.json')) if s.get('is_processing')))" 2>/dev/null || echo "?")
  "$py" - "$mode" "$n" "$np" "$done_n" "$stalled" "$rc" "$t0" "$t1" "$launched" "$processing" "$ctx" "${SERVER_FLAGS:-}" \
    >> "$out/summary.jsonl" <<'PY'
import json, sys
mode, n, np_, done, stalled, rc, t0, t1, launched, processing, ctx, flags = sys.argv[1:]
wall = float(t1) - float(t0)
print(json.dumps({"mode": mode, "requests": int(n), "np": int(np_), "ctx": int(ctx), "server_flags": flags,
                  "done": int(done), "stalled": stalled == "true", "client_exit": int(rc), "wall_s": round(wall, 1),
                  "requests_per_s": round(int(done) / wall, 2) if wall > 0 else 0,
                  "slot_launches_in_log": int(launched or 0), "slots_processing_at_end": processing}))
PY
  tail -1 "$out/summary.jsonl"
done
echo "logs and snapshots: $out"
