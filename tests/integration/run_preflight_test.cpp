// What `run` answers before it loads a model: a finished job, an empty input, a state that is not
// this input's. Each would otherwise cost a model load (minutes for a large model) to say nothing.
#include <gtest/gtest.h>

#include "core/clock.h"
#include "test_support.h"

namespace batchwise::test {
namespace {

// N short chat requests (4 tokens out: the tests are about what happens around the run).
std::filesystem::path write_short_requests(const std::filesystem::path& dir, int n, const std::string& name) {
  std::string text;
  for (int i = 0; i < n; ++i) {
    text += nlohmann::json{{"custom_id", name + std::to_string(i)},
                           {"method", "POST"},
                           {"url", "/v1/chat/completions"},
                           {"body", {{"max_tokens", 4}, {"messages", {{{"role", "user"}, {"content", "q" + std::to_string(i)}}}}}}}
                .dump() +
            "\n";
  }
  write_text(dir / (name + ".jsonl"), text);
  return dir / (name + ".jsonl");
}

TEST(RunPreflight, AFinishedJobRunAgainLoadsNoModelAndWritesTheSameOutput) {
  ensure_tiny_model();
  const auto dir = scratch_dir();
  const auto in = write_short_requests(dir, 6, "in");
  const auto out = dir / "out.jsonl";
  ASSERT_EQ(run_batchwise({"-q", "run", in.string(), "-o", out.string()}).exit_code, 0);
  const auto first = read_jsonl(out);
  std::filesystem::remove(out);
  // Not a model at all: were it loaded, the run would fail.
  const auto not_a_model = dir / "not-a-model.gguf";
  write_text(not_a_model, "this is not a GGUF file");
  const double t0 = now_s();
  const auto again = run_batchwise({"run", in.string(), "-o", out.string(), "-m", not_a_model.string()});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_LT(now_s() - t0, 5.0);
  EXPECT_NE(again.err.find("nothing to run, so no model is loaded"), std::string::npos) << again.err;
  EXPECT_EQ(read_jsonl(out), first) << "the output is written again from the state";
}

TEST(RunPreflight, AnEmptyInputSaysSoAndExits2) {
  const auto dir = scratch_dir();
  write_text(dir / "empty.jsonl", "\n\n");
  const auto r = run_batchwise({"run", (dir / "empty.jsonl").string(), "-o", (dir / "out.jsonl").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("empty.jsonl has no requests"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.jsonl"));
}

TEST(RunPreflight, AStateOfAnotherInputIsRefusedBeforeAnyModelLoads) {
  ensure_tiny_model();
  const auto dir = scratch_dir();
  const auto in = write_short_requests(dir, 4, "in");
  const auto out = dir / "out.jsonl";
  ASSERT_EQ(run_batchwise({"-q", "run", in.string(), "-o", out.string()}).exit_code, 0);
  const auto other = write_short_requests(dir, 5, "other");
  write_text(dir / "not-a-model.gguf", "this is not a GGUF file");
  const auto r = run_batchwise({"run", other.string(), "-o", out.string(), "-m", (dir / "not-a-model.gguf").string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.err.find("GGUF"), std::string::npos) << "the model was read: " << r.err;
}

}  // namespace
}  // namespace batchwise::test
