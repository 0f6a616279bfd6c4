#include "cli/exit_codes.h"

#include <array>
#include <utility>

namespace batchwise {
namespace {

constexpr std::string_view kUsage = "usage (a bad flag or refused input)";
constexpr std::string_view kFatal = "fatal (the message says what stopped it)";

// One row per verb. The meanings are written for the person reading --help, so each says what the
// status means for that verb, not only its class.
const std::array<std::pair<std::string_view, VerbExits>, 10>& exits_table() {
  static const std::array<std::pair<std::string_view, VerbExits>, 10> table = {{
      {"probe", {"shown", "", std::string(kUsage), std::string(kFatal), ""}},
      {"plan",
       {"planned (also when the model does not fit: the plan says so)", "",
        "usage (a bad flag, an unknown model or GPU name)", std::string(kFatal), ""}},
      {"tune",
       {"a setting was chosen", "no setting was feasible or met the SLO (the reason is printed)",
        std::string(kUsage), std::string(kFatal), ""}},
      {"run",
       {"every request ok", "finished, some requests failed (in the error file; --retry-failed runs them again)",
        "usage or refused input (nothing was run)",
        "fatal (disk full, model not loadable, every endpoint stalled; the same command resumes)",
        "interrupted (Ctrl-C or SIGTERM; the same command resumes)"}},
      {"serve",
       {"stopped by itself", "", "usage (a bad flag, a --model file missing, --host without --api-key-env)",
        "fatal (the port is taken, the state folder cannot be written)",
        "stopped by Ctrl-C or SIGTERM (batches resume at the next start)"}},
      {"report",
       {"reported (also a job still running, or a sharded job with shards missing: the report names them)", "",
        "usage (no such state, states of different jobs)", "fatal (a state cannot be read)", ""}},
      {"merge",
       {"merged", "merged, some requests failed (in the error file)",
        "a shard is missing, unfinished or foreign (the message names the command that finishes it)",
        "a request is in two shards, or a file cannot be written", ""}},
      {"slurm",
       {"scripts written (and submitted with --submit)", "",
        "usage (a bad flag, the output folder does not exist)",
        "fatal (a script cannot be written, sbatch failed)", ""}},
      {"synth",
       {"written", "", "usage (an unknown preset, a config that cannot be read, -o exists without --force)",
        std::string(kFatal), ""}},
      {"gen-workload",
       {"written", "", "usage (a bad flag, -o exists without --force)", std::string(kFatal), ""}},
  }};
  return table;
}

}  // namespace

VerbExits verb_exits(std::string_view verb) {
  for (const auto& [name, exits] : exits_table()) {
    if (name == verb) return exits;
  }
  return {"ok", "", std::string(kUsage), std::string(kFatal), ""};
}

std::string exit_codes_help(const VerbExits& exits) {
  const std::array<std::pair<int, const std::string*>, 5> codes = {{{kExitOk, &exits.ok},
                                                                    {kExitFailures, &exits.failures},
                                                                    {kExitUsage, &exits.usage},
                                                                    {kExitFatal, &exits.fatal},
                                                                    {kExitInterrupted, &exits.interrupted}}};
  // One code a line, aligned: run's meanings together are too long for one line of a terminal.
  std::string text = "Exit codes:";
  for (const auto& [code, meaning] : codes) {
    if (meaning->empty()) continue;
    std::string number = std::to_string(code);
    number.resize(5, ' ');
    text += "\n  " + number + *meaning;
  }
  return text;
}

void add_exit_codes_to_help(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands({})) {
    const std::string footer = sub->get_footer();
    sub->footer((footer.empty() ? "" : footer + "\n") + exit_codes_help(verb_exits(sub->get_name())));
  }
  const std::string footer = app.get_footer();
  app.footer((footer.empty() ? "" : footer + "\n") +
             "Exit codes: 0 ok, 1 the job finished with failures, 2 usage, 3 fatal, 130 interrupted; each verb's\n"
             "--help says which it returns and what they mean for it.");
}

}  // namespace batchwise
