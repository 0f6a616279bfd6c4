#include "job/batch_input.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "core/files.h"
#include "core/json_read.h"

namespace batchwise {
namespace {

// Characters of the prompt that decide which requests are grouped as sharing a prefix.
constexpr size_t kPrefixKeyChars = 1024;

uint64_t prompt_prefix_key(ApiKind kind, const nlohmann::json& body) {
  std::string text;
  if (kind == ApiKind::kChatCompletions && body.contains("messages") && body["messages"].is_array()) {
    for (const auto& m : body["messages"]) {
      if (text.size() >= kPrefixKeyChars) break;
      if (m.is_object() && m.contains("content") && m["content"].is_string()) text += m["content"].get<std::string>();
    }
  } else if (body.contains("prompt") && body["prompt"].is_string()) {
    text = body["prompt"].get<std::string>();
  }
  if (text.size() > kPrefixKeyChars) text.resize(kPrefixKeyChars);
  return fnv1a64(text);
}

// Checks one line; on success fills `out`, else returns the message for the error line.
std::string check_line(std::string_view text, InputLine& out) {
  // Measured before parsing: every later step (copy, dump, compare) recurses once per level.
  if (const int depth = json_nesting_depth(text); depth > kMaxJsonDepth) {
    // The custom_id is still wanted for the error line: parsed with the deep parts dropped as they
    // are read (nlohmann's parser keeps its own stack; only what it builds would recurse).
    const auto shallow = nlohmann::json::parse(
        text, [](int d, nlohmann::json::parse_event_t, nlohmann::json&) { return d <= 2; }, /*allow_exceptions=*/false);
    if (const nlohmann::json* id = json_field(shallow, "custom_id"); id && id->is_string()) {
      out.custom_id = id->get<std::string>();
    }
    return "JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels (the limit per line); flatten the body";
  }
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return "not valid JSON (each line must be one JSON object)";
  if (!j.is_object()) return "must be a JSON object";
  if (j.contains("custom_id") && j["custom_id"].is_string()) out.custom_id = j["custom_id"].get<std::string>();
  if (out.custom_id.empty()) return "field `custom_id` missing or not a non-empty string";
  if (j.contains("method") && (!j["method"].is_string() || j["method"] != "POST")) return "field `method` must be \"POST\"";
  if (!j.contains("url") || !j["url"].is_string()) return "field `url` missing";
  const std::string url = j["url"].get<std::string>();
  const auto kind = api_kind_from_url(url);
  if (!kind) return "unknown url `" + url + "`: use /v1/chat/completions, /v1/completions or /v1/embeddings";
  out.kind = *kind;
  if (!j.contains("body") || !j["body"].is_object()) return "field `body` missing or not an object";
  if (j.contains("priority")) {
    const std::optional<int64_t> priority = json_as_int64(j["priority"]);
    if (!priority || *priority < INT32_MIN || *priority > INT32_MAX) return "field `priority` must be a 32-bit integer";
    out.priority = static_cast<int32_t>(*priority);
  }
  out.prefix_key = prompt_prefix_key(*kind, j["body"]);
  return "";
}

}  // namespace

Expected<BatchInput> scan_batch_input(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open input " + path.string() + ": " + std::strerror(errno));
  BatchInput result;
  std::unordered_set<std::string> seen;
  std::string text;
  uint64_t offset = 0;
  int64_t line_no = 0;
  while (std::getline(in, text)) {
    ++line_no;
    const uint64_t line_offset = offset;
    offset += text.size() + 1;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.find_first_not_of(" \t") == std::string::npos) continue;
    ++result.total_lines;
    auto error = [&](std::string custom_id, std::string message) {
      result.errors.push_back({line_no, std::move(custom_id), "line " + std::to_string(line_no) + ": " + message});
    };
    if (text.size() > kMaxLineBytes) {
      error("", "line is " + std::to_string(text.size()) + " bytes, over the " + std::to_string(kMaxLineBytes >> 20) +
                    " MiB limit");
      continue;
    }
    InputLine line;
    line.line = line_no;
    line.offset = line_offset;
    line.length = static_cast<uint32_t>(text.size());
    const std::string message = check_line(text, line);
    if (!message.empty()) {
      error(line.custom_id, message);
      continue;
    }
    if (!seen.insert(line.custom_id).second) {
      error(line.custom_id, "duplicate custom_id `" + line.custom_id + "` (each must be unique; the first one runs)");
      continue;
    }
    result.requests.push_back(std::move(line));
  }
  if (in.bad()) return make_error(ErrorCode::kIo, "cannot read input " + path.string());
  return result;
}

Expected<BatchReader> BatchReader::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(ErrorCode::kNotFound, "cannot open input " + path.string() + ": " + std::strerror(errno));
  return BatchReader(fd);
}

BatchReader::BatchReader(BatchReader&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
BatchReader& BatchReader::operator=(BatchReader&& other) noexcept {
  std::swap(fd_, other.fd_);
  return *this;
}
BatchReader::~BatchReader() {
  if (fd_ >= 0) ::close(fd_);
}

Expected<EngineRequest> BatchReader::read(const InputLine& line) const {
  std::string text(line.length, '\0');
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::pread(fd_, text.data() + done, text.size() - done, static_cast<off_t>(line.offset + done));
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return make_error(ErrorCode::kIo, "line " + std::to_string(line.line) + ": input file changed or unreadable");
    }
    done += static_cast<size_t>(n);
  }
  std::optional<nlohmann::json> parsed = parse_json_bounded(text);
  if (!parsed || !parsed->is_object() || !parsed->contains("body")) {
    return make_error(ErrorCode::kCorrupt, "line " + std::to_string(line.line) + ": input file changed since it was read");
  }
  EngineRequest r;
  r.key = static_cast<uint64_t>(line.line);
  r.kind = line.kind;
  r.body = std::move((*parsed)["body"]);
  return r;
}

}  // namespace batchwise
