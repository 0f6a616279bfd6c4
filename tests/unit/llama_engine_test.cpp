// LlamaEngine's model copies (--gpus): the list a user types, the errors on a machine without the GPUs
// named, and copies on the CPU device, which keep the same bookkeeping as GPU copies: one queue feeding
// every copy's lanes, each copy evaluating a shared prefix once. And what an exception that escapes one of
// the engine's threads does: that thread's requests fail, each answered once, and the engine says why.
#include "engine/llama/llama_engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>

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
  EXPECT_TRUE(engine.start([&](std::vector<EngineResult> results) {
    std::lock_guard lock(mu);
    for (const EngineResult& r : results) {
      if (!r.error) (*ok)++;
      done++;
    }
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

// The callback is the engine's user's code and runs on a lane's thread: when it throws, the lane's
// boundary must fail what the lane held (not std::terminate), answer nothing twice, stop the engine and
// report why, so that the runner ends with the rest pending instead of waiting for answers that never come.
TEST(LlamaEngineThreads, AnExceptionOnALaneFailsItsRequestsOnceAndTheEngineReportsIt) {
  test::ensure_tiny_model();
  LlamaEngineOptions o;
  o.model_path = *default_tiny_model();
  o.n_parallel = 4;
  o.n_ctx = 2048;
  o.lanes = 1;
  o.n_threads = 1;
  o.flash_attention = false;
  auto made = make_llama_engine(o);
  ASSERT_TRUE(made) << made.error().message;
  Engine& engine = **made;

  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, int> answers;
  std::map<uint64_t, std::string> errors;
  int total = 0;
  ASSERT_TRUE(engine.start([&](std::vector<EngineResult> results) {
    std::lock_guard lock(mu);
    for (const EngineResult& r : results) {
      answers[r.key]++;
      if (r.error) errors[r.key] = r.error->message;
    }
    cv.notify_all();
    if (++total == 1) throw std::runtime_error("the callback failed");
  }));
  int accepted = 0;
  for (int i = 0; i < static_cast<int>(engine.max_in_flight()); ++i) {
    EngineRequest req;
    req.key = static_cast<uint64_t>(i);
    req.body = {{"messages", {{{"role", "user"}, {"content", "count to " + std::to_string(i)}}}},
                {"max_tokens", 8 + 4 * i}, {"temperature", 0}};
    if (engine.submit(std::move(req))) accepted++;
  }
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return total >= accepted; }))
        << total << " of " << accepted << " requests answered";
  }
  const std::optional<Error> failure = engine.failure();
  ASSERT_TRUE(failure) << "the runner would go on sending to an engine that takes nothing";
  EXPECT_EQ(failure->message, "internal error in the engine: the callback failed");
  EXPECT_FALSE(engine.submit(EngineRequest{})) << "a failed engine takes no more work";
  engine.stop(false);
  made->reset();  // joins every thread: an answer sent twice would be counted by now

  std::lock_guard lock(mu);
  EXPECT_EQ(total, accepted);
  EXPECT_EQ(answers.size(), static_cast<size_t>(accepted));
  for (const auto& [key, n] : answers) EXPECT_EQ(n, 1) << "request " << key << " answered " << n << " times";
  EXPECT_GT(accepted, 1);
  EXPECT_EQ(errors.size(), static_cast<size_t>(accepted - 1)) << "all but the answer that threw fail";
  for (const auto& [key, message] : errors) {
    const bool failed = message == "internal error in the engine: the callback failed";
    const bool not_started = message.find("stopped before the request") != std::string::npos;
    EXPECT_TRUE(failed || not_started) << key << ": " << message;
  }
}

}  // namespace
}  // namespace batchwise
