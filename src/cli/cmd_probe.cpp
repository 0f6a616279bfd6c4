#include "cli/command.h"

namespace batchwise {

Verb add_probe_command(CLI::App& app) {
  auto* sub = app.add_subcommand("probe", "(not built yet)");
  return {sub, [] { return kExitUsage; }};
}

}  // namespace batchwise
