// Flag spellings: lets a person type run's and plan's flags as llama.cpp spells them.
//
// CLI11 cannot declare multi-letter short flags (llama.cpp's -np, -ngl, -ub, -fa, -ctk, -ctv), and a
// renamed flag must keep working for scripts that use the old name. So before CLI11 parses, the
// command line is rewritten: llama.cpp's short names become their long names, old spellings become
// the current ones and leave a deprecation note for stderr. Only the flags of the verb on the
// command line are rewritten, only before a `--`. Pure functions, no state.
#pragma once

#include <string>
#include <vector>

namespace batchwise {

struct RewrittenArgs {
  std::vector<std::string> args;    // argv[0] included
  std::vector<std::string> notes;   // one per deprecated spelling used, for stderr
};

// `args` is the whole command line (argv[0] first).
RewrittenArgs rewrite_flag_spellings(std::vector<std::string> args);

// The verb of a command line: its first argument that is not a flag ("" if none).
std::string verb_of(const std::vector<std::string>& args);

// Spellings that rewrite_flag_spellings accepts for `verb` besides CLI11's own names (for did-you-mean).
std::vector<std::string> extra_spellings(const std::string& verb);

// The known flag closest to `unknown` by edit distance, or "" when none is close enough to be
// a plausible typo.
std::string closest_flag(const std::string& unknown, const std::vector<std::string>& known);

}  // namespace batchwise
