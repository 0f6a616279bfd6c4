// ConcurrencyLimiter: the adaptive per-endpoint limit, driven with made-up latencies.
#include "engine/http/concurrency_limiter.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

// Feeds `n` completions of `latency_ms`, each seen with the endpoint full (outstanding = limit).
void feed(ConcurrencyLimiter& c, int n, double latency_ms) {
  for (int i = 0; i < n; ++i) c.on_success(latency_ms, c.limit());
}

TEST(ConcurrencyLimiter, StartsAtInitialClampedToMax) {
  EXPECT_EQ(ConcurrencyLimiter({.initial = 8, .max = 64}).limit(), 8);
  EXPECT_EQ(ConcurrencyLimiter({.initial = 8, .max = 4}).limit(), 4);
}

TEST(ConcurrencyLimiter, GrowsToMaxWhileLatencyStaysFlat) {
  ConcurrencyLimiter c({.initial = 8, .max = 32});
  feed(c, 2000, 10.0);
  EXPECT_EQ(c.limit(), 32);
}

TEST(ConcurrencyLimiter, DoesNotGrowWhenTheEndpointIsNotFull) {
  ConcurrencyLimiter c({.initial = 8, .max = 32});
  for (int i = 0; i < 1000; ++i) c.on_success(10.0, 2);
  EXPECT_EQ(c.limit(), 8);
}

TEST(ConcurrencyLimiter, FallsWhenLatencyRisesAndRecoversWhenItDrops) {
  ConcurrencyLimiter c({.initial = 8, .max = 32});
  feed(c, 2000, 10.0);
  ASSERT_EQ(c.limit(), 32);
  feed(c, 200, 200.0);  // queueing at the server: 20x the baseline
  EXPECT_LE(c.limit(), 4);
  feed(c, 3000, 10.0);
  EXPECT_EQ(c.limit(), 32);
}

TEST(ConcurrencyLimiter, SmallAbsoluteJitterOnAFastServerIsNotQueueing) {
  ConcurrencyLimiter c({.initial = 8, .max = 32});
  feed(c, 500, 0.2);
  feed(c, 2000, 2.0);  // 10x, but only 1.8 ms more: under the 5 ms slack
  EXPECT_EQ(c.limit(), 32);
}

TEST(ConcurrencyLimiter, OverloadHalvesOncePerWindowAndNeverBelowMin) {
  ConcurrencyLimiter c({.initial = 16, .max = 32});
  c.on_overload();
  EXPECT_EQ(c.limit(), 8);
  c.on_overload();  // a burst of 429s from the same moment counts once
  EXPECT_EQ(c.limit(), 8);
  feed(c, 8, 10.0);  // a new window
  c.on_overload();
  EXPECT_LE(c.limit(), 5);
  ConcurrencyLimiter one({.initial = 1, .max = 32});
  one.on_overload();
  EXPECT_EQ(one.limit(), 1);
}

TEST(ConcurrencyLimiter, ResetGoesBackToInitial) {
  ConcurrencyLimiter c({.initial = 8, .max = 32});
  feed(c, 2000, 10.0);
  c.reset();
  EXPECT_EQ(c.limit(), 8);
}

}  // namespace
}  // namespace batchwise
