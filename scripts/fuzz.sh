#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz/ with Debian's clang (ASan + UBSan) and runs each for a
# bounded time from its checked-in seed corpus (tests/fuzz/corpus/TARGET, copied, so the checked-in
# one does not grow). Prints executions per second and crashes per target; exit 1 on any crash.
#   scripts/fuzz.sh [SECONDS_PER_TARGET=10]
# Crash inputs are kept in $BATCHWISE_FUZZ_DIR (default build-fuzz/) as crash-*.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-10}
out=${BATCHWISE_FUZZ_DIR:-$root/build-fuzz}
cxx=${BATCHWISE_FUZZ_CXX:-clang++-16}
command -v "$cxx" >/dev/null || { echo "fuzz: $cxx not found (scripts/install_deps.sh installs clang-16)" >&2; exit 2; }
mkdir -p "$out"
# libstdc++ 12's <expected> asks for __cpp_concepts >= 202002L, which clang 16 implements but does not
# announce yet.
flags=(-std=c++2b -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Wno-builtin-macro-redefined -U__cpp_concepts -D__cpp_concepts=202002L
       -DBATCHWISE_DATA_DIR=\"$root/data\" -DBATCHWISE_VERSION=\"fuzz\" -I"$root/src" -I"$root/tests/fuzz")
core=("$root"/src/core/{status,files,atomic_file,json_read,log}.cpp)
declare -A sources=(
  [gguf_header]="src/model/gguf_reader.cpp src/model/gguf_checks.cpp src/model/weight_types.cpp"
  [batch_line]="src/job/batch_input.cpp src/job/line_scan.cpp src/engine/engine.cpp src/engine/llama/generation_params.cpp src/engine/llama/request_features.cpp src/engine/llama/responses_request.cpp src/engine/llama/embedding_body.cpp src/core/base64.cpp"
  [sse_assembler]="src/engine/http/sse_assembler.cpp"
  [openai_response]="src/engine/http/openai_response.cpp src/engine/engine.cpp"
)
targets=(gguf_header batch_line sse_assembler openai_response)
# Each source compiles once, $(nproc) at a time, and the targets link what they need: the core files are in
# every target, so compiling them per target took most of the fuzz slice's two minutes.
mkdir -p "$out/obj"
object() { echo "$out/obj/$(echo "${1#"$root"/}" | tr / _).o"; }
compile() {
  "$cxx" "${flags[@]}" -c "$1" -o "$(object "$1")" 2>"$(object "$1").log" \
    || { echo "fuzz: compiling ${1#"$root"/} failed:" >&2; tail -20 "$(object "$1").log" >&2; return 1; }
}
declare -A unique=()
for s in "${core[@]}"; do unique[$s]=1; done
for target in "${targets[@]}"; do
  unique[$root/tests/fuzz/${target}_fuzz.cpp]=1
  for s in ${sources[$target]}; do unique[$root/$s]=1; done
done
running=0 build_failed=0
for s in "${!unique[@]}"; do
  compile "$s" &
  if (( ++running >= $(nproc) )); then wait -n || build_failed=1; running=$((running - 1)); fi
done
while (( running > 0 )); do wait -n || build_failed=1; running=$((running - 1)); done
[ "$build_failed" = 0 ] || exit 2

failed=0
for target in "${targets[@]}"; do
  objects=("$(object "$root/tests/fuzz/${target}_fuzz.cpp")")
  for s in ${sources[$target]}; do objects+=("$(object "$root/$s")"); done
  for s in "${core[@]}"; do objects+=("$(object "$s")"); done
  if ! "$cxx" "${flags[@]}" "${objects[@]}" -o "$out/${target}_fuzz" 2>"$out/${target}_build.log"; then
    echo "fuzz: linking $target failed:" >&2; tail -20 "$out/${target}_build.log" >&2; exit 2
  fi
  corpus="$out/corpus-$target"
  rm -rf "$corpus"; cp -r "$root/tests/fuzz/corpus/$target" "$corpus"
  log="$out/${target}_run.log"
  set +e
  (cd "$out" && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
     "./${target}_fuzz" -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
     -max_len=65536 -print_final_stats=1 "$corpus" >"$log" 2>&1)
  rc=$?
  set -e
  execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  rate=$(grep -m1 'stat::average_exec_per_sec' "$log" | awk '{print $2}')
  crashes=$(find "$out" -maxdepth 1 \( -name "crash-*" -o -name "leak-*" -o -name "timeout-*" -o -name "oom-*" \) | wc -l)
  echo "fuzz $target: ${execs:-0} executions in ${seconds} s (${rate:-0}/s), exit $rc, crash files so far: $crashes"
  if [ "$rc" -ne 0 ]; then failed=1; tail -40 "$log" >&2; fi
done
exit $failed
