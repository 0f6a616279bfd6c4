#include "job/report.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

TEST(Report, SteadyMemoryGrowthIsCalledOutAsAPossibleLeak) {
  RunReport r;
  r.resources.peak_rss_bytes = 200 << 20;
  r.resources.rss_growth_bytes_per_1000 = 0.5 * 1048576.0;
  EXPECT_EQ(report_text(r).find("leak"), std::string::npos);
  EXPECT_FALSE(report_json(r)["memory"]["rss_leak_suspected"].get<bool>());

  r.resources.rss_growth_bytes_per_1000 = 20 * 1048576.0;
  r.resources.rss_leak_suspected = r.resources.rss_growth_bytes_per_1000 > kLeakWarningBytesPer1000;
  EXPECT_NE(report_text(r).find("leak"), std::string::npos) << report_text(r);
  EXPECT_TRUE(report_json(r)["memory"]["rss_leak_suspected"].get<bool>());
}

TEST(Report, GpuLineOnlyWhereNvmlSampled) {
  RunReport r;
  r.resources.peak_rss_bytes = 1;
  EXPECT_EQ(report_text(r).find("gpu:"), std::string::npos);
  r.resources.peak_gpu_memory_bytes = int64_t{19} << 30;
  r.resources.mean_gpu_utilization = 58.0;
  EXPECT_NE(report_text(r).find("gpu: peak memory 19.0 GiB, mean utilization 58%"), std::string::npos) << report_text(r);
}

}  // namespace
}  // namespace batchwise

namespace batchwise {
namespace {

TEST(Report, InterTokenLatencyAppearsOnlyForStreamedRuns) {
  RunReport r;
  EXPECT_FALSE(report_json(r)["latency"].contains("inter_token"));
  EXPECT_EQ(report_text(r).find("inter-token"), std::string::npos);
  std::vector<double> gaps = {120, 100, 110, 90, 300};
  r.inter_token = latency_percentiles(gaps);
  EXPECT_DOUBLE_EQ(r.inter_token->p50_ms, 110);
  EXPECT_DOUBLE_EQ(r.inter_token->p99_ms, 300);
  EXPECT_DOUBLE_EQ(report_json(r)["latency"]["inter_token"]["p50_ms"].get<double>(), 110);
  EXPECT_NE(report_text(r).find("inter-token ms"), std::string::npos);
}

}  // namespace
}  // namespace batchwise

namespace batchwise {
namespace {

// Issue 29: tune's SLOs are p95, but the text summary showed only p50/p90/p99 (--json had p95).
TEST(Report, TextSummaryShowsP95BesideP50P90P99) {
  RunReport r;
  r.queue = {1, 2, 3, 4};
  r.ttft = {10, 20, 30, 40};
  r.total = {100, 200, 300, 400};
  std::vector<double> gaps = {1.0, 2.0, 3.0};
  r.inter_token = latency_percentiles(gaps);
  r.inter_token->p95_ms = 2.5;  // distinct from p90 and p99, so the test sees which one is printed
  const std::string text = report_text(r);
  EXPECT_NE(text.find("latency ms (p50/p90/p95/p99): queue 1/2/3/4, first token 10/20/30/40, total 100/200/300/400"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("inter-token ms (p50/p90/p95/p99 of each request's mean gap): 2.0/3.0/2.5/3.0"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace batchwise
