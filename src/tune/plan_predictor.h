// PlanPredictor: what `plan` predicts for one of tune's trials, at the trial's own settings: its total
// sequences, lanes and KV cells, the ubatch, KV types and flash attention of --run-flags, and the
// workload's token counts (the sketch's byte estimate at first; once a trial ran, the tokens its
// report counted with the model's tokenizer and chat template). Uncalibrated, so that measured /
// predicted is the calibration. Pure apart from reading the model's header once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "plan/plan.h"
#include "tune/trial.h"

namespace batchwise {

class PlanPredictor {
 public:
  // nullopt (with a warning) when plan cannot read the model.
  static std::optional<PlanPredictor> make(const std::filesystem::path& model, const WorkloadShape& workload,
                                           const std::vector<std::string>& run_args);
  int64_t recommended() const { return plan_.recommendation.recommended.batch; }
  const WorkloadShape& workload() const { return plan_.input.workload; }
  // The memory tune measures: the device's (a GPU's), or on the CPU the process's (device + host).
  int64_t memory_bytes(int64_t total, int lanes, std::optional<int64_t> ctx_tokens) const;
  double requests_per_s(int64_t total, int lanes, std::optional<int64_t> ctx_tokens) const;
  // Bytes one more lane costs besides its sequences at `per_lane` sequences (compute buffer, prefix cells).
  double bytes_per_lane(int64_t per_lane) const;

 private:
  explicit PlanPredictor(Plan p) : plan_(std::move(p)) {}
  BatchChoice at(int64_t total, int lanes, std::optional<int64_t> ctx_tokens) const;
  Plan plan_;
};

// The settings of `batchwise run` flags that plan's figures depend on (-ub, -ctk/-ctv/--kv-type, -fa, --attention).
void apply_run_flags(const std::vector<std::string>& run_args, PlanRequest& request);

// The workload as a trial's report counted it: prompt, shared-prefix and output tokens per request, from
// the tokens submitted, evaluated (the shared prefix once) and generated over `items` requests.
std::optional<WorkloadShape> workload_from_trial(const Trial& t);

}  // namespace batchwise
