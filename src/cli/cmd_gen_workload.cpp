// `batchwise gen-workload`: writes the workloads of DESIGN.md as batch JSONL.
#include <memory>

#include "cli/command.h"
#include "cli/output_guard.h"
#include "core/log.h"
#include "job/workload.h"

namespace batchwise {

Verb add_gen_workload_command(CLI::App& app) {
  struct Flags {
    std::string kind;
    std::string output;
    WorkloadOptions options;
    bool force = false;
  };
  auto f = std::make_shared<Flags>();
  auto* sub = app.add_subcommand("gen-workload", "write a benchmark workload (seed, chat, long) as batch JSONL");
  sub->add_option("kind", f->kind, "seed: shared ~2,000-token rubric + ~50 unique tokens each; chat: independent "
                                   "prompts, log-normal lengths; long: few long-context requests")
      ->required()
      ->check(CLI::IsMember({"seed", "chat", "long"}));
  sub->add_option("-n,--count", f->options.count, "number of requests")->capture_default_str();
  sub->add_option("-o,--output", f->output, "output JSONL file")->required();
  sub->add_option("--seed", f->options.seed, "random seed: the same seed writes the same file")->capture_default_str();
  sub->add_option("--prefix-tokens", f->options.prefix_tokens, "seed: shared rubric length, tokens")->capture_default_str();
  sub->add_option("--unique-tokens", f->options.unique_tokens, "seed: unique tokens per request")->capture_default_str();
  sub->add_option("--output-tokens", f->options.output_tokens, "seed: max_tokens per request")->capture_default_str();
  sub->add_flag("--force", f->force, "replace OUT if it exists");
  sub->add_flag("--ignore-eos", f->options.ignore_eos, "ask for exactly max_tokens output tokens (benchmarks)");
  sub->add_option("--model-name", f->options.model, "the `model` field of each body")->capture_default_str();
  return {sub, [f] {
            auto kind = parse_workload_kind(f->kind);
            if (!kind) return report_error(kind.error());
            f->options.kind = *kind;
            if (auto st = refuse_overwrite(f->output, "-o", f->force); !st) return report_error(st.error());
            if (auto st = write_workload(f->options, f->output); !st) return report_error(st.error());
            log_info("wrote " + std::to_string(f->options.count) + " " + f->kind + " requests to " + f->output);
            return kExitOk;
          }};
}

}  // namespace batchwise
