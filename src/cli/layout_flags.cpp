#include "cli/layout_flags.h"

namespace batchwise {

CLI::Option* add_parallel_option(CLI::App& sub, int& parallel, const std::string& default_text) {
  return sub.add_option("--parallel", parallel, "(-np) sequences decoded together, over all lanes (252 per lane); " + default_text)
      ->check(CLI::Range(1, kMaxParallel));
}

CLI::Option* add_lanes_option(CLI::App& sub, int& lanes, const std::string& default_text) {
  return sub.add_option("--lanes", lanes,
                        "llama.cpp contexts over the one model, each with its own thread, c/L KV cells, np/L sequences "
                        "(+4 prefix slots) and compute buffer; on a GPU one lane's CPU work (graph, attention mask, token "
                        "choice) overlaps another's GPU work; " + default_text)
      ->check(CLI::Range(0, kMaxLanes));
}

}  // namespace batchwise
