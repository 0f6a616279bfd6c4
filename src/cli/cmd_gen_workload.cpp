#include "cli/command.h"

namespace batchwise {

Verb add_gen_workload_command(CLI::App& app) {
  auto* sub = app.add_subcommand("gen-workload", "(not built yet)");
  return {sub, [] { return kExitUsage; }};
}

}  // namespace batchwise
