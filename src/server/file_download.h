// FileDownload: the bytes of one GET /v1/files/ID/content, made a chunk at a time so that memory stays
// bounded whatever the file's size: a file on disk (an upload, a finished batch's output or errors)
// read 64 KiB at a time, or a running batch's results so far, paged from its state through a
// ResultReader (a read-only connection of its own: an HTTP worker never uses the job writer's
// connection) and formatted line by line as the output file will have them.
//
// Threads: one download, one thread at a time (the HTTP worker that sends it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"

namespace batchwise {

class FileDownload {
 public:
  // A file on disk, opened now: a file replaced later (rename over it) is still sent whole as it was.
  static Expected<std::unique_ptr<FileDownload>> of_file(const std::filesystem::path& path);
  // The results committed so far in the job state at `state`: successes, or failures with `errors`.
  static Expected<std::unique_ptr<FileDownload>> of_results(const std::filesystem::path& state, bool errors);
  // No bytes (a batch's file before it has any).
  static std::unique_ptr<FileDownload> empty();

  virtual ~FileDownload() = default;

  // Its length in bytes when known before the first byte is sent (a file), else nullopt.
  virtual std::optional<uint64_t> size() const = 0;
  // Replaces `chunk` with the next bytes, never empty; false when no bytes are left.
  virtual Expected<bool> next(std::string& chunk) = 0;
  // Continues from byte `offset` (a client's Range); only where size() is known.
  virtual Status seek(uint64_t offset) = 0;
};

}  // namespace batchwise
