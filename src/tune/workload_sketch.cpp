#include "tune/workload_sketch.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

namespace batchwise {
namespace {

constexpr double kBytesPerToken = 4.0;

// The text a request's prompt is made of, read with type checks (the file is user input): chat's messages, a
// completion's prompt, or a /v1/responses body's instructions and input (a string or messages).
std::string prompt_text(const nlohmann::json& body) {
  std::string out;
  if (const auto it = body.find("instructions"); it != body.end() && it->is_string()) out += it->get<std::string>() + '\n';
  for (const char* messages : {"messages", "input"}) {
    const auto it = body.find(messages);
    if (it == body.end() || !it->is_array()) continue;
    for (const auto& m : *it) {
      if (!m.is_object()) continue;
      const auto c = m.find("content");
      if (c == m.end()) continue;
      if (c->is_string()) out += c->get<std::string>();
      if (c->is_array()) {
        for (const auto& part : *c) {
          if (part.is_object() && part.contains("text") && part["text"].is_string()) out += part["text"].get<std::string>();
        }
      }
      out += '\n';
    }
  }
  for (const char* key : {"prompt", "input"}) {
    if (const auto it = body.find(key); it != body.end() && it->is_string()) out += it->get<std::string>();
  }
  return out;
}

int64_t max_tokens_of(const nlohmann::json& body) {
  for (const char* key : {"max_tokens", "max_completion_tokens", "max_output_tokens"}) {
    if (const auto it = body.find(key); it != body.end() && it->is_number_integer()) return it->get<int64_t>();
  }
  return 0;
}

int64_t tokens_of(double bytes) { return static_cast<int64_t>(std::llround(bytes / kBytesPerToken)); }

}  // namespace

int64_t bucket_tokens(int64_t tokens) {
  if (tokens <= 0) return 0;
  return int64_t{1} << static_cast<int>(std::lround(std::log2(static_cast<double>(tokens))));
}

std::string WorkloadSketch::bucket() const {
  return "p" + std::to_string(bucket_tokens(prompt_tokens)) + "-s" + std::to_string(bucket_tokens(shared_prefix_tokens)) +
         "-o" + std::to_string(bucket_tokens(output_tokens));
}

Expected<WorkloadSketch> sketch_workload(const std::filesystem::path& jsonl, int64_t max_lines) {
  std::ifstream in(jsonl);
  if (!in) return make_error(ErrorCode::kNotFound, jsonl.string() + ": cannot open the workload file");
  WorkloadSketch s;
  std::string line, first_prompt;
  size_t shared = 0;
  double prompt_bytes = 0, output = 0;
  int64_t line_no = 0, embedding_lines = 0;
  while (s.lines < max_lines && std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("body") || !j["body"].is_object()) {
      continue;  // `run` reports bad lines with their number; the shape is taken from the good ones
    }
    const std::string text = prompt_text(j["body"]);
    if (s.lines == 0) {
      first_prompt = text;
      shared = text.size();
    } else {
      size_t i = 0;
      while (i < shared && i < text.size() && text[i] == first_prompt[i]) ++i;
      shared = i;
    }
    prompt_bytes += static_cast<double>(text.size());
    output += static_cast<double>(max_tokens_of(j["body"]));
    embedding_lines += j.contains("url") && j["url"] == "/v1/embeddings";
    ++s.lines;
  }
  if (s.lines == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      jsonl.string() + ": no request lines with a `body` object (read " + std::to_string(line_no) + " lines)");
  }
  const auto n = static_cast<double>(s.lines);
  s.prompt_tokens = tokens_of(prompt_bytes / n);
  s.shared_prefix_tokens = s.lines > 1 ? tokens_of(static_cast<double>(shared)) : 0;
  s.output_tokens = static_cast<int64_t>(std::llround(output / n));
  s.embeddings = embedding_lines == s.lines;
  return s;
}

}  // namespace batchwise
