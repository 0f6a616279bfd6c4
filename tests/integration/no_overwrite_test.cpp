// Writing verbs do not silently replace a file that is not theirs: run -o, gen-workload -o and synth -o
// refuse with a message naming --force, and leave the file as it was; a job's own output (its state
// beside it) is rewritten as the job resumes.
#include <gtest/gtest.h>

#include "core/files.h"
#include "test_support.h"

namespace batchwise {
namespace {

constexpr const char* kPrecious = "someone else's results\n";

TEST(NoOverwrite, GenWorkloadRefusesAnExistingFileUnlessForced) {
  const auto dir = test::scratch_dir();
  const auto out = dir / "in.jsonl";
  test::write_text(out, kPrecious);
  const auto r = test::run_batchwise({"gen-workload", "seed", "-n", "3", "-o", out.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--force"), std::string::npos) << r.err;
  EXPECT_EQ(*read_file(out), kPrecious);
  ASSERT_EQ(test::run_batchwise({"gen-workload", "seed", "-n", "3", "-o", out.string(), "--force"}).exit_code, 0);
  EXPECT_EQ(test::read_jsonl(out).size(), 3u);
}

TEST(NoOverwrite, SynthRefusesAnExistingFileUnlessForced) {
  const auto dir = test::scratch_dir();
  const auto out = dir / "m.gguf";
  test::write_text(out, kPrecious);
  const auto r = test::run_batchwise({"synth", "-m", "tiny", "-o", out.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("pass --force"), std::string::npos) << r.err;
  EXPECT_EQ(*read_file(out), kPrecious);
  ASSERT_EQ(test::run_batchwise({"synth", "-m", "tiny", "-o", out.string(), "--force"}).exit_code, 0);
  EXPECT_NE(*read_file(out), kPrecious);
}

TEST(NoOverwrite, RunRefusesAForeignOutputButRewritesItsOwn) {
  test::ensure_tiny_model();
  const auto dir = test::scratch_dir();
  const auto in = dir / "in.jsonl";
  ASSERT_EQ(test::run_batchwise({"gen-workload", "seed", "-n", "4", "--prefix-tokens", "40", "--output-tokens", "2",
                                 "-o", in.string()}).exit_code, 0);
  const auto out = dir / "out.jsonl";
  test::write_text(out, kPrecious);
  const auto refused = test::run_batchwise({"run", in.string(), "-o", out.string(), "-np", "4"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("-o " + out.string() + ": the file exists"), std::string::npos) << refused.err;
  EXPECT_EQ(*read_file(out), kPrecious);
  EXPECT_FALSE(std::filesystem::exists(dir / "out.jsonl.state.db")) << "refused before any work";
  ASSERT_EQ(test::run_batchwise({"run", in.string(), "-o", out.string(), "-np", "4", "--force"}).exit_code, 0);
  EXPECT_EQ(test::read_jsonl(out).size(), 4u);
  // Its own output now: running the same command again resumes and rewrites it without --force.
  const auto again = test::run_batchwise({"run", in.string(), "-o", out.string(), "-np", "4"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(test::read_jsonl(out).size(), 4u);
}

TEST(NoOverwrite, RunRefusesStdoutAsOutput) {
  const auto dir = test::scratch_dir();
  test::write_text(dir / "in.jsonl", "");
  const auto r = test::run_batchwise({"run", (dir / "in.jsonl").string(), "-o", "-"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("-o -: run writes its results to a file"), std::string::npos) << r.err;
}

TEST(NoOverwrite, RunIntoAFolderThatDoesNotExistNamesTheMkdirThatMakesIt) {
  const auto dir = test::scratch_dir();
  test::write_chat_requests(dir, 2);
  for (const std::string flag : {"-o", "--state", "--errors"}) {
    std::vector<std::string> args = {"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string()};
    if (flag == "-o") args[3] = (dir / "missing" / "out.jsonl").string();
    else args.insert(args.end(), {flag, (dir / "missing" / "x.db").string()});
    const auto r = test::run_batchwise(args);
    EXPECT_EQ(r.exit_code, 2) << flag << ": " << r.err;
    EXPECT_NE(r.err.find(flag + " "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("does not exist: create it (mkdir -p "), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace batchwise
