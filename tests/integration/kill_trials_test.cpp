// Kill -9 trials that can fail: `batchwise run` is SIGKILLed at 20 seeded points spread over a job's
// life (while it starts, early, middle, late), each time resumed by the same command. After every
// kill the results that were durable in the state database at that moment must still be there,
// byte for byte, and must not be computed again; the last resume must do only what was left and
// write every custom_id exactly once. Both engines: the embedded one (tiny model) and the HTTP
// one, against the stub OpenAI server (a test double that here only answers and records what it
// was sent, so that a re-sent request is seen) and against a real llama-server.
//
// The seed is new each run (BATCHWISE_KILL_SEED=N repeats one) and is in every failure message.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "batchwise_child.h"
#include "llama_server_process.h"
#include "state_db_reader.h"
#include "stub_openai_server.h"
#include "test_support.h"

namespace batchwise::test {
namespace {

constexpr int kKills = 20;

uint64_t kill_seed() {
  if (const char* s = std::getenv("BATCHWISE_KILL_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// Where one kill lands: `delay_s` after the start (while it opens the state, loads, submits), or
// once `durable_target` results of the job are committed.
struct KillPoint {
  bool by_time = false;
  double delay_s = 0;
  int64_t durable_target = 0;
};

// Every fifth kill by time, within `startup_s` of the start (model load, state open, first
// submissions); the others at job progress rising from ~0 to ~95 % (one per stratum,
// its place inside drawn from the seed), so early, middle and late are all hit on every run.
std::vector<KillPoint> plan_kills(uint64_t seed, int64_t total, double startup_s) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<KillPoint> points;
  for (int k = 0; k < kKills; ++k) {
    KillPoint p;
    const double x = u(rng);
    if (k % 5 == 2) {
      p.by_time = true;
      p.delay_s = 0.01 + startup_s * x;
    } else {
      p.durable_target = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(total) * (k + x) / (kKills + 1)));
    }
    points.push_back(p);
  }
  return points;
}

using Durable = std::map<int64_t, DurableResult>;

struct Tally {
  int kills_mid_run = 0;        // the process was still running when killed
  int64_t lost = 0;             // durable before a kill, gone (or changed) after it
  int64_t redone = 0;           // durable before a run, sent again by it (seen by the HTTP server)
  int64_t extra_prompt_tokens = 0;  // prompt tokens the last resume's engine saw beyond what was left
  std::vector<size_t> durable_at_kill;
};

// Runs the kill trials, then the last resume; `after_kill(k, durable_before)` runs after run k ended
// (k == kKills: the last resume) and checks what only the caller can see (what the server was sent).
// Returns the last run's --json report.
nlohmann::json kill_and_resume(const std::filesystem::path& dir, const std::vector<std::string>& args,
                               int64_t total, double startup_s, uint64_t seed, Tally& tally,
                               const std::function<void(int, const Durable&)>& after_kill) {
  const auto db = dir / "out.state.db";
  const std::regex resuming(R"(resuming .*: (\d+) of (\d+) already done)");
  Durable durable;
  const auto points = plan_kills(seed, total, startup_s);
  for (int k = 0; k < kKills; ++k) {
    SCOPED_TRACE("BATCHWISE_KILL_SEED=" + std::to_string(seed) + ", kill " + std::to_string(k));
    BatchwiseChild child(args, dir, "trial" + std::to_string(k));
    const auto start = std::chrono::steady_clock::now();
    const auto& p = points[static_cast<size_t>(k)];
    while (child.running()) {
      if (p.by_time ? std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= p.delay_s
                    : count_durable_results(db) >= p.durable_target) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
    const bool was_running = child.running();
    child.kill_hard();
    EXPECT_TRUE(was_running) << "the run ended before kill " << k << " (rc " << child.wait() << "):\n" << child.err();
    tally.kills_mid_run += was_running;

    const Durable after = read_durable_results(db);
    for (const auto& [line, before] : durable) {
      const auto it = after.find(line);
      const bool kept = it != after.end() && it->second.body == before.body && it->second.attempts == before.attempts;
      tally.lost += !kept;
      EXPECT_TRUE(kept) << "line " << line << " (" << before.custom_id << ") was durable before kill " << k
                        << " and is " << (it == after.end() ? "gone" : "changed") << " after it";
    }
    std::smatch m;
    const std::string err = child.err();
    if (std::regex_search(err, m, resuming)) {
      EXPECT_EQ(std::stoll(m[1].str()), static_cast<int64_t>(durable.size())) << "the resume's count of done results";
    }
    after_kill(k, durable);
    tally.durable_at_kill.push_back(after.size());
    durable = after;
  }

  SCOPED_TRACE("BATCHWISE_KILL_SEED=" + std::to_string(seed) + ", last resume");
  std::vector<std::string> last_args = args;
  last_args.push_back("--json");
  BatchwiseChild last(last_args, dir, "last");
  const int rc = last.wait();
  EXPECT_EQ(rc, 0) << last.err();
  after_kill(kKills, durable);
  const auto report = nlohmann::json::parse(last.out(), nullptr, false);
  EXPECT_TRUE(report.is_object()) << last.out();
  if (!report.is_object()) return report;
  EXPECT_EQ(report["resumed"].get<int64_t>(), static_cast<int64_t>(durable.size()));

  const Durable final_rows = read_durable_results(db);
  EXPECT_EQ(final_rows.size(), static_cast<size_t>(total));
  int64_t remaining_prompt_tokens = 0;
  for (const auto& [line, r] : final_rows) {
    const auto it = durable.find(line);
    if (it == durable.end()) {
      remaining_prompt_tokens += r.prompt_tokens;
    } else {
      EXPECT_EQ(r.body, it->second.body) << "line " << line << " changed in the last resume";
      tally.lost += r.body != it->second.body;
    }
  }
  // The engine saw only the prompts of what was left: a durable result computed again adds its prompt.
  tally.extra_prompt_tokens = report["engine"]["prompt_tokens_submitted"].get<int64_t>() - remaining_prompt_tokens;
  EXPECT_EQ(report["engine"]["prompt_tokens_submitted"].get<int64_t>(), remaining_prompt_tokens)
      << "the last resume computed more than the " << total - static_cast<int64_t>(durable.size())
      << " requests left";

  // The file a user reads: every id once, and the durable ones with the bodies they had at the kill.
  std::map<std::string, std::string> durable_body_by_id;
  for (const auto& [line, r] : durable) durable_body_by_id[r.custom_id] = r.body;
  const auto lines = read_jsonl(dir / "out.jsonl");
  EXPECT_EQ(lines.size(), static_cast<size_t>(total));
  for (const auto& [id, n] : custom_id_counts(lines)) EXPECT_EQ(n, 1) << id;
  for (const auto& l : lines) {
    const auto it = durable_body_by_id.find(l["custom_id"]);
    if (it != durable_body_by_id.end()) {
      EXPECT_EQ(l["response"]["body"], nlohmann::json::parse(it->second)) << l["custom_id"];
    }
  }
  return report;
}

void print_tally(const char* engine, uint64_t seed, int64_t total, const Tally& t, int64_t duplicated) {
  std::string at;
  for (size_t n : t.durable_at_kill) at += (at.empty() ? "" : ",") + std::to_string(n);
  std::printf("kill trials (%s): seed %llu, %d kills (%d mid-run), %lld lost, %lld duplicated, %lld redone, %lld prompt tokens "
              "computed again; durable of %lld at each kill: %s\n",
              engine, static_cast<unsigned long long>(seed), kKills, t.kills_mid_run, static_cast<long long>(t.lost),
              static_cast<long long>(duplicated), static_cast<long long>(t.redone),
              static_cast<long long>(t.extra_prompt_tokens), static_cast<long long>(total),
              at.c_str());
}

int64_t duplicated_ids(const std::filesystem::path& out) {
  int64_t dup = 0;
  for (const auto& [id, n] : custom_id_counts(read_jsonl(out))) dup += n > 1 ? n - 1 : 0;
  return dup;
}

TEST(KillTrials, EmbeddedEngineKeepsEveryDurableResultAndNeverComputesItAgain) {
  const uint64_t seed = kill_seed();
  const auto dir = scratch_dir();
  constexpr int64_t kTotal = 150;
  ASSERT_EQ(run_batchwise({"gen-workload", "seed", "-n", std::to_string(kTotal), "--prefix-tokens", "40",
                           "--unique-tokens", "10", "--output-tokens", "12", "-o", (dir / "in.jsonl").string()})
                .exit_code,
            0);
  ensure_tiny_model();
  Tally tally;
  // 4 sequences of 12 output tokens: results become durable a few at a time, so the late kill points (up
  // to ~95 % of the job) still find work left. With 2 output tokens a group commit once took the job from
  // 110 to all 150 done, and the next kills found it finished; with 16 sequences the last wave did.
  const std::vector<std::string> args = {"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string(),
                                         "-np", "4"};
  kill_and_resume(dir, args, kTotal, /*startup_s=*/0.6, seed, tally, [](int, const Durable&) {});
  print_tally("embedded", seed, kTotal, tally, duplicated_ids(dir / "out.jsonl"));
  EXPECT_GE(tally.kills_mid_run, kKills);
}

TEST(KillTrials, HttpEngineKeepsEveryDurableResultAndNeverSendsItAgain) {
  const uint64_t seed = kill_seed();
  const auto dir = scratch_dir();
  constexpr int64_t kTotal = 400;
  write_chat_requests(dir, static_cast<int>(kTotal), "in", "r");
  auto stub = StubOpenAiServer::start({.delay_ms = 20});
  ASSERT_TRUE(stub);
  Tally tally;
  const std::vector<std::string> args = {"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string(),
                                         "--endpoint", stub->url(), "--max-concurrency", "4"};
  // The custom_id a POST was for: its content is "qN" for custom_id "rN".
  auto id_of = [](const StubEvent& e) {
    const auto body = nlohmann::json::parse(e.request_body, nullptr, false);
    return "r" + body["messages"][0]["content"].get<std::string>().substr(1);
  };
  size_t seen = 0;
  auto sent_again = [&](const Durable& durable_before) {
    std::set<std::string> done;
    for (const auto& [line, r] : durable_before) done.insert(r.custom_id);
    const auto events = stub->events();
    int64_t again = 0, sent = 0;
    for (; seen < events.size(); ++seen, ++sent) again += done.count(id_of(events[seen]));
    return std::pair{again, sent};
  };
  kill_and_resume(dir, args, kTotal, /*startup_s=*/0.1, seed, tally, [&](int k, const Durable& durable_before) {
    const auto [again, sent] = sent_again(durable_before);
    tally.redone += again;
    EXPECT_EQ(again, 0) << "run " << k << " sent " << again << " requests whose results were already durable";
    if (k == kKills) {
      EXPECT_EQ(sent, kTotal - static_cast<int64_t>(durable_before.size())) << "the last resume sends what is left";
    }
  });
  print_tally("http", seed, kTotal, tally, duplicated_ids(dir / "out.jsonl"));
  EXPECT_GE(tally.kills_mid_run, kKills);
}

#ifdef LLAMA_SERVER_BIN
// The same against llama.cpp's own server (built from the pinned source) on the tiny model: what a
// user runs. The server cannot say what it was sent, so "not computed again" is the last resume's
// usage, summed by the engine, against the prompts of what was left.
TEST(KillTrials, HttpEngineAgainstARealLlamaServerKeepsEveryDurableResultAndComputesOnlyWhatWasLeft) {
  const uint64_t seed = kill_seed();
  const auto dir = scratch_dir();
  constexpr int64_t kTotal = 200;
  const auto model = dir / "tiny.gguf";
  ASSERT_EQ(run_batchwise({"synth", "-m", "tiny", "-o", model.string()}).exit_code, 0);
  ASSERT_EQ(run_batchwise({"gen-workload", "seed", "-n", std::to_string(kTotal), "--prefix-tokens", "40",
                           "--unique-tokens", "10", "--output-tokens", "2", "-o", (dir / "in.jsonl").string()})
                .exit_code,
            0);
  std::string error;
  auto server = start_llama_server(LLAMA_SERVER_BIN, model, {"-np", "4", "-c", "4096", "-t", "1"},
                                   dir / "llama-server.log", 60, &error);
  ASSERT_TRUE(server) << error;
  Tally tally;
  const std::vector<std::string> args = {"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string(),
                                         "--endpoint", server->url(), "--max-concurrency", "4"};
  kill_and_resume(dir, args, kTotal, /*startup_s=*/0.1, seed, tally, [](int, const Durable&) {});
  print_tally("llama-server", seed, kTotal, tally, duplicated_ids(dir / "out.jsonl"));
  EXPECT_GE(tally.kills_mid_run, kKills);
}
#endif

}  // namespace
}  // namespace batchwise::test
