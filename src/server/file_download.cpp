#include "server/file_download.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/files.h"
#include "job/batch_output.h"
#include "job/result_reader.h"

namespace batchwise {
namespace {

// Big enough that a chunk's syscalls cost nothing next to its bytes, small enough to hold per download.
constexpr size_t kFileChunkBytes = 64 * 1024;
// Results per page: a page holds its bodies in memory at once (a few hundred KiB for chat answers).
constexpr int64_t kPageRows = 256;

class FileChunks final : public FileDownload {
 public:
  FileChunks(UniqueFile file, uint64_t size, std::filesystem::path path)
      : file_(std::move(file)), size_(size), path_(std::move(path)) {}

  std::optional<uint64_t> size() const override { return size_; }

  Expected<bool> next(std::string& chunk) override {
    chunk.resize(kFileChunkBytes);
    const size_t n = std::fread(chunk.data(), 1, chunk.size(), file_.get());
    chunk.resize(n);
    if (n > 0) return true;
    if (std::ferror(file_.get())) return make_error(ErrorCode::kIo, "reading " + path_.string() + ": " + std::strerror(errno));
    return false;
  }

  Status seek(uint64_t offset) override {
    if (fseeko(file_.get(), static_cast<off_t>(offset), SEEK_SET) != 0) {
      return make_error(ErrorCode::kIo, "seeking in " + path_.string() + ": " + std::strerror(errno));
    }
    return {};
  }

 private:
  UniqueFile file_;
  uint64_t size_;
  std::filesystem::path path_;
};

class ResultLines final : public FileDownload {
 public:
  explicit ResultLines(std::unique_ptr<ResultReader> reader) : reader_(std::move(reader)) {}

  // Unknown: the job commits more while the download runs.
  std::optional<uint64_t> size() const override { return std::nullopt; }

  Expected<bool> next(std::string& chunk) override {
    chunk.clear();
    BW_ASSIGN_OR_RETURN(auto page, reader_->next_page());
    for (const auto& r : page) chunk += format_output_line(r) + "\n";
    return !chunk.empty();
  }

  Status seek(uint64_t) override {
    return make_error(ErrorCode::kUnsupported, "a running batch's results cannot be read from an offset");
  }

 private:
  std::unique_ptr<ResultReader> reader_;
};

class NoBytes final : public FileDownload {
 public:
  std::optional<uint64_t> size() const override { return 0; }
  Expected<bool> next(std::string& chunk) override {
    chunk.clear();
    return false;
  }
  Status seek(uint64_t) override { return {}; }
};

}  // namespace

Expected<std::unique_ptr<FileDownload>> FileDownload::of_file(const std::filesystem::path& path) {
  UniqueFile file(std::fopen(path.c_str(), "rb"));
  if (!file) return make_error(ErrorCode::kIo, "cannot open " + path.string() + ": " + std::strerror(errno));
  // The size of what was opened, not of whatever the path names by the time it is asked.
  if (fseeko(file.get(), 0, SEEK_END) != 0) {
    return make_error(ErrorCode::kIo, "cannot read " + path.string() + ": " + std::strerror(errno));
  }
  const off_t size = ftello(file.get());
  if (size < 0 || fseeko(file.get(), 0, SEEK_SET) != 0) {
    return make_error(ErrorCode::kIo, "cannot read " + path.string() + ": " + std::strerror(errno));
  }
  return std::unique_ptr<FileDownload>(new FileChunks(std::move(file), static_cast<uint64_t>(size), path));
}

Expected<std::unique_ptr<FileDownload>> FileDownload::of_results(const std::filesystem::path& state, bool errors) {
  BW_ASSIGN_OR_RETURN(auto reader, ResultReader::open(state, errors ? ResultReader::Which::kFailed
                                                                    : ResultReader::Which::kOk, kPageRows));
  return std::unique_ptr<FileDownload>(new ResultLines(std::move(reader)));
}

std::unique_ptr<FileDownload> FileDownload::empty() { return std::make_unique<NoBytes>(); }

}  // namespace batchwise
