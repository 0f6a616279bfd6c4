#include "cli/flag_spelling.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace batchwise {
namespace {

struct Spelling {
  std::string_view verb;
  std::string_view from;
  std::string_view to;        // may be "NAME VALUE" (two arguments)
  std::string_view why;       // empty: an accepted alias; else the deprecation note's reason
};

// llama.cpp's names (common/arg.cpp) and the spellings batchwise used before it took them.
constexpr std::array kSpellings = {
    Spelling{"run", "-np", "--parallel", ""},
    Spelling{"run", "-ngl", "--n-gpu-layers", ""},
    Spelling{"run", "-ub", "--ubatch-size", ""},
    Spelling{"run", "-ctk", "--cache-type-k", ""},
    Spelling{"run", "-ctv", "--cache-type-v", ""},
    Spelling{"run", "-fa", "--flash-attn", ""},
    Spelling{"run", "-p", "--parallel", "llama.cpp's -p is the prompt"},
    Spelling{"run", "--ctx", "--ctx-size", "llama.cpp's name"},
    Spelling{"run", "--batch", "--batch-size", "llama.cpp's name"},
    Spelling{"run", "--ubatch", "--ubatch-size", "llama.cpp's name"},
    Spelling{"run", "--no-flash-attn", "--flash-attn off", "llama.cpp's name"},
    Spelling{"serve", "-np", "--parallel", ""},
    Spelling{"serve", "-ngl", "--n-gpu-layers", ""},
    Spelling{"serve", "-ub", "--ubatch-size", ""},
    Spelling{"serve", "-ctk", "--cache-type-k", ""},
    Spelling{"serve", "-ctv", "--cache-type-v", ""},
    Spelling{"serve", "-fa", "--flash-attn", ""},
    Spelling{"serve", "--ctx", "--ctx-size", "llama.cpp's name"},
    Spelling{"serve", "--batch", "--batch-size", "llama.cpp's name"},
    Spelling{"serve", "--ubatch", "--ubatch-size", "llama.cpp's name"},
    Spelling{"serve", "--no-flash-attn", "--flash-attn off", "llama.cpp's name"},
    Spelling{"plan", "-np", "--parallel", ""},
    Spelling{"plan", "-ub", "--ubatch-size", ""},
    Spelling{"plan", "--ubatch", "--ubatch-size", "llama.cpp's name"},
    Spelling{"plan", "-ctk", "--cache-type-k", ""},
    Spelling{"plan", "-ctv", "--cache-type-v", ""},
    Spelling{"plan", "-fa", "--flash-attn", ""},
};

bool is_flash_attn_value(std::string_view v) { return v == "on" || v == "off" || v == "auto"; }

}  // namespace

std::string verb_of(const std::vector<std::string>& args) {
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--") return "";
    if (!args[i].starts_with("-")) return args[i];
  }
  return "";
}

RewrittenArgs rewrite_flag_spellings(std::vector<std::string> args) {
  RewrittenArgs out;
  const std::string verb = verb_of(args);
  bool after_verb = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (i == 0 || !after_verb || arg == "--" || !arg.starts_with("-")) {
      if (i > 0 && arg == verb) after_verb = true;
      out.args.push_back(arg);
      if (arg == "--" && after_verb) {
        out.args.insert(out.args.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
        break;
      }
      continue;
    }
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const auto it = std::find_if(kSpellings.begin(), kSpellings.end(),
                                 [&](const Spelling& s) { return s.verb == verb && s.from == name; });
    if (it == kSpellings.end()) {
      out.args.push_back(arg);
      continue;
    }
    const std::string_view to = it->to;
    const size_t space = to.find(' ');
    const std::string new_name(to.substr(0, space));
    if (space != std::string_view::npos) {
      out.args.push_back(new_name);
      out.args.emplace_back(to.substr(space + 1));
    } else {
      out.args.push_back(eq == std::string::npos ? new_name : new_name + arg.substr(eq));
    }
    // llama.cpp's -fa takes on|off|auto; a bare -fa (its older form) means on.
    if (new_name == "--flash-attn" && space == std::string_view::npos && eq == std::string::npos &&
        (i + 1 >= args.size() || !is_flash_attn_value(args[i + 1]))) {
      out.args.emplace_back("on");
    }
    if (!it->why.empty()) {
      // Name llama.cpp's short spelling too where there is one: that is what the user will type next.
      std::string use = "`" + std::string(to) + "`";
      for (const auto& s : kSpellings) {
        if (s.verb == verb && s.to == to && s.why.empty()) use = "`" + std::string(s.from) + "` / " + use;
      }
      out.notes.push_back("`" + name + "` is deprecated, use " + use + " (" + std::string(it->why) + ")");
    }
  }
  return out;
}

std::vector<std::string> extra_spellings(const std::string& verb) {
  std::vector<std::string> out;
  for (const auto& s : kSpellings) {
    if (s.verb == verb && s.why.empty()) out.emplace_back(s.from);
  }
  return out;
}

std::string closest_flag(const std::string& unknown, const std::vector<std::string>& known) {
  const std::string_view u = std::string_view(unknown).substr(0, unknown.find('='));
  std::string best;
  size_t best_distance = std::string::npos;
  for (const auto& k : known) {
    // Levenshtein distance, one row at a time.
    std::vector<size_t> row(k.size() + 1);
    for (size_t j = 0; j <= k.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= u.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= k.size(); ++j) {
        const size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (u[i - 1] == k[j - 1] ? 0 : 1)});
        diagonal = up;
      }
    }
    if (row[k.size()] < best_distance) {
      best_distance = row[k.size()];
      best = k;
    }
  }
  // A third of the name may differ (at least 2 edits), more is a different flag, not a typo.
  const size_t allowed = std::max<size_t>(2, u.size() / 3);
  return best_distance <= allowed ? best : "";
}

}  // namespace batchwise
