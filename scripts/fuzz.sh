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
  [batch_line]="src/job/batch_input.cpp src/job/line_scan.cpp src/engine/engine.cpp src/engine/llama/generation_params.cpp src/engine/llama/request_features.cpp"
  [sse_assembler]="src/engine/http/sse_assembler.cpp"
  [openai_response]="src/engine/http/openai_response.cpp src/engine/engine.cpp"
)
failed=0
for target in gguf_header batch_line sse_assembler openai_response; do
  srcs=()
  for s in ${sources[$target]}; do srcs+=("$root/$s"); done
  if ! "$cxx" "${flags[@]}" "$root/tests/fuzz/${target}_fuzz.cpp" "${srcs[@]}" "${core[@]}" -o "$out/${target}_fuzz" \
       2>"$out/${target}_build.log"; then
    echo "fuzz: building $target failed:" >&2; tail -20 "$out/${target}_build.log" >&2; exit 2
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
