// The run verb's flags as a llama.cpp user types them: llama.cpp's names work, old names work with a
// note, -q after the verb silences the summary, and a typo is answered with the flag meant.
#include <gtest/gtest.h>

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
  // The tiny model's 16-wide heads do not divide into q8_0 blocks: llama.cpp refuses, and the error says where to look.
  const auto q8 = test::run_batchwise({"run", in.string(), "-o", (dir / "q8.jsonl").string(), "-np", "4", "-ctk", "q8_0"});
  EXPECT_EQ(q8.exit_code, 3);
  EXPECT_NE(q8.err.find("of q8_0/f16: lower --ctx-size or --parallel, or choose other KV types"), std::string::npos) << q8.err;
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
