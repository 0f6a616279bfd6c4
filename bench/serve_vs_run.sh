#!/usr/bin/env bash
# `batchwise serve` against `batchwise run` on the same job, in one run, on this machine (tiny model unless a
# GGUF is given): the batch's requests/s through the Batches API (create -> completed, durable) over run's,
# and the HTTP overhead of one request to serve (GET /v1/batches/ID over a kept-alive connection).
# Usage: bench/serve_vs_run.sh [N] [MODEL.gguf]   (writes bench/results/<date>-serve-vs-run.json)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BATCHWISE_BIN:-$root/build/batchwise}
n=${1:-300}
model_args=()
[ $# -ge 2 ] && model_args=(-m "$2")
work=$(mktemp -d)
serve_pid=""
trap '[ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null; rm -rf "$work"' EXIT
"$bin" -q gen-workload seed -n "$n" --prefix-tokens 200 --unique-tokens 30 --output-tokens 16 -o "$work/in.jsonl"
engine=(--parallel 32 -c 16384)

"$bin" -q run "$work/in.jsonl" -o "$work/run.jsonl" "${model_args[@]}" "${engine[@]}" --json > "$work/run.report.json"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" -q serve --port "$port" --state "$work/serve" "${model_args[@]}" "${engine[@]}" 2>"$work/serve.log" &
serve_pid=$!
python3 - "$port" "$work/in.jsonl" "$n" "$work/run.report.json" "$root/bench/results/$(date +%Y-%m-%d)-serve-vs-run.json" <<'PY'
import http.client, json, os, sys, time, uuid
port, path, n, run_report, out = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
for _ in range(300):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5); c.request("GET", "/health")
        if c.getresponse().status == 200: break
    except OSError: time.sleep(0.1)
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
def call(method, url, body=None, headers={}):
    conn.request(method, url, body=body, headers=headers); r = conn.getresponse(); return r.status, r.read()
# Warm the model first, as run's figure includes no server start: one interactive request loads it.
call("POST", "/v1/chat/completions", json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}),
     {"Content-Type": "application/json"})
boundary = uuid.uuid4().hex
data = open(path, "rb").read()
body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n--{boundary}\r\n"
        f"Content-Disposition: form-data; name=\"file\"; filename=\"in.jsonl\"\r\nContent-Type: application/jsonl\r\n\r\n").encode() \
       + data + f"\r\n--{boundary}--\r\n".encode()
_, f = call("POST", "/v1/files", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
fid = json.loads(f)["id"]
t0 = time.time()
_, b = call("POST", "/v1/batches", json.dumps({"input_file_id": fid, "endpoint": "/v1/chat/completions",
                                                "completion_window": "24h"}), {"Content-Type": "application/json"})
bid = json.loads(b)["id"]
polls = []
while True:
    p0 = time.perf_counter(); _, s = call("GET", f"/v1/batches/{bid}"); polls.append(time.perf_counter() - p0)
    st = json.loads(s)
    if st["status"] in ("completed", "failed", "cancelled", "expired"): break
    time.sleep(0.05)
wall = time.time() - t0
assert st["status"] == "completed" and st["request_counts"]["completed"] == n, st
lat = []
for _ in range(500):
    p0 = time.perf_counter(); call("GET", f"/v1/batches/{bid}"); lat.append(time.perf_counter() - p0)
lat.sort()
run = json.load(open(run_report))
serve_rps = n / wall
result = {"workload": f"seed, {n} requests, 200-token shared prefix, 30 unique, 16 output tokens",
          "cores": os.cpu_count(), "run_requests_per_s": round(run["requests_per_s"], 2),
          "serve_requests_per_s": round(serve_rps, 2), "ratio_serve_vs_run": round(serve_rps / run["requests_per_s"], 3),
          "serve_poll_ms_p50": round(1000 * lat[len(lat) // 2], 3), "serve_poll_ms_p99": round(1000 * lat[int(len(lat) * 0.99)], 3),
          "note": "serve's figure is create -> completed as a client polling every 50 ms sees it, model already loaded"}
os.makedirs(os.path.dirname(out), exist_ok=True)
json.dump(result, open(out, "w"), indent=2)
print(json.dumps(result, indent=2))
PY
