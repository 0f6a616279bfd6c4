// `batchwise plan` as a user checks its advice (issue 18, items 11-15): the settings a user names are
// answered for exactly, the printed `batchwise run` line runs, DOES-NOT-FIT's options do fit, "safe"
// keeps its headroom or says it cannot, a custom machine is planned for, the tips' figures are the
// figures of the plan they point to, and `plan --all` agrees with a single `plan` of each model.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "model/synth.h"
#include "test_support.h"

namespace batchwise {
namespace {

using nlohmann::json;

using test::plan_json;

int64_t total(const json& memory) {
  return memory["weights_bytes"].get<int64_t>() + memory["kv_cache_bytes"].get<int64_t>() +
         memory["compute_bytes"].get<int64_t>() + memory["overhead_bytes"].get<int64_t>();
}

std::string tip(const json& plan, const std::string& topic) {
  for (const auto& t : plan["tips"]) {
    if (t["topic"] == topic) return t["tip"];
  }
  return "";
}

TEST(PlanAdvice, AskedSettingsAreAnsweredExactlyInLlamaCppSpellings) {
  const json j = plan_json({"-m", "llama-3.1-8b", "--gpu", "RTX 4090", "-np", "64", "-c", "32768", "-ctk", "q8_0",
                            "-ctv", "q8_0"});
  const json& a = j["asked"];
  EXPECT_EQ(a["batch"], 64);
  EXPECT_EQ(a["context_tokens"], 32768);
  EXPECT_EQ(j["kv_cache"]["k_type"], "q8_0");
  // Llama 3.1 8B, q8_0: 32 layers x 8 heads x 128 x 2 (K+V) x 34/32 bytes = 69,632 bytes per cell.
  EXPECT_EQ(a["device_memory"]["kv_cache_bytes"].get<int64_t>(), int64_t{32768} * 69632);
  EXPECT_TRUE(a["fits"].get<bool>());
  const int64_t memory = j["hardware"]["device"]["memory_bytes"];
  EXPECT_EQ(a["free_bytes"].get<int64_t>(), memory - total(a["device_memory"]));
  EXPECT_EQ(a["engines"]["batchwise"]["command_line"].get<std::string>().find("-np 64 -c 32768"), 0u)
      << a["engines"]["batchwise"]["command_line"];
  // The long spellings give the same answer; a context far too big says by how much it is short.
  const json same = plan_json({"-m", "llama-3.1-8b", "--gpu", "RTX 4090", "--parallel", "64", "--ctx-size", "32768",
                               "--cache-type-k", "q8_0", "--cache-type-v", "q8_0"});
  EXPECT_EQ(same["asked"]["device_memory"], a["device_memory"]);
  const json big = plan_json({"-m", "llama-3.1-8b", "--gpu", "RTX 4090", "-np", "4", "-c", "1000000"});
  EXPECT_FALSE(big["asked"]["fits"].get<bool>());
  EXPECT_LT(big["asked"]["free_bytes"].get<int64_t>(), 0);
  const auto text = test::run_batchwise({"plan", "-m", "llama-3.1-8b", "--gpu", "RTX 4090", "-np", "4", "-c", "1000000"});
  EXPECT_NE(text.out.find("asked     -np 4 -c 1000192 --lanes 2: DOES NOT FIT, short by"), std::string::npos) << text.out;
}

// run's default on a GPU that runs it is cascade attention; plan takes the flag and plans it as sparse (measured
// within 2% of it on an H200), and dense apart (every cell of the lane scored).
TEST(PlanAdvice, CascadeAttentionIsPlannedAsSparseAndIsTheDefault) {
  auto speed = [](std::vector<std::string> extra) {
    std::vector<std::string> args{"-m", "llama-3.1-8b", "--gpu", "H200", "--workload", "seed", "-np", "256"};
    args.insert(args.end(), extra.begin(), extra.end());
    return plan_json(args)["asked"]["requests_per_s"].get<double>();
  };
  const double cascade = speed({"--attention", "cascade"});
  EXPECT_EQ(cascade, speed({"--attention", "sparse"}));
  EXPECT_EQ(cascade, speed({}));
  EXPECT_LT(speed({"--attention", "dense"}), 0.95 * cascade) << "dense scores every cell of the lane";
}

TEST(PlanAdvice, ThePrintedBatchwiseLineRunsOnTheTinyModel) {
  test::ensure_tiny_model();
  const auto tiny = default_tiny_model();
  ASSERT_TRUE(tiny.has_value());
  const json j = plan_json({"-m", tiny->string(), "--gpu", "cpu", "--prompt-tokens", "40", "--output-tokens", "8",
                            "-ub", "256"});
  const std::string line = j["engines"]["batchwise"]["command_line"];
  EXPECT_NE(line.find("-ub 256"), std::string::npos) << line;
  const auto dir = test::scratch_dir();
  const auto in = dir / "in.jsonl";
  std::string lines;
  for (int i = 0; i < 3; ++i) {
    lines += R"({"custom_id":"r)" + std::to_string(i) +
             R"(","method":"POST","url":"/v1/chat/completions","body":{"max_tokens":8,"messages":[{"role":"user","content":"q"}]}})" "\n";
  }
  test::write_text(in, lines);
  std::vector<std::string> args = {"run", in.string(), "-o", (dir / "out.jsonl").string(), "-m", tiny->string(), "-q"};
  std::istringstream words(line);
  for (std::string w; words >> w;) args.push_back(w);
  const auto run = test::run_batchwise(args);
  ASSERT_EQ(run.exit_code, 0) << line << "\n" << run.err;
  EXPECT_EQ(test::read_jsonl(dir / "out.jsonl").size(), 3u);
}

// plan once advised -ctk q8_0 for the tiny model, whose 16-wide heads llama.cpp cannot store in 32-value
// blocks: run then failed to create its context. Now plan refuses it and its tips do not suggest it.
TEST(PlanAdvice, AKvTypeLlamaCppRefusesForTheHeadSizeIsRefusedNotAdvised) {
  test::ensure_tiny_model();
  const auto tiny = default_tiny_model();
  ASSERT_TRUE(tiny.has_value());
  const auto r = test::run_batchwise({"plan", "-m", tiny->string(), "--gpu", "cpu", "--kv-type", "q8_0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("head size (16) to be a multiple of its block (32"), std::string::npos) << r.err;
  const json j = plan_json({"-m", tiny->string(), "--gpu", "cpu"});
  EXPECT_EQ(tip(j, "kv cache").find("f16 only"), 0u) << tip(j, "kv cache");
}

TEST(PlanAdvice, TheLlamaServerLineTurnsThePromptCacheOffAsRunEndpointAdvises) {
  const json j = plan_json({"-m", "llama-3.1-8b", "--gpu", "H100"});
  const std::string line = j["engines"]["llama-server"]["command_line"];
  EXPECT_NE(line.find("--cache-ram 0"), std::string::npos) << line;
}

TEST(PlanAdvice, DoesNotFitOffersTwoGpusWhereTwoFitAndTheLargestQuantThatFits) {
  const auto big = test::run_batchwise({"plan", "-m", "llama-3.1-70b", "--quant", "f16", "--gpu", "H100 SXM"});
  EXPECT_NE(big.out.find("--gpus 2:"), std::string::npos) << big.out;
  EXPECT_TRUE(plan_json({"-m", "llama-3.1-70b", "--quant", "f16", "--gpu", "H100 SXM", "--gpus", "2"})["fits"].get<bool>());
  // 40 GiB: Q4_K_M (39.6 GiB of weights) does not fit, Q4_K_S (37.5) does, so Q4_K_S and not Q3_K_M.
  const auto q = test::run_batchwise({"plan", "-m", "llama-3.1-70b", "--quant", "f16", "--gpu", "RTX 4090", "--gpu-memory", "40"});
  EXPECT_NE(q.out.find("--quant q4_k_s"), std::string::npos) << q.out;
  EXPECT_TRUE(plan_json({"-m", "llama-3.1-70b", "--quant", "q4_k_s", "--gpu", "RTX 4090", "--gpu-memory", "40"})["fits"].get<bool>());
  EXPECT_FALSE(plan_json({"-m", "llama-3.1-70b", "--quant", "q4_k_m", "--gpu", "RTX 4090", "--gpu-memory", "40"})["fits"].get<bool>());
}

TEST(PlanAdvice, SafeKeepsItsHeadroomOrSaysEvenBatchOneBreaksIt) {
  const json ok = plan_json({"-m", "llama-3.1-8b", "--gpu", "RTX 4090", "--workload", "long"});
  EXPECT_TRUE(ok["safe_meets_headroom"].get<bool>());
  EXPECT_LE(static_cast<double>(ok["safe"]["device_memory"]["total_bytes"].get<int64_t>()),
            0.85 * ok["hardware"]["device"]["memory_bytes"].get<double>());
  const std::vector<std::string> tight = {"plan", "-m", "llama-3.1-70b", "--gpu", "RTX 4090", "--gpu-memory", "42"};
  const auto text = test::run_batchwise(tight);
  EXPECT_NE(text.out.find("safe      none: even batch 1 uses"), std::string::npos) << text.out;
  EXPECT_FALSE(plan_json({tight.begin() + 1, tight.end()})["safe_meets_headroom"].get<bool>());
}

TEST(PlanAdvice, ACustomMachineIsPlannedForWithItsUnits) {
  const json j = plan_json({"-m", "qwen2.5-7b", "--gpu-memory", "48G", "--gpu-bandwidth", "960", "--gpu-tflops", "150",
                            "--gpus", "2", "--ram", "128"});
  EXPECT_EQ(j["hardware"]["gpu_count"], 2);
  EXPECT_EQ(j["hardware"]["device"]["bandwidth_bytes_per_s"].get<double>(), 960e9);
  EXPECT_EQ(j["hardware"]["device"]["fp16_flops_per_s"].get<double>(), 150e12);
  EXPECT_EQ(j["devices"][0]["memory_bytes"].get<int64_t>(), int64_t{48} << 30);
  EXPECT_EQ(j["hardware"]["host_ram_total_bytes"].get<int64_t>(), int64_t{128} << 30);
  // Amending a catalogue GPU: only the memory changes (48GB is 10^9 bytes).
  const json amended = plan_json({"-m", "qwen2.5-7b", "--gpu", "RTX 4090", "--gpu-memory", "48GB"});
  EXPECT_EQ(amended["hardware"]["device"]["memory_bytes"].get<int64_t>(), int64_t{48000000000});
  EXPECT_EQ(amended["hardware"]["device"]["bandwidth_bytes_per_s"].get<double>(), 1008e9);
  // What decides the quantized matmuls' rate (docs/plan.md): the catalogue's compute capability.
  EXPECT_EQ(amended["hardware"]["device"]["compute_capability"], "8.9");
  EXPECT_FALSE(amended["hardware"]["device"]["tensor_peak_needs_warpgroup_mma"].get<bool>());
  const json hopper = plan_json({"-m", "qwen2.5-7b", "--gpu", "H200"});
  EXPECT_TRUE(hopper["hardware"]["device"]["tensor_peak_needs_warpgroup_mma"].get<bool>());
  // A CPU with the cores and RAM given: FLOP/s scale with the cores, the plan may fill the RAM.
  const json c4 = plan_json({"-m", "tiny", "--gpu", "cpu", "--cpu-cores", "4", "--ram", "16"});
  const json c8 = plan_json({"-m", "tiny", "--gpu", "cpu", "--cpu-cores", "8", "--ram", "16"});
  EXPECT_EQ(c4["hardware"]["device"]["memory_bytes"].get<int64_t>(), int64_t{16} << 30);
  EXPECT_DOUBLE_EQ(c8["hardware"]["device"]["fp16_flops_per_s"].get<double>(),
                   2 * c4["hardware"]["device"]["fp16_flops_per_s"].get<double>());
  // No GPU to amend (the CPU named): a custom GPU needs all three figures.
  const auto missing = test::run_batchwise({"plan", "-m", "tiny", "--gpu", "cpu", "--gpu-memory", "48", "--gpu-bandwidth", "960"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--gpu-tflops"), std::string::npos) << missing.err;
  const auto bad = test::run_batchwise({"plan", "-m", "tiny", "--gpu", "RTX 4090", "--gpu-memory", "lots"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--gpu-memory \"lots\""), std::string::npos) << bad.err;
}

TEST(PlanAdvice, TipsAreTheFiguresOfThePlansTheyPointTo) {
  // A datacenter GPU at large batch: F16 weights predicted faster than Q4_K_M, as measured on an H200.
  const json h200 = plan_json({"-m", "llama-3.1-8b", "--gpu", "H200"});
  const json f16 = plan_json({"-m", "llama-3.1-8b", "--gpu", "H200", "--quant", "f16"});
  const std::string quant = tip(h200, "quantization");
  EXPECT_EQ(quant.find("faster: --quant f16"), 0u) << quant;
  EXPECT_NE(quant.find("H200"), std::string::npos) << quant;
  // A consumer GPU's tip compares the same way but cites no datacenter measurement.
  EXPECT_EQ(tip(plan_json({"-m", "llama-3.1-8b", "--gpu", "RTX 4090"}), "quantization").find("H200"), std::string::npos);
  char rps[32];
  std::snprintf(rps, sizeof rps, "%.1f req/s", f16["recommended"]["requests_per_s"].get<double>());
  EXPECT_NE(quant.find(rps), std::string::npos) << quant << " vs " << rps;
  // Memory-tight: the q8_0 KV tip's max batch is what plan --kv-type q8_0 says.
  const std::vector<std::string> tight = {"-m", "llama-3.1-70b", "--gpu", "RTX 4090", "--gpu-memory", "42"};
  const json f16kv = plan_json(tight);
  std::vector<std::string> q8 = tight;
  q8.insert(q8.end(), {"--kv-type", "q8_0"});
  const json q8kv = plan_json(q8);
  const std::string kv = tip(f16kv, "kv cache");
  EXPECT_NE(kv.find("-> " + std::to_string(q8kv["max"]["batch"].get<int>()) + ","), std::string::npos) << kv;
  EXPECT_NE(tip(f16kv, "lanes"), "");
  EXPECT_NE(tip(f16kv, "second model").find("no room"), std::string::npos) << tip(f16kv, "second model");
  // The CPU gets no GPU-only tips.
  const json cpu = plan_json({"-m", "tiny", "--gpu", "cpu"});
  EXPECT_EQ(tip(cpu, "lanes"), "");
  EXPECT_NE(tip(cpu, "context"), "");
}

TEST(PlanAdvice, AllPresetsAgreeWithASinglePlanOfEach) {
  const auto r = test::run_batchwise({"plan", "--all", "--gpu", "RTX 4090", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json rows = json::parse(r.out);
  ASSERT_GE(rows.size(), 10u);
  int checked = 0;
  for (const auto& row : rows) {
    const std::string m = row["model"];
    if (m != "llama-3.1-8b" && m != "llama-3.1-70b" && m != "qwen3-30b-a3b") continue;
    const json one = plan_json({"-m", m, "--gpu", "RTX 4090"});
    EXPECT_EQ(row["fits"], one["fits"]) << m;
    if (one["fits"].get<bool>()) {
      EXPECT_EQ(row["batch"]["recommended"], one["recommended"]["batch"]) << m;
      EXPECT_EQ(row["recommended"]["lanes"], one["recommended"]["lanes"]) << m;
      EXPECT_EQ(row["batch"]["max"], one["max"]["batch"]) << m;
      EXPECT_EQ(row["context_per_request"], one["context_per_request"]) << m;
      EXPECT_EQ(row["recommended"]["requests_per_s"], one["recommended"]["requests_per_s"]) << m;
    } else {
      EXPECT_EQ(row["shortfall_bytes"], one["shortfall_bytes"]) << m;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 3);
  const auto text = test::run_batchwise({"plan", "--all", "--gpu", "RTX 4090"});
  EXPECT_NE(text.out.find("llama-3.1-70b"), std::string::npos);
  EXPECT_NE(text.out.find("does not fit: short by"), std::string::npos) << text.out;
}

TEST(PlanAdvice, AllGgufsInAFolderWithABadOneAsARow) {
  test::ensure_tiny_model();
  const auto tiny = default_tiny_model();
  ASSERT_TRUE(tiny.has_value());
  const auto dir = test::scratch_dir();
  std::filesystem::copy_file(*tiny, dir / "a-tiny.gguf");
  test::write_text(dir / "b-broken.gguf", "not a gguf");
  test::write_text(dir / "notes.txt", "ignored");
  const auto r = test::run_batchwise({"plan", "--all", "-m", dir.string(), "--gpu", "cpu", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json rows = json::parse(r.out);
  ASSERT_EQ(rows.size(), 2u) << r.out;
  EXPECT_TRUE(rows[0]["fits"].get<bool>());
  EXPECT_TRUE(rows[1].contains("error"));
  const json one = plan_json({"-m", (dir / "a-tiny.gguf").string(), "--gpu", "cpu"});
  EXPECT_EQ(rows[0]["batch"]["recommended"], one["recommended"]["batch"]);
  const auto empty = test::run_batchwise({"plan", "--all", "-m", (dir / "notes.txt").string()});
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("not a folder"), std::string::npos) << empty.err;
}

}  // namespace
}  // namespace batchwise
