#!/usr/bin/env bash
# The seed workload on one GPU, every figure from one run (issue: GPU benchmark). Runs on the lent GPU
# machine, which reaches no package registry: the llama.cpp source and the Debian packages batchwise
# builds with travel in .carry/ (bench/gpu/make_carry.sh makes it). Idempotent: a warm machine skips
# the build and the models it already has.
#   bench/gpu/seed_h100.sh sources          unpack llama.cpp's source and the Debian packages from .carry/
#   bench/gpu/seed_h100.sh build            CUDA build of batchwise, llama-server, llama-batched-bench
#   bench/gpu/seed_h100.sh models           synth Llama-3.1-8B-shaped Q4_K_M and F16
#   bench/gpu/seed_h100.sh embedded QUANT N P...   batchwise run on N seed requests at each P (128, or 256x2: lanes)
#   bench/gpu/seed_h100.sh ceiling QUANT P...      llama-batched-bench, 2,048-token shared prompt, 32 out
#   bench/gpu/seed_h100.sh naive QUANT N    one request at a time, rubric re-evaluated each time
#   bench/gpu/seed_h100.sh server QUANT N NP...    llama-server -np NP --cache-ram 0, driven by batchwise
#   bench/gpu/seed_h100.sh plan_accuracy    plan's memory model against llama.cpp's dry runs on this GPU
#                                           (TESTS=1 build; records bench/results' cuda-dry-runs.jsonl)
#   bench/gpu/seed_h100.sh tbo_compile LOG  llama.cpp's test-backend-ops from .carry/ compiled to build-gpu/test-backend-ops.o
#   bench/gpu/seed_h100.sh link_tbo OBJ EXE llama.cpp's test-backend-ops, compiled from .carry/, linked against this build
#   bench/gpu/seed_h100.sh tbo_counts LOG   a test-backend-ops log as one JSON object: cases OK, failed, its summary
#   bench/gpu/seed_h100.sh pack             $OUT/0-all.tgz: every result and log in one file
# Results: JSON lines in $OUT/results.jsonl (and logs beside it). Despite its name it runs on any CUDA GPU.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${OUT:-$root/build-gpu/out}
mkdir -p "$out" build-gpu/models
deps=/tmp/bwdeps
arch_lib=x86_64-linux-gnu
export LD_LIBRARY_PATH="$deps/usr/lib/$arch_lib:$deps/lib/$arch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
bin=${BATCHWISE_BIN:-build-gpu/batchwise}
bin_dir=${LLAMA_BIN_DIR:-build-gpu/bin}
log() { echo "[$(date +%T)] $*" >&2; }

unpack_deps() {
  [ -d "$deps" ] && return
  mkdir -p "$deps"
  for d in .carry/debs/*.deb; do dpkg-deb -x "$d" "$deps"; done
  # Keep our copies only of libraries the system lacks (curl and sqlite are linked against ours).
  for f in "$deps"/usr/lib/$arch_lib/*.so.* "$deps"/lib/$arch_lib/*.so.*; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    case "$name" in libcurl*|libsqlite3*|libcpp-httplib*) continue;; esac
    soname=$(echo "$name" | sed -E 's/(\.so\.[0-9]+).*/\1/')
    if ldconfig -p | grep -q " $soname "; then rm -f "$f"; fi
  done
}

stage_sources() {
  if [ ! -f third_party/llama.cpp/CMakeLists.txt ]; then
    mkdir -p third_party && tar xzf .carry/llama.cpp.tar.gz -C third_party
    mkdir -p third_party/llama.cpp/models && cp .carry/ggml-vocab-*.gguf third_party/llama.cpp/models/
  fi
  unpack_deps
}

stage_build() {
  stage_sources
  # TESTS=1 builds the unit tests too (the plan accuracy test); googletest comes from .carry/debs.
  # EXTRA_TARGETS: more to build (attention_step_bench, batchwise_integration_tests with TESTS=1).
  # TARGETS: build only these (e.g. ggml's libraries alone, for llama.cpp's test-backend-ops).
  local tests=(-DBATCHWISE_TESTS=OFF) targets=(${TARGETS:-batchwise llama-batched-bench ${EXTRA_TARGETS:-}})
  [ -z "${TESTS:-}" ] || { tests=(-DBATCHWISE_TESTS=ON -DBATCHWISE_LLAMA_SERVER_TESTS=OFF -DGTest_DIR="$deps/usr/lib/$arch_lib/cmake/GTest"); targets+=(batchwise_unit_tests); }
  if [ ! -f build-gpu/build.ninja ]; then
    cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DBATCHWISE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a \
      "${tests[@]}" -DBATCHWISE_BENCH=ON -DCURL_NO_CURL_CMAKE=ON \
      -DCURL_INCLUDE_DIR="$deps/usr/include/$arch_lib" -DCURL_LIBRARY="$deps/usr/lib/$arch_lib/libcurl.so" \
      -DSQLite3_INCLUDE_DIR="$deps/usr/include" -DSQLite3_LIBRARY="$deps/usr/lib/$arch_lib/libsqlite3.so" \
      -Dnlohmann_json_DIR="$deps/usr/share/cmake/nlohmann_json" -DCLI11_DIR="$deps/usr/share/cmake/CLI11" \
      -DHTTPLIB_ROOT="$deps" -DCMAKE_DISABLE_FIND_PACKAGE_PkgConfig=ON \
      > "$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
  fi
  local t0=$SECONDS
  cmake --build build-gpu -j"$(nproc)" --target "${targets[@]}" > "$out/build.log" 2>&1 \
    || { grep -E "error|Error" "$out/build.log" | head -20; exit 1; }
  log "build: $((SECONDS - t0)) s"
  [ -n "${SKIP_SERVER:-}" ] || cmake --build build-gpu -j"$(nproc)" --target llama-server > "$out/build-server.log" 2>&1 \
    || { log "llama-server did not build:"; grep -E "error|Error" "$out/build-server.log" | head -10; }
  ls -la build-gpu/batchwise build-gpu/bin/ >&2 || true  # absent where TARGETS built ggml alone
}

model_path() { echo "build-gpu/models/llama-3.1-8b-$1.gguf"; }

stage_models() {
  for q in ${MODELS:-q4_k_m f16}; do
    [ -f "$(model_path $q)" ] || { local t0=$SECONDS; $bin -q synth -m llama-3.1-8b --quant $q -o "$(model_path $q)"; log "synth $q: $((SECONDS - t0)) s"; }
  done
}

workload() {  # N -> path
  local f="build-gpu/models/seed-$1.jsonl"
  [ -f "$f" ] || $bin -q gen-workload seed -n "$1" --ignore-eos --output-tokens 32 -o "$f"
  echo "$f"
}

record() { python3 -c "import json,sys; print(json.dumps(dict(json.loads(sys.argv[1]), **json.loads(sys.argv[2]))))" "$1" "$2" | tee -a "$out/results.jsonl"; }

# KV cells: the shared prefix once per lane, CELLS_PER_SEQ for each sequence's own prompt and output,
# and slack. P is "SEQUENCES" or "SEQUENCESxLANES" (128x2: 128 sequences over 2 llama.cpp contexts).
stage_embedded() {  # QUANT N P...   (env: CELLS_PER_SEQ, CTX_SLACK, UBATCH, SAMPLING=device|host, EXTRA flags)
  local q=$1 n=$2; shift 2
  local w; w=$(workload "$n")
  for pl in "$@"; do
    local p=${pl%x*} lanes=1
    [ "$pl" = "$p" ] || lanes=${pl#*x}
    local ctx=$(( lanes * 2300 + p * ${CELLS_PER_SEQ:-100} + ${CTX_SLACK:-4096} ))
    local tag="$q-$p-l$lanes-c$ctx-ub${UBATCH:-1024}${EXTRA_TAG:-}"
    rm -f build-gpu/emb.*
    log "embedded $tag"
    $bin -v run "$w" -o build-gpu/emb.jsonl -m "$(model_path $q)" -np "$p" --lanes "$lanes" -c "$ctx" -b 4096 -ub "${UBATCH:-1024}" \
      $([ "${SAMPLING:-host}" = device ] && echo --device-sampling) ${EXTRA:-} --json > "$out/embedded-$tag.json" 2> "$out/embedded-$tag.log" \
      || { tail -5 "$out/embedded-$tag.log"; continue; }
    grep -E "engine:" "$out/embedded-$tag.log" >&2 || true
    record "$(python3 -c "import json; r=json.load(open('$out/embedded-$tag.json')); e=r['engine']; print(json.dumps({'requests_per_s': r['requests_per_s'], 'ok': r['ok'], 'wall_s': r['wall_s'], 'prompt_tokens_evaluated': e['prompt_tokens_evaluated'], 'prompt_tokens_submitted': e['prompt_tokens_submitted'], 'steps': e.get('steps'), 'tokens_per_step': e.get('tokens_per_step'), 'decode_call_s': e.get('decode_call_s'), 'wait_s': e.get('wait_s'), 'host_s': e.get('host_s'), 'peak_gpu_memory_bytes': r['memory'].get('peak_gpu_memory_bytes'), 'gpu_utilization': r['memory'].get('mean_gpu_utilization')}))")" \
      "{\"peer\": \"batchwise-embedded\", \"quant\": \"$q\", \"parallel\": $p, \"lanes\": $lanes, \"requests\": $n, \"ctx\": $ctx, \"ubatch\": ${UBATCH:-1024}, \"sampling\": \"${SAMPLING:-host}\", \"extra\": \"${EXTRA:-}\"}"
  done
}

# Each batch size CEILING_REPEATS times (default 3): one measurement is 32 decode steps, under a second,
# and repeats on one warm machine varied by 15% (bench/results/README.md); summarize.py takes the best.
stage_ceiling() {  # QUANT P...
  local q=$1; shift
  local all=() p i
  for p in "$@"; do for i in $(seq "${CEILING_REPEATS:-3}"); do all+=("$p"); done; done
  local npl; npl=$(IFS=,; echo "${all[*]}")
  "$bin_dir/llama-batched-bench" -m "$(model_path $q)" -c 65536 -b 4096 -ub 1024 -ngl 999 -fa on -kvu -pps \
    -npp 2048 -ntg 32 -npl "$npl" --output-format jsonl > "$out/ceiling-$q.jsonl" 2> "$out/ceiling-$q.log" || tail "$out/ceiling-$q.log"
  python3 - "$out/ceiling-$q.jsonl" "$q" <<'PY' | tee -a "$out/results.jsonl"
import json, sys
for line in open(sys.argv[1]):
    if not line.startswith("{"): continue
    r = json.loads(line)
    # decode only: B sequences each generate 32 tokens in t_tg seconds.
    print(json.dumps({"peer": "llama-batched-bench", "quant": sys.argv[2], "parallel": r["pl"],
                      "decode_only_requests_per_s": r["pl"] / r["t_tg"], "t_tg_s": r["t_tg"], "t_pp_s": r["t_pp"]}))
PY
}

stage_naive() {  # QUANT N
  local q=$1 n=$2
  local w; w=$(workload "$n")
  rm -f build-gpu/naive.*
  $bin -q run "$w" -o build-gpu/naive.jsonl -m "$(model_path $q)" -np 1 --prefix-slots 0 -c 4096 --json \
    > "$out/naive-$q.json" 2> "$out/naive-$q.log" || tail "$out/naive-$q.log"
  record "$(python3 -c "import json; r=json.load(open('$out/naive-$q.json')); print(json.dumps({'requests_per_s': r['requests_per_s'], 'ok': r['ok'], 'wall_s': r['wall_s']}))")" \
    "{\"peer\": \"naive-one-at-a-time\", \"quant\": \"$q\", \"parallel\": 1, \"requests\": $n}"
}

stage_server() {  # QUANT N NP...
  local q=$1 n=$2; shift 2
  local w; w=$(workload "$n")
  for np in "$@"; do
    "$bin_dir/llama-server" -m "$(model_path $q)" -ngl 999 -np "$np" -c $(( np * 2200 )) -fa on --cache-ram 0 \
      --host 127.0.0.1 --port 18080 > "$out/server-$q-$np.log" 2>&1 &
    local pid=$!
    python3 - <<'PY' || { log "llama-server did not come up"; tail -5 "$out/server-$q-$np.log"; }
import time, urllib.request
for _ in range(180):
    try:
        if urllib.request.urlopen("http://127.0.0.1:18080/health", timeout=2).status == 200: break
    except Exception: pass
    time.sleep(1)
else: raise SystemExit(1)
PY
    rm -f build-gpu/srv.*
    log "llama-server -np $np"
    # A bounded wait: llama-server -np 64 once stopped answering mid-run here (bench/results/README.md).
    timeout -k 5 "${SERVER_RUN_LIMIT_S:-150}" $bin run "$w" -o build-gpu/srv.jsonl --endpoint http://127.0.0.1:18080 --max-concurrency "$np" --json \
      > "$out/server-run-$q-$np.json" 2> "$out/server-run-$q-$np.log" || tail "$out/server-run-$q-$np.log"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    [ -s "$out/server-run-$q-$np.json" ] || { log "llama-server -np $np: no result"; continue; }
    record "$(python3 -c "import json; r=json.load(open('$out/server-run-$q-$np.json')); print(json.dumps({'requests_per_s': r['requests_per_s'], 'ok': r['ok'], 'wall_s': r['wall_s']}))")" \
      "{\"peer\": \"llama-server\", \"quant\": \"$q\", \"parallel\": $np, \"requests\": $n}"
  done
}

# plan's GPU and host compute buffers against llama.cpp's dry run with every layer on this GPU
# (tests/unit/plan_accuracy_cuda_test.cpp), each case recorded as a JSON line.
stage_plan_accuracy() {
  BATCHWISE_RECORD_GPU_DRY_RUNS="$out/cuda-dry-runs.jsonl" build-gpu/tests/batchwise_unit_tests \
    --gtest_filter='PlanAccuracy*' > "$out/plan-accuracy.log" 2>&1 || log "plan accuracy: some cases are off (see the log)"
  grep -E "^\[ +(OK|FAILED|SKIPPED) +\]" "$out/plan-accuracy.log" >&2 || true
}

stage_tbo_compile() {  # LOG: llama.cpp's test-backend-ops from .carry/ compiled (headers only, so beside the build) for link_tbo
  g++ -std=c++17 -O2 -c -Ithird_party/llama.cpp/ggml/include -Ithird_party/llama.cpp/ggml/src .carry/test-backend-ops.cpp \
    -o build-gpu/test-backend-ops.o > "$1" 2>&1
}

stage_tbo_counts() {  # LOG: a test-backend-ops run's log as JSON: cases OK, cases failed, its summary line
  local clean; clean=$(sed 's/\x1b\[[0-9;]*m//g' "$1")
  echo "{\"ok\": $(grep -c ' OK$' <<< "$clean"), \"fail\": $(grep -c 'FAIL' <<< "$clean"), \"summary\": \"$(grep -E 'tests passed' <<< "$clean" | tail -1 | tr -d '"')\"}"
}

stage_link_tbo() {  # OBJECT EXECUTABLE: llama.cpp's test-backend-ops (compiled from .carry/) linked against this build's ggml
  local g=build-gpu/llama.cpp/ggml/src nccl
  # ggml-cuda calls NCCL (for several GPUs); on the lent machine it sits beside the system's libraries
  nccl=$(dirname "$(find / -name 'libnccl.so*' -not -path '/proc/*' 2>/dev/null | head -1)")
  g++ "$1" -o "$2" -Wl,--start-group $g/libggml.a $g/ggml-cuda/libggml-cuda.a $g/libggml-cpu.a $g/libggml-base.a \
    -Wl,--end-group -fopenmp -L/usr/local/cuda/lib64 -L/usr/local/cuda/lib64/stubs -L"$nccl" \
    -lnccl -lcudart -lcublas -lcublasLt -lcuda -lpthread -ldl
}
# Everything under $OUT in one file: the device tool brings back only the first few files by name.
stage_pack() { tar czf "$out/0-all.tgz" -C "$out" --exclude 0-all.tgz .; }

stage=$1; shift
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/gpu.txt" 2>/dev/null || true
"stage_$stage" "$@"
