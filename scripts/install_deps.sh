#!/usr/bin/env bash
# Installs the Debian 12 packages batchwise builds with, only those that are missing. With --tests, also what
# the tests, fuzzers and benchmarks need (a first `run` does not wait for Chromium, Slurm or clang).
set -euo pipefail
packages=(build-essential cmake ninja-build ccache git npm pkg-config patch
          libcurl4-openssl-dev libsqlite3-dev sqlite3 nlohmann-json3-dev libcli11-dev libcpp-httplib-dev)
if [ "${1:-}" = "--tests" ]; then
  # prometheus, chromium: serve's and tune's tests; slurm-wlm, munge: the Slurm tests run a one-node cluster;
  # clang: the libFuzzer targets of scripts/fuzz.sh
  packages+=(libgtest-dev libgmock-dev libbenchmark-dev python3 python3-aiohttp
             prometheus chromium slurm-wlm munge clang-16 libclang-rt-16-dev)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
# npm may already come from elsewhere (nodesource, nvm): do not fight it.
if command -v npm >/dev/null 2>&1; then
  kept=()
  for p in "${missing[@]}"; do [ "$p" = npm ] || kept+=("$p"); done
  missing=("${kept[@]}")
  [ ${#missing[@]} -eq 0 ] && exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "batchwise: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends ${missing[*]} >/dev/null
