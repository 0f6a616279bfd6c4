// The tune result cache and the trial records it holds: a hit only for the same key, a lost or
// corrupt file reads as a miss (never an error), and trials survive the round trip.
#include "tune/tune_cache.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "test_support.h"
#include "tune/trial.h"

namespace batchwise {
namespace {

// Points the cache at a scratch folder for one test and puts the old one back after it.
class ScratchCache {
 public:
  explicit ScratchCache(const std::filesystem::path& dir) {
    if (const char* old = std::getenv("BATCHWISE_CACHE_DIR")) old_ = old;
    ::setenv("BATCHWISE_CACHE_DIR", dir.c_str(), 1);
  }
  ~ScratchCache() { old_.empty() ? ::unsetenv("BATCHWISE_CACHE_DIR") : ::setenv("BATCHWISE_CACHE_DIR", old_.c_str(), 1); }

 private:
  std::string old_;
};

TuneKey key(const std::string& workload) { return {"embedded", "cpu test (2 cpus)", "model", engine_build_id(), workload}; }

TEST(TuneCache, TheSameKeyHitsAnotherMisses) {
  const ScratchCache cache(test::scratch_dir());
  EXPECT_FALSE(load_tune(key("p256-s128-o8")));
  const auto stored = store_tune(key("p256-s128-o8"), {{"max_knob", 16}}, {{"chosen", {{"knob", 8}}}});
  ASSERT_TRUE(stored) << stored.error().message;
  const auto hit = load_tune(key("p256-s128-o8"));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->result["chosen"]["knob"], 8);
  EXPECT_EQ(hit->settings["max_knob"], 16);
  EXPECT_FALSE(load_tune(key("p256-s128-o32")));
}

TEST(TuneCache, ACorruptEntryIsAMiss) {
  const ScratchCache cache(test::scratch_dir());
  const auto stored = store_tune(key("w"), {}, {});
  ASSERT_TRUE(stored);
  test::write_text(*stored, "{\"key\": 1");
  EXPECT_FALSE(load_tune(key("w")));
}

TEST(TrialRecord, RoundTripsThroughJson) {
  Trial t;
  t.knob = 12;
  t.lanes = 2;
  t.outcome = TrialOutcome::kOverMemoryLimit;
  t.why = "stopped";
  t.total = {1, 2, 3};
  t.predicted_items_per_s = 4.5;
  const auto back = trial_from_json(trial_to_json(t));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->knob, 12);
  EXPECT_EQ(back->lanes, 2);
  EXPECT_EQ(back->outcome, TrialOutcome::kOverMemoryLimit);
  EXPECT_DOUBLE_EQ(back->total.p95_ms, 2);
  EXPECT_DOUBLE_EQ(*back->predicted_items_per_s, 4.5);
  EXPECT_FALSE(back->predicted_memory_bytes);
  auto bad = trial_to_json(t);
  bad["outcome"] = "exploded";
  EXPECT_FALSE(trial_from_json(bad));
  bad["outcome"] = 3;
  EXPECT_FALSE(trial_from_json(bad));
}

}  // namespace
}  // namespace batchwise
