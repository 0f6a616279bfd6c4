// `batchwise run` on the seed workload with the real binary, the real embedded llama.cpp engine and
// the synthetic tiny model: what a user checks in the output files.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "llama.h"
#include "test_support.h"

namespace batchwise::test {
namespace {

// Each request's prompt tokens, rendered with the model's chat template and tokenized by
// llama.cpp, independently of batchwise's engine.
std::vector<std::vector<llama_token>> tokenize_prompts(const std::filesystem::path& model_path,
                                                       const std::vector<nlohmann::json>& lines) {
  llama_backend_init();
  llama_model_params mp = llama_model_default_params();
  mp.vocab_only = true;
  llama_model* model = llama_model_load_from_file(model_path.c_str(), mp);
  EXPECT_NE(model, nullptr);
  const llama_vocab* vocab = llama_model_get_vocab(model);
  const char* tmpl = llama_model_chat_template(model, nullptr);
  std::vector<std::vector<llama_token>> out;
  for (const auto& line : lines) {
    std::vector<std::string> roles, contents;
    std::vector<llama_chat_message> chat;
    for (const auto& m : line["body"]["messages"]) {
      roles.push_back(m["role"]);
      contents.push_back(m["content"]);
    }
    for (size_t i = 0; i < roles.size(); ++i) chat.push_back({roles[i].c_str(), contents[i].c_str()});
    std::string text(1 << 16, '\0');
    const int n = llama_chat_apply_template(tmpl, chat.data(), chat.size(), true, text.data(), (int)text.size());
    text.resize(static_cast<size_t>(n));
    std::vector<llama_token> tokens(text.size() + 8);
    const int k = llama_tokenize(vocab, text.data(), (int)text.size(), tokens.data(), (int)tokens.size(), true, true);
    tokens.resize(static_cast<size_t>(k));
    out.push_back(std::move(tokens));
  }
  llama_model_free(model);
  return out;
}

// 200 seed requests through `lanes` llama.cpp contexts: every answer once with the right usage, and
// the rubric evaluated once per lane.
void check_seed_run(int lanes) {
  const auto dir = scratch_dir();
  const auto model = dir / "tiny.gguf";
  ASSERT_EQ(run_batchwise({"synth", "-m", "tiny", "-o", model.string()}).exit_code, 0);
  ASSERT_EQ(run_batchwise({"gen-workload", "seed", "-n", "200", "-o", (dir / "in.jsonl").string()}).exit_code, 0);
  const auto r = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string(), "-m",
                                model.string(), "--lanes", std::to_string(lanes), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto prompts = tokenize_prompts(model, read_jsonl(dir / "in.jsonl"));
  ASSERT_EQ(prompts.size(), 200u);
  // The rubric: the longest prefix every prompt shares.
  size_t rubric = prompts[0].size();
  for (const auto& p : prompts) {
    size_t i = 0;
    while (i < rubric && i < p.size() && p[i] == prompts[0][i]) ++i;
    rubric = i;
  }
  EXPECT_GT(rubric, 1900u);
  std::map<std::string, size_t> prompt_tokens_of;
  int64_t unique_sum = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    prompt_tokens_of[read_jsonl(dir / "in.jsonl")[i]["custom_id"]] = prompts[i].size();
    unique_sum += static_cast<int64_t>(prompts[i].size() - rubric);
  }

  const auto out = read_jsonl(dir / "out.jsonl");
  ASSERT_EQ(out.size(), 200u);
  const auto counts = custom_id_counts(out);
  ASSERT_EQ(counts.size(), 200u);
  for (const auto& [id, n] : counts) EXPECT_EQ(n, 1) << id;
  EXPECT_TRUE(read_jsonl(dir / "out.errors.jsonl").empty());

  int64_t prompt_sum = 0;
  for (const auto& line : out) {
    ASSERT_TRUE(line["error"].is_null());
    const auto& response = line["response"];
    EXPECT_EQ(response["status_code"], 200);
    const auto& body = response["body"];
    const auto& usage = body["usage"];
    const auto& choice = body["choices"][0];
    EXPECT_EQ(body["object"], "chat.completion");
    EXPECT_EQ(usage["total_tokens"].get<int64_t>(),
              usage["prompt_tokens"].get<int64_t>() + usage["completion_tokens"].get<int64_t>());
    EXPECT_LE(usage["completion_tokens"].get<int64_t>(), 32);
    if (choice["finish_reason"] == "length") {
      EXPECT_EQ(usage["completion_tokens"], 32);
    }
    EXPECT_EQ(usage["prompt_tokens"].get<size_t>(), prompt_tokens_of[line["custom_id"]]) << line["custom_id"];
    prompt_sum += usage["prompt_tokens"].get<int64_t>();
  }
  const auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["engine"]["prompt_tokens_submitted"], prompt_sum);
  EXPECT_EQ(report["tokens"]["prompt"], prompt_sum);
  const int64_t evaluated = report["engine"]["prompt_tokens_evaluated"];
  const int64_t floor = static_cast<int64_t>(rubric) + unique_sum;
  EXPECT_LE(evaluated, lanes * static_cast<int64_t>(rubric) + unique_sum) << "the rubric more than once per lane";
  if (lanes == 1) {
    EXPECT_LE(evaluated, static_cast<int64_t>(1.05 * static_cast<double>(floor)))
        << "rubric " << rubric << " + unique " << unique_sum;
  }
  std::printf("prompt tokens: submitted %lld, evaluated %lld, floor (rubric %zu + unique %lld) %lld: %.3fx\n",
              (long long)prompt_sum, (long long)evaluated, rubric, (long long)unique_sum, (long long)floor,
              static_cast<double>(evaluated) / static_cast<double>(floor));
}

TEST(RunSeed, EveryCustomIdOnceUsageRightAndSharedPrefixEvaluatedOnce) { check_seed_run(1); }

TEST(RunSeed, TwoLanesAnswerEveryCustomIdOnceAndEvaluateTheRubricOncePerLane) { check_seed_run(2); }

// llama.cpp is not batch-invariant on CPU: other rows in a batch change the reduction order, so
// logits differ in the last bits and greedy decoding can flip where two tokens nearly tie. The
// honest property: every request is identical token for token until the first near-tie (top-2 gap
// under 0.05 nats), logprobs agree within 0.02 nats until then, and most requests never diverge.
// Flash attention is off: llama.cpp's CPU flash attention accumulates in F16 (0.07 nats noise).
void expect_same_up_to_near_ties(const std::vector<nlohmann::json>& a, const std::vector<nlohmann::json>& b) {
  ASSERT_EQ(a.size(), 64u);
  ASSERT_EQ(b.size(), 64u);
  int identical = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i]["custom_id"], b[i]["custom_id"]);
    const auto& x = a[i]["response"]["body"]["choices"][0]["logprobs"]["content"];
    const auto& y = b[i]["response"]["body"]["choices"][0]["logprobs"]["content"];
    ASSERT_EQ(x.size(), y.size());
    bool same = true;
    for (size_t t = 0; t < x.size(); ++t) {
      if (x[t]["id"] != y[t]["id"]) {
        auto gap = [](const nlohmann::json& e) {
          return e["top_logprobs"][0]["logprob"].get<double>() - e["top_logprobs"][1]["logprob"].get<double>();
        };
        EXPECT_LT(std::min(gap(x[t]), gap(y[t])), 0.05)
            << a[i]["custom_id"] << " token " << t << ": diverged where the model had a clear choice";
        same = false;
        break;
      }
      EXPECT_NEAR(x[t]["logprob"].get<double>(), y[t]["logprob"].get<double>(), 0.02)
          << a[i]["custom_id"] << " token " << t;
    }
    identical += same ? 1 : 0;
  }
  EXPECT_GE(identical, 58) << "of 64 requests, identical alone and batched";
}

TEST(RunSeed, GreedyOutputAloneEqualsOutputInABatchOf64AndInTwoLanesUpToNearTies) {
  const auto dir = scratch_dir();
  ASSERT_EQ(run_batchwise({"gen-workload", "seed", "-n", "64", "--prefix-tokens", "600", "-o",
                           (dir / "raw.jsonl").string()}).exit_code, 0);
  std::string with_logprobs;
  for (auto line : read_jsonl(dir / "raw.jsonl")) {
    line["body"]["logprobs"] = true;
    line["body"]["top_logprobs"] = 2;
    with_logprobs += line.dump() + "\n";
  }
  write_text(dir / "in.jsonl", with_logprobs);
  const auto batched = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "b64.jsonl").string(), "-np",
                                      "64", "--no-flash-attn"});
  ASSERT_EQ(batched.exit_code, 0) << batched.err;
  const auto alone = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "b1.jsonl").string(), "-np", "1",
                                    "--no-flash-attn"});
  ASSERT_EQ(alone.exit_code, 0) << alone.err;
  expect_same_up_to_near_ties(read_jsonl(dir / "b64.jsonl"), read_jsonl(dir / "b1.jsonl"));
  // The same 64 sequences split between two contexts.
  const auto lanes = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "l2.jsonl").string(), "-np",
                                    "64", "--lanes", "2", "--no-flash-attn"});
  ASSERT_EQ(lanes.exit_code, 0) << lanes.err;
  expect_same_up_to_near_ties(read_jsonl(dir / "l2.jsonl"), read_jsonl(dir / "b1.jsonl"));
}

TEST(RunSeed, MalformedLinesGetOneErrorLineEachAndTheRestComplete) {
  const auto dir = scratch_dir();
  auto good = [](const std::string& id) {
    return nlohmann::json{{"custom_id", id},
                          {"method", "POST"},
                          {"url", "/v1/chat/completions"},
                          {"body", {{"messages", {{{"role", "user"}, {"content", "Score this: " + id}}}},
                                    {"max_tokens", 8},
                                    {"temperature", 0}}}}
        .dump();
  };
  std::string long_prompt;
  for (int i = 0; i < 9000; ++i) long_prompt += "word ";
  const std::string lines[] = {
      good("ok-1"),
      "{not json",
      R"({"method": "POST", "url": "/v1/chat/completions", "body": {"messages": []}})",  // no custom_id
      good("ok-2"),
      good("ok-1"),  // duplicate
      R"({"custom_id": "bad-url", "method": "POST", "url": "/v1/images", "body": {}})",
      nlohmann::json{{"custom_id", "too-long"},
                     {"method", "POST"},
                     {"url", "/v1/completions"},
                     {"body", {{"prompt", long_prompt}, {"max_tokens", 8}}}}
          .dump(),
      good("ok-3"),
      R"({"custom_id": "truncated", "method": "POST", "url": "/v1/chat/comp)",  // cut off, no newline
  };
  std::string input;
  for (const auto& l : lines) input += l + "\n";
  input.pop_back();
  write_text(dir / "in.jsonl", input);

  const auto r = run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string()});
  EXPECT_EQ(r.exit_code, 1) << "some requests failed: exit 1\n" << r.err;
  const auto out = read_jsonl(dir / "out.jsonl");
  const auto errors = read_jsonl(dir / "out.errors.jsonl");
  std::set<std::string> ok_ids;
  for (const auto& l : out) ok_ids.insert(l["custom_id"]);
  EXPECT_EQ(ok_ids, (std::set<std::string>{"ok-1", "ok-2", "ok-3"}));
  EXPECT_EQ(out.size(), 3u);
  ASSERT_EQ(errors.size(), 6u);
  auto error_of = [&](size_t i) { return errors[i]["error"]["message"].get<std::string>(); };
  EXPECT_NE(error_of(0).find("line 2: not valid JSON"), std::string::npos) << error_of(0);
  EXPECT_NE(error_of(1).find("line 3: field `custom_id` missing"), std::string::npos) << error_of(1);
  EXPECT_NE(error_of(2).find("duplicate custom_id `ok-1`"), std::string::npos) << error_of(2);
  EXPECT_NE(error_of(3).find("unknown url `/v1/images`"), std::string::npos) << error_of(3);
  EXPECT_EQ(errors[4]["custom_id"], "too-long");
  EXPECT_EQ(errors[4]["error"]["code"], "context_length_exceeded");
  EXPECT_NE(error_of(5).find("line 9"), std::string::npos) << error_of(5);
  for (const auto& e : errors) EXPECT_TRUE(e["response"].is_null());
}

// Lanes split the KV cells: a request that fits the whole cache but not one lane's share is refused
// before it starts, with what to change.
TEST(RunSeed, ARequestOverOneLanesCellsSaysToRaiseCtxOrLowerLanes) {
  const auto dir = scratch_dir();
  ASSERT_EQ(run_batchwise({"gen-workload", "seed", "-n", "3", "-o", (dir / "in.jsonl").string()}).exit_code, 0);
  const auto r = run_batchwise(
      {"run", (dir / "in.jsonl").string(), "-o", (dir / "out.jsonl").string(), "-c", "4096", "--lanes", "2"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto errors = read_jsonl(dir / "out.errors.jsonl");
  ASSERT_EQ(errors.size(), 3u);
  for (const auto& e : errors) {
    EXPECT_EQ(e["error"]["code"], "context_length_exceeded");
    const std::string message = e["error"]["message"];
    EXPECT_NE(message.find("limit of 2048 (the KV cells of one of 2 lanes: raise --ctx-size or lower --lanes)"),
              std::string::npos)
        << message;
  }
}

// On a CPU, llama.cpp's threads are the CPUs the process may use, not the machine's: under `taskset`, a
// container's cpuset or Slurm's --cpus-per-task, threads for every CPU of the node would crowd the few it
// was given. BATCHWISE_THREADS (which ctest sets to 1 for the suite) replaces that default. run's engine
// line says how many it took.
TEST(RunSeed, CpuThreadsFollowTheCpusTheProcessMayUseOrBatchwiseThreads) {
  const auto dir = scratch_dir();
  ASSERT_EQ(run_batchwise({"gen-workload", "seed", "-n", "2", "--prefix-tokens", "20", "--output-tokens", "2", "-o",
                           (dir / "in.jsonl").string()}).exit_code, 0);
  const auto run_on = [&](const std::string& prefix, const std::string& out, const std::string& extra) {
    return run_shell(prefix + batchwise_bin() + " run " + shell_quote((dir / "in.jsonl").string()) + " -o " +
                     shell_quote((dir / out).string()) + extra);
  };
  const auto pinned = run_on("env -u BATCHWISE_THREADS taskset -c 0 ", "pinned.jsonl", "");
  ASSERT_EQ(pinned.exit_code, 0) << pinned.err;
  EXPECT_NE(pinned.err.find(", 1 CPU thread\n"), std::string::npos) << pinned.err;
  const auto all = run_shell("nproc");
  const int cpus = std::stoi(all.out);
  const auto free_run = run_on("env -u BATCHWISE_THREADS ", "free.jsonl", " --lanes 2");
  ASSERT_EQ(free_run.exit_code, 0) << free_run.err;
  const int per_lane = std::max(1, cpus / 2);
  EXPECT_NE(free_run.err.find(", " + std::to_string(per_lane) + " CPU thread" + (per_lane == 1 ? "" : "s") + " a lane"),
            std::string::npos)
      << free_run.err;
  const auto from_env = run_on("BATCHWISE_THREADS=3 ", "env.jsonl", " --lanes 2");
  ASSERT_EQ(from_env.exit_code, 0) << from_env.err;
  EXPECT_NE(from_env.err.find(", 3 CPU threads a lane"), std::string::npos) << from_env.err;
  const auto flag_wins = run_on("BATCHWISE_THREADS=3 ", "flag.jsonl", " -t 1");
  ASSERT_EQ(flag_wins.exit_code, 0) << flag_wins.err;
  EXPECT_NE(flag_wins.err.find(", 1 CPU thread\n"), std::string::npos) << flag_wins.err;
}

}  // namespace
}  // namespace batchwise::test
