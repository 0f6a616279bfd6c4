#!/usr/bin/env bash
# Where one lane's decode step goes on the GPU, by kernel class (issue 25, "measure first"): ncu's
# gpu__time_duration of every kernel of one decode step of build-gpu/bench/attention_step_bench at the seed
# lane's shape — S sequences sharing a 2,048-token prefix, 52 tokens of their own each, one token each a step
# — with sparse and with dense attention. Kernels are grouped into matrix products, the F32->F16 conversions
# before them, attention, the sparse path's index lists, norms, RoPE, element-wise ops, KV writes and copies,
# and the rest. The step's wall time, from a run of the bench without ncu (ncu intercepts every launch, so host
# times under it are not the real ones), beside the kernels' sum tells how long the GPU sat idle.
#   SEQS (default "128 252"), PATHS ("sparse dense"), STEPS (8)
#   A run's step carries prompt tokens too: PROMPTS_A_STEP=8 in the environment profiles 252 sequences' decode with 8
#   new requests' 52 prompt tokens each (646 tokens a step, the seed run's shape; attention_step_bench's header).
# Needs the CUDA build with attention_step_bench (EXTRA_TARGETS=attention_step_bench bench/gpu/seed_h100.sh
# build) and the F16 model (MODELS=f16 bench/gpu/seed_h100.sh models).
# Results: $OUT/step-profile.jsonl (a line per S and path) and the raw CSVs under $OUT/step-profile/.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/build-gpu/out}
mkdir -p "$out/step-profile"
export LD_LIBRARY_PATH="/tmp/bwdeps/usr/lib/x86_64-linux-gnu:/tmp/bwdeps/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
bench=build-gpu/bench/attention_step_bench
model=build-gpu/models/llama-3.1-8b-f16.gguf
[ -x "$bench" ] && [ -f "$model" ] || { echo "build attention_step_bench and the f16 model first" >&2; exit 1; }
ncu_bin=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
log() { echo "[$(date +%T)] $*" >&2; }

for s in ${SEQS:-128 252}; do
  for path in ${PATHS:-sparse dense}; do
    tag=s$s-$path
    log "plain: $tag"
    plain=$(ATTENTION=$path timeout 120 "$bench" "$model" "$s" 2048 52 "${STEPS:-8}" 0 2>/dev/null | grep '^{' | tail -1)
    [ -n "$plain" ] || plain="{}"
    log "ncu: $tag"
    PROFILE_STEP=1 ATTENTION=$path timeout 240 "$ncu_bin" --profile-from-start off --clock-control none \
      --metrics gpu__time_duration.sum --csv "$bench" "$model" "$s" 2048 52 "${STEPS:-8}" 0 \
      > "$out/step-profile/$tag.csv" 2> "$out/step-profile/$tag.log" || { log "ncu $tag failed"; tail -3 "$out/step-profile/$tag.log" >&2; continue; }
    python3 - "$out/step-profile/$tag.csv" "$gpu" "$s" "$path" "$plain" <<'PY' | tee -a "$out/step-profile.jsonl" >&2
import csv, json, sys
path, gpu, seqs, attention = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
plain = json.loads(sys.argv[5])
lines = open(path).read().splitlines()
step = next((json.loads(l) for l in lines if l.startswith("{")), {})
rows = list(csv.DictReader([l for l in lines if l.startswith('"')]))
# ncu 2025 writes "ns"/"us"/"ms"; older versions wrote "nsecond"/"usecond"/"msecond"
scale = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3, "msecond": 1e3, "s": 1e6, "second": 1e6}
classes = [  # first match wins
    ("sparse index lists", ("mask_to_sparse", "sparse_indices")),
    ("attention", ("flash_attn", "soft_max")),
    ("f32->f16 for the products", ("convert_unary", "k_cpy_flt", "to_fp16", "convert_")),
    ("matrix products", ("gemm", "gemv", "nvjet", "cutlass", "xmma", "mul_mat", "splitk", "cublas", "sm90_", "sm80_")),
    ("norms", ("rms_norm", "norm_f32")),
    ("rope", ("rope",)),
    ("element-wise", ("bin_bcast", "silu", "swiglu", "glu", "unary", "scale", "add_", "mul_")),
    ("KV writes and copies", ("set_rows", "get_rows", "cpy", "concat", "dup", "copy")),
]
us, n, names = {}, {}, {}
for r in rows:
    if r.get("Metric Name") != "gpu__time_duration.sum":
        continue
    name = r["Kernel Name"]
    t = float(r["Metric Value"].replace(",", "")) * scale[r["Metric Unit"]]
    low = name.lower()
    cls = next((c for c, keys in classes if any(k in low for k in keys)), "other")
    us[cls] = us.get(cls, 0.0) + t
    n[cls] = n.get(cls, 0) + 1
    names.setdefault(cls, {})
    short = name.split("(")[0][:60]
    names[cls][short] = names[cls].get(short, 0.0) + t
total = sum(us.values())
print(json.dumps({
    "bench": "step-profile", "gpu": gpu, "sequences": seqs, "prefix": 2048, "own": 52, "attention": attention,
    "kernels": sum(n.values()), "kernel_ms": round(total / 1e3, 3),
    "step_ms": plain.get("step_ms"), "launch_ms": plain.get("launch_ms"), "wait_ms": plain.get("wait_ms"),
    "gpu_idle_ms": round(plain["step_ms"] - total / 1e3, 3) if "step_ms" in plain else None,
    "step_ms_under_ncu": step.get("step_ms"),
    "by_class_ms": {c: round(v / 1e3, 3) for c, v in sorted(us.items(), key=lambda x: -x[1])},
    "by_class_kernels": n,
    "top_kernels_us": {c: dict(sorted(((k, round(v, 1)) for k, v in d.items()), key=lambda x: -x[1])[:3])
                       for c, d in names.items()},
}))
PY
  done
done
