// Flag spellings: llama.cpp's names reach CLI11 as batchwise's long names, old spellings keep working
// with a note, and a typo finds the flag that was meant.
#include "cli/flag_spelling.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

std::vector<std::string> rewritten(std::vector<std::string> args) { return rewrite_flag_spellings(std::move(args)).args; }

TEST(FlagSpelling, LlamaCppShortNamesBecomeLongNames) {
  EXPECT_EQ(rewritten({"bw", "run", "in.jsonl", "-np", "8", "-ngl", "0", "-ub", "256", "-ctk", "q8_0", "-ctv", "f16"}),
            (std::vector<std::string>{"bw", "run", "in.jsonl", "--parallel", "8", "--n-gpu-layers", "0",
                                      "--ubatch-size", "256", "--cache-type-k", "q8_0", "--cache-type-v", "f16"}));
  EXPECT_TRUE(rewrite_flag_spellings({"bw", "run", "-np", "8"}).notes.empty());
}

TEST(FlagSpelling, ServeTakesRunsLlamaCppSpellingsOfTheFlagsItShares) {
  // `serve -np 8` answered "did you mean -h?" while `run -np 8` worked.
  EXPECT_EQ(rewritten({"bw", "serve", "-np", "8", "-ngl", "99"}),
            (std::vector<std::string>{"bw", "serve", "--parallel", "8", "--n-gpu-layers", "99"}));
}

TEST(FlagSpelling, BareFlashAttnMeansOnAndTakesAValue) {
  EXPECT_EQ(rewritten({"bw", "run", "-fa", "in.jsonl"}), (std::vector<std::string>{"bw", "run", "--flash-attn", "on", "in.jsonl"}));
  EXPECT_EQ(rewritten({"bw", "run", "-fa", "off"}), (std::vector<std::string>{"bw", "run", "--flash-attn", "off"}));
}

TEST(FlagSpelling, OldSpellingsKeepWorkingWithADeprecationNote) {
  const auto r = rewrite_flag_spellings({"bw", "run", "in.jsonl", "-p", "4", "--ctx=4096", "--no-flash-attn"});
  EXPECT_EQ(r.args, (std::vector<std::string>{"bw", "run", "in.jsonl", "--parallel", "4", "--ctx-size=4096",
                                             "--flash-attn", "off"}));
  ASSERT_EQ(r.notes.size(), 3u);
  EXPECT_NE(r.notes[0].find("`-np` / `--parallel`"), std::string::npos) << r.notes[0];
}

TEST(FlagSpelling, OnlyTheVerbsFlagsBeforeDoubleDashAreRewritten) {
  // synth has no -p alias; after `--` everything is a positional.
  EXPECT_EQ(rewritten({"bw", "synth", "-p", "x"}), (std::vector<std::string>{"bw", "synth", "-p", "x"}));
  EXPECT_EQ(rewritten({"bw", "run", "--", "-np"}), (std::vector<std::string>{"bw", "run", "--", "-np"}));
  EXPECT_EQ(verb_of({"bw", "-v", "run", "x"}), "run");
}

TEST(FlagSpelling, ATypoFindsTheFlagMeantButNotAStranger) {
  const std::vector<std::string> known = {"--parallel", "--ctx-size", "--output", "-o"};
  EXPECT_EQ(closest_flag("--paralel", known), "--parallel");
  EXPECT_EQ(closest_flag("--ctx-sise=9", known), "--ctx-size");
  EXPECT_EQ(closest_flag("--temperature", known), "");
}

}  // namespace
}  // namespace batchwise
