// Hostile input to `batchwise run` on the embedded engine (the real binary, the tiny model): lines
// that used to abort or overflow the whole job, and damaged model files that used to reach
// llama.cpp's asserts. Each must be one clear error (a line, or the run's one message), never a
// signal, and the rest of the job must finish.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <map>
#include <fstream>
#include <string>

#include "model/synth.h"
#include "test_support.h"

namespace batchwise::test {
namespace {

std::string good_line(const std::string& id) {
  return R"({"custom_id":")" + id +
         R"(","method":"POST","url":"/v1/chat/completions","body":{"max_tokens":2,"temperature":0,"messages":[{"role":"user","content":"hello"}]}})";
}

std::string nested(char open, char close, size_t depth, const std::string& inner = "1") {
  return std::string(depth, open) + inner + std::string(depth, close);
}

// Runs `lines` and returns (exit code, error lines by custom_id); every id ends exactly once.
struct Outcome {
  int exit_code = -1;
  std::string err;
  std::map<std::string, nlohmann::json> errors;
  std::map<std::string, nlohmann::json> ok;
};

Outcome run_lines(const std::vector<std::string>& lines, std::vector<std::string> extra = {}) {
  const auto dir = scratch_dir();
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  write_text(dir / "in.jsonl", text);
  std::vector<std::string> args = {"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string()};
  args.insert(args.end(), extra.begin(), extra.end());
  const auto r = run_batchwise(args);
  Outcome o{r.exit_code, r.err, {}, {}};
  for (const auto& l : read_jsonl(dir / "out.jsonl")) o.ok[l["custom_id"]] = l;
  for (const auto& l : read_jsonl(dir / "out.errors.jsonl")) o.errors[l.value("custom_id", "")] = l;
  return o;
}

// Regression: `part.value("type", "")` threw type_error on a preparer thread: SIGABRT at 99/301,
// on every run, so the job could never finish.
TEST(HostileInput, ContentPartWithNumericTypeIsOneErrorLineNotAnAbort) {
  const auto o = run_lines({good_line("a"),
                            R"({"custom_id":"bad","url":"/v1/chat/completions","body":{"messages":[{"role":"user","content":[{"type":1,"text":"x"}]}]}})",
                            good_line("c")});
  ASSERT_EQ(o.exit_code, 1) << o.err;  // finished, with one failure
  EXPECT_EQ(o.ok.size(), 2u);
  ASSERT_TRUE(o.errors.contains("bad")) << o.err;
  EXPECT_EQ(o.errors.at("bad")["error"]["code"], "invalid_request");
  EXPECT_NE(o.errors.at("bad")["error"]["message"].get<std::string>().find("messages[0].content"), std::string::npos);
}

// Regression: 70,000 nested arrays overflowed the stack (nlohmann's recursive dump); 200,000 deep
// inside messages[0].content did it on the embedded engine's preparer.
TEST(HostileInput, DeeplyNestedBodiesAreAPerLineErrorNamingTheLimitNotASegfault) {
  const std::string deep_body = R"({"custom_id":"deep-body","url":"/v1/chat/completions","body":{"messages":[{"role":"user","content":"x"}],"x":)" +
                                nested('[', ']', 70000) + "}}";
  const std::string deep_content = R"({"custom_id":"deep-content","url":"/v1/chat/completions","body":{"messages":[{"role":"user","content":)" +
                                   nested('[', ']', 200000) + "}]}}";
  const auto o = run_lines({good_line("a"), deep_body, deep_content, good_line("d")});
  ASSERT_EQ(o.exit_code, 1) << o.err;
  EXPECT_EQ(o.ok.size(), 2u);
  for (const std::string id : {"deep-body", "deep-content"}) {
    ASSERT_TRUE(o.errors.contains(id)) << id << "\n" << o.err;
    const std::string message = o.errors.at(id)["error"]["message"];
    EXPECT_NE(message.find("line "), std::string::npos) << message;
    EXPECT_NE(message.find("128 levels"), std::string::npos) << message;
  }
}

// Regression: prompt + 9223372036854775807 wrapped negative, passed the context check, and ended
// after ~10 minutes and 3 attempts as a misleading engine_out_of_memory.
TEST(HostileInput, MaxTokensNearInt64MaxIsAContextErrorAtOnce) {
  const auto start = std::chrono::steady_clock::now();
  const auto o = run_lines({good_line("a"),
                            R"({"custom_id":"huge","url":"/v1/chat/completions","body":{"max_tokens":9223372036854775807,"messages":[{"role":"user","content":"hi"}]}})",
                            R"({"custom_id":"huger","url":"/v1/chat/completions","body":{"max_tokens":18446744073709551615,"messages":[{"role":"user","content":"hi"}]}})"});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(o.exit_code, 1) << o.err;
  ASSERT_TRUE(o.errors.contains("huge")) << o.err;
  EXPECT_EQ(o.errors.at("huge")["error"]["code"], "context_length_exceeded");
  EXPECT_NE(o.errors.at("huge")["error"]["message"].get<std::string>().find("9223372036854775807"), std::string::npos);
  ASSERT_TRUE(o.errors.contains("huger")) << o.err;
  EXPECT_EQ(o.errors.at("huger")["error"]["code"], "invalid_request");
  EXPECT_LT(seconds, 60);
}

// A copy of the tiny model with the 4-byte value of `<arch>.block_count` replaced.
std::filesystem::path block_count_mutant(const std::filesystem::path& dir, uint32_t blocks) {
  std::string bytes = tiny_model_bytes();
  const std::string key = ".block_count";
  const size_t at = bytes.find(key);
  EXPECT_NE(at, std::string::npos);
  const size_t value = at + key.size() + 4;  // after the key: u32 type, then the u32 value
  std::memcpy(bytes.data() + value, &blocks, 4);
  const auto path = dir / ("blocks-" + std::to_string(blocks) + ".gguf");
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// Regression: of 300 mutants of the tiny model, block_count 0 / 1000 / 2^31-1 / 2^32-1 aborted `run`
// inside llama.cpp (GGML_ASSERT on n_layer), and `plan` took 46 s and 7.5 GiB before bad_alloc.
TEST(HostileInput, BlockCountMutantsOfTheTinyModelFailFastWithAMessageInRunAndPlan) {
  const auto dir = scratch_dir();
  write_text(dir / "in.jsonl", good_line("a") + "\n");
  for (const uint32_t blocks : {0u, 1u, 1000u, 2147483647u, 4294967295u}) {
    const auto model = block_count_mutant(dir, blocks);
    const auto start = std::chrono::steady_clock::now();
    const auto run = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string(), "--model",
                                    model.string(), "--restart"});
    EXPECT_EQ(run.exit_code, 3) << blocks << ": " << run.err;
    EXPECT_NE(run.err.find("block_count"), std::string::npos) << run.err;
    const auto plan = run_batchwise({"plan", "--model", model.string()});
    EXPECT_GT(plan.exit_code, 0) << blocks << ": " << plan.out;
    EXPECT_NE(plan.err.find("block_count"), std::string::npos) << plan.err;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 20) << blocks;
  }
}

}  // namespace
}  // namespace batchwise::test
