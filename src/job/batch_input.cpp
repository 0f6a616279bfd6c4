#include "job/batch_input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <unordered_map>

#include "core/files.h"
#include "core/json_read.h"
#include "job/line_scan.h"

namespace batchwise {
namespace {

// Closes a file descriptor when it goes out of scope.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Expected<BatchInput> scan_batch_input(const std::filesystem::path& path) {
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) return make_error(ErrorCode::kNotFound, "cannot open input " + path.string() + ": " + std::strerror(errno));
  BatchInput result;
  // custom_ids seen so far, by hash -> index into result.requests (the strings are compared on a hash
  // match): half the memory of a set of the strings themselves on a million-line input.
  std::unordered_multimap<uint64_t, uint32_t> seen;
  struct stat st {};
  const uint64_t file_bytes = ::fstat(file.fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  uint64_t hash = fnv1a64({});  // the seed: hash_file's value, taken on this one pass
  // Reads of 1 MiB; a smaller file gets a buffer its size (serve scans many small uploads).
  std::string buffer(std::clamp<uint64_t>(file_bytes, 4096, 1u << 20), '\0');
  std::string carry;    // the start of a line that continues in the next read
  bool carry_over_limit = false;  // that line passed kMaxLineBytes: its bytes are counted, not kept
  uint64_t carry_bytes = 0;
  uint64_t offset = 0;  // of the next line
  int64_t line_no = 0;

  auto take_line = [&](std::string_view text, uint64_t bytes) {
    ++line_no;
    const uint64_t line_offset = offset;
    offset += bytes + 1;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (bytes <= kMaxLineBytes && text.find_first_not_of(" \t") == std::string_view::npos) return;
    ++result.total_lines;
    auto error = [&](std::string custom_id, std::string message) {
      result.errors.push_back({line_no, std::move(custom_id), "line " + std::to_string(line_no) + ": " + message});
    };
    if (bytes > kMaxLineBytes) {
      error("", "line is " + std::to_string(bytes) + " bytes, over the " + std::to_string(kMaxLineBytes >> 20) +
                    " MiB limit");
      return;
    }
    ScannedLine scanned;
    const std::string message = scan_line(text, scanned);
    if (!message.empty()) {
      error(std::move(scanned.custom_id), message);
      return;
    }
    const uint64_t id_hash = fnv1a64(scanned.custom_id);
    for (auto [it, end] = seen.equal_range(id_hash); it != end; ++it) {
      if (result.requests[it->second].custom_id == scanned.custom_id) {
        error(scanned.custom_id, "duplicate custom_id `" + scanned.custom_id + "` (each must be unique; the first one runs)");
        return;
      }
    }
    seen.emplace(id_hash, static_cast<uint32_t>(result.requests.size()));
    InputLine line;
    line.line = line_no;
    line.offset = line_offset;
    line.length = static_cast<uint32_t>(text.size());
    line.body_offset = scanned.body_offset;
    line.body_length = scanned.body_length;
    line.priority = scanned.priority;
    line.prefix_key = scanned.prefix_key;
    line.kind = scanned.kind;
    line.custom_id = std::move(scanned.custom_id);
    result.requests.push_back(std::move(line));
  };

  while (true) {
    const ssize_t n = ::read(file.fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return make_error(ErrorCode::kIo, "cannot read input " + path.string() + ": " + std::strerror(errno));
    if (n == 0) break;
    const std::string_view chunk(buffer.data(), static_cast<size_t>(n));
    hash = fnv1a64(chunk, hash);
    if (offset == 0 && file_bytes > chunk.size()) {
      // The lines' count from the first read's: room for all at once, not a vector doubled (and copied)
      // twenty times, which at a million lines held 1.5x the final size at the last copy.
      const size_t lines_here = static_cast<size_t>(std::count(chunk.begin(), chunk.end(), '\n')) + 1;
      const size_t expected = static_cast<size_t>(file_bytes / chunk.size() * lines_here * 11 / 10);
      result.requests.reserve(expected);
      seen.reserve(expected);
    }
    size_t start = 0;
    while (start < chunk.size()) {
      const void* nl = std::memchr(chunk.data() + start, '\n', chunk.size() - start);
      const size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - chunk.data()) : chunk.size();
      const std::string_view piece = chunk.substr(start, end - start);
      if (!nl) {  // the line goes on in the next read
        carry_bytes += piece.size();
        if (carry_bytes > kMaxLineBytes) carry_over_limit = true, carry.clear();
        else carry.append(piece);
        break;
      }
      if (carry_bytes == 0) {
        take_line(piece, piece.size());
      } else {
        carry_bytes += piece.size();
        if (!carry_over_limit && carry_bytes <= kMaxLineBytes) carry.append(piece);
        take_line(carry_over_limit || carry_bytes > kMaxLineBytes ? std::string_view() : std::string_view(carry),
                  carry_bytes);
        carry.clear();
        carry_bytes = 0;
        carry_over_limit = false;
      }
      start = end + 1;
    }
  }
  if (carry_bytes > 0) {  // a last line without a newline
    take_line(carry_over_limit ? std::string_view() : std::string_view(carry), carry_bytes);
  }
  result.input_hash = hex64(hash);
  return result;
}

Expected<BatchReader> BatchReader::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(ErrorCode::kNotFound, "cannot open input " + path.string() + ": " + std::strerror(errno));
  struct stat st {};
  const uint64_t size = ::fstat(fd, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  return BatchReader(fd, size);
}

BatchReader::BatchReader(BatchReader&& other) noexcept { *this = std::move(other); }
BatchReader& BatchReader::operator=(BatchReader&& other) noexcept {
  // The window goes with its file.
  std::swap(fd_, other.fd_);
  std::swap(window_, other.window_);
  std::swap(window_offset_, other.window_offset_);
  std::swap(last_end_, other.last_end_);
  std::swap(file_size_, other.file_size_);
  return *this;
}
BatchReader::~BatchReader() {
  if (fd_ >= 0) ::close(fd_);
}

Status BatchReader::read_at(std::string& out, uint64_t offset, size_t length, int64_t line) {
  constexpr uint64_t kReadAhead = 256 * 1024;
  const bool in_window = offset >= window_offset_ && offset + length <= window_offset_ + window_.size();
  const bool sequential = offset >= last_end_ && offset - last_end_ <= kReadAhead;
  last_end_ = offset + length;
  if (!in_window) {
    // In file order: the next stretch at once; anywhere else: this line alone.
    const uint64_t ahead = offset < file_size_ ? std::min(kReadAhead, file_size_ - offset) : 0;
    window_.resize(sequential ? std::max<uint64_t>(length, ahead) : length);
    window_offset_ = offset;
    size_t done = 0;
    while (done < window_.size()) {
      const ssize_t n = ::pread(fd_, window_.data() + done, window_.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // the end of the file
      done += static_cast<size_t>(n);
    }
    window_.resize(done);
    if (done < length) {
      window_.clear();
      return make_error(ErrorCode::kIo, "line " + std::to_string(line) + ": input file changed or unreadable");
    }
  }
  out.assign(window_, offset - window_offset_, length);
  return {};
}

Expected<EngineRequest> BatchReader::read(const InputLine& line) {
  BW_ASSIGN_OR_RETURN(EngineRequest r, read_body(line));
  std::optional<nlohmann::json> parsed = parse_json_bounded(r.body_text);
  if (!parsed || !parsed->is_object()) {
    return make_error(ErrorCode::kCorrupt, "line " + std::to_string(line.line) + ": input file changed since it was read");
  }
  r.body = std::move(*parsed);
  r.body_text.clear();
  return r;
}

Expected<EngineRequest> BatchReader::read_body(const InputLine& line) {
  EngineRequest r;
  BW_TRY(read_at(r.body_text, line.offset + line.body_offset, line.body_length, line.line));
  // The scan saw an object here: a body that does not start and end like one means the file changed.
  if (r.body_text.empty() || r.body_text.front() != '{' || r.body_text.back() != '}') {
    return make_error(ErrorCode::kCorrupt, "line " + std::to_string(line.line) + ": input file changed since it was read");
  }
  r.key = static_cast<uint64_t>(line.line);
  r.kind = line.kind;
  return r;
}

}  // namespace batchwise
