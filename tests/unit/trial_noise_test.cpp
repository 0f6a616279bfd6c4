// Noise a user meets on a shared machine: a trial that dips below both neighbours (the H200's 192 x 2 at
// 98.5 req/s between 128 x 2 at 133 and 256 x 2 at 156), or that ran while other processes took the CPU,
// is repeated; where the repeat disagrees a third run decides: the median is kept, the others are named
// outliers, kept in the list and not used.
#include "tune/trial_noise.h"

#include <gtest/gtest.h>

#include "tune/choice.h"

namespace batchwise {
namespace {

Trial measured(int64_t knob, double rate, double others = -1) {
  Trial t;
  t.knob = knob;
  t.lanes = 2;
  t.items_per_s = rate;
  t.total.p95_ms = 1000;
  t.others_cpu_cores = others;
  return t;
}

TEST(TrialNoise, ADipBelowBothNeighboursIsRepeatedAndTheFirstRunNamedAnOutlier) {
  std::vector<Trial> trials = {measured(1, 4.4), measured(128, 133.2), measured(256, 156.5), measured(192, 98.5)};
  int reruns = 0;
  const double repeats[] = {147.0, 180.0};
  repeat_doubtful_trials(trials, [&](const Trial& t) {
    EXPECT_EQ(t.knob, 192);
    return measured(192, repeats[reruns++]);
  });
  EXPECT_EQ(reruns, 2) << "only the dip is doubtful; its repeat disagreed, so a third run decides";
  ASSERT_EQ(trials.size(), 6u);
  EXPECT_EQ(trials[3].outcome, TrialOutcome::kOutlier);
  EXPECT_NE(trials[3].why.find("below both neighbours"), std::string::npos) << trials[3].why;
  EXPECT_TRUE(trials[4].feasible()) << "147, the median of 98.5, 147 and 180";
  EXPECT_EQ(trials[4].items_per_s, 147.0);
  EXPECT_EQ(trials[5].outcome, TrialOutcome::kOutlier);
  const Choice c = choose(trials, LatencySlo{});
  ASSERT_TRUE(c.chosen);
  EXPECT_NE(*c.chosen, 3u) << "an outlier is never chosen";
}

TEST(TrialNoise, ARepeatThatAgreesConfirmsTheDip) {
  std::vector<Trial> trials = {measured(128, 133.2), measured(256, 156.5), measured(192, 98.5)};
  repeat_doubtful_trials(trials, [](const Trial&) { return measured(192, 101.0); });
  EXPECT_EQ(trials.size(), 3u);
  EXPECT_TRUE(trials[2].feasible()) << "measured twice alike: it is the curve";
}

TEST(TrialNoise, ATrialUnderChangedMachineLoadIsRepeated) {
  std::vector<Trial> trials = {measured(1, 5.0, 0.1), measured(2, 7.0, 0.2), measured(4, 8.5, 1.6),
                               measured(8, 10.0, 0.1), measured(16, 11.0, 0.2)};
  EXPECT_NE(doubt_about(trials, 2).find("other processes used 1.6 CPU cores"), std::string::npos) << doubt_about(trials, 2);
  EXPECT_EQ(doubt_about(trials, 3), "");
  repeat_doubtful_trials(trials, [](const Trial& t) { return measured(t.knob, 9.5, 0.1); });
  EXPECT_EQ(trials[2].outcome, TrialOutcome::kOutlier);
  EXPECT_EQ(trials.size(), 7u);
  EXPECT_EQ(trials[5].items_per_s, 9.5);
  EXPECT_TRUE(trials[5].feasible() != trials[6].feasible()) << "two runs of 9.5: one kept, one named";
}

}  // namespace
}  // namespace batchwise
