// Relocatable install: `cmake --install --component batchwise` into a temporary prefix gives a
// batchwise that reads the catalogues and tokenizers beside itself, and still does after the prefix
// is copied elsewhere (no path of the build tree needed).
#include <gtest/gtest.h>

#include <filesystem>

#include "test_support.h"

namespace batchwise {
namespace {

TEST(Install, AnInstalledAndMovedPrefixPlansAndSynthesizes) {
  const auto dir = test::scratch_dir();
  const std::filesystem::path build = std::filesystem::path(BATCHWISE_BIN).parent_path();
  const auto installed = test::run_shell("cmake --install " + test::shell_quote(build.string()) +
                                         " --component batchwise --prefix " + test::shell_quote((dir / "p1").string()));
  ASSERT_EQ(installed.exit_code, 0) << installed.err << installed.out;
  const auto copied = test::run_shell("cp -a " + test::shell_quote((dir / "p1").string()) + " " +
                                      test::shell_quote((dir / "p2").string()) + " && rm -rf " +
                                      test::shell_quote((dir / "p1").string()));
  ASSERT_EQ(copied.exit_code, 0) << copied.err;
  const std::string bin = test::shell_quote((dir / "p2" / "bin" / "batchwise").string());
  const std::string env = "env -u BATCHWISE_DATA_DIR -u BATCHWISE_VOCAB_DIR ";
  const auto plan = test::run_shell(env + bin + " -v plan -m llama-3.1-8b --gpu \"RTX 4090\" --json");
  ASSERT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.err.find((dir / "p2" / "share" / "batchwise" / "data").string()), std::string::npos)
      << "the catalogue must come from the moved prefix: " << plan.err;
  const auto synth = test::run_shell(env + bin + " -q synth -m tiny -o " + test::shell_quote((dir / "t.gguf").string()));
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "t.gguf"));
}

}  // namespace
}  // namespace batchwise
