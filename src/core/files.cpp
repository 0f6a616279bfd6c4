#include "core/files.h"

#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace batchwise {

Expected<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open " + path.string() + ": " + std::strerror(errno));
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return make_error(ErrorCode::kIo, "cannot read " + path.string());
  return out.str();
}

Status write_file_atomic(const std::filesystem::path& path, std::string_view content) {
  BW_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::create(path));
  BW_TRY(file.append(content));
  return file.commit();
}

uint64_t fnv1a64(std::string_view data, uint64_t seed) {
  uint64_t h = seed;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string hex64(uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

Expected<std::string> hash_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open " + path.string());
  uint64_t h = 0xcbf29ce484222325ULL;
  std::string buf(1 << 20, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h = fnv1a64(std::string_view(buf.data(), static_cast<size_t>(in.gcount())), h);
  }
  return hex64(h);
}

Expected<std::filesystem::path> cache_dir() {
  std::filesystem::path dir;
  if (const char* env = std::getenv("BATCHWISE_CACHE_DIR"); env && *env) {
    dir = env;
  } else if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    dir = std::filesystem::path(xdg) / "batchwise";
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    dir = std::filesystem::path(home) / ".cache" / "batchwise";
  } else {
    return make_error(ErrorCode::kNotFound, "no cache folder: set BATCHWISE_CACHE_DIR or HOME");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create " + dir.string() + ": " + ec.message());
  return dir;
}

std::filesystem::path installed_share_dir() {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  const auto share = exe.parent_path().parent_path() / "share" / "batchwise";
  return std::filesystem::is_directory(share, ec) ? share : std::filesystem::path();
}

std::filesystem::path data_dir() {
  if (const char* env = std::getenv("BATCHWISE_DATA_DIR"); env && *env) return env;
  if (const auto share = installed_share_dir(); !share.empty()) return share / "data";
  return BATCHWISE_DATA_DIR;
}

std::string_view batchwise_version() { return BATCHWISE_VERSION; }

}  // namespace batchwise
