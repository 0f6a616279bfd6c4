#include "cli/command.h"

namespace batchwise {

Verb add_synth_command(CLI::App& app) {
  auto* sub = app.add_subcommand("synth", "(not built yet)");
  return {sub, [] { return kExitUsage; }};
}

}  // namespace batchwise
