// The verbs of the command line. Each verb file adds its subcommand and flags to the app and
// returns the function that runs it once the flags are parsed. What each verb's exit codes mean:
// exit_codes.h.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <utility>

#include "cli/exit_codes.h"
#include "core/status.h"

namespace batchwise {

using RunFn = std::function<int()>;
using Verb = std::pair<CLI::App*, RunFn>;

Verb add_probe_command(CLI::App& app);
Verb add_plan_command(CLI::App& app);
Verb add_synth_command(CLI::App& app);
Verb add_run_command(CLI::App& app);
Verb add_report_command(CLI::App& app);
Verb add_gen_workload_command(CLI::App& app);
Verb add_serve_command(CLI::App& app);
Verb add_merge_command(CLI::App& app);
Verb add_slurm_command(CLI::App& app);
Verb add_tune_command(CLI::App& app);

// Prints one clear line for an error and returns the exit code for it.
int report_error(const Error& error);

}  // namespace batchwise
