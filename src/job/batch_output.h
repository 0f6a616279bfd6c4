// Output and error files in OpenAI's Batch output format: one JSON object per line with `id`,
// `custom_id`, `response` {status_code, request_id, body} and `error` {code, message}. Successes
// go to the output file, failures to the error file, each in input line order.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "core/status.h"
#include "job/job_store.h"

namespace batchwise {

std::string format_output_line(const ResultRecord& r);

// OUT.jsonl -> OUT.errors.jsonl
std::filesystem::path default_error_path(const std::filesystem::path& output);

struct WrittenFiles {
  int64_t ok = 0;
  int64_t failed = 0;
};

// Writes both files from the store's committed results, each atomically (temp file + rename).
Expected<WrittenFiles> write_output_files(JobStore& store, const std::filesystem::path& output,
                                          const std::filesystem::path& errors);

// The same from results given one at a time: `next` fills its argument and returns true, or returns
// false after the last one (merge gives several shards' results in line order this way).
using NextResult = std::function<Expected<bool>(ResultRecord&)>;
Expected<WrittenFiles> write_result_files(const NextResult& next, const std::filesystem::path& output,
                                          const std::filesystem::path& errors);

}  // namespace batchwise
