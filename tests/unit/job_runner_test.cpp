// JobRunner: several jobs on one engine, interactive requests ahead of batch work, stop.
#include "job/job_runner.h"

#include <gtest/gtest.h>

#include "fault_injecting_engine.h"
#include "test_support.h"

namespace batchwise {
namespace {

std::shared_ptr<Job> open_job(const std::filesystem::path& dir, const std::string& name, int n) {
  JobOptions o;
  o.input = test::write_chat_requests(dir, n, name, name);
  o.output = dir / (name + ".out.jsonl");
  auto job = Job::open(o);
  EXPECT_TRUE(job) << job.error().message;
  return std::shared_ptr<Job>(std::move(*job));
}

TEST(JobRunner, TwoJobsShareOneEngineAndEachGetsItsOwnAnswers) {
  const auto dir = test::scratch_dir();
  auto a = open_job(dir, "a", 150);
  auto b = open_job(dir, "b", 250);
  test::FaultInjectingEngine engine({}, 1, 16);
  JobRunner runner(engine);
  ASSERT_TRUE(runner.start());
  runner.add(a);
  runner.add(b);
  while (!runner.idle()) runner.step(0.01);
  ASSERT_TRUE(a->flush());
  ASSERT_TRUE(b->flush());
  EXPECT_EQ(a->counts().ok, 150);
  EXPECT_EQ(b->counts().ok, 250);
  ASSERT_TRUE(b->write_files(dir / "b.out.jsonl", dir / "b.errors.jsonl"));
  const auto ids = test::custom_id_counts(test::read_jsonl(dir / "b.out.jsonl"));
  EXPECT_EQ(ids.size(), 250u);
  for (const auto& [id, count] : ids) EXPECT_TRUE(id.starts_with("b") && count == 1) << id;
  EXPECT_EQ(runner.remove_idle().size(), 2u);
  EXPECT_TRUE(runner.jobs().empty());
}

TEST(JobRunner, AnInteractiveRequestGoesAheadOfQueuedBatchWork) {
  const auto dir = test::scratch_dir();
  auto batch = open_job(dir, "batch", 2000);
  test::FaultInjectingEngine engine({}, 1, 16);
  JobRunner runner(engine, RunnerOptions{.interactive_reserve = 4});
  ASSERT_TRUE(runner.start());
  runner.add(batch);
  runner.step(0);  // the batch fills the engine first
  int64_t batch_done_when_answered = -1;
  EngineRequest request;
  request.body = {{"messages", {{{"role", "user"}, {"content", "now"}}}}};
  ASSERT_TRUE(runner.submit_interactive(std::move(request), [&](EngineResult r) {
    EXPECT_FALSE(r.error);
    batch_done_when_answered = batch->completion_tokens() / 2;  // the double answers 2 tokens each
  }));
  while (!runner.idle()) runner.step(0.01);
  ASSERT_GE(batch_done_when_answered, 0) << "the interactive request was never answered";
  // It waited at most for what was already in flight, not for the 2,000 queued lines.
  EXPECT_LT(batch_done_when_answered, 100);
  ASSERT_TRUE(batch->flush());
  EXPECT_EQ(batch->counts().ok, 2000);
}

TEST(JobRunner, ACancelledJobSendsNothingMoreAndKeepsWhatItHas) {
  const auto dir = test::scratch_dir();
  auto job = open_job(dir, "c", 1000);
  test::FaultInjectingEngine engine({}, 1, 8);
  JobRunner runner(engine);
  ASSERT_TRUE(runner.start());
  runner.add(job);
  while (job->completion_tokens() / 2 < 50) runner.step(0.01);  // the double answers 2 tokens each
  job->cancel();
  while (!runner.idle()) runner.step(0.01);
  ASSERT_TRUE(job->flush());
  const JobCounts c = job->counts();
  EXPECT_GE(c.ok, 50);
  EXPECT_LT(c.ok, 1000);
  EXPECT_EQ(static_cast<int64_t>(engine.calls().size()), c.ok) << "every request sent was recorded";
}

}  // namespace
}  // namespace batchwise
