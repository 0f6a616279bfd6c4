#!/usr/bin/env bash
# Dispatch ceiling of the HTTP engine: `batchwise run --endpoint` against an instant stub server on
# this machine, the full path (parse input -> HTTP -> durable result in the state -> output file),
# next to a plain Python asyncio/aiohttp client doing the same requests against the same stub, in one run.
#   bench/http_dispatch.sh [N=100000] [CONCURRENCY=64] [RESULT_JSON]
# The server is build/bench/epoll_stub_server (single-threaded epoll, ~15 us of CPU per request, so the
# figure is the client's); STUB=httplib uses the tests' cpp-httplib test double (build/bench/stub_server).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BATCHWISE_BUILD_DIR:-$root/build}
n=${1:-100000}
conc=${2:-64}
result=${3:-}
py=/usr/bin/python3   # Debian's python3-aiohttp lives in the system interpreter
work=$(mktemp -d)
trap 'kill $stub_pid 2>/dev/null || true; rm -rf "$work"' EXIT

if [ "${STUB:-epoll}" = httplib ]; then
  "$build/bench/stub_server" 256 > "$work/url" &
else
  "$build/bench/epoll_stub_server" > "$work/url" &
fi
stub_pid=$!
for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(head -1 "$work/url")

"$py" - "$n" > "$work/in.jsonl" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions",
                      "body": {"model": "stub", "max_tokens": 16,
                               "messages": [{"role": "user", "content": f"Rate candidate {i} against the rubric."}]}}))
PY

load=$(cut -d' ' -f1 /proc/loadavg)   # other work on the machine: figures are only comparable within a run
t0=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o "$work/bw.cpu" "$build/batchwise" run "$work/in.jsonl" -o "$work/out.jsonl" \
  --endpoint "$url" --max-concurrency "$conc" --json > "$work/report.json" 2> "$work/run.err"
t1=$(date +%s.%N)
bw_cpu_us=$("$py" -c "u, s = open('$work/bw.cpu').read().split(); print(round((float(u) + float(s)) * 1e6 / $n, 1))")
bw_lines=$(wc -l < "$work/out.jsonl")
bw_rps=$("$py" -c "print(round($bw_lines / ($t1 - $t0), 1))")
bw_engine_rps=$("$py" -c "import json; print(round(json.load(open('$work/report.json'))['requests_per_s'], 1))")

py_json=$(/usr/bin/time -f "%U %S" -o "$work/py.cpu" "$py" "$root/bench/aiohttp_client.py" "$work/in.jsonl" "$work/py.jsonl" "$url" "$conc")
py_cpu_us=$("$py" -c "u, s = open('$work/py.cpu').read().split(); print(round((float(u) + float(s)) * 1e6 / $n, 1))")
py_rps=$(echo "$py_json" | "$py" -c "import json, sys; print(json.load(sys.stdin)['requests_per_s'])")
ratio=$("$py" -c "print(round($bw_rps / $py_rps, 2))")

echo "load average before: $load"
echo "batchwise run --endpoint: $bw_lines requests, $bw_rps req/s end to end (process start to output written; run loop $bw_engine_rps req/s), $bw_cpu_us us CPU per request"
echo "python asyncio+aiohttp:   $py_json, $py_cpu_us us CPU per request"
echo "ratio batchwise / aiohttp: ${ratio}x"
if [ -n "$result" ]; then
  "$py" - "$result" "$n" "$conc" "$bw_rps" "$bw_engine_rps" "$py_rps" "$ratio" "$bw_cpu_us" "$py_cpu_us" "$load" <<'PY'
import json, os, sys
path, n, conc, bw, bw_loop, py, ratio, bw_cpu, py_cpu, load = sys.argv[1:]
json.dump({
    "benchmark": "http_dispatch: instant stub server (" + os.environ.get("STUB", "epoll") + "), chat requests, same machine",
    "requests": int(n), "concurrency": int(conc), "cpu": os.popen("lscpu | sed -n 's/^Model name: *//p'").read().strip(),
    "cores": os.cpu_count(), "load_average_before": float(load),
    "rows": [
        {"name": "batchwise run --endpoint (parse, HTTP, durable state, output)", "requests_per_s": float(bw),
         "run_loop_requests_per_s": float(bw_loop), "cpu_us_per_request": float(bw_cpu)},
        {"name": "python asyncio + aiohttp (parse, HTTP, output; no durability)", "requests_per_s": float(py),
         "cpu_us_per_request": float(py_cpu)},
    ],
    "ratio_batchwise_vs_aiohttp": float(ratio),
}, open(path, "w"), indent=2)
print("wrote", path)
PY
fi
