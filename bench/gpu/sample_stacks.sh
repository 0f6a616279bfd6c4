#!/usr/bin/env bash
# Poor man's profiler for a running batchwise: N gdb stack samples of every thread, then a count of
# the innermost frames of llama.cpp/batchwise code on the lane threads. Shows where the host time of
# a decode step goes (graph build, KQ mask, token choice) on a machine without perf.
#   bench/gpu/sample_stacks.sh PID [SAMPLES] [OUT_FILE]
set -euo pipefail
pid=$1 n=${2:-20} out=${3:-/dev/stdout}
command -v gdb >/dev/null || { echo "sample_stacks: gdb not found" >&2; exit 0; }
raw=$(mktemp)
for _ in $(seq "$n"); do
  gdb -p "$pid" -batch -nx -ex "set pagination off" -ex "thread apply all bt 25" 2>/dev/null >> "$raw" || true
  echo "=== sample" >> "$raw"
  sleep 0.3
done
# A lane thread is one whose stack holds a Lane method; keep its frames that name a function.
python3 - "$raw" > "$out" <<'PY'
import collections, re, sys
text = open(sys.argv[1], errors="replace").read()
stacks = [t for t in re.split(r"\nThread ", text) if "Lane::" in t]
top, any_frame = collections.Counter(), collections.Counter()
for st in stacks:
    funcs = re.findall(r"#\d+\s+(?:0x[0-9a-f]+ in )?([\w:~<>]+)", st)
    funcs = [f for f in funcs if f != "??"]
    if funcs: top[funcs[0]] += 1
    for f in set(funcs): any_frame[f] += 1
print(f"{len(stacks)} lane-thread stacks")
print("innermost frame:"); [print(f"  {c:4d} {f}") for f, c in top.most_common(25)]
print("anywhere on the stack:"); [print(f"  {c:4d} {f}") for f, c in any_frame.most_common(40)]
PY
rm -f "$raw"
