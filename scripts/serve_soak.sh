#!/usr/bin/env bash
# Runs serve's alternating-models test (tests/integration/serve_models_test.cpp: two models in one model
# slot, clients of both from several threads, batches meanwhile) for longer than CI's 20 s: 600 s by
# default, issue 30's ten minutes. With BATCHWISE_BUILD_DIR=build-asan or build-tsan (scripts/sanitize.sh
# makes them) it runs under that sanitizer, with sanitize.sh's options and suppressions, and fails on any
# report it leaves in BUILD/sanitizer-logs.
#   scripts/serve_soak.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BATCHWISE_BUILD_DIR:-$root/build}
logs="$build/sanitizer-logs"
case "$(basename "$build")" in
  build-tsan)
    export TSAN_OPTIONS="halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:log_path=$logs/tsan:suppressions=$root/scripts/sanitizers/tsan.supp" ;;
  build-asan)
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=1:log_path=$logs/asan"
    export LSAN_OPTIONS="suppressions=$root/scripts/sanitizers/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/ubsan" ;;
esac
rm -rf "$logs"; mkdir -p "$logs"
rc=0
BATCHWISE_SOAK_S=${1:-600} "$build/tests/batchwise_integration_tests" --gtest_filter='ServeModels.*' || rc=$?
reports=$(find "$logs" -type f | wc -l)
echo "serve soak: exit $rc, $reports sanitizer report file(s)"
[ "$reports" -eq 0 ] || { for f in "$logs"/*; do echo "== $f"; head -40 "$f"; done >&2; rc=1; }
exit "$rc"
