#include "plan/workload_shape.h"

namespace batchwise {

int64_t WorkloadShape::kv_cells_for_batch(int64_t batch, bool share_prefix) const {
  if (share_prefix) return shared_prefix_tokens + batch * (unique_prompt_tokens() + output_tokens);
  return batch * request_context_tokens();
}

Expected<WorkloadShape> workload_preset(std::string_view name) {
  if (name == "seed") return WorkloadShape{"seed", 2050, 2000, 32};
  if (name == "chat") return WorkloadShape{"chat", 500, 0, 250};
  if (name == "long") return WorkloadShape{"long", 8000, 0, 500};
  return make_error(ErrorCode::kInvalidArgument,
                    "unknown workload `" + std::string(name) + "`: use seed, chat or long (or --prompt-tokens/--output-tokens)");
}

Status validate_workload(const WorkloadShape& w) {
  if (w.prompt_tokens < 0 || w.output_tokens < 0 || w.prompt_tokens + w.output_tokens <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "a workload needs prompt + output tokens > 0");
  }
  if (w.shared_prefix_tokens < 0 || w.shared_prefix_tokens > w.prompt_tokens) {
    return make_error(ErrorCode::kInvalidArgument, "--shared-prefix (" + std::to_string(w.shared_prefix_tokens) +
                                                       ") must be between 0 and --prompt-tokens (" +
                                                       std::to_string(w.prompt_tokens) + ")");
  }
  return {};
}

}  // namespace batchwise
