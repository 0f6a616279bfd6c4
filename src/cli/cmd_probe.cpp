// `batchwise probe`: what hardware is here (GPUs through NVML, CPU, RAM). No GPU is not an error.
#include <cstdio>
#include <memory>

#include "cli/command.h"
#include "hardware/probe_report.h"

namespace batchwise {

Verb add_probe_command(CLI::App& app) {
  auto json = std::make_shared<bool>(false);
  auto* sub = app.add_subcommand("probe", "show the GPUs (NVML), CPU and RAM a plan would use");
  sub->add_flag("--json", *json, "print as JSON (every figure named with its unit)");
  return {sub, [json] {
            const ProbeReport report = probe_hardware();
            std::printf("%s\n", (*json ? probe_to_json(report) : probe_to_text(report)).c_str());
            return kExitOk;
          }};
}

}  // namespace batchwise
