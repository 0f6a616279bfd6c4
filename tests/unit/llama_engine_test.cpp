// LlamaEngine's model copies (--gpus): the list a user types, the errors on a machine without the GPUs
// named, and copies on the CPU device, which keep the same bookkeeping as GPU copies: one queue feeding
// every copy's lanes, each copy evaluating a shared prefix once.
#include "engine/llama/llama_engine.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

#include "model/synth.h"
#include "test_support.h"

namespace batchwise {
namespace {

TEST(LlamaEngineGpus, AListIsAllOrDistinctNumbers) {
  EXPECT_EQ(*parse_gpu_list("0,1"), (std::vector<int>{0, 1}));
  EXPECT_EQ(*parse_gpu_list("3"), (std::vector<int>{3}));
  for (const char* bad : {"", "x", "0,", "0,0", "-1", "1,a"}) {
    auto r = parse_gpu_list(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("--gpus"), std::string::npos);
  }
}

TEST(LlamaEngineGpus, WithoutCudaGpusFailsWithWhatToBuild) {
  if (visible_gpu_count() > 0) GTEST_SKIP() << "this machine has GPUs";
  auto all = parse_gpu_list("all");
  ASSERT_FALSE(all);
  EXPECT_NE(all.error().message.find("BATCHWISE_CUDA"), std::string::npos) << all.error().message;
  test::ensure_tiny_model();
  LlamaEngineOptions o;
  o.model_path = *default_tiny_model();
  o.gpus = {0};
  auto engine = make_llama_engine(o);
  ASSERT_FALSE(engine);
  EXPECT_EQ(engine.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(engine.error().message.find("no GPU"), std::string::npos) << engine.error().message;
}

// Runs `n` greedy chat requests sharing a long system prompt; returns the engine's counters.
EngineStats run_shared_prefix(Engine& engine, int n, int* ok) {
  std::mutex mu;
  std::condition_variable cv;
  int done = 0;
  EXPECT_TRUE(engine.start([&](EngineResult r) {
    std::lock_guard lock(mu);
    if (!r.error) (*ok)++;
    done++;
    cv.notify_all();
  }));
  std::string rubric;
  for (int i = 0; i < 60; ++i) rubric += "Score the answer for accuracy, clarity and tone. ";
  for (int i = 0; i < n; ++i) {
    EngineRequest req;
    req.key = static_cast<uint64_t>(i);
    req.body = {{"messages", {{{"role", "system"}, {"content", rubric}}, {{"role", "user"}, {"content", "answer " + std::to_string(i)}}}},
                {"max_tokens", 4},
                {"temperature", 0}};
    EXPECT_TRUE(engine.submit(std::move(req)));
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done == n; });
  lock.unlock();
  engine.stop(true);
  return engine.stats();
}

TEST(LlamaEngineGpus, TwoCopiesOnTheCpuShareOneQueueAndEachEvaluatesThePrefixOnce) {
  test::ensure_tiny_model();
  LlamaEngineOptions o;
  o.model_path = *default_tiny_model();
  o.n_parallel = 4;
  o.n_ctx = 4096;
  o.lanes = 1;
  o.n_threads = 1;
  o.flash_attention = false;

  auto one = make_llama_engine(o);
  ASSERT_TRUE(one) << one.error().message;
  int ok_one = 0;
  const EngineStats single = run_shared_prefix(**one, 24, &ok_one);

  o.gpus = {-1, -1};
  auto two = make_llama_engine(o);
  ASSERT_TRUE(two) << two.error().message;
  EXPECT_NE((*two)->description().find("2 devices (CPU, CPU)"), std::string::npos) << (*two)->description();
  EXPECT_EQ((*two)->max_in_flight(), 2 * (*one)->max_in_flight()) << "each copy takes its own sequences";
  int ok_two = 0;
  const EngineStats copies = run_shared_prefix(**two, 24, &ok_two);

  EXPECT_EQ(ok_one, 24);
  EXPECT_EQ(ok_two, 24);
  EXPECT_EQ(copies.prompt_tokens_submitted, single.prompt_tokens_submitted);
  // Each copy evaluates the shared prefix once: one more prefix than a single copy, no more.
  EXPECT_GT(copies.prompt_tokens_evaluated, single.prompt_tokens_evaluated) << "two copies cannot share cells";
  EXPECT_LT(copies.prompt_tokens_evaluated, single.prompt_tokens_evaluated * 2 + 64) << "a copy evaluated the prefix twice";
  EXPECT_LT(copies.prompt_tokens_evaluated, single.prompt_tokens_submitted / 4) << "the prefix was not shared";
}

}  // namespace
}  // namespace batchwise
