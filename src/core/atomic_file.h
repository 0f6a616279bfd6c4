// AtomicFile: the one way batchwise replaces a file. Bytes go to PATH.tmp; commit() flushes, fsyncs
// and closes it, renames it over PATH and fsyncs the folder, so after a crash or power loss a
// reader finds the old file or the new one, never a torn one. A file never committed (disk full, an
// error on the way) is removed when the AtomicFile goes away: no PATH.tmp is left behind.
// Not thread-safe; movable, not copyable.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"

namespace batchwise {

class AtomicFile {
 public:
  static Expected<AtomicFile> create(const std::filesystem::path& path);
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  ~AtomicFile();

  // Buffered; an error (disk full) is returned here or by a later append/commit.
  Status append(std::string_view bytes);
  Status commit();

 private:
  AtomicFile(std::filesystem::path path, std::string tmp, int fd) : path_(std::move(path)), tmp_(std::move(tmp)), fd_(fd) {}
  Status flush_buffer();
  Error io_error(const std::string& what, int err) const;

  std::filesystem::path path_;
  std::string tmp_;
  int fd_ = -1;
  bool committed_ = false;
  std::string buffer_;
};

}  // namespace batchwise
