// Workload generators (DESIGN.md "Workloads"): batch JSONL files anyone can re-create from the
// same seed, for tests and benchmarks.
//   seed: one shared ~2,000-token rubric + a unique ~50-token candidate per request, short output.
//   chat: independent prompts of log-normal lengths, no sharing.
//   long: few long-context requests.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"

namespace batchwise {

enum class WorkloadKind { kSeed, kChat, kLong };

Expected<WorkloadKind> parse_workload_kind(std::string_view name);

struct WorkloadOptions {
  WorkloadKind kind = WorkloadKind::kSeed;
  int64_t count = 1000;
  uint64_t seed = 1;
  int64_t prefix_tokens = 2000;  // seed: shared rubric length (approximate, in Llama-3 tokens)
  int64_t unique_tokens = 50;    // seed: per-request candidate length
  int64_t output_tokens = 32;    // seed: max_tokens
  bool ignore_eos = false;       // ask for exactly max_tokens (benchmarks)
  std::string model = "batchwise-default";
};

Status write_workload(const WorkloadOptions& options, const std::filesystem::path& path);

// Deterministic English-looking text of about `tokens` Llama-3 tokens.
std::string synthetic_text(uint64_t& rng_state, int64_t tokens);

}  // namespace batchwise
