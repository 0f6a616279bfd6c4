// Helpers for tests that run the real batchwise binary: a scratch folder per test, running a
// command and capturing what it printed, reading JSONL files.
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace batchwise::test {

// How much slower a sanitizer build runs batchwise (scripts/sanitize.sh): time bounds a user would check
// (an answer from the cache within a second) are scaled by it there, and only there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr double kSanitizerSlowdown = 3.0;
#else
inline constexpr double kSanitizerSlowdown = 1.0;
#endif

struct CommandResult {
  int exit_code = -1;   // -signal when killed by a signal
  std::string out;      // stdout
  std::string err;      // stderr
};

// A fresh folder under the build's test-tmp/, named after the running test.
std::filesystem::path scratch_dir();

// The cache folder every test shares (the tiny model is made there once).
std::filesystem::path shared_cache_dir();

// Makes the cached tiny synthetic model now (once per cache), so that a test which limits the
// process (file size, time) limits the job and not the model's making.
void ensure_tiny_model();

// Runs a shell command line (bash -c) with BATCHWISE_CACHE_DIR set to the shared cache.
CommandResult run_shell(const std::string& command_line);

// Runs the batchwise binary with these arguments (each shell-quoted).
CommandResult run_batchwise(const std::vector<std::string>& args);

// The path of the built binary, shell-quoted.
std::string batchwise_bin();
std::string shell_quote(const std::string& s);

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path);
void write_text(const std::filesystem::path& path, const std::string& text);
std::string read_text(const std::filesystem::path& path);  // the whole file ("" if it cannot be read)
// The cached tiny model's GGUF bytes (made first if needed), for tests that write damaged copies of it.
std::string tiny_model_bytes();
// Writes a copy of the GGUF `model` to `path` whose tokenizer.chat_template is `chat_template` (its tensors as
// they were), as a model published with that template would carry it.
void write_model_with_chat_template(const std::filesystem::path& model, const std::string& chat_template,
                                    const std::filesystem::path& path);

// Writes DIR/NAME.jsonl: `n` chat requests with custom_ids PREFIX0, PREFIX1, … ("q0", "q1", … as content).
std::filesystem::path write_chat_requests(const std::filesystem::path& dir, int n, const std::string& name = "in",
                                          const std::string& id_prefix = "r");

// `batchwise plan ARGS --json`, parsed; a failed run fails the test and gives an empty object.
nlohmann::json plan_json(std::vector<std::string> args);

// custom_id -> how many times it appears in a batch output/error file.
std::map<std::string, int> custom_id_counts(const std::vector<nlohmann::json>& lines);

// Writes `bytes` to NAME in a fresh scratch folder of this test (scratch_dir()): a GGUF a test made by hand.
std::filesystem::path write_gguf(const std::string& bytes, const std::string& name = "f.gguf");

// custom_id -> its line, for comparing two outputs request by request.
std::map<std::string, nlohmann::json> lines_by_id(const std::vector<nlohmann::json>& lines);

// custom_id -> usage (prompt, completion tokens) of every line of a batch output file; an id seen twice
// fails the test.
std::map<std::string, std::pair<int64_t, int64_t>> usage_by_id(const std::filesystem::path& path);

// Writes `n` small chat requests for a stub server (model "stub", max_tokens 4, custom_ids req-0, req-1, …);
// the first `shared_chars` characters of every prompt are the same.
void write_stub_requests(const std::filesystem::path& path, int n, size_t shared_chars = 0);

}  // namespace batchwise::test
