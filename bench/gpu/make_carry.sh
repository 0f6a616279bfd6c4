#!/usr/bin/env bash
# Packs what the GPU machine cannot fetch into .carry/ (ignored by git): the pinned llama.cpp source
# without docs, models, tests and UI sources; the Llama-3 tokenizer; the Debian packages batchwise
# builds with and libcurl's libraries (bench/gpu/seed_h100.sh keeps only those the machine lacks).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
"$root/scripts/fetch_llama_cpp.sh"
mkdir -p "$root/.carry/debs"
tar czf "$root/.carry/llama.cpp.tar.gz" -C "$root/third_party" \
  --exclude='llama.cpp/docs' --exclude='llama.cpp/media' --exclude='llama.cpp/models/*' --exclude='llama.cpp/tests' \
  --exclude='llama.cpp/examples' --exclude='llama.cpp/benches' --exclude='llama.cpp/tools/ui/src' \
  --exclude='llama.cpp/tools/ui/static' --exclude='llama.cpp/tools/ui/tests' --exclude='llama.cpp/gguf-py' \
  --exclude='llama.cpp/conversion' --exclude='llama.cpp/pocs' llama.cpp
# llama.cpp's backend op test, to check a CUDA kernel against the CPU's (bench/gpu/attention_h200.sh's kernel stage).
cp "$root/third_party/llama.cpp/tests/test-backend-ops.cpp" "$root/.carry/"
# The tokenizers of the presets (the plan accuracy tests write sparse GGUFs with them).
for v in llama-bpe llama-spm qwen2 deepseek-llm; do cp "$root/third_party/llama.cpp/models/ggml-vocab-$v.gguf" "$root/.carry/"; done
cd "$root/.carry/debs"
apt-get download libgtest-dev libgmock-dev googletest nlohmann-json3-dev libcli11-dev libsqlite3-dev libsqlite3-0 libcurl4-openssl-dev libcurl4 \
  libcpp-httplib-dev libcpp-httplib0.11 libssl-dev zlib1g-dev libbrotli-dev \
  libbrotli1 libcom-err2 libdb5.3 libffi8 libgmp10 libgnutls30 libgssapi-krb5-2 libhogweed6 libidn2-0 libk5crypto3 \
  libkeyutils1 libkrb5-3 libkrb5support0 libldap-2.5-0 libnettle8 libnghttp2-14 libp11-kit0 libpsl5 librtmp1 \
  libsasl2-2 libsasl2-modules-db libssh2-1 libssl3 libtasn1-6 libunistring2 libzstd1 zlib1g
du -sh "$root/.carry"
