#!/usr/bin/env bash
# `batchwise run` on the seed workload against one request at a time, in one run, on this machine.
# Peers: (a) batched with the shared prefix (the default), (b) one request at a time with the prefix
# still cached between requests, (c) naive: one at a time, the rubric evaluated for every request.
# Usage: bench/run_vs_sequential.sh [N] [MODEL.gguf]   (writes bench/results/<date>-run-vs-sequential.json)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BATCHWISE_BIN:-$root/build/batchwise}
n=${1:-200}
model_args=()
[ $# -ge 2 ] && model_args=(-m "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" -q gen-workload seed --force -n "$n" --ignore-eos -o "$work/seed.jsonl"
measure() {  # name, extra run flags...
  local name=$1; shift
  "$bin" -q run "$work/seed.jsonl" -o "$work/$name.jsonl" "${model_args[@]}" --json "$@" > "$work/$name.report.json"
  python3 - "$work/$name.report.json" "$name" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"name": sys.argv[2], "requests_per_s": round(r["requests_per_s"], 2),
                  "prompt_tokens_evaluated": r["engine"]["prompt_tokens_evaluated"],
                  "prompt_tokens_submitted": r["engine"]["prompt_tokens_submitted"], "wall_s": round(r["wall_s"], 2)}))
PY
}
{
  measure batched
  measure one_at_a_time_prefix_cached -np 1
  measure naive_one_at_a_time -np 1 --prefix-slots 0
} > "$work/rows.jsonl"
out="$root/bench/results/$(date +%Y-%m-%d)-run-vs-sequential.json"
python3 - "$work/rows.jsonl" "$n" "$out" <<'PY'
import json, sys, platform, os
rows = [json.loads(l) for l in open(sys.argv[1])]
by = {r["name"]: r for r in rows}
base = by["naive_one_at_a_time"]["requests_per_s"]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
result = {"workload": f"seed, {sys.argv[2]} requests, 32 output tokens (ignore_eos)", "cpu": cpu, "cores": os.cpu_count(),
          "rows": rows, "ratio_batched_vs_naive": round(by["batched"]["requests_per_s"] / base, 2),
          "ratio_batched_vs_one_at_a_time_prefix_cached": round(by["batched"]["requests_per_s"] / by["one_at_a_time_prefix_cached"]["requests_per_s"], 2)}
json.dump(result, open(sys.argv[3], "w"), indent=2)
for r in rows:
    print(f'{r["name"]:32s} {r["requests_per_s"]:8.2f} req/s  prompt tokens evaluated {r["prompt_tokens_evaluated"]:>9,d} of {r["prompt_tokens_submitted"]:,d}')
print(f'batched / naive: {result["ratio_batched_vs_naive"]}x   batched / one-at-a-time (prefix cached): {result["ratio_batched_vs_one_at_a_time_prefix_cached"]}x')
print("wrote", sys.argv[3])
PY
