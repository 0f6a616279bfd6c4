#include "cli/command.h"

namespace batchwise {

Verb add_run_command(CLI::App& app) {
  auto* sub = app.add_subcommand("run", "(not built yet)");
  return {sub, [] { return kExitUsage; }};
}

}  // namespace batchwise
