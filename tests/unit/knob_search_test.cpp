// search_knob on recorded-shape throughput curves: what it chooses against an exhaustive sweep of
// the same grid, how many trials it spends, and that it never runs a setting whose memory cannot fit.
#include "tune/knob_search.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>

namespace batchwise {
namespace {

struct Curve {
  const char* name;
  std::function<double(int64_t)> rate;     // items/s at knob k
  std::function<int64_t(int64_t)> memory;  // bytes at knob k
  int64_t oom_above = 1 << 30;             // the "device" fails past this
};

Trial fake_trial(const Curve& c, int64_t k) {
  Trial t;
  t.knob = k;
  if (k > c.oom_above) {
    t.outcome = TrialOutcome::kOutOfMemory;
    t.why = "out of memory";
    return t;
  }
  t.items_per_s = c.rate(k);
  t.peak_memory_bytes = c.memory(k);
  t.total.p95_ms = 1000.0 * static_cast<double>(k) / t.items_per_s;
  return t;
}

std::vector<Curve> curves() {
  auto mem = [](int64_t k) { return int64_t{1} << 30 | (k << 20); };
  return {
      {"peak at 5", [](int64_t k) { return k / (1.0 + std::pow(k / 5.0, 2)); }, mem},
      {"peak at 20", [](int64_t k) { return k / (1.0 + std::pow(k / 20.0, 2)); }, mem},
      {"peak at 48", [](int64_t k) { return k / (1.0 + std::pow(k / 48.0, 2)); }, mem},
      {"saturating, knee at 8", [](int64_t k) { return 100.0 * k / (k + 8.0); }, mem},
      {"saturating, knee at 30", [](int64_t k) { return 100.0 * k / (k + 30.0); }, mem},
      {"rising until out of memory at 40", [](int64_t k) { return 10.0 * k; }, mem, 40},
      {"seed-like: decode-bound then attention-bound", [](int64_t k) { return k / (1.0 + 0.02 * k + 0.0004 * k * k); }, mem},
  };
}

TEST(KnobSearch, ChoiceIsWithin3PercentOfAnExhaustiveSweepInAtMost40PercentOfItsTrials) {
  constexpr int64_t kGrid = 64;
  for (const auto& c : curves()) {
    for (int64_t start : {1, 8, 32}) {
      double best = 0;
      for (int64_t k = 1; k <= kGrid; ++k) {
        const Trial t = fake_trial(c, k);
        if (t.feasible()) best = std::max(best, t.items_per_s);
      }
      SearchOptions o;
      o.start = start;
      o.max_knob = kGrid;
      const auto r = search_knob(o, [&](int64_t k) { return fake_trial(c, k); });
      ASSERT_TRUE(r.best) << c.name;
      EXPECT_GE(r.trials[*r.best].items_per_s, 0.97 * best) << c.name << ", start " << start << ": chose knob "
                                                             << r.trials[*r.best].knob;
      EXPECT_LE(r.trials_run, 0.40 * kGrid) << c.name << ", start " << start;
      std::printf("%-45s start %2lld: %2d trials, %.3f of the best\n", c.name, static_cast<long long>(start), r.trials_run,
                  r.trials[*r.best].items_per_s / best);
    }
  }
}

TEST(KnobSearch, NeverRunsASettingWhosePredictedMemoryExceedsTheLimit) {
  // 1 GiB fixed + 64 MiB per unit; the limit fits 24 units, 10% margin included.
  const int64_t fixed = int64_t{1} << 30, per = int64_t{64} << 20;
  Curve c{"rising", [](int64_t k) { return 10.0 * k; }, [&](int64_t k) { return fixed + per * k; }};
  const int64_t limit = static_cast<int64_t>(1.1 * static_cast<double>(fixed + per * 24));
  int over_limit_runs = 0;
  SearchOptions o;
  o.max_knob = 256;
  o.memory_limit_bytes = limit;
  const auto r = search_knob(o, [&](int64_t k) {
    if (c.memory(k) > limit) ++over_limit_runs;
    return fake_trial(c, k);
  });
  EXPECT_EQ(over_limit_runs, 0);
  ASSERT_TRUE(r.best);
  EXPECT_GE(r.trials[*r.best].knob, 20);  // it still gets close to the wall
  EXPECT_LE(r.trials[*r.best].knob, 24);
  bool skipped = false;
  for (const auto& t : r.trials) skipped |= t.outcome == TrialOutcome::kPredictedTooBig;
  EXPECT_TRUE(skipped) << "the setting past the wall is recorded as predicted too big";
}

TEST(KnobSearch, AnOutOfMemoryTrialEndsThatTrialAndNothingLargerIsRun) {
  Curve c{"rising", [](int64_t k) { return 10.0 * k; }, [](int64_t k) { return k << 20; }, 40};
  int64_t largest_run_after_oom = 0;
  bool seen_oom = false;
  SearchOptions o;
  o.max_knob = 256;
  const auto r = search_knob(o, [&](int64_t k) {
    if (seen_oom) largest_run_after_oom = std::max(largest_run_after_oom, k);
    Trial t = fake_trial(c, k);
    seen_oom |= !t.feasible();
    return t;
  });
  ASSERT_TRUE(r.best);
  EXPECT_LE(r.trials[*r.best].knob, 40);
  EXPECT_GE(r.trials[*r.best].knob, 32);
  EXPECT_LT(largest_run_after_oom, 64);
}

TEST(KnobSearch, SpeedupIsOverTheKnobOneTrial) {
  Curve c{"linear", [](int64_t k) { return 5.0 * k; }, [](int64_t k) { return k << 20; }};
  SearchOptions o;
  o.max_knob = 8;
  const auto r = search_knob(o, [&](int64_t k) { return fake_trial(c, k); });
  for (const auto& t : r.trials) EXPECT_NEAR(t.speedup, static_cast<double>(t.knob), 1e-9);
}

TEST(MemoryPredictor, FitsFixedPlusPerUnitFromTwoTrials) {
  MemoryPredictor p;
  EXPECT_FALSE(p.predict(4));
  p.add(1, 1100);
  EXPECT_EQ(*p.predict(4), 4400);  // one trial: proportional, the conservative rule
  p.add(2, 1200);
  EXPECT_EQ(*p.predict(10), 2000);
  EXPECT_DOUBLE_EQ(*p.bytes_per_unit(), 100.0);
}

TEST(MemoryPredictor, UsesThePriorSlopeUntilTwoTrialsTell) {
  MemoryPredictor p(50.0);
  p.add(1, 1000);
  EXPECT_EQ(*p.predict(11), 1500);
}

}  // namespace
}  // namespace batchwise
