#!/usr/bin/env bash
# Builds batchwise's own code with sanitizers and runs its tests there (issue 17):
#   asan: AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/): the unit and integration suites.
#   tsan: ThreadSanitizer (build-tsan/): the threaded parts, PreparedQueue, JobRunner, Job, JobStore,
#         LlamaEngine, HttpEngine, Serve (unit and integration).
#   scripts/sanitize.sh [asan|tsan|all] [--ci]      (default: all)
# --ci builds and runs only the bounded slice .ci/run runs (a few minutes on 2 cores): the tests of
# batchwise_sanitizer_slice_tests (tests/CMakeLists.txt: JobStore and its power-loss test, PreparedQueue,
# ConcurrencyLimiter, EndpointPool), built from their own sources, under both sanitizers.
# llama.cpp/ggml stay uninstrumented: they are linked from the static libraries that build/ already has
# (-DBATCHWISE_LLAMA_BUILD_DIR, cmake/llama_prebuilt.cmake), so only our code is compiled again.
# Sanitizer reports go to <build>/sanitizer-logs/ as well, which catches those of a `batchwise` child
# process whose exit status a test does not look at; any report there fails the run (exit 1).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=all
ci=0
for arg in "$@"; do
  case "$arg" in
    asan|tsan|all) mode=$arg ;;
    --ci) ci=1 ;;
    *) echo "usage: scripts/sanitize.sh [asan|tsan|all] [--ci]" >&2; exit 2 ;;
  esac
done
llama_build=${BATCHWISE_LLAMA_BUILD_DIR:-$root/build}
if [ ! -f "$llama_build/llama.cpp/src/libllama.a" ]; then
  echo "sanitize: $llama_build has no llama.cpp build yet: running scripts/build.sh first" >&2
  BATCHWISE_BUILD_DIR=$llama_build "$root/scripts/build.sh" --tests
fi
export CCACHE_DIR=${CCACHE_DIR:-$root/.cache/ccache}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
jobs=${BATCHWISE_SANITIZE_JOBS:-$(nproc)}

# What runs: "LABEL:REGEX" pairs (ctest -L LABEL -R REGEX; tests/CMakeLists.txt labels the tests unit,
# integration and sanitizer_slice).
threaded='^(PreparedQueue|JobRunner|Job|JobStore|JobStorePowerLoss|LlamaEngine[A-Za-z]*|Runner|EndpointPool|ConcurrencyLimiter)\.'
asan_full=("unit:." "integration:.")
tsan_full=("unit:$threaded|^RunThread\." "integration:^(HttpEngine|Serve|ServeClients|ServeModels|ServeShutdown|ServeLimits|ServeStore|ServeDownloads|Durability)\.")
ci_slice=("sanitizer_slice:.")

configure_and_build() {  # build-dir, sanitizer flags
  local dir=$1 flags=$2
  if [ ! -f "$dir/build.ninja" ]; then
    # -O1: sanitizers want little inlining for readable stacks, and it compiles faster than -O3.
    cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
          -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
          -DBATCHWISE_LLAMA_BUILD_DIR="$llama_build" -DBATCHWISE_BENCH=OFF \
          -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g $flags" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g $flags" \
          -DCMAKE_EXE_LINKER_FLAGS="$flags" -DBATCHWISE_SANITIZER_SLICE=ON >/dev/null
  fi
  if [ "$ci" = 1 ]; then
    cmake --build "$dir" -j"$jobs" --target batchwise_sanitizer_slice_tests
  else
    cmake --build "$dir" -j"$jobs"
  fi
}

run_tests() {  # build-dir, label for the summary, LABEL:REGEX...
  local dir=$1 name=$2 logs="$1/sanitizer-logs" start=$SECONDS rc=0 pair
  shift 2
  rm -rf "$logs"; mkdir -p "$logs"
  for pair in "$@"; do
    ctest --test-dir "$dir" -L "^${pair%%:*}\$" -R "${pair#*:}" --output-on-failure -j"$jobs" --timeout 900 || rc=$?
  done
  local reports
  reports=$(find "$logs" -type f | wc -l)
  echo "sanitize $name: ctest exit $rc, $reports sanitizer report file(s), $((SECONDS - start)) s"
  if [ "$reports" -gt 0 ]; then
    for f in "$logs"/*; do echo "== $f"; head -60 "$f"; done >&2
    rc=1
  fi
  return "$rc"
}

failed=0
if [ "$mode" = asan ] || [ "$mode" = all ]; then
  # -Wno-maybe-uninitialized: under ASan g++ 12 warns falsely inside std::regex (kill_trials_test.cpp), and
  # -Werror would stop the build.
  configure_and_build "$root/build-asan" "-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -Wno-maybe-uninitialized"
  logs="$root/build-asan/sanitizer-logs"
  # detect_leaks: our code must not leak either. abort_on_error: a report is a crash the test sees.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:log_path=$logs/asan"
  export LSAN_OPTIONS="suppressions=$root/scripts/sanitizers/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan"
  if [ "$ci" = 1 ]; then sel=("${ci_slice[@]}"); else sel=("${asan_full[@]}"); fi
  run_tests "$root/build-asan" "asan+ubsan" "${sel[@]}" || failed=1
  unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
fi
if [ "$mode" = tsan ] || [ "$mode" = all ]; then
  # -Wno-tsan: g++ 12 warns that TSan does not model std::atomic_thread_fence (used by libstdc++ and
  # nlohmann, not by us); with -Werror that warning would stop the build.
  configure_and_build "$root/build-tsan" "-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan"
  logs="$root/build-tsan/sanitizer-logs"
  export TSAN_OPTIONS="halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:log_path=$logs/tsan:suppressions=$root/scripts/sanitizers/tsan.supp"
  if [ "$ci" = 1 ]; then sel=("${ci_slice[@]}"); else sel=("${tsan_full[@]}"); fi
  run_tests "$root/build-tsan" "tsan" "${sel[@]}" || failed=1
  unset TSAN_OPTIONS
fi
exit $failed
