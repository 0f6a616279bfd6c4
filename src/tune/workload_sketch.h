// WorkloadSketch: the shape of a batch JSONL file that decides which tune result applies to it,
// measured from the text without a tokenizer: prompt bytes per request (mean), the bytes every prompt
// shares at its start, and max_tokens (mean). Tokens are estimated at 4 bytes each and bucketed to
// powers of two, so two files of the same kind (another sample of the same rubric and candidates)
// share a cache entry and a file with twice the prompt or output does not. Reads at most
// `max_lines` lines. Pure apart from reading the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/status.h"

namespace batchwise {

struct WorkloadSketch {
  int64_t lines = 0;                 // requests read
  int64_t prompt_tokens = 0;         // estimated, mean per request
  int64_t shared_prefix_tokens = 0;  // estimated, common to every request read
  int64_t output_tokens = 0;         // mean max_tokens (or max_completion_tokens); 0 when none given
  bool embeddings = false;           // every request read is /v1/embeddings (plan models generation, not these)
  // "p512-s256-o32": the bucketed shape, the part of the cache key that is the workload.
  std::string bucket() const;
};

// Rounds to the nearest power of two in log scale (0 stays 0): 48 -> 64, 40 -> 32.
int64_t bucket_tokens(int64_t tokens);

Expected<WorkloadSketch> sketch_workload(const std::filesystem::path& jsonl, int64_t max_lines = 2000);

}  // namespace batchwise
