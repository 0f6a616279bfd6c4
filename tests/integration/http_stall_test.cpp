// The HTTP engine against servers that stop, fill up or say what they hold (issue 26): a server that
// answers /health but finishes nothing ends the run in bounded time with every id pending or done (or
// its work goes to another endpoint); llama-server's /props slot count is where the limit starts; an
// answer that says the context was exceeded is final. Stub servers are test doubles; the last test
// runs llama.cpp's real llama-server on the tiny model.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "core/clock.h"
#include "llama_server_process.h"
#include "state_db_reader.h"
#include "stub_openai_server.h"
#include "test_support.h"

namespace batchwise::test {
namespace {

std::string run_command(const std::filesystem::path& dir, const std::vector<std::string>& endpoints,
                        const std::string& extra, int max_concurrency = 8) {
  std::string command = batchwise_bin() + " run " + shell_quote((dir / "in.jsonl").string()) + " -o " +
                        shell_quote((dir / "out.jsonl").string()) + " --max-concurrency " +
                        std::to_string(max_concurrency) + " --json " + extra;
  for (const auto& e : endpoints) command += " --endpoint " + e;
  return command;
}

// Issue 26 item 6: llama-server stopped processing at 182 of 400 while /health kept answering, and
// `run` waited for ever. Here the stall limit is --request-timeout 2 s (the limit in force before and
// after 32 answers: 4 x p99, at least min(30 s, --request-timeout)).
TEST(HttpStall, AServerThatStopsFinishingEndsTheRunInBoundedTimeWithTheRestPendingAndAResumeFinishes) {
  const auto dir = scratch_dir();
  constexpr int kRequests = 300;
  write_stub_requests(dir / "in.jsonl", kRequests);
  auto stub = StubOpenAiServer::start({.delay_ms = 20, .record_events = false});
  ASSERT_TRUE(stub);
  CommandResult first;
  double seconds = 0;
  {
    StallAfter stall(*stub, 60);
    const double t0 = now_s();
    first = run_shell(run_command(dir, {stub->url()}, "--request-timeout 2"));
    seconds = now_s() - t0;
  }
  EXPECT_EQ(first.exit_code, 3) << first.err;
  EXPECT_LT(seconds, 2 + 10) << "the stall limit is 2 s";
  EXPECT_NE(first.err.find("endpoint " + stub->url() + " stalled"), std::string::npos) << first.err;
  EXPECT_NE(first.err.find("pending (none lost): run the same command again to resume"), std::string::npos) << first.err;
  const auto report = nlohmann::json::parse(first.out);
  const int64_t ok = report["ok"].get<int64_t>();
  EXPECT_GE(ok, 60);
  EXPECT_EQ(report["failed"].get<int64_t>(), 0);
  EXPECT_EQ(ok + report["pending"].get<int64_t>(), kRequests);
  EXPECT_TRUE(report["endpoints"][0]["stalled"].get<bool>());
  EXPECT_NE(report["stopped"].get<std::string>().find("stalled"), std::string::npos);
  EXPECT_EQ(count_durable_results(dir / "out.state.db"), ok);  // what was reported done is durable

  stub->set_behavior({.record_events = false});
  const int64_t answered_before = stub->answered_ok();
  const auto second = run_shell(run_command(dir, {stub->url()}, ""));
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const auto counts = custom_id_counts(read_jsonl(dir / "out.jsonl"));
  EXPECT_EQ(counts.size(), static_cast<size_t>(kRequests));
  for (const auto& [id, n] : counts) EXPECT_EQ(n, 1) << id;
  // The resume sent only what was pending: the results done before the stall were not done again.
  EXPECT_EQ(stub->answered_ok() - answered_before, kRequests - ok);
  std::printf("stalled after %lld of %d; the run ended in %.1f s; the resume did the other %lld\n", (long long)ok,
              kRequests, seconds, (long long)(stub->answered_ok() - answered_before));
}

TEST(HttpStall, AStalledEndpointsRequestsGoToTheOtherEndpointAndTheJobCompletes) {
  const auto dir = scratch_dir();
  constexpr int kRequests = 400;
  write_stub_requests(dir / "in.jsonl", kRequests);
  auto stalling = StubOpenAiServer::start({.delay_ms = 20, .record_events = false});
  auto healthy = StubOpenAiServer::start({.delay_ms = 20, .record_events = false});
  ASSERT_TRUE(stalling && healthy);
  CommandResult r;
  {
    StallAfter stall(*stalling, 40);
    r = run_shell(run_command(dir, {stalling->url(), healthy->url()}, "--request-timeout 2"));
  }
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("endpoint " + stalling->url() + " stalled"), std::string::npos) << r.err;
  const auto counts = custom_id_counts(read_jsonl(dir / "out.jsonl"));
  EXPECT_EQ(counts.size(), static_cast<size_t>(kRequests));
  for (const auto& [id, n] : counts) EXPECT_EQ(n, 1) << id;
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_TRUE(report["endpoints"][0]["stalled"].get<bool>());
  EXPECT_FALSE(report["endpoints"][1]["stalled"].get<bool>());
  EXPECT_EQ(stalling->answered_ok() + healthy->answered_ok(), kRequests);
}

// llama-server's /props says how many slots it has: that many go out at once, never more. The issue's
// stall followed a ramp that opened one slot at a time.
TEST(HttpProps, TheServersSlotCountFromPropsIsWhereTheLimitStartsAndStays) {
  const auto dir = scratch_dir();
  write_stub_requests(dir / "in.jsonl", 32);
  // 1.5 s per answer: longer than a connection attempt the stub's listen backlog (5) makes wait for the
  // kernel's 1 s SYN retry, so "before the first answer" is well defined.
  auto stub = StubOpenAiServer::start({.delay_ms = 1500, .total_slots = 16});
  ASSERT_TRUE(stub);
  const auto r = run_shell(run_command(dir, {stub->url()}, "", 64));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("runs 16 requests at once (/props total_slots)"), std::string::npos) << r.err;
  const auto events = stub->events();
  ASSERT_EQ(events.size(), 32u);
  // All 16 went out before the first answer could have come back.
  EXPECT_LT(events[15].at_s - events[0].at_s, 1.4);
  EXPECT_EQ(stub->max_in_flight(), 16);
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["endpoints"][0]["server_slots"].get<int>(), 16);

  // Without /props (not llama-server) the limit starts at 8: the 9th request waits for an answer.
  auto plain = StubOpenAiServer::start({.delay_ms = 1500});
  ASSERT_TRUE(plain);
  const auto dir2 = scratch_dir() / "plain";
  std::filesystem::create_directories(dir2);
  write_stub_requests(dir2 / "in.jsonl", 9);
  ASSERT_EQ(run_shell(run_command(dir2, {plain->url()}, "", 64)).exit_code, 0);
  const auto plain_events = plain->events();
  ASSERT_EQ(plain_events.size(), 9u);
  EXPECT_GT(plain_events[8].at_s - plain_events[0].at_s, 1.4);
}

// Issue 26 item 4: llama-server's 500 "Context size has been exceeded." was retried as a server error
// (192 attempts over 46 s for 64 requests). It is final: one attempt each, and the endpoint stays in.
TEST(HttpContext, AContextOverflowAnsweredAs500IsFinalNotRetried) {
  const auto dir = scratch_dir();
  write_stub_requests(dir / "in.jsonl", 20);
  auto stub = StubOpenAiServer::start(
      {.rate_500 = 1.0,
       .record_events = false,
       .error_body = R"({"error":{"code":500,"message":"Context size has been exceeded.","type":"server_error"}})"});
  ASSERT_TRUE(stub);
  const auto r = run_shell(run_command(dir, {stub->url()}, "--max-attempts 5"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(stub->requests(), 20);
  const auto errors = read_jsonl(dir / "out.errors.jsonl");
  ASSERT_EQ(errors.size(), 20u);
  for (const auto& e : errors) {
    EXPECT_EQ(e["error"]["code"], "context_length_exceeded") << e.dump();
    EXPECT_EQ(e["response"]["status_code"], 500) << e.dump();
  }
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_TRUE(report["endpoints"][0]["up"].get<bool>());
  EXPECT_EQ(report["endpoints"][0]["times_down"].get<int>(), 0);
}

#ifdef LLAMA_SERVER_BIN
// The same against llama-server itself: a prompt longer than its -c is refused as final, once.
TEST(HttpContext, RealLlamaServerWithATooSmallContextFailsEachRequestOnceAsContextExceeded) {
  const auto dir = scratch_dir();
  const auto model = dir / "tiny.gguf";
  ASSERT_EQ(run_batchwise({"synth", "-m", "tiny", "-o", model.string()}).exit_code, 0);
  ASSERT_EQ(run_batchwise({"gen-workload", "seed", "-n", "6", "--prefix-tokens", "600", "--output-tokens", "4", "-o",
                           (dir / "in.jsonl").string()})
                .exit_code,
            0);
  std::string error;
  auto server = start_llama_server(LLAMA_SERVER_BIN, model, {"-np", "2", "-c", "512", "-t", "1"},
                                   dir / "llama-server.log", 60, &error);
  ASSERT_TRUE(server) << error;
  const auto r = run_shell(run_command(dir, {server->url()}, "--max-attempts 5"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto errors = read_jsonl(dir / "out.errors.jsonl");
  ASSERT_EQ(errors.size(), 6u) << r.err;
  for (const auto& e : errors) EXPECT_EQ(e["error"]["code"], "context_length_exceeded") << e.dump();
  for (const auto& [line, result] : read_durable_results(dir / "out.state.db")) EXPECT_EQ(result.attempts, 1) << line;
  EXPECT_NE(r.err.find("runs 2 requests at once (/props total_slots)"), std::string::npos) << r.err;
}
#endif

}  // namespace
}  // namespace batchwise::test
