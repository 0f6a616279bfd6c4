// The shape of a batch job that a plan is made for: prompt tokens per request, how many of them are a
// prefix every request shares (a rubric, a system prompt), and output tokens. Presets: seed (2,000
// shared + ~50 unique prompt tokens, 32 out), chat (~500 in / ~250 out, no sharing), long (~8,000 in /
// ~500 out).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace batchwise {

struct WorkloadShape {
  std::string name;
  int64_t prompt_tokens = 0;         // all prompt tokens of one request, the shared prefix included
  int64_t shared_prefix_tokens = 0;  // prompt tokens identical across requests
  int64_t output_tokens = 0;

  int64_t unique_prompt_tokens() const { return prompt_tokens - shared_prefix_tokens; }
  // Context one request occupies at its end: prompt + output.
  int64_t request_context_tokens() const { return prompt_tokens + output_tokens; }
  // KV cells `batch` concurrent requests need when the shared prefix's cells are shared (or not).
  int64_t kv_cells_for_batch(int64_t batch, bool share_prefix) const;
};

Expected<WorkloadShape> workload_preset(std::string_view name);

// Checks 0 <= shared <= prompt, prompt + output > 0.
Status validate_workload(const WorkloadShape& w);

}  // namespace batchwise
