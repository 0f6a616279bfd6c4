// EndpointPool: which endpoint gets a request, and what failures do to an endpoint. Time is passed in.
#include "engine/http/endpoint_pool.h"

#include <gtest/gtest.h>

#include <map>

namespace batchwise {
namespace {

PoolOptions options(int initial, int max) {
  PoolOptions o;
  o.concurrency.initial = initial;
  o.concurrency.max = max;
  return o;
}

TEST(EndpointPool, LeastOutstandingSpreadsRequestsEvenly) {
  EndpointPool pool({"http://a", "http://b", "http://c"}, options(8, 8));
  std::map<size_t, int> count;
  for (int i = 0; i < 12; ++i) {
    auto e = pool.choose(0, 0.0);
    ASSERT_TRUE(e);
    pool.on_dispatch(*e, 0.0);
    count[*e]++;
  }
  EXPECT_EQ(count[0], 4);
  EXPECT_EQ(count[1], 4);
  EXPECT_EQ(count[2], 4);
}

TEST(EndpointPool, NoRoomWhenEveryEndpointIsAtItsLimit) {
  EndpointPool pool({"http://a", "http://b"}, options(2, 2));
  for (int i = 0; i < 4; ++i) pool.on_dispatch(*pool.choose(0, 0.0), 0.0);
  EXPECT_FALSE(pool.choose(0, 0.0));
  pool.on_finish(1, EndpointOutcome::kOk, 10, 0.1);
  EXPECT_EQ(pool.choose(0, 0.1), 1u);
}

TEST(EndpointPool, ASharedPrefixSticksToOneEndpointWhileItHasRoomThenOverflows) {
  EndpointPool pool({"http://a", "http://b", "http://c"}, options(4, 4));
  const uint64_t rubric = 0xabc;
  auto first = pool.choose(rubric, 0.0);
  ASSERT_TRUE(first);
  pool.on_dispatch(*first, 0.0);
  for (int i = 0; i < 3; ++i) {
    auto e = pool.choose(rubric, 0.0);
    EXPECT_EQ(e, first);
    pool.on_dispatch(*e, 0.0);
  }
  auto overflow = pool.choose(rubric, 0.0);  // the sticky endpoint is full
  ASSERT_TRUE(overflow);
  EXPECT_NE(overflow, first);
  pool.on_finish(*first, EndpointOutcome::kOk, 10, 0.1);
  EXPECT_EQ(pool.choose(rubric, 0.1), first);  // room again: back to the warm cache
}

TEST(EndpointPool, TwoConnectionFailuresInARowTakeAnEndpointOutUntilAHealthCheckPasses) {
  EndpointPool pool({"http://a", "http://b"}, options(8, 8));
  pool.on_dispatch(0, 0.0);
  pool.on_finish(0, EndpointOutcome::kConnectionFailed, 1, 1.0);
  EXPECT_TRUE(pool.view(0).up);  // one dropped connection may be a proxy's hiccup
  pool.on_dispatch(0, 0.0);
  pool.on_finish(0, EndpointOutcome::kConnectionFailed, 1, 1.0);
  EXPECT_FALSE(pool.view(0).up);
  for (int i = 0; i < 8; ++i) {
    auto e = pool.choose(0, 1.0);
    ASSERT_TRUE(e);
    EXPECT_EQ(*e, 1u);
    pool.on_dispatch(*e, 0.0);
  }
  EXPECT_FALSE(pool.choose(0, 1.0));  // b is full, a is out
  EXPECT_TRUE(pool.due_health_checks(1.0).empty());  // backoff first
  auto due = pool.due_health_checks(1.5);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_TRUE(pool.due_health_checks(1.6).empty());  // one check at a time
  pool.on_health(0, false, 1.6);                      // still down: backoff doubles
  EXPECT_TRUE(pool.due_health_checks(1.7).empty());
  ASSERT_EQ(pool.due_health_checks(2.1).size(), 1u);
  pool.on_health(0, true, 2.1);
  EXPECT_TRUE(pool.view(0).up);
  EXPECT_EQ(pool.choose(0, 2.1), 0u);  // the least loaded again
}

TEST(EndpointPool, RepeatedServerErrorsTakeAnEndpointOut) {
  EndpointPool pool({"http://a", "http://b"}, options(8, 8));
  for (int i = 0; i < 4; ++i) {
    pool.on_dispatch(0, 0.0);
    pool.on_finish(0, EndpointOutcome::kServerError, 1, 0.0);
  }
  EXPECT_TRUE(pool.view(0).up);
  pool.on_dispatch(0, 0.0);
  pool.on_finish(0, EndpointOutcome::kOk, 1, 0.0);  // a success in between resets the count
  for (int i = 0; i < 4; ++i) {
    pool.on_dispatch(0, 0.0);
    pool.on_finish(0, EndpointOutcome::kServerError, 1, 0.0);
  }
  EXPECT_TRUE(pool.view(0).up);
  pool.on_dispatch(0, 0.0);
  pool.on_finish(0, EndpointOutcome::kServerError, 1, 0.0);
  EXPECT_FALSE(pool.view(0).up);
}

TEST(EndpointPool, RateLimitPausesTheEndpointForItsRetryAfter) {
  EndpointPool pool({"http://a"}, options(8, 8));
  pool.on_dispatch(0, 0.0);
  pool.on_finish(0, EndpointOutcome::kRateLimited, 1, 10.0, /*retry_after_s=*/2.0);
  EXPECT_FALSE(pool.choose(0, 10.5));
  EXPECT_FALSE(pool.choose(0, 11.9));
  EXPECT_DOUBLE_EQ(pool.next_wakeup_s(10.5), 12.0);
  EXPECT_EQ(pool.choose(0, 12.0), 0u);
  EXPECT_EQ(pool.view(0).limit, 4);  // and its concurrency halved
}

TEST(EndpointPool, FasterEndpointGetsMoreOfTheLoad) {
  EndpointPool pool({"http://fast", "http://slow"}, options(64, 64));
  // Measure: fast finishes 300 requests a second, slow 100.
  for (int s = 0; s < 4; ++s) {
    for (int i = 0; i < 300; ++i) {
      pool.on_dispatch(0, 0.0);
      pool.on_finish(0, EndpointOutcome::kOk, 10, s + i / 300.0);
    }
    for (int i = 0; i < 100; ++i) {
      pool.on_dispatch(1, 0.0);
      pool.on_finish(1, EndpointOutcome::kOk, 10, s + i / 100.0);
    }
  }
  ASSERT_GT(pool.view(0).throughput_rps, 2 * pool.view(1).throughput_rps);
  std::map<size_t, int> count;
  for (int i = 0; i < 40; ++i) {
    auto e = pool.choose(0, 5.0);
    ASSERT_TRUE(e);
    pool.on_dispatch(*e, 0.0);
    count[*e]++;
  }
  EXPECT_GE(count[0], 2 * count[1]);
}

// Issue 26: llama-server answered /health while it finished nothing; the endpoint must be called stalled.
TEST(EndpointPool, AnEndpointThatHoldsRequestsAndAnswersNoneForTheLimitIsStalledOnce) {
  EndpointPool pool({"http://a", "http://b"}, options(8, 8));
  pool.on_dispatch(0, 0.0);
  pool.on_dispatch(0, 0.0);
  pool.on_finish(0, EndpointOutcome::kOk, 10, 1.0);  // an answer: the clock starts again
  EXPECT_TRUE(pool.newly_stalled(5.0, 4.5).empty());
  pool.on_finish(0, EndpointOutcome::kTimeout, 10, 5.2);  // a timeout is not an answer
  EXPECT_TRUE(pool.newly_stalled(5.6, 4.5).empty());        // but nothing is in flight now
  pool.on_dispatch(0, 5.7);                                 // its retry: still no answer since 1.0
  EXPECT_EQ(pool.newly_stalled(5.8, 4.5), std::vector<size_t>{0});
  EXPECT_TRUE(pool.newly_stalled(9.0, 4.5).empty());  // reported once
  EXPECT_TRUE(pool.view(0).stalled);
  EXPECT_FALSE(pool.all_stalled());
  EXPECT_EQ(pool.choose(0, 9.0), 1u);  // no request goes to it
  EXPECT_TRUE(pool.due_health_checks(20.0).empty());  // and its passing /health does not bring it back
  pool.unstall(0);  // an answer does
  EXPECT_FALSE(pool.view(0).stalled);
  pool.on_finish(0, EndpointOutcome::kOk, 10, 20.0);
  // An idle endpoint owes nothing; a refused connection is an answer too (then it is down, not stalled).
  pool.on_dispatch(1, 10.0);
  pool.on_finish(1, EndpointOutcome::kConnectionFailed, 1, 10.1);
  EXPECT_TRUE(pool.newly_stalled(100.0, 4.5).empty());
}

TEST(EndpointPool, TheServersSlotsCapTheLimitAndItStartsThere) {
  EndpointPool pool({"http://a"}, options(8, 64));
  pool.set_server_slots(0, 32, /*start_there=*/true);
  EXPECT_EQ(pool.view(0).limit, 32);
  EXPECT_EQ(pool.view(0).server_slots, 32);
  EndpointPool tuned({"http://a"}, options(8, 64));
  tuned.set_server_slots(0, 4, /*start_there=*/false);
  EXPECT_EQ(tuned.view(0).limit, 4);
}

}  // namespace
}  // namespace batchwise
