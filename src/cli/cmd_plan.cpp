#include "cli/command.h"

namespace batchwise {

Verb add_plan_command(CLI::App& app) {
  auto* sub = app.add_subcommand("plan", "(not built yet)");
  return {sub, [] { return kExitUsage; }};
}

}  // namespace batchwise
