// batchwise: makes large LLM batch jobs fast and safe on the hardware a person has.
#include <CLI/CLI.hpp>
#include <exception>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/files.h"
#include "core/log.h"

int main(int argc, char** argv) {
  using namespace batchwise;
  CLI::App app{"batchwise: fast, durable LLM batch jobs on the hardware you have.\n"
               "Start with `batchwise run IN.jsonl -o OUT.jsonl` (embedded llama.cpp, a synthetic tiny model by\n"
               "default) or `batchwise plan --model llama-3.1-8b` to see what your hardware can do."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(batchwise_version()));
  bool verbose = false;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbose, "more detail on stderr (engine logs, timings)");
  app.add_flag("-q,--quiet", quiet, "only errors on stderr");

  // The verbs, in the order `--help` lists them.
  const std::vector<Verb> verbs = {
      add_probe_command(app), add_plan_command(app),         add_run_command(app),
      add_report_command(app), add_synth_command(app), add_gen_workload_command(app),
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  set_log_level(quiet ? LogLevel::kError : verbose ? LogLevel::kDebug : LogLevel::kInfo);
  // The process's last boundary: an exception no module caught is a bug, but it must end in one clear
  // line and exit 3 (the state stays resumable), not in std::terminate's abort and a core dump.
  try {
    for (const auto& [sub, run] : verbs) {
      if (sub->parsed()) return run();
    }
  } catch (const std::exception& e) {
    return report_error({ErrorCode::kInternal, std::string("unexpected error (a bug; please report it): ") + e.what()});
  } catch (...) {
    return report_error({ErrorCode::kInternal, "unexpected error (a bug; please report it)"});
  }
  return kExitUsage;
}
