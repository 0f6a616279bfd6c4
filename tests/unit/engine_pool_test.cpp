// EnginePool's model slots with two models and one slot (--max-models 1), on the tiny model loaded for real:
// clients that keep one model leased without a gap cannot starve the other (its caller claims the slot and
// gets it within its wait), a model a batch holds is never claimed, and a model loaded for a claim keeps its
// turn before the other takes the slot back.
#include "server/engine_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "core/clock.h"
#include "model/synth.h"
#include "test_support.h"

namespace batchwise {
namespace {

EnginePoolOptions two_models_one_slot() {
  test::ensure_tiny_model();
  const auto tiny = *default_tiny_model();
  EnginePoolOptions o;
  o.models = {{"alpha", tiny}, {"beta", tiny}};
  o.max_models = 1;
  o.llama.n_ctx = 512;
  o.llama.n_parallel = 2;
  return o;
}

// Keeps `id` leased without a gap, as clients that send one request after another do: the next lease is taken
// before the last is given back, each held ~10 ms. A request refused (the slot is claimed) is asked again.
class GaplessClient {
 public:
  GaplessClient(EnginePool& pool, std::string id) : thread_([this, &pool, id] {
    ModelLease held;
    while (!stop_) {
      auto next = pool.acquire(id);
      if (next) served_++;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      held = next ? std::move(*next) : ModelLease();
    }
  }) {}
  ~GaplessClient() {
    stop_ = true;
    thread_.join();
  }
  int served() const { return served_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> served_{0};
  std::thread thread_;
};

TEST(EnginePool, ClientsKeepingOneModelBusyDoNotStarveTheOther) {
  EnginePool pool(two_models_one_slot(), [](std::shared_ptr<Job>) {});
  ASSERT_TRUE(pool.acquire("beta"));  // loaded, then given back
  GaplessClient beta_client(pool, "beta");
  const double t0 = now_s();
  while (beta_client.served() < 5 && now_s() < t0 + 30) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_GE(beta_client.served(), 5) << "beta never held";

  // Not waiting: refused at once, with what happens next.
  auto at_once = pool.acquire("alpha");
  ASSERT_FALSE(at_once);
  EXPECT_EQ(at_once.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(at_once.error().message.find("next once `beta`"), std::string::npos) << at_once.error().message;

  // Waiting: beta's requests in hand finish, new ones wait, and alpha is loaded in beta's place.
  auto alpha = pool.acquire("alpha", {.wait_s = 30});
  ASSERT_TRUE(alpha) << alpha.error().message;
  EXPECT_EQ(alpha->id(), "alpha");
  const auto views = pool.views();
  EXPECT_TRUE(views[0].loaded);
  EXPECT_FALSE(views[1].loaded);
  EXPECT_EQ(views[1].evictions, 1);
}

TEST(EnginePool, AModelABatchHoldsIsNeverClaimed) {
  EnginePool pool(two_models_one_slot(), [](std::shared_ptr<Job>) {});
  auto batch = pool.acquire("beta", {.for_batch = true});
  ASSERT_TRUE(batch);
  const double t0 = now_s();
  auto alpha = pool.acquire("alpha", {.wait_s = 1});
  ASSERT_FALSE(alpha);
  EXPECT_EQ(alpha.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(alpha.error().message.find("(batches)"), std::string::npos) << alpha.error().message;
  EXPECT_LT(now_s() - t0, 0.9) << "a slot no claim can free is not waited for";
  auto beta_again = pool.acquire("beta");  // the batch's model still takes requests
  ASSERT_TRUE(beta_again);
  beta_again->release();
  batch->release();
  auto alpha_after = pool.acquire("alpha", {.wait_s = 30});  // beta's turn may not be over: alpha waits for it
  EXPECT_TRUE(alpha_after) << "once the batch is done the slot is free: " << alpha_after.error().message;
}

TEST(EnginePool, TwoModelsBusyInTurnEachAreServed) {
  EnginePool pool(two_models_one_slot(), [](std::shared_ptr<Job>) {});
  std::atomic<bool> stop{false};
  std::atomic<int> served[2] = {0, 0};
  std::vector<std::thread> clients;
  for (int k = 0; k < 4; ++k) {
    clients.emplace_back([&, k] {
      const std::string id = k % 2 ? "beta" : "alpha";
      while (!stop) {
        auto lease = pool.acquire(id, {.wait_s = 30});
        if (!lease) continue;
        served[k % 2]++;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
  }
  const double t0 = now_s();
  while ((served[0] < 20 || served[1] < 20) && now_s() < t0 + 60) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_GE(served[0], 20);
  EXPECT_GE(served[1], 20);
  const auto views = pool.views();
  // Turns of kClaimHoldS each, not a swap after every request.
  EXPECT_LT(views[0].loads + views[1].loads, (served[0] + served[1]) / 2);
}

}  // namespace
}  // namespace batchwise
