#include "job/batch_output.h"

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/files.h"
#include "core/json_read.h"

namespace batchwise {

std::string format_output_line(const ResultRecord& r) {
  const std::string request_id = "req_" + hex64(fnv1a64(r.custom_id) ^ static_cast<uint64_t>(r.line)).substr(0, 12);
  nlohmann::json line = {{"id", "batch_req_" + std::to_string(r.line)}, {"custom_id", r.custom_id}};
  if (r.ok) {
    const std::optional<nlohmann::json> body = parse_json_bounded(r.body);
    line["response"] = {{"status_code", r.status_code}, {"request_id", request_id}, {"body", body.value_or(nullptr)}};
    line["error"] = nullptr;
  } else if (r.status_code > 0 && !r.body.empty()) {
    // A server's HTTP error keeps its status and its own answer, as OpenAI's batch error lines do.
    // Parsed with a depth bound: dumping a 64 KiB body of nested brackets would overflow the stack.
    nlohmann::json body = parse_json_bounded(r.body).value_or(nlohmann::json{{"error", {{"message", r.body}}}});
    line["response"] = {{"status_code", r.status_code}, {"request_id", request_id}, {"body", body}};
    line["error"] = {{"code", r.error_code}, {"message", r.error_message}};
  } else {
    line["response"] = nullptr;
    line["error"] = {{"code", r.error_code}, {"message", r.error_message}};
  }
  return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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
