#!/usr/bin/env bash
# The llama-server peer on one GPU, fairly (issue 26 item 6), and batchwise at its defaults beside it:
#   server:   llama-server -np NP (NPS, default "16 32 64"), each without and with -kvu (KVUS), on PEER_N seed
#             requests (default 400), driven two ways by bench/llama_server_stall.sh: a plain client holding NP in
#             flight from the start ("fixed") and `batchwise run --endpoint` ("batchwise"); a server that finishes
#             nothing for STALL_S (default 60) seconds is named stalled
#   embedded: batchwise run with no engine flags on N seed requests (default 10,000), the same model
#   summary:  the best working llama-server setting and batchwise's ratio to it
# STAGES (default "server embedded summary"). Results: JSON lines in $OUT/peer.jsonl; logs in $OUT/peer-logs.tgz.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/build-gpu/out}
mkdir -p "$out/peer"
# The device call brings back a limited number of files: the logs travel as one archive, packed again after each
# setting, so that a call cut short still brings back what finished (on 2026-12-07 a stage cut short left its
# logs behind, and with them why). Each setting is killed outright at its limit: a TERM trap would wait for it.
pack_logs() { tar czf "$out/peer-logs.tgz" -C "$out" peer 2>/dev/null || true; }
trap 'pack_logs; rm -rf "$out/peer"' EXIT
stages=" ${STAGES:-server embedded summary} "
bin=build-gpu/batchwise
seed=bench/gpu/seed_h100.sh
log() { echo "[$(date +%T)] $*" >&2; }
export LD_LIBRARY_PATH="/tmp/bwdeps/usr/lib/x86_64-linux-gnu:/tmp/bwdeps/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
[ -x "$bin" ] && [ -x build-gpu/bin/llama-server ] || $seed build || exit 1
MODELS=f16 $seed models || exit 1
model=build-gpu/models/llama-3.1-8b-f16.gguf
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)

if [[ $stages == *" server "* ]]; then
  for np in ${NPS:-16 32 64}; do
    for kvu in ${KVUS:-off on}; do
      flags="-ngl 999 -fa on"
      [ "$kvu" = on ] && flags="$flags -kvu"
      dir=$out/peer/np$np-kvu-$kvu
      log "llama-server -np $np $flags"
      LLAMA_SERVER=build-gpu/bin/llama-server BATCHWISE=$bin SERVER_FLAGS="$flags" MODES="${PEER_MODES:-fixed batchwise}" \
        STALL_S=${STALL_S:-60} timeout -s KILL "${SETTING_LIMIT_S:-400}" bench/llama_server_stall.sh "$model" \
        "${PEER_N:-400}" "$np" "$dir" > "$dir.log" 2>&1 || tail -3 "$dir.log" >&2
      pkill -9 -f build-gpu/bin/llama-server 2>/dev/null || true  # one left behind by a killed setting
      python3 - "$dir/summary.jsonl" "$gpu" "$kvu" <<'PY' | tee -a "$out/peer.jsonl" >&2
import json, os, sys
for line in (open(sys.argv[1]) if os.path.exists(sys.argv[1]) else []):
    r = json.loads(line)
    r.update({"bench": "llama-server", "gpu": sys.argv[2], "kvu": sys.argv[3] == "on"})
    print(json.dumps(r))
PY
      pack_logs
    done
  done
fi

if [[ $stages == *" embedded "* ]]; then
  n=${N:-10000}
  w=build-gpu/models/seed-$n.jsonl
  [ -f "$w" ] || $bin -q gen-workload seed -n "$n" --ignore-eos --output-tokens 32 -o "$w"
  rm -f build-gpu/peer-run.*
  log "batchwise run at its defaults, $n requests"
  timeout 300 $bin -v run "$w" -o build-gpu/peer-run.jsonl -m "$model" --json > "$out/peer/embedded.json" \
    2> "$out/peer/embedded.log" || tail -5 "$out/peer/embedded.log" >&2
  grep -E "on the GPU|attention|engine:" "$out/peer/embedded.log" | head -5 >&2
  python3 - "$out/peer/embedded.json" "$gpu" "$n" <<'PY' | tee -a "$out/peer.jsonl" >&2
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"bench": "embedded-defaults", "gpu": sys.argv[2], "requests": int(sys.argv[3]), "ok": r["ok"],
                  "requests_per_s": round(r["requests_per_s"], 1), "wall_s": round(r["wall_s"], 1),
                  "evaluated_prompt_tokens": r.get("tokens", {}).get("evaluated_prompt")}))
PY
fi

if [[ $stages == *" summary "* ]]; then
  python3 - "$out/peer.jsonl" <<'PY' | tee -a "$out/peer.jsonl" >&2
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
servers = [r for r in rows if r["bench"] == "llama-server" and r["done"] == r["requests"] and not r["stalled"]]
embedded = [r for r in rows if r["bench"] == "embedded-defaults"]
best = max(servers, key=lambda r: r["requests_per_s"], default=None)
out = {"bench": "peer-summary", "working_server_settings": len(servers),
       "failed_server_settings": [f"-np {r['np']}{' -kvu' if r['kvu'] else ''} {r['mode']}" for r in rows
                                  if r["bench"] == "llama-server" and r not in servers]}
if best:
    out["best_server"] = {k: best[k] for k in ("np", "kvu", "mode", "requests_per_s")}
if best and embedded:
    out["embedded_requests_per_s"] = embedded[-1]["requests_per_s"]
    out["embedded_over_best_server"] = round(embedded[-1]["requests_per_s"] / best["requests_per_s"], 2)
print(json.dumps(out))
PY
fi
