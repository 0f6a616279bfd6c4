// How a trial's end is read: the protocol line of a batch program, run's JSON report, and a child
// that runs out of memory (really: a process that grows past the limit, one killed by SIGKILL).
#include "tune/trial_runners.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

TEST(TrialRunners, ReadsTheLastProtocolLine) {
  const auto r = parse_items_seconds("loading\n{\"items\": 8, \"seconds\": 0.5}\n{\"other\": 1}\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 8);
  EXPECT_EQ(r->second, 0.5);
  EXPECT_FALSE(parse_items_seconds("{\"items\": 8}\n"));
  EXPECT_FALSE(parse_items_seconds("{\"items\": 0, \"seconds\": 1}\n"));
}

TEST(TrialRunners, ReadsRunsReportAndItsOutOfMemoryFailures) {
  const std::string report = R"({"ok": 30, "failed": 2, "failed_by_class": {"out_of_memory": 2}, "wall_s": 2.0,
    "requests_per_s": 15.0, "completion_tokens_per_s": 240.0, "tokens": {"prompt": 3000},
    "latency": {"queue": {"p50_ms": 1, "p95_ms": 2, "p99_ms": 3}, "ttft": {"p50_ms": 10, "p90_ms": 20, "p99_ms": 30},
                "total": {"p50_ms": 100, "p95_ms": 200, "p99_ms": 300}},
    "memory": {"peak_rss_bytes": 1048576}})";
  const auto t = trial_from_run_report(report);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->outcome, TrialOutcome::kOutOfMemory);
  EXPECT_DOUBLE_EQ(t->prompt_tokens_per_s, 1500.0);
  EXPECT_DOUBLE_EQ(t->total.p95_ms, 200.0);
  EXPECT_DOUBLE_EQ(t->ttft.p95_ms, 20.0) << "an older report without p95 falls back to p90";
  EXPECT_EQ(t->memory_source, "rss");
}

TEST(TrialRunners, ARunsOwnGpuMemoryIsPreferredToTheDevicesTotal) {
  const std::string report = R"({"ok": 4, "failed": 0, "failed_by_class": {}, "wall_s": 1.0, "requests_per_s": 4.0,
    "completion_tokens_per_s": 64.0, "tokens": {"prompt": 400}, "latency": {},
    "memory": {"peak_rss_bytes": 1048576, "peak_gpu_memory_bytes": 30000000000, "peak_gpu_process_memory_bytes": 20000000000}})";
  const auto t = trial_from_run_report(report);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->memory_source, "gpu process");
  EXPECT_EQ(t->peak_memory_bytes, 20000000000);
}

TEST(TrialRunners, ACommandKilledBySigkillIsOutOfMemory) {
  const Trial t = run_command_trial({"kill -9 $$ # {batch}"}, 4);
  EXPECT_EQ(t.outcome, TrialOutcome::kOutOfMemory);
  EXPECT_NE(t.why.find("signal 9"), std::string::npos);
}

TEST(TrialRunners, OutOfMemoryOnStderrIsRecognised) {
  const Trial t = run_command_trial({"echo 'CUDA error: out of memory' >&2; exit 1 # {batch}"}, 4);
  EXPECT_EQ(t.outcome, TrialOutcome::kOutOfMemory);
  const Trial other = run_command_trial({"echo 'bad flag' >&2; exit 2 # {batch}"}, 4);
  EXPECT_EQ(other.outcome, TrialOutcome::kFailed);
  EXPECT_NE(other.why.find("bad flag"), std::string::npos);
}

TEST(TrialRunners, AChildGrowingPastTheMemoryLimitIsStopped) {
  // A process that fills 1 GiB would pass a 64 MiB limit.
  CommandTrialOptions o{"python3 -c 'import time; b = b\"x\" * (1 << 30); time.sleep(5)' # {batch}",
                        int64_t{64} << 20, 60};
  const Trial t = run_command_trial(o, 2);
  EXPECT_EQ(t.outcome, TrialOutcome::kOverMemoryLimit) << t.why;
  EXPECT_LT(t.trial_s, 30);
}

TEST(TrialRunners, ABatchProgramsThroughputAndLatency) {
  const Trial t = run_command_trial({"echo '{\"items\": {batch}, \"seconds\": 0.5}'"}, 8);
  ASSERT_EQ(t.outcome, TrialOutcome::kMeasured) << t.why;
  EXPECT_DOUBLE_EQ(t.items_per_s, 16.0);
  EXPECT_DOUBLE_EQ(t.total.p95_ms, 500.0);
  EXPECT_GT(t.peak_memory_bytes, 0);
}

}  // namespace
}  // namespace batchwise
