// The verbs as a user runs them: `batchwise plan ... --json` and `batchwise probe --json` print JSON a
// program can read, bad names exit 2 with close matches, a model too big says so.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "test_support.h"

namespace batchwise {
namespace {

TEST(CliPlan, JsonForAPresetOnACatalogueGpu) {
  const auto r = test::run_batchwise({"plan", "--model", "llama-3.1-8b", "--gpu", "RTX 4090", "--workload", "seed",
                                      "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["kv_cache"]["kv_bytes_per_token"], 131072);
  EXPECT_TRUE(j["fits"].get<bool>());
  EXPECT_GT(j["recommended"]["batch"].get<int>(), 1);
  EXPECT_LE(j["recommended"]["device_memory"]["total_bytes"].get<int64_t>(),
            j["hardware"]["device"]["memory_bytes"].get<int64_t>());
  EXPECT_NE(j["engines"]["llama-server"]["command_line"].get<std::string>().find("-np"), std::string::npos);
}

TEST(CliPlan, CustomWorkloadAndKvTypeOnTheCpu) {
  const auto r = test::run_batchwise({"plan", "-m", "qwen2.5-7b", "--gpu", "cpu", "--prompt-tokens", "1000",
                                      "--output-tokens", "100", "--shared-prefix", "800", "--kv-type", "q8_0",
                                      "--max-latency", "600", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["workload"]["shared_prefix_tokens"], 800);
  EXPECT_EQ(j["kv_cache"]["k_type"], "q8_0");
  EXPECT_EQ(j["hardware"]["device"]["kind"], "cpu");
  EXPECT_GT(j["recommended"]["requests_per_s"].get<double>(), 0);
}

TEST(CliPlan, HumanTableAndTooBigModel) {
  const auto ok = test::run_batchwise({"plan", "-m", "mixtral-8x7b", "--gpu", "H100 SXM", "--workload", "chat"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("recommended"), std::string::npos) << ok.out;
  const auto big = test::run_batchwise({"plan", "-m", "llama-3.1-70b", "--quant", "f16", "--gpu", "RTX 3080"});
  ASSERT_EQ(big.exit_code, 0) << big.err;
  EXPECT_NE(big.out.find("DOES NOT FIT"), std::string::npos) << big.out;
  EXPECT_NE(big.out.find("short by"), std::string::npos);
}

TEST(CliPlan, UnknownNamesExitTwoWithCloseMatches) {
  const auto model = test::run_batchwise({"plan", "-m", "lama-3.1-8b", "--gpu", "H100"});
  EXPECT_EQ(model.exit_code, 2);
  EXPECT_NE(model.err.find("llama-3.1-8b"), std::string::npos) << model.err;
  const auto gpu = test::run_batchwise({"plan", "-m", "llama-3.1-8b", "--gpu", "RTX 4009"});
  EXPECT_EQ(gpu.exit_code, 2);
  EXPECT_NE(gpu.err.find("RTX 4090"), std::string::npos) << gpu.err;
}

TEST(CliProbe, JsonHasCpuRamAndGpusOrAReason) {
  const auto r = test::run_batchwise({"probe", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_GE(j["cpu"]["logical_cpus"].get<int>(), 1);
  EXPECT_GT(j["ram"]["total_bytes"].get<int64_t>(), 0);
  if (j["gpus"].empty()) {
      EXPECT_FALSE(j["nvml"]["reason"].get<std::string>().empty());
    }
  const auto text = test::run_batchwise({"probe"});
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("CPU"), std::string::npos);
}

}  // namespace
}  // namespace batchwise

namespace batchwise {
namespace {

TEST(CliPlan, GpuListPrintsTheCatalogueWithoutAModel) {
  const auto r = test::run_batchwise({"plan", "--gpu", "list"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("RTX 4090"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("24.0 GiB"), std::string::npos) << r.out;
  const auto no_model = test::run_batchwise({"plan", "--gpu", "RTX 4090"});
  EXPECT_EQ(no_model.exit_code, 2);
  EXPECT_NE(no_model.err.find("plan needs -m/--model"), std::string::npos) << no_model.err;
}

TEST(CliPlan, TheBatchwiseLineUsesFlagsRunAccepts) {
  const auto r = test::run_batchwise({"plan", "-m", "llama-3.1-8b", "--gpu", "RTX 4090", "--kv-type", "q8_0", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto line = nlohmann::json::parse(r.out)["engines"]["batchwise"]["command_line"].get<std::string>();
  for (const char* flag : {"-np ", "-c ", "-b ", "-ub ", "-ngl ", "-ctk q8_0", "-ctv q8_0"}) {
    EXPECT_NE(line.find(flag), std::string::npos) << flag << " missing from: " << line;
  }
  // Every flag of the line parses in run (a missing input file is the only complaint).
  std::vector<std::string> args = {"run", "/nonexistent.jsonl", "-o", "/tmp/x.jsonl"};
  std::istringstream words(line);
  for (std::string w; words >> w;) args.push_back(w);
  const auto run = test::run_batchwise(args);
  EXPECT_EQ(run.err.find("unknown flag"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("nonexistent"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace batchwise
