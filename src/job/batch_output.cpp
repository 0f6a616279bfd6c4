#include "job/batch_output.h"

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/files.h"
#include "core/json_read.h"

namespace batchwise {

namespace {

// A stored body as the output line's `response.body`, byte for byte: a JSON value is spliced in as the
// server sent it (no parse, no dump: key order, number spelling and escapes stay). Only line breaks
// change: outside strings they can only be whitespace (inside, JSON has them escaped), and a JSONL line
// cannot hold them.
void append_body(std::string& line, std::string_view body) {
  const size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    line += "null";
    return;
  }
  body = body.substr(first, body.find_last_not_of(" \t\r\n") - first + 1);
  const size_t at = line.size();
  line.append(body);
  for (size_t i = at; i < line.size(); ++i) {
    if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
  }
}

void append_string(std::string& line, const std::string& s) { line += json_dump(nlohmann::json(s)); }

}  // namespace

std::string format_output_line(const ResultRecord& r) {
  const std::string request_id = "req_" + hex64(fnv1a64(r.custom_id) ^ static_cast<uint64_t>(r.line)).substr(0, 12);
  std::string line;
  line.reserve(r.body.size() + r.custom_id.size() + r.error_message.size() + 160);
  line += R"({"id":"batch_req_)" + std::to_string(r.line) + R"(","custom_id":)";
  append_string(line, r.custom_id);
  auto response_head = [&] {
    line += R"(,"response":{"status_code":)" + std::to_string(r.status_code) + R"(,"request_id":")" + request_id +
            R"(","body":)";
  };
  auto error = [&] {
    line += R"(,"error":{"code":)";
    append_string(line, r.error_code);
    line += R"(,"message":)";
    append_string(line, r.error_message);
    line += "}}";
  };
  if (r.ok) {
    // The engine checked it is JSON when it came (the HTTP engine) or wrote it (the embedded one).
    response_head();
    append_body(line, r.body);
    line += R"(},"error":null})";
  } else if (r.status_code > 0 && !r.body.empty()) {
    // A server's HTTP error keeps its status and its own answer, as OpenAI's batch error lines do. It
    // was not checked on arrival: what is not JSON (an HTML page) goes in as a message string. The
    // check is bounded in depth: a DOM of 64 KiB of nested brackets would overflow the stack.
    response_head();
    if (parse_json_bounded(r.body)) {
      append_body(line, r.body);
    } else {
      line += R"({"error":{"message":)";
      append_string(line, r.body);
      line += "}}";
    }
    line += "}";
    error();
  } else {
    line += R"(,"response":null)";
    error();
  }
  return line;
}

std::filesystem::path default_error_path(const std::filesystem::path& output) {
  std::string s = output.string();
  if (s.ends_with(".jsonl")) s.resize(s.size() - 6);
  return s + ".errors.jsonl";
}

Expected<WrittenFiles> write_output_files(JobStore& store, const std::filesystem::path& output,
                                          const std::filesystem::path& errors) {
  // Both written through AtomicFile: on a full disk neither is half-written, and no .tmp is left.
  BW_ASSIGN_OR_RETURN(AtomicFile out, AtomicFile::create(output));
  BW_ASSIGN_OR_RETURN(AtomicFile err, AtomicFile::create(errors));
  WrittenFiles counts;
  Status written;
  BW_TRY(store.for_each_result([&](const ResultRecord& r) {
    if (!written) return;
    written = (r.ok ? out : err).append(format_output_line(r) + "\n");
    (r.ok ? counts.ok : counts.failed)++;
  }));
  BW_TRY(written);
  BW_TRY(out.commit());
  BW_TRY(err.commit());
  return counts;
}

Expected<WrittenFiles> write_result_files(const NextResult& next, const std::filesystem::path& output,
                                          const std::filesystem::path& errors) {
  BW_ASSIGN_OR_RETURN(AtomicFile out, AtomicFile::create(output));
  BW_ASSIGN_OR_RETURN(AtomicFile err, AtomicFile::create(errors));
  WrittenFiles counts;
  ResultRecord r;
  while (true) {
    BW_ASSIGN_OR_RETURN(const bool more, next(r));
    if (!more) break;
    BW_TRY((r.ok ? out : err).append(format_output_line(r) + "\n"));
    (r.ok ? counts.ok : counts.failed)++;
  }
  BW_TRY(out.commit());
  BW_TRY(err.commit());
  return counts;
}

}  // namespace batchwise
