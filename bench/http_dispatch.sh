#!/usr/bin/env bash
# Dispatch ceiling of the HTTP engine: `batchwise run --endpoint` against an instant stub server on
# this machine, the full path (parse input -> HTTP -> durable result in the state -> output file),
# next to a plain Python asyncio/aiohttp client doing the same requests against the same stub, in one run.
#   bench/http_dispatch.sh [N=100000] [CONCURRENCY=64] [RESULT_JSON]
# The server is build/bench/epoll_stub_server (single-threaded epoll, ~15 us of CPU per request, so the
# figure is the client's); STUB=httplib uses the tests' cpp-httplib test double (build/bench/stub_server).
# BASELINE=path/to/an/older/batchwise runs that binary too, on the same input and stub in the same run,
# so a change is measured against what it replaced under the same load (figures on a shared machine move
# with its load; ratios within one run do not). Each batchwise row also gives its peak RSS.
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
# One batchwise run: prints "requests/s end to end, run-loop requests/s, us CPU per request, peak RSS MiB".
run_bw() {
  local bin=$1 tag=$2
  rm -f "$work/$tag".*
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S %M" -o "$work/$tag.cpu" "$bin" run "$work/in.jsonl" -o "$work/$tag.jsonl" \
    --endpoint "$url" --max-concurrency "$conc" --json > "$work/$tag.report.json" 2> "$work/$tag.err"
  t1=$(date +%s.%N)
  local lines
  lines=$(wc -l < "$work/$tag.jsonl")
  [ "$lines" -eq "$n" ] || { echo "$tag: $lines of $n lines written" >&2; cat "$work/$tag.err" >&2; exit 1; }
  "$py" - "$work/$tag.cpu" "$work/$tag.report.json" "$n" "$t0" "$t1" <<'PY'
import json, sys
cpu, report, n, t0, t1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
u, s, rss_kib = open(cpu).read().split()[-3:]
print(round(n / (t1 - t0), 1), round(json.load(open(report))["requests_per_s"], 1),
      round((float(u) + float(s)) * 1e6 / n, 1), round(int(rss_kib) / 1024, 1))
PY
}
read -r bw_rps bw_engine_rps bw_cpu_us bw_rss <<< "$(run_bw "$build/batchwise" bw)"
bw_lines=$n
if [ -n "${BASELINE:-}" ]; then
  read -r base_rps base_engine_rps base_cpu_us base_rss <<< "$(run_bw "$BASELINE" base)"
fi

py_json=$(/usr/bin/time -f "%U %S" -o "$work/py.cpu" "$py" "$root/bench/aiohttp_client.py" "$work/in.jsonl" "$work/py.jsonl" "$url" "$conc")
py_cpu_us=$("$py" -c "u, s = open('$work/py.cpu').read().split(); print(round((float(u) + float(s)) * 1e6 / $n, 1))")
py_rps=$(echo "$py_json" | "$py" -c "import json, sys; print(json.load(sys.stdin)['requests_per_s'])")
ratio=$("$py" -c "print(round($bw_rps / $py_rps, 2))")

echo "load average before: $load"
echo "batchwise run --endpoint: $bw_lines requests, $bw_rps req/s end to end (process start to output written; run loop $bw_engine_rps req/s), $bw_cpu_us us CPU per request, peak RSS $bw_rss MiB"
if [ -n "${BASELINE:-}" ]; then
  echo "baseline $BASELINE: $base_rps req/s end to end (run loop $base_engine_rps), $base_cpu_us us CPU per request, peak RSS $base_rss MiB"
  echo "ratio batchwise / baseline: $("$py" -c "print(round($bw_rps / $base_rps, 2))")x requests/s, $("$py" -c "print(round($bw_cpu_us / $base_cpu_us, 2))")x CPU per request"
fi
echo "python asyncio+aiohttp:   $py_json, $py_cpu_us us CPU per request"
echo "ratio batchwise / aiohttp: ${ratio}x"
if [ -n "$result" ]; then
  "$py" - "$result" "$n" "$conc" "$bw_rps" "$bw_engine_rps" "$py_rps" "$ratio" "$bw_cpu_us" "$py_cpu_us" "$load" "$bw_rss" \
    "${BASELINE:-}" "${base_rps:-0}" "${base_engine_rps:-0}" "${base_cpu_us:-0}" "${base_rss:-0}" <<'PY'
import json, os, sys
(path, n, conc, bw, bw_loop, py, ratio, bw_cpu, py_cpu, load, bw_rss,
 baseline, base, base_loop, base_cpu, base_rss) = sys.argv[1:]
rows = [{"name": "batchwise run --endpoint (parse, HTTP, durable state, output)", "requests_per_s": float(bw),
         "run_loop_requests_per_s": float(bw_loop), "cpu_us_per_request": float(bw_cpu), "peak_rss_mib": float(bw_rss)}]
if baseline:
    rows.append({"name": "baseline " + baseline, "requests_per_s": float(base), "run_loop_requests_per_s": float(base_loop),
                 "cpu_us_per_request": float(base_cpu), "peak_rss_mib": float(base_rss)})
rows.append({"name": "python asyncio + aiohttp (parse, HTTP, output; no durability)", "requests_per_s": float(py),
             "cpu_us_per_request": float(py_cpu)})
out = {
    "benchmark": "http_dispatch: instant stub server (" + os.environ.get("STUB", "epoll") + "), chat requests, same machine",
    "requests": int(n), "concurrency": int(conc), "cpu": os.popen("lscpu | sed -n 's/^Model name: *//p'").read().strip(),
    "cores": os.cpu_count(), "load_average_before": float(load), "rows": rows,
    "ratio_batchwise_vs_aiohttp": float(ratio),
}
if baseline:
    out["ratio_batchwise_vs_baseline"] = round(float(bw) / float(base), 2)
json.dump(out, open(path, "w"), indent=2)
print("wrote", path)
PY
fi
