#!/usr/bin/env bash
# `batchwise run` on an embeddings workload against llama-server's /v1/embeddings on the same GGUF, in one run, on
# this machine: the embedded engine at its defaults, then llama-server (-kvu) at -np 1, 4 and 16, each driven by
# `batchwise run --endpoint` with twice its slots in flight. The model is a synthetic one with mean pooling unless
# one is given. Usage: bench/embeddings_vs_llama_server.sh [N] [MODEL.gguf]
#   (writes bench/results/<date>-embeddings-vs-llama-server.json)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${BATCHWISE_BIN:-$root/build/batchwise}
server=${LLAMA_SERVER_BIN:-$root/build/bin/llama-server}
n=${1:-2000}
work=$(mktemp -d)
trap 'pkill -f "llama-server.*--port $port" 2>/dev/null || true; rm -rf "$work"' EXIT
model=${2:-$work/emb.gguf}
[ $# -ge 2 ] || "$bin" -q synth -m tiny --pooling mean -o "$model"
# Inputs of about 40 words, each request one input: the shape of embedding a corpus's passages.
python3 - "$n" > "$work/in.jsonl" <<'PY'
import json, random, sys
random.seed(1)
words = "candidate wrote a parser compiler with tests and docs in rust python c++ over a weekend reviewed by the lead".split()
for i in range(int(sys.argv[1])):
    print(json.dumps({"custom_id": f"e{i}", "url": "/v1/embeddings",
                      "body": {"input": " ".join(random.choice(words) for _ in range(40))}}))
PY
row() {  # name, report file
  python3 - "$2" "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"name": sys.argv[2], "requests_per_s": round(r["requests_per_s"], 2), "ok": r["ok"],
                  "prompt_tokens": r["tokens"]["prompt"], "wall_s": round(r["wall_s"], 2)}))
PY
}
port=$((20000 + RANDOM % 20000))
{
  "$bin" -q run "$work/in.jsonl" -o "$work/embedded.jsonl" -m "$model" --json > "$work/embedded.report.json"
  row embedded "$work/embedded.report.json"
  for np in 1 4 16; do
    "$server" -m "$model" --embeddings --host 127.0.0.1 --port "$port" -np "$np" -kvu -c 16384 > "$work/server-$np.log" 2>&1 &
    for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.2; done
    "$bin" -q run "$work/in.jsonl" -o "$work/server-$np.jsonl" --endpoint "http://127.0.0.1:$port" \
      --max-concurrency $((np * 2)) --json > "$work/server-$np.report.json"
    kill %1 && wait %1 2> /dev/null || true
    row "llama-server -np $np -kvu" "$work/server-$np.report.json"
  done
} > "$work/rows.jsonl"
out="$root/bench/results/$(date +%Y-%m-%d)-embeddings-vs-llama-server.json"
python3 - "$work/rows.jsonl" "$n" "$out" "${2:-synthetic tiny, mean pooling}" <<'PY'
import json, sys, platform, os
rows = [json.loads(l) for l in open(sys.argv[1])]
best = max((r for r in rows if r["name"] != "embedded"), key=lambda r: r["requests_per_s"])
ours = rows[0]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
result = {"workload": f"{sys.argv[2]} /v1/embeddings requests of one ~40-word input", "model": sys.argv[4], "cpu": cpu,
          "cores": os.cpu_count(), "rows": rows, "best_llama_server": best["name"],
          "ratio_embedded_vs_best_llama_server": round(ours["requests_per_s"] / best["requests_per_s"], 2)}
json.dump(result, open(sys.argv[3], "w"), indent=2)
for r in rows:
    print(f'{r["name"]:28s} {r["requests_per_s"]:8.2f} req/s  {r["prompt_tokens"]:>9,d} prompt tokens')
print(f'embedded / best llama-server ({best["name"]}): {result["ratio_embedded_vs_best_llama_server"]}x')
print("wrote", sys.argv[3])
PY
