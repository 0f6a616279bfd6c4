// `serve` when a model's engine stops for good (issue 27): an --endpoint server that keeps /health up but stops
// finishing requests makes the HTTP engine fail once every endpoint is stalled. The batch on it must end `failed`
// with that reason in bounded time (never in_progress for ever), keep what it finished, and once the server
// answers again a new batch for the same model completes on an engine loaded afresh. The stub server is the test
// double: a stall cannot be caused on a real server on demand.
#include <gtest/gtest.h>

#include "core/clock.h"
#include "serve_process.h"
#include "stub_openai_server.h"
#include "test_support.h"

namespace batchwise::test {
namespace {

TEST(ServeEngineFailure, ABatchOnAStalledEndpointFailsWithTheReasonAndTheNextBatchRunsOnAFreshEngine) {
  const auto dir = scratch_dir();
  auto stub = StubOpenAiServer::start({.delay_ms = 20, .record_events = false});
  ASSERT_TRUE(stub);
  Serve serve(dir / "state", {"--endpoint", stub->url(), "--request-timeout", "2"});

  // The stub stops finishing anything once it has answered 20 (its /health still answers).
  double took = 0;
  nlohmann::json failed;
  {
    StallAfter stall(*stub, 20);
    const double t0 = now_s();
    const auto batch = serve.create_batch(serve.upload(serve_batch_file(200, 4, "remote-model")));
    failed = serve.wait(batch["id"], batch_finished);
    took = now_s() - t0;
  }
  ASSERT_EQ(failed.value("status", ""), "failed") << failed.dump();
  EXPECT_LT(took, 60) << "the stall limit is 2 s: the batch must not wait for the 120 s hangs";
  const std::string reason = failed["errors"]["data"][0].value("message", "");
  EXPECT_NE(reason.find("stalled"), std::string::npos) << failed.dump();
  EXPECT_GE(failed["request_counts"].value("completed", 0), 20) << "what it finished is kept: " << failed.dump();

  // The server answers again: a new batch for the same model runs to the end.
  stub->set_behavior({.delay_ms = 1, .record_events = false});
  const auto again = serve.create_batch(serve.upload(serve_batch_file(30, 4, "remote-model")));
  const auto completed = serve.wait(again["id"], batch_finished);
  ASSERT_EQ(completed.value("status", ""), "completed") << completed.dump();
  EXPECT_EQ(completed["request_counts"].value("completed", 0), 30);
  auto metrics = serve.http().Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("batchwise_model_loads_total{model=\"endpoint\"} 2"), std::string::npos)
      << "the stopped engine was loaded afresh";
}

}  // namespace
}  // namespace batchwise::test
