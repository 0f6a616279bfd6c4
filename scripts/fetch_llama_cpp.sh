#!/usr/bin/env bash
# Puts the pinned llama.cpp source in third_party/llama.cpp, taken from the git bundle that the
# node-llama-cpp npm package ships (checksum verified), with our patches (patches/llama.cpp/*.patch,
# docs/ARCHITECTURE.md says what each does) applied. Does nothing when that very source is already there:
# the marker file names the tag and the patches' checksum, and the build uses it as the llama.cpp build id.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/third_party/llama.cpp"
version=3.22.1
sha256=a0d9dd80eacd2ab1cfe71aee57ac8a806487fd70b3d2a38fbec637752d9e5c5f
tag=v0.5.0
patches=("$root"/patches/llama.cpp/*.patch)
stamp="$tag+$(cat "${patches[@]}" | sha256sum | cut -c1-8)"
[ -f "$dest/.batchwise-$stamp" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "batchwise: fetching llama.cpp $tag from node-llama-cpp@$version" >&2
(cd "$work" && npm pack --silent "node-llama-cpp@$version" >/dev/null 2>npm.log) || { cat "$work/npm.log" >&2; exit 1; }
tarball="$work/node-llama-cpp-$version.tgz"
echo "$sha256  $tarball" | sha256sum -c --quiet - || { echo "batchwise: checksum mismatch for $tarball" >&2; exit 1; }
tar -xzf "$tarball" -C "$work" package/llama/gitRelease.bundle
rm -rf "$dest"
mkdir -p "$root/third_party"
git clone -q "$work/package/llama/gitRelease.bundle" "$dest" 2>/dev/null
rm -rf "$dest/.git"
for p in "${patches[@]}"; do
  patch -s -d "$dest" -p1 --no-backup-if-mismatch < "$p" || { echo "batchwise: $p does not apply to llama.cpp $tag" >&2; exit 1; }
done
touch "$dest/.batchwise-$stamp"
