// The runner's retry and failure handling, driven by a fault-injecting engine double.
#include "job/runner.h"

#include <gtest/gtest.h>

#include "fault_injecting_engine.h"
#include "test_support.h"

namespace batchwise {
namespace {

TEST(Runner, RetriesWhatMayPassFailsTheRestOnceAndWritesEachClassAsErrorCode) {
  const auto dir = test::scratch_dir();
  RunOptions options;
  options.input = test::write_chat_requests(dir, 1000);
  options.output = dir / "out.jsonl";
  options.retry.max_attempts = 3;
  options.retry.base_delay_s = 0.001;
  options.retry.max_delay_s = 0.005;
  options.progress_interval_s = 1e9;
  test::FaultInjectingEngine engine({{ErrorCode::kTimeout, 0.10},
                                     {ErrorCode::kServerError, 0.10},
                                     {ErrorCode::kRateLimited, 0.05},
                                     {ErrorCode::kOutOfMemory, 0.05},
                                     {ErrorCode::kInvalidArgument, 0.04},
                                     {ErrorCode::kContextExceeded, 0.03}},
                                    /*seed=*/7, /*max_in_flight=*/16);
  auto outcome = run_batch(options, engine);
  ASSERT_TRUE(outcome) << outcome.error().message;

  const auto out = test::read_jsonl(dir / "out.jsonl");
  const auto errors = test::read_jsonl(dir / "out.errors.jsonl");
  EXPECT_EQ(out.size() + errors.size(), 1000u);
  std::map<std::string, std::string> final_error;
  for (const auto& e : errors) final_error[e["custom_id"]] = e["error"]["code"];
  std::map<std::string, int64_t> expected_by_class;
  for (const auto& [key, history] : engine.calls()) {
    const std::string id = "r" + std::to_string(key - 1);  // keys are line numbers
    ASSERT_FALSE(history.empty());
    ASSERT_LE(history.size(), 3u) << id;
    for (size_t i = 0; i + 1 < history.size(); ++i) {
      ASSERT_TRUE(history[i].has_value()) << id << ": called again after a success";
      EXPECT_TRUE(RetryPolicy::retryable(*history[i])) << id << ": retried a failure that cannot pass";
    }
    const auto& last = history.back();
    if (!last) {
      EXPECT_FALSE(final_error.contains(id)) << id;
      continue;
    }
    EXPECT_TRUE(!RetryPolicy::retryable(*last) || history.size() == 3u) << id << ": gave up early";
    const std::string code(error_code_name(*last));
    EXPECT_EQ(final_error[id], code) << id;
    expected_by_class[code]++;
  }
  EXPECT_EQ(outcome->report.failed_by_class, (std::map<std::string, int64_t>(expected_by_class.begin(),
                                                                                expected_by_class.end())));
  EXPECT_GT(expected_by_class["invalid_request"], 20);
  EXPECT_GT(expected_by_class["context_length_exceeded"], 10);
  EXPECT_EQ(outcome->report.ok + outcome->report.failed, 1000);
  // After an out-of-memory answer the runner keeps fewer requests in flight.
  EXPECT_LT(engine.max_outstanding_after_oom(), 16u);
}

// Issue 29: OUT.partial.jsonl and OUT.errors.partial.jsonl, written by a run that stopped early, stayed
// beside the whole output after a later run completed the job: a stale copy easy to read by mistake.
TEST(Runner, PartialFilesOfAStoppedRunAreRemovedWhenTheJobCompletes) {
  const auto dir = test::scratch_dir();
  RunOptions options;
  options.input = test::write_chat_requests(dir, 20);
  options.output = dir / "out.jsonl";
  options.progress_interval_s = 1e9;
  test::write_text(dir / "out.partial.jsonl", "{\"custom_id\":\"r0\"}\n");
  test::write_text(dir / "out.errors.partial.jsonl", "");
  test::FaultInjectingEngine engine({}, /*seed=*/1);
  auto outcome = run_batch(options, engine);
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->report.ok, 20);
  EXPECT_TRUE(outcome->partial_output.empty());
  EXPECT_EQ(test::read_jsonl(dir / "out.jsonl").size(), 20u);
  EXPECT_FALSE(std::filesystem::exists(dir / "out.partial.jsonl"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out.errors.partial.jsonl"));
}

}  // namespace
}  // namespace batchwise
