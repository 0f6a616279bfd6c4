#!/usr/bin/env python3
"""Turns the JSON lines of bench/gpu/seed_h100.sh (one run) into one result JSON and a markdown table
with the ratios the GPU benchmark issue asks for.  usage: summarize.py OUT_DIR COMMIT"""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
commit = sys.argv[2] if len(sys.argv) > 2 else "unknown"
rows = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines() if l.startswith("{")]
gpu = (out / "gpu.txt").read_text().strip() if (out / "gpu.txt").exists() else "unknown"

def best(peer, quant=None):
    """The fastest run of `peer` among its largest runs (short exploration runs only count alone)."""
    cands = [r for r in rows if r["peer"] == peer and (quant is None or r["quant"] == quant) and r.get("ok")]
    most = max((r.get("requests", 0) for r in cands), default=0)
    return max((r for r in cands if r.get("requests", 0) == most), key=lambda r: r["requests_per_s"], default=None)

def batch(r):
    lanes = r.get("lanes", 1)
    return f"{r['parallel']}x{lanes}" if lanes > 1 else str(r["parallel"])

def ceiling(quant, parallel):
    """The best of the repeated decode-only measurements at this batch."""
    cands = [r for r in rows if r["peer"] == "llama-batched-bench" and r["quant"] == quant and r["parallel"] == parallel]
    return max(cands, key=lambda r: r["decode_only_requests_per_s"], default=None)

emb = best("batchwise-embedded")
server = best("llama-server")
naive = best("naive-one-at-a-time")
summary = {"gpu": gpu, "commit": commit, "runs": rows, "ratios": {}}
if emb:
    q, p = emb["quant"], emb["parallel"]
    c = ceiling(q, p)
    r = summary["ratios"]
    r["embedded"] = {"quant": q, "parallel": p, "lanes": emb.get("lanes", 1), "requests_per_s": emb["requests_per_s"]}
    if server:
        r["embedded_vs_llama_server_best"] = emb["requests_per_s"] / server["requests_per_s"]
        r["llama_server_best"] = {"parallel": server["parallel"], "requests_per_s": server["requests_per_s"]}
    if naive:
        r["embedded_vs_naive"] = emb["requests_per_s"] / naive["requests_per_s"]
    if c:
        r["embedded_share_of_decode_only_ceiling"] = emb["requests_per_s"] / c["decode_only_requests_per_s"]
        r["ceiling"] = {"parallel": p, "decode_only_requests_per_s": c["decode_only_requests_per_s"]}
    lane_c = ceiling(q, p // emb.get("lanes", 1)) if emb.get("lanes", 1) > 1 else None
    if lane_c:
        # Each lane is one llama.cpp context decoding p/lanes sequences: its ceiling is the one at that batch.
        r["embedded_share_of_lane_batch_ceiling"] = emb["requests_per_s"] / lane_c["decode_only_requests_per_s"]
    if emb.get("prompt_tokens_evaluated") is not None:
        # rubric once + each request's own tokens: submitted minus what the cache served.
        r["prompt_tokens_evaluated"] = emb["prompt_tokens_evaluated"]
        r["prompt_tokens_submitted"] = emb["prompt_tokens_submitted"]
(out / "seed-h100.json").write_text(json.dumps(summary, indent=2) + "\n")

lines = [f"GPU: {gpu}  ", f"batchwise commit: {commit}", "",
         "| peer | quant | batch | requests | req/s | note |", "|---|---|---:|---:|---:|---|"]
for r in rows:
    rps = r.get("requests_per_s") or r.get("decode_only_requests_per_s")
    note = "decode only (32 tokens per sequence, prefix shared)" if r["peer"] == "llama-batched-bench" else ""
    if r["peer"] == "batchwise-embedded" and r.get("steps"):
        note = (f"{r['tokens_per_step']:.0f} tokens/step; llama_decode {r['decode_call_s']:.1f} s, "
                f"device wait {r['wait_s']:.1f} s, host {r['host_s']:.1f} s (summed over lanes)")
        if r.get("gpu_utilization") is not None:
            note += f"; GPU busy {r['gpu_utilization']:.0f}%"
    lines.append(f"| {r['peer']} | {r['quant']} | {batch(r)} | {r.get('requests', '')} | {rps:.1f} | {note} |")
lines.append("")
for k, v in summary["ratios"].items():
    if isinstance(v, float):
        lines.append(f"- {k.replace('_', ' ')}: **{v:.2f}**")
(out / "seed-h100.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
