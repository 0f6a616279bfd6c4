// batchwise: makes large LLM batch jobs fast and safe on the hardware a person has.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/flag_spelling.h"
#include "core/files.h"
#include "core/log.h"

namespace batchwise {
namespace {

bool looks_like_number(const std::string& s) {
  return s.size() > 1 && s[0] == '-' && (std::isdigit(static_cast<unsigned char>(s[1])) || s[1] == '.');
}

std::vector<std::string> known_flags(const CLI::App& app, const CLI::App* sub, const std::string& verb) {
  std::vector<std::string> known = extra_spellings(verb);
  for (const CLI::App* a : {&app, sub}) {
    if (a == nullptr) continue;
    for (const CLI::Option* opt : a->get_options()) {
      for (const auto& l : opt->get_lnames()) known.push_back("--" + l);
      for (const auto& s : opt->get_snames()) known.push_back("-" + s);
    }
  }
  return known;
}

// An unknown flag gets one line naming it and the closest known flag, instead of CLI11's list.
bool report_unknown_flags(const CLI::App& app, const std::vector<std::string>& args) {
  const std::string verb = verb_of(args);
  const CLI::App* sub = nullptr;
  try {
    if (!verb.empty()) sub = app.get_subcommand(verb);
  } catch (const CLI::OptionNotFound&) {
    return false;
  }
  const auto known = known_flags(app, sub, verb);
  bool any = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") break;
    if (!arg.starts_with("-") || arg == "-" || looks_like_number(arg)) continue;
    const std::string name = arg.substr(0, arg.find('='));
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    const std::string guess = closest_flag(name, known);
    std::fprintf(stderr, "error: batchwise %s: unknown flag `%s`%s (`batchwise %s --help` lists them)\n",
                 verb.c_str(), name.c_str(), guess.empty() ? "" : ("; did you mean `" + guess + "`?").c_str(),
                 verb.c_str());
    any = true;
  }
  return any;
}

}  // namespace
}  // namespace batchwise

int main(int argc, char** argv) {
  using namespace batchwise;
  CLI::App app{"batchwise: fast, durable LLM batch jobs on the hardware you have.\n"
               "Start with `batchwise run IN.jsonl -o OUT.jsonl` (embedded llama.cpp, a synthetic tiny model by\n"
               "default) or `batchwise plan --model llama-3.1-8b` to see what your hardware can do."};
  app.require_subcommand(1);
  // A verb passes flags it does not know to the app, so -v / -q work after the verb too.
  app.fallthrough();
  app.set_version_flag("--version", std::string(batchwise_version()));
  bool verbose = false;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbose, "more detail on stderr (engine logs, timings)");
  app.add_flag("-q,--quiet", quiet, "only errors on stderr (no progress, no summary)");

  // The verbs, in the order `--help` lists them.
  const std::vector<Verb> verbs = {
      add_probe_command(app),  add_plan_command(app),  add_tune_command(app),   add_run_command(app),
      add_serve_command(app),  add_report_command(app), add_merge_command(app), add_slurm_command(app),
      add_synth_command(app),  add_gen_workload_command(app),
  };
  add_exit_codes_to_help(app);
  RewrittenArgs rewritten = rewrite_flag_spellings(std::vector<std::string>(argv, argv + argc));
  std::vector<char*> cargs;
  for (auto& a : rewritten.args) cargs.push_back(a.data());
  try {
    app.parse(static_cast<int>(cargs.size()), cargs.data());
  } catch (const CLI::ExtrasError& e) {
    if (report_unknown_flags(app, rewritten.args)) return kExitUsage;
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  set_log_level(quiet ? LogLevel::kError : verbose ? LogLevel::kDebug : LogLevel::kInfo);
  for (const auto& note : rewritten.notes) log_warn(note);
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
