// The HTTP engine: `batchwise run --endpoint` against stub OpenAI-compatible servers (test doubles
// that fail on demand) and against llama.cpp's real llama-server on the tiny synthetic model.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <numeric>
#include <thread>

#include "core/clock.h"
#include "engine/http/http_engine.h"
#include "llama_server_process.h"
#include "stub_openai_server.h"
#include "test_support.h"

namespace batchwise::test {
namespace {

void expect_every_id_once(const std::filesystem::path& out, int n) {
  const auto lines = read_jsonl(out);
  EXPECT_EQ(lines.size(), static_cast<size_t>(n));
  const auto counts = custom_id_counts(lines);
  EXPECT_EQ(counts.size(), static_cast<size_t>(n));
  for (const auto& [id, k] : counts) EXPECT_EQ(k, 1) << id;
}

TEST(HttpEngine, FiveThousandRequestsOverThreeEndpointsOneDiesHalfwayEveryIdOnce) {
  const auto dir = scratch_dir();
  constexpr int kRequests = 5000;
  write_stub_requests(dir / "in.jsonl", kRequests);
  StubBehavior slow_enough;
  slow_enough.delay_ms = 2;  // so the run lasts long enough to kill one endpoint in the middle
  slow_enough.record_events = false;
  std::vector<std::unique_ptr<StubOpenAiServer>> stubs;
  for (int i = 0; i < 3; ++i) {
    stubs.push_back(StubOpenAiServer::start(slow_enough));
    ASSERT_TRUE(stubs.back());
  }
  std::atomic<bool> done{false};
  std::atomic<int64_t> killed_at{-1};
  std::thread killer([&] {
    while (!done) {
      const int64_t seen = stubs[0]->requests() + stubs[1]->requests() + stubs[2]->requests();
      if (seen >= kRequests / 2) {
        stubs[1]->kill();
        killed_at = seen;
        return;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
  });
  const auto r = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string(), "--endpoint",
                                stubs[0]->url(), "--endpoint", stubs[1]->url() + "/v1", "--endpoint",
                                stubs[2]->url() + "/", "--max-concurrency", "32", "--json"});
  done = true;
  killer.join();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_GE(killed_at.load(), kRequests / 2) << "the run ended before an endpoint could be killed";
  expect_every_id_once(dir / "out.jsonl", kRequests);
  EXPECT_TRUE(read_jsonl(dir / "out.errors.jsonl").empty());
  const int64_t dead_ok = stubs[1]->answered_ok();
  EXPECT_GT(dead_ok, 0);
  EXPECT_LT(dead_ok, kRequests / 3);
  EXPECT_GE(stubs[0]->answered_ok() + stubs[2]->answered_ok() + dead_ok, kRequests);
  const auto report = nlohmann::json::parse(r.out);
  ASSERT_EQ(report["endpoints"].size(), 3u);
  EXPECT_FALSE(report["endpoints"][1]["up"].get<bool>());
  EXPECT_GE(report["endpoints"][1]["times_down"].get<int>(), 1);
  EXPECT_NE(r.err.find("taken out"), std::string::npos) << r.err;
  std::printf("killed endpoint answered %lld, others %lld + %lld; report %s\n", (long long)dead_ok,
              (long long)stubs[0]->answered_ok(), (long long)stubs[2]->answered_ok(), report["endpoints"].dump().c_str());
}

TEST(HttpEngine, RateLimitRetryAfterPausesTheEndpointForThatLong) {
  const auto dir = scratch_dir();
  constexpr int kRequests = 120;
  write_stub_requests(dir / "in.jsonl", kRequests);
  StubBehavior limited;
  limited.rate_429 = 0.02;
  limited.retry_after_s = 1;
  limited.seed = 7;
  auto stub = StubOpenAiServer::start(limited);
  ASSERT_TRUE(stub);
  // One request at a time, so the pause after each 429 shows as the gap before the next arrival.
  const double t0 = now_s();
  const auto r = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string(), "--endpoint",
                                stub->url(), "--max-concurrency", "1"});
  const double wall_s = now_s() - t0;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_every_id_once(dir / "out.jsonl", kRequests);
  const auto events = stub->events();
  int limited_count = 0;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    if (events[i].status != 429) continue;
    limited_count++;
    const double gap_s = events[i + 1].at_s - events[i].at_s;
    EXPECT_GE(gap_s, 0.95) << "request after the 429 at event " << i << " came " << gap_s << " s later";
    EXPECT_LT(gap_s, 1.5);
    std::printf("429 at event %zu: next request %.3f s later\n", i, gap_s);
  }
  EXPECT_GE(limited_count, 1);
  EXPECT_GE(wall_s, limited_count * 0.95);
}

// Issue 26 item 4: against a server that serves 4 at a time (50 ms each) the limit used to climb to 64
// with a p50 of 1.6 s. Now: up to the ceiling on a fast server, near the capacity on the slow one (p50
// within 2x the service time), and back up once the capacity is gone.
TEST(HttpEngine, ConcurrencySettlesNearAServersCapacityAndRecoversWhenItGrows) {
  auto stub = StubOpenAiServer::start({.record_events = false});
  ASSERT_TRUE(stub);
  auto made = make_http_engine({.endpoints = {stub->url()}, .max_concurrency = 32});
  ASSERT_TRUE(made) << made.error().message;
  HttpEngine& engine = **made;
  std::mutex mu;
  std::vector<std::pair<double, double>> answers;  // (when, ms at the server: total - queue)
  std::atomic<int64_t> failed{0};
  ASSERT_TRUE(engine.start([&](std::vector<EngineResult> results) {
    for (const EngineResult& r : results) {
      if (r.error) {
        if (r.error->code != ErrorCode::kCancelled) failed++;  // stop() cancels the queue
        continue;
      }
      std::lock_guard lock(mu);
      answers.emplace_back(now_s(), r.timings.total_ms - r.timings.queue_ms);
    }
  }));
  std::atomic<bool> feeding{true};
  std::thread feeder([&] {
    const nlohmann::json body = {{"model", "stub"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
    for (uint64_t key = 1; feeding; ++key) {
      if (!engine.submit({.key = key, .kind = ApiKind::kChatCompletions, .body = body})) break;
    }
  });
  auto wait_for = [&](auto pred, double timeout_s) {
    const double end = now_s() + timeout_s;
    while (now_s() < end && !pred(engine.endpoints()[0].limit)) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return engine.endpoints()[0].limit;
  };
  const int fast = wait_for([](int l) { return l >= 32; }, 10);
  EXPECT_EQ(fast, 32);
  stub->set_behavior({.delay_ms = 50, .record_events = false, .capacity = 4});
  const double capped_at = now_s();
  // Settling takes a few seconds (the queue of 32 drains at 80 a second); then 3 s are measured.
  std::this_thread::sleep_for(std::chrono::seconds(5));
  stub->reset_max_in_flight();
  std::vector<int> limits;
  const double measure_from = now_s();
  while (now_s() < measure_from + 3) {
    limits.push_back(engine.endpoints()[0].limit);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::vector<double> server_ms;
  {
    std::lock_guard lock(mu);
    for (const auto& [at, ms] : answers) {
      if (at >= measure_from) server_ms.push_back(ms);
    }
  }
  ASSERT_GT(server_ms.size(), 100u) << "80 answers a second at capacity";
  std::sort(server_ms.begin(), server_ms.end());
  const double p50 = server_ms[server_ms.size() / 2];
  const double mean_limit = std::accumulate(limits.begin(), limits.end(), 0.0) / static_cast<double>(limits.size());
  // Within 2x the 50 ms service time (8 in flight: each waits one round; +5 ms for loopback on a busy
  // machine). The old limiter sat at 64 here, p50 1.6 s.
  EXPECT_LE(p50, 2 * 50.0 + 5) << "p50 at the server within 2x its 50 ms service time";
  EXPECT_GE(mean_limit, 3.0);
  EXPECT_LE(mean_limit, 8.0 * kSanitizerSlowdown);  // a sanitizer's slower client reads more in flight
  stub->set_behavior({.record_events = false});
  const int recovered = wait_for([](int l) { return l >= 28; }, 15);
  EXPECT_GE(recovered, 28);
  feeding = false;
  engine.stop(true);
  feeder.join();
  made->reset();  // joins the event loop: no callback may reach `answers` once the test's locals are gone
  EXPECT_EQ(failed.load(), 0);
  std::printf("limit: fast %d; capacity 4 x 50 ms: mean limit %.1f, p50 at the server %.0f ms (%.1f s after the "
              "cap, %zu answers measured); recovered to %d\n",
              fast, mean_limit, p50, measure_from - capped_at, server_ms.size(), recovered);
}

TEST(HttpEngine, ApiKeyFromTheNamedEnvironmentVariableIsSentAsBearerAndNeverPrinted) {
  const auto dir = scratch_dir();
  write_stub_requests(dir / "in.jsonl", 3);
  auto stub = StubOpenAiServer::start();
  ASSERT_TRUE(stub);
  const auto r = run_shell("BW_TEST_KEY=sk-test-123 " + batchwise_bin() + " run " + shell_quote((dir / "in.jsonl").string()) +
                           " -o " + shell_quote((dir / "out.jsonl").string()) + " --endpoint " + stub->url() +
                           " --api-key-env BW_TEST_KEY --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(stub->last_authorization(), "Bearer sk-test-123");
  EXPECT_EQ(r.out.find("sk-test-123"), std::string::npos);
  EXPECT_EQ(r.err.find("sk-test-123"), std::string::npos);
  const auto missing = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "out2.jsonl").string(),
                                      "--endpoint", stub->url(), "--api-key-env", "BW_TEST_KEY_NOT_SET"});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_NE(missing.err.find("BW_TEST_KEY_NOT_SET"), std::string::npos) << missing.err;
}

TEST(HttpEngine, ServerErrorsAreRetriedBadRequestsAreNotAndNoEndpointIsAFatalError) {
  const auto dir = scratch_dir();
  write_stub_requests(dir / "in.jsonl", 300);
  // The stub serves no /v1/embeddings: its 404 is the request's fault, an error line, not a retry.
  std::ofstream(dir / "in.jsonl", std::ios::app)
      << R"({"custom_id":"embed-1","method":"POST","url":"/v1/embeddings","body":{"model":"stub","input":"x"}})" << "\n";
  auto flaky = StubOpenAiServer::start({.rate_500 = 0.1, .rate_drop = 0.05, .seed = 3});
  ASSERT_TRUE(flaky);
  const auto r = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string(), "--endpoint",
                                flaky->url(), "--max-attempts", "6", "--json"});
  ASSERT_EQ(r.exit_code, 1) << r.err;  // finished, with one failed request
  expect_every_id_once(dir / "out.jsonl", 300);
  EXPECT_GT(flaky->requests(), 300);
  const auto errors = read_jsonl(dir / "out.errors.jsonl");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0]["custom_id"], "embed-1");
  EXPECT_EQ(errors[0]["error"]["code"], "invalid_request");
  EXPECT_NE(errors[0]["error"]["message"].get<std::string>().find("HTTP 404"), std::string::npos);

  const auto none = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "none.jsonl").string(),
                                   "--endpoint", "http://127.0.0.1:" + std::to_string(free_local_port())});
  EXPECT_EQ(none.exit_code, 3);
  EXPECT_NE(none.err.find("no endpoint answered"), std::string::npos) << none.err;
}

TEST(HttpEngine, HangingRequestsTimeOutAndAreRetried) {
  const auto dir = scratch_dir();
  write_stub_requests(dir / "in.jsonl", 40);
  auto stub = StubOpenAiServer::start({.rate_hang = 0.1, .hang_s = 3, .seed = 5});
  ASSERT_TRUE(stub);
  const auto r = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string(), "--endpoint",
                                stub->url(), "--request-timeout", "0.5", "--max-attempts", "5", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_every_id_once(dir / "out.jsonl", 40);
  EXPECT_GT(stub->requests(), 40);
}

// A server that answers, then keeps its sockets open and never answers again (issue 18, item 4):
// requests time out at a multiple of the p99 seen, not after the whole --request-timeout, and the
// message says which limit it was.
TEST(HttpEngine, AServerThatStopsAnsweringIsNoticedFromTheLatencySeenNotAfterTheFixedLimit) {
  auto stub = StubOpenAiServer::start({.delay_ms = 20, .record_events = false});
  ASSERT_TRUE(stub);
  // A 2 s floor: far above the stub's 20 ms, so a slow moment of a loaded machine is no stall.
  auto made = make_http_engine({.endpoints = {stub->url()}, .request_timeout_s = 120, .timeout_floor_s = 2});
  ASSERT_TRUE(made) << made.error().message;
  HttpEngine& engine = **made;
  std::mutex mu;
  std::vector<EngineResult> results;
  ASSERT_TRUE(engine.start([&](std::vector<EngineResult> done) {
    std::lock_guard lock(mu);
    for (EngineResult& r : done) results.push_back(std::move(r));
  }));
  const nlohmann::json body = {{"model", "stub"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
  auto wait_results = [&](size_t n, double limit_s) {
    const double end = now_s() + limit_s;
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (results.size() >= n || now_s() > end) return results.size();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  for (uint64_t key = 1; key <= 40; ++key) ASSERT_TRUE(engine.submit({.key = key, .kind = ApiKind::kChatCompletions, .body = body}));
  ASSERT_EQ(wait_results(40, 20), 40u);
  stub->set_behavior({.rate_hang = 1.0, .hang_s = 60, .record_events = false});
  const double hung_at = now_s();
  ASSERT_TRUE(engine.submit({.key = 41, .kind = ApiKind::kChatCompletions, .body = body}));
  ASSERT_EQ(wait_results(41, 20), 41u) << "no answer in 20 s: the request waited for the fixed 120 s limit";
  const double waited_s = now_s() - hung_at;
  engine.stop(false);
  made->reset();  // joins the event loop before `results` goes
  std::lock_guard lock(mu);
  const EngineResult& hung = results.back();
  ASSERT_TRUE(hung.error);
  EXPECT_EQ(hung.error->code, ErrorCode::kTimeout);
  EXPECT_NE(hung.error->message.find("p99 of recent answers"), std::string::npos) << hung.error->message;
  EXPECT_LT(waited_s, 5.0);
  for (size_t i = 0; i + 1 < results.size(); ++i) EXPECT_FALSE(results[i].error) << results[i].error->message;
}

TEST(HttpEngine, CtrlCFinishesRequestsInFlightAndTheSameCommandResumesEveryIdOnce) {
  const auto dir = scratch_dir();
  write_stub_requests(dir / "in.jsonl", 1000);
  auto stub = StubOpenAiServer::start({.delay_ms = 50, .record_events = false});
  ASSERT_TRUE(stub);
  const std::string command = batchwise_bin() + " run " + shell_quote((dir / "in.jsonl").string()) + " -o " +
                              shell_quote((dir / "out.jsonl").string()) + " --endpoint " + stub->url() +
                              " --max-concurrency 16";
  const auto first = run_shell(command + " & pid=$!; sleep 1; kill -INT $pid; wait $pid");
  EXPECT_EQ(first.exit_code, 130) << first.err;
  const int64_t answered_first = stub->answered_ok();
  EXPECT_GT(answered_first, 0);
  EXPECT_LT(answered_first, 1000);
  const auto second = run_shell(command);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  expect_every_id_once(dir / "out.jsonl", 1000);
  // Requests in flight at Ctrl-C finished and were kept: the resume sent only what was left.
  EXPECT_EQ(stub->answered_ok(), 1000);
}

// Regression: stop() used to wait for requests in flight, so a server that never answers (seen with
// llama-server -np 32 on the H100) kept `run` from ever exiting, even after a second Ctrl-C.
TEST(HttpEngine, CtrlCStopsWithinTheGracePeriodWhenTheServerNeverAnswers) {
  const auto dir = scratch_dir();
  write_stub_requests(dir / "in.jsonl", 50);
  auto stub = StubOpenAiServer::start({.rate_hang = 1.0, .hang_s = 120, .record_events = false});
  ASSERT_TRUE(stub);
  const std::string command = batchwise_bin() + " run " + shell_quote((dir / "in.jsonl").string()) + " -o " +
                              shell_quote((dir / "out.jsonl").string()) + " --endpoint " + stub->url();
  const auto start = std::chrono::steady_clock::now();
  const auto stopped = run_shell(command + " & pid=$!; sleep 1; kill -INT $pid; wait $pid");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(stopped.exit_code, 130) << stopped.err;
  EXPECT_LT(seconds, 1 + 5 + 3) << "SIGINT, then the 5 s grace for requests in flight";
  stub->set_behavior({});
  const auto resumed = run_shell(command);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  expect_every_id_once(dir / "out.jsonl", 50);
  stub->kill();
}

TEST(HttpEngine, StreamMeasuresTimeToFirstTokenAndOutputsWholeChatCompletions) {
  const auto dir = scratch_dir();
  constexpr int kRequests = 100;
  write_stub_requests(dir / "in.jsonl", kRequests);
  // 200 ms to the first of 3 content chunks, 100 ms between them: ttft about 200 ms, total about 400.
  auto stub = StubOpenAiServer::start({.stream_first_ms = 200, .stream_gap_ms = 100, .stream_chunks = 3});
  ASSERT_TRUE(stub);
  const auto r = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string(), "--endpoint",
                                stub->url(), "--max-concurrency", "64", "--stream", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_every_id_once(dir / "out.jsonl", kRequests);
  EXPECT_TRUE(read_jsonl(dir / "out.errors.jsonl").empty());
  for (const auto& line : read_jsonl(dir / "out.jsonl")) {
    const auto& body = line["response"]["body"];
    EXPECT_EQ(body["object"], "chat.completion") << body.dump();
    EXPECT_EQ(body["choices"][0]["message"]["content"], stub_stream_text(3)) << body.dump();
    EXPECT_EQ(body["choices"][0]["finish_reason"], "stop");
    EXPECT_GT(body["usage"]["prompt_tokens"].get<int64_t>(), 0);
    EXPECT_EQ(body["usage"]["completion_tokens"].get<int64_t>(), 3);
  }
  const auto report = nlohmann::json::parse(r.out);
  const auto& latency = report["latency"];
  const double queue = latency["queue"]["p50_ms"].get<double>();
  const double ttft = latency["ttft"]["p50_ms"].get<double>();
  const double total = latency["total"]["p50_ms"].get<double>();
  // Time spent waiting for a concurrency slot (the limit starts at 8) shifts both alike.
  EXPECT_GT(ttft - queue, 150);
  EXPECT_LT(ttft - queue, 350);
  EXPECT_GT(total - ttft, 150);
  EXPECT_LT(total - ttft, 350);
  EXPECT_LT(ttft, total - 100);
  // Each request's mean gap between its chunks is the stub's 100 ms.
  ASSERT_TRUE(latency.contains("inter_token")) << latency.dump();
  EXPECT_GT(latency["inter_token"]["p50_ms"].get<double>(), 80);
  EXPECT_LT(latency["inter_token"]["p50_ms"].get<double>(), 200);
  EXPECT_EQ(report["tokens"]["completion"].get<int64_t>(), 3 * kRequests);
  std::printf("streamed: p50 queue %.0f ms, ttft %.0f ms, total %.0f ms (ttft - queue %.0f ms)\n", queue, ttft, total,
              ttft - queue);
}

#ifdef LLAMA_SERVER_BIN
TEST(HttpEngine, RealLlamaServerSharedPrefixOutputsUsageAndCachedTokens) {
  const auto dir = scratch_dir();
  const auto model = dir / "tiny.gguf";
  ASSERT_EQ(run_batchwise({"synth", "-m", "tiny", "-o", model.string()}).exit_code, 0);
  ASSERT_EQ(run_batchwise({"gen-workload", "seed", "-n", "50", "--prefix-tokens", "800", "--output-tokens", "8", "-o",
                           (dir / "in.jsonl").string()})
                .exit_code,
            0);
  std::string error;
  auto server = start_llama_server(LLAMA_SERVER_BIN, model, {"-np", "4", "-c", "8192", "-t", "1"},
                                          dir / "llama-server.log", 60, &error);
  ASSERT_TRUE(server) << error;
  const auto r = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string(), "--endpoint",
                                server->url() + "/v1", "--max-concurrency", "4", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_every_id_once(dir / "out.jsonl", 50);
  int64_t cached = 0;
  for (const auto& line : read_jsonl(dir / "out.jsonl")) {
    const auto& body = line["response"]["body"];
    EXPECT_EQ(body["object"], "chat.completion");
    EXPECT_GT(body["usage"]["prompt_tokens"].get<int64_t>(), 800);
    EXPECT_GT(body["usage"]["completion_tokens"].get<int64_t>(), 0);
    EXPECT_TRUE(body.contains("timings"));
    cached += body["timings"]["cache_n"].get<int64_t>();
  }
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_GT(cached, 0);
  EXPECT_EQ(report["tokens"]["cached"].get<int64_t>(), cached);
  EXPECT_NE(r.err.find("--cache-ram 0"), std::string::npos) << r.err;
  std::printf("llama-server: %lld of %lld prompt tokens cached, %.1f req/s\n", (long long)cached,
              (long long)report["tokens"]["prompt"].get<int64_t>(), report["requests_per_s"].get<double>());
}
TEST(HttpEngine, RealLlamaServerStreamedAnswersAssembleWithUsageAndTimings) {
  const auto dir = scratch_dir();
  const auto model = dir / "tiny.gguf";
  ASSERT_EQ(run_batchwise({"synth", "-m", "tiny", "-o", model.string()}).exit_code, 0);
  ASSERT_EQ(run_batchwise({"gen-workload", "seed", "-n", "12", "--prefix-tokens", "200", "--output-tokens", "8", "-o",
                           (dir / "in.jsonl").string()})
                .exit_code,
            0);
  std::string error;
  auto server = start_llama_server(LLAMA_SERVER_BIN, model, {"-np", "4", "-c", "4096", "-t", "1"},
                                          dir / "llama-server.log", 60, &error);
  ASSERT_TRUE(server) << error;
  const auto r = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string(), "--endpoint",
                                server->url(), "--max-concurrency", "4", "--stream", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_every_id_once(dir / "out.jsonl", 12);
  for (const auto& line : read_jsonl(dir / "out.jsonl")) {
    const auto& body = line["response"]["body"];
    EXPECT_EQ(body["object"], "chat.completion") << body.dump();
    EXPECT_TRUE(body["choices"][0]["message"]["content"].is_string()) << body.dump();
    EXPECT_GT(body["usage"]["prompt_tokens"].get<int64_t>(), 200) << body.dump();
    EXPECT_GT(body["usage"]["completion_tokens"].get<int64_t>(), 0) << body.dump();
    EXPECT_TRUE(body["timings"].contains("cache_n")) << body.dump();  // from the final chunk
  }
  const auto report = nlohmann::json::parse(r.out);
  // 8 tokens each: the first arrives well before the last.
  EXPECT_LT(report["latency"]["ttft"]["p50_ms"].get<double>(), report["latency"]["total"]["p50_ms"].get<double>());
  std::printf("llama-server streamed: p50 ttft %.1f ms, total %.1f ms\n", report["latency"]["ttft"]["p50_ms"].get<double>(),
              report["latency"]["total"]["p50_ms"].get<double>());
}
#endif

}  // namespace
}  // namespace batchwise::test
