// `serve` with more models than model slots (--max-models 1, two models) under clients that alternate
// between them from several threads, interactive requests and batches at once: the server never
// crashes, every answer is 200 from the model asked for (or 503 with Retry-After while the other model
// is pinned), and none takes longer than a model load plus the request itself, with margin; the models take
// turns, so neither is starved.
// CI runs it for BATCHWISE_SOAK_S seconds (default 20); scripts/serve_soak.sh runs it for longer.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "serve_process.h"
#include "test_support.h"

namespace batchwise {
namespace {

using nlohmann::json;
using test::Serve;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double soak_s() {
  const char* s = std::getenv("BATCHWISE_SOAK_S");
  return s && *s ? std::atof(s) : 20.0;
}

// Two tiny models with different random weights: a greedy answer tells which model gave it.
std::filesystem::path synth_model(const std::filesystem::path& dir, const std::string& name, int seed) {
  const auto path = dir / (name + ".gguf");
  const auto r = test::run_batchwise({"synth", "-m", "tiny", "--seed", std::to_string(seed), "-o", path.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return path;
}

json chat_body(const std::string& model) {
  return {{"model", model},
          {"messages", {{{"role", "user"}, {"content", "Say something."}}}},
          {"max_tokens", 2},
          {"temperature", 0}};
}

std::string answer_text(const std::string& body) {
  const json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("choices") || j["choices"].empty()) return "<no choices: " + body + ">";
  return j["choices"][0]["message"].value("content", "<no content>");
}

// What the clients saw, checked at the end.
struct Tally {
  std::mutex mu;
  std::map<std::string, int> ok, busy;  // by model
  std::vector<std::string> wrong;       // anything but 200-from-the-right-model or 503+Retry-After
  double slowest_s = 0;

  void add_wrong(const std::string& what) {
    std::lock_guard lock(mu);
    if (wrong.size() < 20) wrong.push_back(what);
  }
};

TEST(ServeModels, TwoModelsInOneSlotUnderAlternatingClientsAnswerFromTheRightModelAndNeverCrash) {
  const auto dir = test::scratch_dir();
  test::ensure_tiny_model();
  const std::vector<std::string> models = {"alpha", "beta"};
  const auto alpha = synth_model(dir, "alpha", 1);
  const auto beta = synth_model(dir, "beta", 2);
  Serve serve(dir / "state", {"-m", alpha.string(), "-m", beta.string(), "--max-models", "1"});

  // Each model alone, loaded for the request: its greedy answer, and the time a load plus a request take.
  std::map<std::string, std::string> expected;
  double load_and_answer_s = 0;
  for (const auto& m : models) {
    const auto t0 = Clock::now();
    auto res = serve.http().Post("/v1/chat/completions", chat_body(m).dump(), "application/json");
    ASSERT_TRUE(res && res->status == 200) << (res ? res->body : "no answer");
    load_and_answer_s = std::max(load_and_answer_s, seconds_since(t0));
    expected[m] = answer_text(res->body);
  }
  ASSERT_NE(expected["alpha"], expected["beta"]) << "the two models answer alike: the test cannot tell them apart";
  // A model's load plus its request, many times over for a loaded 2-core machine; a request that gets
  // no answer (issue 30 saw answers still missing after 60 s) is far past it.
  const double bound_s = std::max(15.0, 10 * load_and_answer_s);

  Tally tally;
  std::atomic<bool> stop{false};
  auto client = [&](const std::string& model) {
    httplib::Client http("127.0.0.1", serve.process().port());
    http.set_read_timeout(std::chrono::seconds(static_cast<int>(bound_s) + 30));
    while (!stop) {
      const auto t0 = Clock::now();
      auto res = http.Post("/v1/chat/completions", chat_body(model).dump(), "application/json");
      const double took = seconds_since(t0);
      std::lock_guard lock(tally.mu);
      tally.slowest_s = std::max(tally.slowest_s, took);
      if (!res) {
        if (tally.wrong.size() < 20) tally.wrong.push_back(model + ": no answer after " + std::to_string(took) + " s");
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // a dead server: do not spin
      } else if (res->status == 200 && answer_text(res->body) == expected[model]) {
        tally.ok[model]++;
      } else if (res->status == 503 && res->has_header("Retry-After")) {
        tally.busy[model]++;
        // A short pause, not the Retry-After: the models must keep taking turns for the test to test it.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      } else if (tally.wrong.size() < 20) {
        tally.wrong.push_back(model + ": " + std::to_string(res->status) + " " + res->body.substr(0, 300));
      }
    }
  };
  // Batches for both models meanwhile: each pins its model from start to finish.
  std::vector<std::pair<std::string, std::string>> batches;  // id, model
  auto batch_maker = [&] {
    httplib::Client http("127.0.0.1", serve.process().port());
    http.set_read_timeout(std::chrono::seconds(60));
    std::map<std::string, std::string> file_ids;
    for (int i = 0; !stop; ++i) {
      const std::string& m = models[i % 2];
      if (!file_ids.count(m)) {
        std::string text;
        for (int k = 0; k < 4; ++k) {
          text += json{{"custom_id", m + std::to_string(k)}, {"method", "POST"}, {"url", "/v1/chat/completions"},
                       {"body", chat_body(m)}}.dump() + "\n";
        }
        httplib::MultipartFormDataItems items = {{"file", text, "in.jsonl", "application/jsonl"},
                                                {"purpose", "batch", "", ""}};
        auto up = http.Post("/v1/files", items);
        if (!up || up->status != 200) return tally.add_wrong("upload: " + (up ? up->body : "no answer"));
        file_ids[m] = json::parse(up->body)["id"];
      }
      auto res = http.Post("/v1/batches",
                           json{{"input_file_id", file_ids[m]}, {"endpoint", "/v1/chat/completions"},
                                {"completion_window", "24h"}}.dump(),
                           "application/json");
      if (!res || res->status != 200) return tally.add_wrong("create batch: " + (res ? res->body : "no answer"));
      batches.emplace_back(json::parse(res->body)["id"], m);
      for (int k = 0; k < 30 && !stop; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  std::vector<std::thread> threads;
  for (int k = 0; k < 2; ++k) {
    for (const auto& m : models) threads.emplace_back(client, m);
  }
  threads.emplace_back(batch_maker);
  const auto until = Clock::now() + std::chrono::duration<double>(soak_s());
  int exit_status = 0;
  while (Clock::now() < until && serve.process().alive(&exit_status)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  stop = true;
  for (auto& t : threads) t.join();
  ASSERT_TRUE(serve.process().alive(&exit_status)) << "serve died (exit status " << exit_status << ")";

  for (const auto& w : tally.wrong) ADD_FAILURE() << w;
  for (const auto& m : models) EXPECT_GT(tally.ok[m], 0) << m << " never answered";
  // Taking turns: clients that keep one model busy do not starve the other (issue 30 measured 0 answers for one
  // model against thousands for the other, with no batches between them to force a swap).
  const int fewer = std::min(tally.ok["alpha"], tally.ok["beta"]), more = std::max(tally.ok["alpha"], tally.ok["beta"]);
  EXPECT_GE(fewer * 10, more) << "one model got under a tenth of the other's answers";
  EXPECT_LT(tally.slowest_s, bound_s) << "an answer took longer than a load plus the request, many times over";
  // Every batch finishes once the clients stop, each line answered by its own model.
  for (const auto& [id, m] : batches) {
    const json done = serve.wait(id, [](const json& b) { return b.value("status", "") == "completed"; });
    ASSERT_EQ(done.value("status", ""), "completed") << done.dump();
    for (const auto& line : serve.content(done["output_file_id"])) {
      EXPECT_EQ(line["response"]["body"]["choices"][0]["message"]["content"], expected[m]) << id << " " << m;
    }
  }
  auto metrics = serve.http().Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->body.find("batchwise_model_evictions_total{model=\"alpha\"} 0"), std::string::npos)
      << "the models never took turns: the test did not test eviction";
  std::cout << "answers: alpha " << tally.ok["alpha"] << " ok, " << tally.busy["alpha"] << " busy; beta "
            << tally.ok["beta"] << " ok, " << tally.busy["beta"] << " busy; " << batches.size()
            << " batches; slowest " << tally.slowest_s << " s (bound " << bound_s << " s)\n";
}

}  // namespace
}  // namespace batchwise
