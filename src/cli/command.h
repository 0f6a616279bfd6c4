// The verbs of the command line. Each verb file adds its subcommand and flags to the app and
// returns the function that runs it once the flags are parsed. Exit codes: 0 ok, 1 job finished
// with failures, 2 usage, 3 fatal, 130 interrupted.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <utility>

#include "core/status.h"

namespace batchwise {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailures = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitFatal = 3;
inline constexpr int kExitInterrupted = 130;

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
