#!/usr/bin/env bash
# Sets up and builds batchwise on Debian 12: packages, pinned llama.cpp, CMake build (ccache).
# A second run takes seconds. BATCHWISE_BUILD_DIR and extra CMake arguments may be given.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BATCHWISE_BUILD_DIR:-$root/build}
"$root/scripts/install_deps.sh"
llama_dir=""
for arg in "$@"; do case "$arg" in -DLLAMA_CPP_DIR=*) llama_dir=${arg#-DLLAMA_CPP_DIR=};; esac; done
[ -n "$llama_dir" ] || "$root/scripts/fetch_llama_cpp.sh"
# The official OpenAI Node SDK for serve's tests, pinned by tests/sdk/package-lock.json.
if [ ! -d "$root/tests/sdk/node_modules/openai" ]; then
  (cd "$root/tests/sdk" && npm ci --silent --no-audit --no-fund >/dev/null) || echo "batchwise: npm ci in tests/sdk failed: the SDK test will be skipped" >&2
fi
export CCACHE_DIR=${CCACHE_DIR:-$root/.cache/ccache}
# Paths relative to the checkout in cache keys: a second build folder (or checkout) reuses the
# llama.cpp objects instead of compiling them again.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache "$@" >/dev/null
fi
cmake --build "$build" -j"$(nproc)"
