// `batchwise merge -o OUT [STATE...]`: the shards of one job (`run --shard I/N`) into one output and
// one error file, once every shard is there and finished.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "core/log.h"
#include "job/merge.h"
#include "job/shard_set.h"

namespace batchwise {

Verb add_merge_command(CLI::App& app) {
  struct Flags {
    std::vector<std::string> states;
    MergeOptions merge;
    bool json = false;
  };
  auto f = std::make_shared<Flags>();
  auto* sub = app.add_subcommand("merge", "join the shards of one job (run --shard I/N) into one output, exactly once");
  sub->footer(
      "Checks that the states are of one input and one N, that every shard is there and finished, and that each\n"
      "input line and custom_id is in one shard only; then writes OUT and OUT.errors.jsonl in input order,\n"
      "atomically. A missing or unfinished shard is named with the command that finishes it.");
  sub->add_option("-o,--output", f->merge.output, "merged output JSONL; also names the shards' default states")
      ->required();
  sub->add_option("--errors", f->merge.errors, "merged error JSONL (default: OUT.errors.jsonl)");
  sub->add_option("states", f->states,
                  "the shards' state databases (default: OUT.shard-*-of-*.state.db beside OUT)")
      ->check(CLI::ExistingFile);
  sub->add_option("--shards", f->merge.shards,
                  "N: the job has N shards; look only for OUT.shard-*-of-N.state.db (default: what the states say)")
      ->check(CLI::Range(int64_t{1}, kMaxShards));
  sub->add_flag("--json", f->json, "print what was merged as JSON on stdout");
  return {sub, [f] {
            for (const auto& s : f->states) f->merge.states.emplace_back(s);
            if (f->merge.states.empty()) {
              f->merge.states = find_shard_states(f->merge.output, f->merge.shards);
              if (f->merge.states.empty()) {
                return report_error({ErrorCode::kNotFound,
                                     "no shard states beside " + f->merge.output.string() + " (looked for " +
                                         f->merge.output.stem().string() +
                                         ".shard-*-of-*.state.db): run the shards with `batchwise run IN -o " +
                                         f->merge.output.string() + " --shard I/N`, or give their states' paths"});
              }
            }
            auto merged = merge_shards(f->merge);
            if (!merged) return report_error(merged.error());
            if (f->json) {
              nlohmann::json j = {{"shards", merged->shards},
                                  {"ok", merged->ok},
                                  {"failed", merged->failed},
                                  {"files", {{"output", merged->output.string()}, {"errors", merged->errors.string()}}}};
              std::printf("%s\n", j.dump(2).c_str());
            }
            log_info("merged " + std::to_string(merged->shards) + " shards: " + std::to_string(merged->ok) +
                     " results to " + merged->output.string() + ", " + std::to_string(merged->failed) + " errors to " +
                     merged->errors.string());
            return merged->failed > 0 ? kExitFailures : kExitOk;
          }};
}

}  // namespace batchwise
