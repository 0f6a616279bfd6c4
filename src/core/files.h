// Small file helpers shared by every module: whole-file reads, atomic writes, hashing, cache paths.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace batchwise {

Expected<std::string> read_file(const std::filesystem::path& path);

// A FILE* closed when it goes out of scope.
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using UniqueFile = std::unique_ptr<std::FILE, FileCloser>;

// Writes `content` through an AtomicFile (core/atomic_file.h): a reader sees the old content or the
// new, never a torn file, and a failed write leaves no PATH.tmp.
Status write_file_atomic(const std::filesystem::path& path, std::string_view content);

// FNV-1a 64-bit: a fast non-cryptographic hash for change detection, printed as 16 hex digits.
uint64_t fnv1a64(std::string_view data, uint64_t seed = 0xcbf29ce484222325ULL);
std::string hex64(uint64_t value);
Expected<std::string> hash_file(const std::filesystem::path& path);

// $BATCHWISE_CACHE_DIR, else $XDG_CACHE_HOME/batchwise, else ~/.cache/batchwise; created on demand.
Expected<std::filesystem::path> cache_dir();

// Where an installed batchwise keeps its data: <the executable's folder>/../share/batchwise (so a copied
// or relocated prefix works); empty when that folder does not exist (a build tree).
std::filesystem::path installed_share_dir();

// The data/ folder with catalogues: $BATCHWISE_DATA_DIR, else installed_share_dir()/data, else the
// source tree's data/ (compiled in).
std::filesystem::path data_dir();

std::string_view batchwise_version();

}  // namespace batchwise
