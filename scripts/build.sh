#!/usr/bin/env bash
# Sets up and builds batchwise on Debian 12: packages, pinned llama.cpp, CMake build (ccache).
#   scripts/build.sh [CMAKE ARGS]          the batchwise binary only: the fastest way to a first result
#   scripts/build.sh --tests [CMAKE ARGS]  everything: the tests (and llama-server, which they run), benchmarks
# A second run takes seconds. BATCHWISE_BUILD_DIR names another build folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BATCHWISE_BUILD_DIR:-$root/build}
tests=""
if [ "${1:-}" = "--tests" ]; then tests=1; shift; fi
"$root/scripts/install_deps.sh" ${tests:+--tests}
llama_dir=""
for arg in "$@"; do case "$arg" in -DLLAMA_CPP_DIR=*) llama_dir=${arg#-DLLAMA_CPP_DIR=};; esac; done
[ -n "$llama_dir" ] || "$root/scripts/fetch_llama_cpp.sh"
# The official OpenAI Node SDK for serve's tests, pinned by tests/sdk/package-lock.json.
if [ -n "$tests" ] && [ ! -d "$root/tests/sdk/node_modules/openai" ]; then
  (cd "$root/tests/sdk" && npm ci --silent --no-audit --no-fund >/dev/null) || echo "batchwise: npm ci in tests/sdk failed: the SDK test will be skipped" >&2
fi
export CCACHE_DIR=${CCACHE_DIR:-$root/.cache/ccache}
# Paths relative to the checkout in cache keys: a second build folder (or checkout) reuses the
# llama.cpp objects instead of compiling them again.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
# Configured once; configured again when the tests are asked for (GoogleTest may have been installed since).
if [ ! -f "$build/build.ninja" ] || [ -n "$tests" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache "$@" >/dev/null
fi
if [ -n "$tests" ]; then
  cmake --build "$build" -j"$(nproc)"
else
  cmake --build "$build" -j"$(nproc)" --target batchwise
fi
