// Exit codes: what each verb's exit status means, in one table, and the line every verb's --help ends
// with. The convention (docs/ARCHITECTURE.md): 0 ok, 1 the job finished with failures, 2 usage (a bad
// flag or refused input), 3 fatal, 130 interrupted; a verb lists only the codes it can return, each
// with what it means for that verb, so a script can tell "done, some failed" from "never ran".
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>

namespace batchwise {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailures = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitFatal = 3;
inline constexpr int kExitInterrupted = 130;

// What each status means for one verb; an empty meaning is a status the verb never returns. 2 and 3
// apply to every verb (a bad flag; an unexpected error ends in main's boundary with exit 3).
struct VerbExits {
  std::string ok;
  std::string failures;     // 1
  std::string usage;        // 2
  std::string fatal;        // 3
  std::string interrupted;  // 130: only verbs that catch Ctrl-C and stop cleanly
};

// The exits of `verb` ("run", "merge", ...); a verb missing from the table gets the plain 0/2/3.
VerbExits verb_exits(std::string_view verb);

// "Exit codes:" and one line per code the verb returns, in the order of the codes.
std::string exit_codes_help(const VerbExits& exits);

// Ends every subcommand's --help with its exit codes, and the app's with the convention: called once,
// after the verbs are added, so no verb can be left out.
void add_exit_codes_to_help(CLI::App& app);

}  // namespace batchwise
