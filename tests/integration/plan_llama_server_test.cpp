// plan's llama-server line, run as a user would paste it: llama-server started with exactly the flags
// `plan` printed for the tiny model and a seed-shaped workload, then the workload sent to it. llama-server
// keeps every slot's copy of the prompt (it does not share the prefix's cells between slots), so a -c sized
// the way batchwise run holds cells fails every request with "Context size has been exceeded"; plan's
// line must hold -np whole requests.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "llama_server_process.h"
#include "test_support.h"

namespace batchwise::test {
namespace {

#ifdef LLAMA_SERVER_BIN
std::vector<std::string> engine_args(const nlohmann::json& plan, const char* engine) {
  return plan["asked"]["engines"][engine]["args"].get<std::vector<std::string>>();
}

std::string arg_after(const std::vector<std::string>& args, const std::string& flag) {
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == flag) return args[i + 1];
  }
  return "";
}

TEST(PlanLlamaServer, ThePrintedLineServesTheSeedWorkload) {
  const auto dir = scratch_dir();
  const auto model = dir / "tiny.gguf";
  ASSERT_EQ(run_batchwise({"synth", "-m", "tiny", "-o", model.string()}).exit_code, 0);
  ASSERT_EQ(run_batchwise({"gen-workload", "seed", "-n", "16", "--prefix-tokens", "300", "--unique-tokens", "40",
                           "--output-tokens", "8", "--ignore-eos", "-o", (dir / "in.jsonl").string()})
                .exit_code,
            0);
  const auto planned = run_batchwise({"plan", "-m", model.string(), "--gpu", "cpu", "--prompt-tokens", "360",
                                      "--shared-prefix", "320", "--output-tokens", "8", "-np", "4", "--json"});
  ASSERT_EQ(planned.exit_code, 0) << planned.err;
  const auto plan = nlohmann::json::parse(planned.out);
  const auto server_args = engine_args(plan, "llama-server");
  const auto run_args = engine_args(plan, "batchwise");
  ASSERT_EQ(arg_after(server_args, "-np"), "4");
  ASSERT_GE(std::stoll(arg_after(server_args, "-c")), 4 * 368) << "-np whole requests";
  ASSERT_LT(std::stoll(arg_after(run_args, "-c")), 4 * 368) << "run shares the prefix's cells: fewer";

  auto serve_with = [&](std::vector<std::string> args, const std::string& name) {
    args.insert(args.end(), {"-t", "1"});  // ctest runs two tests at once on two CPUs
    std::string error;
    auto server = start_llama_server(LLAMA_SERVER_BIN, model, args, dir / (name + ".log"), 60, &error);
    EXPECT_TRUE(server) << error;
    if (!server) return CommandResult{};
    return run_batchwise({"run", (dir / "in.jsonl").string(), "-o", (dir / (name + ".jsonl")).string(), "--endpoint",
                          server->url() + "/v1", "--max-concurrency", "4", "--max-attempts", "1", "--json"});
  };
  const auto ok = serve_with(server_args, "plan-line");
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(nlohmann::json::parse(ok.out)["ok"].get<int64_t>(), 16);

  // The same server with run's -c (the prefix's cells counted once): the overflow plan's line avoids.
  std::vector<std::string> shared_cells = server_args;
  for (size_t i = 0; i + 1 < shared_cells.size(); ++i) {
    if (shared_cells[i] == "-c") shared_cells[i + 1] = arg_after(run_args, "-c");
  }
  const auto overflow = serve_with(shared_cells, "run-cells");
  EXPECT_EQ(overflow.exit_code, 1) << "every slot's copy of the prompt does not fit in -c / -np cells";
}
#endif

}  // namespace
}  // namespace batchwise::test
