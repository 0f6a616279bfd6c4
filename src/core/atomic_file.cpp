#include "core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace batchwise {
namespace {

constexpr size_t kBufferBytes = 1u << 20;

}  // namespace

Expected<AtomicFile> AtomicFile::create(const std::filesystem::path& path) {
  std::string tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return make_error(ErrorCode::kIo, "cannot create " + tmp + ": " + std::strerror(errno));
  return AtomicFile(path, std::move(tmp), fd);
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)), tmp_(std::move(other.tmp_)), fd_(other.fd_), committed_(other.committed_),
      buffer_(std::move(other.buffer_)) {
  other.fd_ = -1;
  other.committed_ = true;  // the moved-from object owns no file
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_.c_str());
}

Error AtomicFile::io_error(const std::string& what, int err) const {
  std::string message = what + " " + tmp_ + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) message += " (the disk is full: free space, then run the same command again)";
  return Error{ErrorCode::kIo, message};
}

Status AtomicFile::flush_buffer() {
  size_t written = 0;
  while (written < buffer_.size()) {
    const ssize_t n = ::write(fd_, buffer_.data() + written, buffer_.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(io_error("cannot write", errno));
    }
    written += static_cast<size_t>(n);
  }
  buffer_.clear();
  return {};
}

Status AtomicFile::append(std::string_view bytes) {
  if (fd_ < 0) return make_error(ErrorCode::kInternal, "append to " + tmp_ + " after commit");
  buffer_.append(bytes);
  if (buffer_.size() >= kBufferBytes) return flush_buffer();
  return {};
}

Status AtomicFile::commit() {
  if (fd_ < 0) return make_error(ErrorCode::kInternal, tmp_ + " committed twice");
  BW_TRY(flush_buffer());
  const int synced = ::fsync(fd_);
  const int sync_errno = errno;
  const int closed = ::close(fd_);  // closed whether or not fsync worked: no leaked descriptor
  const int close_errno = errno;
  fd_ = -1;
  if (synced != 0) return std::unexpected(io_error("cannot flush", sync_errno));
  if (closed != 0) return std::unexpected(io_error("cannot close", close_errno));
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) return std::unexpected(io_error("cannot rename", errno));
  committed_ = true;
  // The rename is durable only once the folder's entry is: without this, power loss can bring the
  // old file back (or none) after we reported the new one written.
  std::filesystem::path dir = path_.parent_path();
  if (dir.empty()) dir = ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    const int dir_synced = ::fsync(dir_fd);
    const int dir_errno = errno;
    ::close(dir_fd);
    if (dir_synced != 0 && dir_errno != EINVAL) return std::unexpected(io_error("cannot flush the folder of", dir_errno));
  }
  return {};
}

}  // namespace batchwise
