#include "tune/choice.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

Trial trial(int64_t knob, double rate, double p95_ms, double ttft_p95_ms = 0) {
  Trial t;
  t.knob = knob;
  t.items_per_s = rate;
  t.total.p95_ms = p95_ms;
  t.ttft.p95_ms = ttft_p95_ms;
  return t;
}

TEST(Choice, WithoutAnSloTheFastestWins) {
  const std::vector<Trial> t = {trial(1, 10, 100), trial(8, 50, 400), trial(16, 60, 900), trial(32, 58, 2000)};
  const Choice c = choose(t, {});
  ASSERT_TRUE(c.chosen);
  EXPECT_EQ(t[*c.chosen].knob, 16);
  EXPECT_EQ(t[*c.knee].knob, 16);  // the smallest within 10% of the best: 50 < 54
}

TEST(Choice, ATightSloPicksTheFastestThatMeetsIt) {
  const std::vector<Trial> t = {trial(1, 10, 100, 20), trial(8, 50, 400, 90), trial(16, 60, 900, 300)};
  LatencySlo p95;
  p95.total_p95_ms = 500;
  EXPECT_EQ(t[*choose(t, p95).chosen].knob, 8);
  LatencySlo ttft;
  ttft.ttft_p95_ms = 50;
  EXPECT_EQ(t[*choose(t, ttft).chosen].knob, 1);
  LatencySlo impossible;
  impossible.total_p95_ms = 10;
  const Choice none = choose(t, impossible);
  EXPECT_FALSE(none.chosen);
  EXPECT_NE(none.reason.find("no setting met"), std::string::npos);
}

// Issue 26: `tune --endpoint` chose 128 over 64 for +0.4% throughput at +33% p95.
TEST(Choice, ABiggerSettingWhoseGainIsWithinNoiseLosesToTheSmallerOne) {
  const std::vector<Trial> t = {trial(16, 40, 300), trial(32, 49.0, 600), trial(64, 50.0, 900), trial(128, 50.2, 1200)};
  const Choice c = choose(t, {});
  ASSERT_TRUE(c.chosen);
  EXPECT_EQ(t[*c.chosen].knob, 64);  // 32 is 2.4% short of the best: a real loss
  EXPECT_EQ(t[*c.fastest].knob, 128);
  EXPECT_NE(c.reason.find("smallest setting within 2%"), std::string::npos) << c.reason;
}

TEST(Choice, ParetoSetDropsSettingsBeatenOnBothThroughputAndLatency) {
  std::vector<Trial> t = {trial(1, 10, 100), trial(8, 50, 400), trial(16, 45, 900), trial(32, 60, 2000)};
  Trial oom = trial(64, 0, 0);
  oom.outcome = TrialOutcome::kOutOfMemory;
  t.push_back(oom);
  const Choice c = choose(t, {});
  std::vector<int64_t> knobs;
  for (size_t i : c.pareto) knobs.push_back(t[i].knob);
  EXPECT_EQ(knobs, (std::vector<int64_t>{1, 8, 32}));
}

}  // namespace
}  // namespace batchwise
