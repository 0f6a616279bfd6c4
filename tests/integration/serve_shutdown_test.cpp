// Ctrl-C of `batchwise serve` never hangs: with a batch running, interactive requests in flight and
// several models (more than --max-models), or with only long interactive requests, SIGINT ends the
// process within --stop-grace plus a margin, by its graceful path (not the last-resort exit), and the
// next start resumes the batch with every custom_id exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "model/synth.h"
#include "serve_process.h"
#include "test_support.h"

namespace batchwise {
namespace {

using nlohmann::json;
using test::Serve;
using Clock = std::chrono::steady_clock;

constexpr double kGraceS = 2;
// serve's own last resort is grace + 5 s: a graceful stop must come well before it (each test also checks that
// serve did not reach it). A sanitizer build's stop does its work (unloading models, joining threads) 3x slower:
// TSan measured 6.1-8.1 s for the 3-model stop.
constexpr double kStopBoundS = kGraceS + 4 * test::kSanitizerSlowdown;

// Clients sending long chat requests to `model` until told to stop; counts the answers they got.
class Chatters {
 public:
  Chatters(int port, std::vector<std::string> models, int max_tokens) {
    for (const auto& m : models) {
      threads_.emplace_back([this, port, m, max_tokens] {
        httplib::Client http("127.0.0.1", port);
        http.set_read_timeout(std::chrono::seconds(60));
        const std::string body = json{{"model", m}, {"messages", {{{"role", "user"}, {"content", "Tell a story."}}}},
                                      {"max_tokens", max_tokens}}.dump();
        while (!stop_) {
          sent_++;
          auto res = http.Post("/v1/chat/completions", body, "application/json");
          if (!res) break;  // the server is gone
          answered_++;
          if (res->status != 200 && res->status != 503) bad_++;
        }
      });
    }
  }
  ~Chatters() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }
  int sent() const { return sent_; }
  int answered() const { return answered_; }
  int bad() const { return bad_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> sent_{0}, answered_{0}, bad_{0};
  std::vector<std::thread> threads_;
};

// SIGINT; returns the seconds until the process was gone, and its exit status.
std::pair<double, int> interrupt(Serve& serve) {
  const auto t0 = Clock::now();
  const int status = serve.process().interrupt(60);
  return {std::chrono::duration<double>(Clock::now() - t0).count(), status};
}

std::string log_of(const std::filesystem::path& state) {
  return test::run_shell("cat " + test::shell_quote(state.string() + ".log")).out;
}

void wait_for(const std::function<bool()>& cond, double timeout_s, const std::string& what) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (!cond() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(cond()) << what;
}

TEST(ServeShutdown, CtrlCWithABatchInteractiveRequestsAndThreeModelsInTwoSlotsStopsWithinTheGrace) {
  const auto dir = test::scratch_dir();
  test::ensure_tiny_model();
  const auto tiny = default_tiny_model();
  ASSERT_TRUE(tiny);
  std::vector<std::string> args = {"--max-models", "2", "--stop-grace", "2"};
  for (const char* m : {"alpha", "beta", "gamma"}) {
    std::filesystem::copy_file(*tiny, dir / (std::string(m) + ".gguf"));
    args.insert(args.end(), {"-m", (dir / (std::string(m) + ".gguf")).string()});
  }
  const auto state = dir / "state";
  Serve serve(state, args);
  const std::string id = serve.create_batch(serve.upload(test::serve_batch_file(200, 8, "alpha")))["id"];
  serve.wait(id, [](const json& b) { return b["request_counts"].value("completed", 0) >= 5; });
  {
    Chatters chat(serve.process().port(), {"beta", "gamma"}, 20);
    wait_for([&] { return chat.answered() >= 2; }, 120, "the interactive requests never got an answer");
    const auto [took_s, status] = interrupt(serve);
    EXPECT_EQ(status, 130) << log_of(state);
    EXPECT_LT(took_s, kStopBoundS) << log_of(state);
    EXPECT_EQ(chat.bad(), 0);
  }
  EXPECT_EQ(log_of(state).find("took too long"), std::string::npos) << log_of(state);

  serve.restart(args);
  const json done = serve.wait(id, [](const json& b) { return b.value("status", "") == "completed"; });
  ASSERT_EQ(done["status"], "completed") << done.dump();
  const auto ids = test::custom_id_counts(serve.content(done["output_file_id"]));
  EXPECT_EQ(ids.size(), 200u);
  for (const auto& [cid, n] : ids) EXPECT_EQ(n, 1) << cid;
}

TEST(ServeShutdown, CtrlCWithOnlyLongInteractiveRequestsInFlightStopsWithinTheGrace) {
  const auto dir = test::scratch_dir();
  const auto state = dir / "state";
  Serve serve(state, {"--stop-grace", "2"});
  Chatters chat(serve.process().port(), {"tiny", "tiny", "tiny", "tiny"}, 800);
  wait_for(
      [&] {
        auto m = serve.http().Get("/metrics");
        return m && m->body.find("batchwise_model_in_flight_requests{model=\"tiny\"} 4") != std::string::npos;
      },
      60, "the four requests never were in flight together");
  const auto [took_s, status] = interrupt(serve);
  EXPECT_EQ(status, 130) << log_of(state);
  EXPECT_LT(took_s, kStopBoundS) << log_of(state);
  EXPECT_EQ(log_of(state).find("took too long"), std::string::npos) << log_of(state);
}

TEST(ServeShutdown, CtrlCOfAnIdleServerStopsAtOnce) {
  const auto dir = test::scratch_dir();
  const auto state = dir / "state";
  Serve serve(state);
  ASSERT_EQ(serve.http().Get("/health")->status, 200);
  const auto [took_s, status] = interrupt(serve);
  EXPECT_EQ(status, 130);
  EXPECT_LT(took_s, kStopBoundS);
}

}  // namespace
}  // namespace batchwise
