// The run and serve verbs' flags as a llama.cpp user types them: llama.cpp's names work, old names work with a
// note, -q after the verb silences the summary, and a typo is answered with the flag meant.
#include <gtest/gtest.h>

#include "serve_process.h"
#include "test_support.h"

namespace batchwise {
namespace {

std::filesystem::path small_workload(const std::filesystem::path& dir) {
  const auto in = dir / "in.jsonl";
  const auto r = test::run_batchwise({"gen-workload", "seed", "-n", "6", "--prefix-tokens", "40", "--unique-tokens", "6",
                                      "--output-tokens", "3", "-o", in.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return in;
}

TEST(CliFlags, LlamaCppSpellingsRunAJob) {
  test::ensure_tiny_model();
  const auto dir = test::scratch_dir();
  const auto in = small_workload(dir);
  const auto r = test::run_batchwise({"run", in.string(), "-o", (dir / "out.jsonl").string(), "-np", "4", "-c", "4096",
                                      "-b", "512", "-ub", "256", "-ngl", "0", "-fa", "-ctk", "f16", "-ctv", "f16",
                                      "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_jsonl(dir / "out.jsonl").size(), 6u);
  EXPECT_EQ(r.err.find("deprecated"), std::string::npos) << r.err;
  // The tiny model's 16-wide heads do not divide into q8_0 blocks: llama.cpp would refuse the context; the error
  // says why and what to choose (not "lower --ctx-size", as a refused context used to), as a usage error.
  const auto q8 = test::run_batchwise({"run", in.string(), "-o", (dir / "q8.jsonl").string(), "-np", "4", "-ctk", "q8_0"});
  EXPECT_EQ(q8.exit_code, 2);
  EXPECT_NE(q8.err.find("KV cache type q8_0 packs 32 numbers a block, and this model's key heads have 16: choose f16"),
            std::string::npos) << q8.err;
}

// serve takes the embedded engine's flags as run does, with llama.cpp's spellings, and they reach the engine.
TEST(CliFlags, ServeTakesRunsEngineFlagsWithLlamaCppSpellings) {
  test::ensure_tiny_model();
  const auto dir = test::scratch_dir();
  const std::string chat = R"({"model":"tiny","max_tokens":3,"messages":[{"role":"user","content":"hi"}]})";
  {
    // (the test server already passes --parallel 8 -c 8192)
    test::Serve serve(dir / "state", {"--lanes", "1", "-b", "256", "-ub", "64", "-t", "1", "-fa", "on",
                                      "-ctk", "f16", "-ctv", "f16", "--prefix-slots", "2", "--max-request-tokens", "2048"});
    const auto r = serve.http().Post("/v1/chat/completions", chat, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
  test::Serve q8(dir / "state-q8", {"-ctk", "q8_0"});
  const auto r = q8.http().Post("/v1/chat/completions", chat, "application/json");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("KV cache type q8_0 packs 32 numbers"), std::string::npos) << r->status << " " << r->body;
}

TEST(CliFlags, OldSpellingsWorkWithADeprecationNote) {
  test::ensure_tiny_model();
  const auto dir = test::scratch_dir();
  const auto in = small_workload(dir);
  const auto r = test::run_batchwise({"run", in.string(), "-o", (dir / "out.jsonl").string(), "-p", "4", "--ctx", "4096"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("`-p` is deprecated, use `-np` / `--parallel`"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("`--ctx` is deprecated"), std::string::npos) << r.err;
}

TEST(CliFlags, QuietAfterTheVerbSilencesTheSummary) {
  test::ensure_tiny_model();
  const auto dir = test::scratch_dir();
  const auto in = small_workload(dir);
  const auto loud = test::run_batchwise({"run", in.string(), "-o", (dir / "a.jsonl").string(), "-np", "4"});
  ASSERT_EQ(loud.exit_code, 0) << loud.err;
  EXPECT_NE(loud.err.find("requests"), std::string::npos);
  const auto quiet = test::run_batchwise({"run", in.string(), "-o", (dir / "b.jsonl").string(), "-np", "4", "-q"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "");
  const auto verbose = test::run_batchwise({"run", in.string(), "-o", (dir / "c.jsonl").string(), "-v", "-np", "4"});
  ASSERT_EQ(verbose.exit_code, 0) << verbose.err;
  EXPECT_GT(verbose.err.size(), loud.err.size());
}

TEST(CliFlags, AnUnknownFlagGetsADidYouMean) {
  const auto dir = test::scratch_dir();
  const auto in = small_workload(dir);
  const auto r = test::run_batchwise({"run", in.string(), "-o", (dir / "out.jsonl").string(), "--paralel", "4"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown flag `--paralel`; did you mean `--parallel`?"), std::string::npos) << r.err;
  const auto plan = test::run_batchwise({"plan", "-m", "tiny", "--gpu", "cpu", "--ubatchsize", "256"});
  EXPECT_EQ(plan.exit_code, 2);
  EXPECT_NE(plan.err.find("did you mean `--ubatch-size`?"), std::string::npos) << plan.err;
}

}  // namespace
}  // namespace batchwise
