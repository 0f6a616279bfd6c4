// Job: what each engine answer means for a line (record, retry, stay pending), resume and --retry-failed.
#include "job/job.h"

#include <gtest/gtest.h>

#include "fault_injecting_engine.h"
#include "job/job_runner.h"
#include "test_support.h"

namespace batchwise {
namespace {

JobOptions options_for(const std::filesystem::path& dir, int n) {
  JobOptions o;
  o.input = test::write_chat_requests(dir, n);
  o.output = dir / "out.jsonl";
  o.retry.max_attempts = 3;
  o.retry.base_delay_s = 0.001;
  o.retry.max_delay_s = 0.002;
  return o;
}

// Runs the job on the engine until it is idle; `stop_at_once`: as Ctrl-C right after the first
// requests went out, so their answers arrive while the runner is stopping.
void drive(std::shared_ptr<Job> job, Engine& engine, bool stop_at_once = false) {
  JobRunner runner(engine);
  ASSERT_TRUE(runner.start());
  runner.add(job);
  if (stop_at_once) {
    runner.step(0);
    runner.stop(/*finish_in_flight=*/true);
  }
  while (!runner.idle()) runner.step(0.01);
  runner.stop(true);
  ASSERT_TRUE(job->flush());
}

TEST(Job, ARetryableFailureWhileStoppingIsNotRecordedAndAFinalOneIs) {
  const auto dir = test::scratch_dir();
  auto opened = Job::open(options_for(dir, 3));
  ASSERT_TRUE(opened);
  Job& job = **opened;
  auto answer = [](const EngineRequest& req, ErrorCode code) {
    EngineResult r;
    r.key = req.key;
    r.status_code = 503;
    r.error = Error{code, "injected"};
    return r;
  };
  auto first = job.next_request();
  auto second = job.next_request();
  ASSERT_TRUE(first && second);
  job.on_answer(answer(*first, ErrorCode::kServerError), /*stopping=*/true);
  job.on_answer(answer(*second, ErrorCode::kInvalidArgument), /*stopping=*/true);
  ASSERT_TRUE(job.flush());
  EXPECT_EQ(job.counts().failed, 1) << "only the failure no retry can fix is final";
}

TEST(Job, RetryableFailuresAnsweredWhileStoppingStayPendingForTheResume) {
  // Regression: Ctrl-C while a server answered 503 recorded those lines as final server_errors after
  // one attempt, and the resume never sent them again.
  const auto dir = test::scratch_dir();
  auto job = Job::open(options_for(dir, 200));
  ASSERT_TRUE(job) << job.error().message;
  std::shared_ptr<Job> first = std::move(*job);
  test::FaultInjectingEngine always_503({{ErrorCode::kServerError, 1.0}}, /*seed=*/1, /*max_in_flight=*/16);
  drive(first, always_503, /*stop_at_once=*/true);
  EXPECT_EQ(first->counts().failed, 0) << "a retryable failure became final while stopping";
  EXPECT_EQ(first->counts().ok, 0);
  first.reset();

  auto resumed = Job::open(options_for(dir, 200));
  ASSERT_TRUE(resumed);
  EXPECT_EQ((*resumed)->resumed(), 0);
  EXPECT_EQ((*resumed)->unsent(), 200) << "every line must still be pending";
  test::FaultInjectingEngine healthy({}, 1, 16);
  std::shared_ptr<Job> second = std::move(*resumed);
  drive(second, healthy);
  EXPECT_EQ(second->counts().ok, 200);
}

TEST(Job, RetryFailedRunsOnlyTheFailuresAgainAndKeepsEverySuccess) {
  const auto dir = test::scratch_dir();
  auto opened = Job::open(options_for(dir, 300));
  ASSERT_TRUE(opened);
  std::shared_ptr<Job> first = std::move(*opened);
  // Failures that no retry fixes (a context too small, say) until the user changes something.
  test::FaultInjectingEngine some_fail({{ErrorCode::kContextExceeded, 0.2}}, /*seed=*/3, 16);
  drive(first, some_fail);
  const JobCounts before = first->counts();
  ASSERT_GT(before.failed, 20);
  ASSERT_EQ(before.ok + before.failed, 300);
  first.reset();

  JobOptions again = options_for(dir, 300);
  again.retry_failed = true;
  auto reopened = Job::open(again);
  ASSERT_TRUE(reopened);
  EXPECT_EQ((*reopened)->retried_failures(), before.failed);
  EXPECT_EQ((*reopened)->unsent(), before.failed);
  std::shared_ptr<Job> second = std::move(*reopened);
  test::FaultInjectingEngine fixed({}, 3, 16);
  drive(second, fixed);
  EXPECT_EQ(static_cast<int64_t>(fixed.calls().size()), before.failed) << "a success was run again";
  EXPECT_EQ(second->counts().ok, 300);
  EXPECT_EQ(second->counts().failed, 0);
  ASSERT_TRUE(second->write_files(dir / "out.jsonl", dir / "out.errors.jsonl"));
  EXPECT_EQ(test::read_jsonl(dir / "out.jsonl").size(), 300u);
}

TEST(Job, InvalidInputLinesAreNotRetriedByRetryFailed) {
  const auto dir = test::scratch_dir();
  JobOptions o = options_for(dir, 5);
  test::write_text(o.input, test::read_jsonl(o.input).front().dump() + "\nnot json\n");
  {
    auto job = Job::open(o);
    ASSERT_TRUE(job);
    std::shared_ptr<Job> j = std::move(*job);
    test::FaultInjectingEngine healthy({}, 1, 4);
    drive(j, healthy);
    EXPECT_EQ(j->counts().failed, 1);
  }
  o.retry_failed = true;
  auto again = Job::open(o);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->retried_failures(), 0) << "an invalid line would only fail again";
}

TEST(Job, RequestsGoOutPriorityFirstThenInFileOrderWithASharedPrefixGatheredWhereItFirstAppears) {
  // Lines 2, 5 and 8 share a rubric longer than the prefix key; the others share nothing; line 7 is urgent.
  // Sent in file order, unrelated requests land next to each other in the state and are read from the input
  // in one pass; ordered by their prefix's hash they went out at random.
  const auto dir = test::scratch_dir();
  const std::string rubric(2000, 'R');
  std::string text;
  for (int i = 0; i < 10; ++i) {
    const bool shared = i == 2 || i == 5 || i == 8;
    nlohmann::json line = {{"custom_id", "c" + std::to_string(i)}, {"method", "POST"}, {"url", "/v1/chat/completions"},
                           {"body", {{"messages", {{{"role", "user"}, {"content", (shared ? rubric : "") + "candidate " + std::to_string(i)}}}}}}};
    if (i == 7) line["priority"] = 1;
    text += line.dump() + "\n";
  }
  JobOptions o;
  o.input = dir / "in.jsonl";
  o.output = dir / "out.jsonl";
  test::write_text(o.input, text);
  auto job = Job::open(o);
  ASSERT_TRUE(job) << job.error().message;
  std::vector<std::string> order;
  while (auto request = (*job)->next_request()) order.push_back(request->request_id);
  EXPECT_EQ(order, (std::vector<std::string>{"c7", "c0", "c1", "c2", "c5", "c8", "c3", "c4", "c6", "c9"}));
}

}  // namespace
}  // namespace batchwise
