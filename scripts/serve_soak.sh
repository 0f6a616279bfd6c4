#!/usr/bin/env bash
# Runs serve's alternating-models test (tests/integration/serve_models_test.cpp: two models in one model
# slot, clients of both from several threads, batches meanwhile) for longer than CI's 20 s: 600 s by
# default, issue 30's ten minutes. With BATCHWISE_BUILD_DIR=build-asan or build-tsan (scripts/sanitize.sh
# makes them) it runs under a sanitizer.
#   scripts/serve_soak.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BATCHWISE_BUILD_DIR:-$root/build}
BATCHWISE_SOAK_S=${1:-600} exec "$build/tests/batchwise_integration_tests" --gtest_filter='ServeModels.*'
