#include "engine/llama/prepared_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

namespace batchwise {
namespace {

PreparedRequest prepared(uint64_t key) {
  PreparedRequest p;
  p.request.key = key;
  return p;
}

TEST(PreparedQueue, ARequestPutBackIsTheNextOneTaken) {
  PreparedQueue q(8);
  q.push_prepared(prepared(1));
  q.push_prepared(prepared(2));
  auto first = q.take();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->request.key, 1u);
  q.put_back(std::move(*first));  // the lane had no room: it must not lose its place
  EXPECT_EQ(q.take()->request.key, 1u);
  EXPECT_EQ(q.take()->request.key, 2u);
  EXPECT_FALSE(q.take());
}

TEST(PreparedQueue, SubmitBlocksAtCapacityUntilALaneTakesOne) {
  PreparedQueue q(2);
  ASSERT_TRUE(q.submit(EngineRequest{}, 0));
  q.push_prepared(prepared(7));
  auto blocked = std::async(std::launch::async, [&] { return q.submit(EngineRequest{}, 0); });
  EXPECT_EQ(blocked.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  ASSERT_TRUE(q.take());
  ASSERT_EQ(blocked.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(blocked.get());
}

TEST(PreparedQueue, StopWakesAnIdleLane) {
  PreparedQueue q(8);
  auto idle = std::async(std::launch::async, [&] { return q.wait_for_work(false); });
  EXPECT_EQ(idle.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  q.stop(true);
  ASSERT_EQ(idle.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_FALSE(idle.get()) << "an idle lane ends once stopped";
}

TEST(PreparedQueue, AfterStopNothingStartsAndDrainReturnsEveryRequestNotStarted) {
  PreparedQueue q(8);
  ASSERT_TRUE(q.submit(EngineRequest{.key = 1}, 0));
  q.push_prepared(prepared(2));
  q.stop(true);
  EXPECT_FALSE(q.wait_for_work(false)) << "an idle lane ends once stopped, even with work queued";
  EXPECT_TRUE(q.wait_for_work(true)) << "a busy lane finishes what it holds when asked to";
  EXPECT_FALSE(q.take()) << "no new request starts after stop";
  EXPECT_FALSE(q.submit(EngineRequest{}, 0));
  const auto left = q.drain();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].request.key, 2u);  // prepared first, then the one never prepared
  EXPECT_EQ(left[1].request.key, 1u);
}

TEST(PreparedQueue, StopWithoutFinishingEndsBusyLanesToo) {
  PreparedQueue q(8);
  q.stop(false);
  EXPECT_FALSE(q.wait_for_work(true));
}

TEST(PreparedQueue, AFailedThreadStopsEverythingAndTheFirstFailureIsKept) {
  PreparedQueue q(8);
  EXPECT_FALSE(q.failure());
  ASSERT_TRUE(q.submit(EngineRequest{.key = 1}, 0));
  q.fail(Error{ErrorCode::kEngine, "internal error in a request preparer: first"});
  q.fail(Error{ErrorCode::kEngine, "internal error in the engine: second"});
  ASSERT_TRUE(q.failure());
  EXPECT_EQ(q.failure()->message, "internal error in a request preparer: first");
  EXPECT_FALSE(q.wait_for_work(true)) << "a failure stops busy lanes too";
  EXPECT_FALSE(q.submit(EngineRequest{}, 0));
  EXPECT_EQ(q.drain().size(), 1u) << "what waited comes back to be answered";
}

}  // namespace
}  // namespace batchwise
