// `plan --all`: one row per model (the catalogue's presets, or every GGUF in a folder) on the same
// hardware and workload, as seed 000's BatchOptimizer prints them: recommended/max/safe batch, the
// context a request may hold (max at batch 1, at the recommended batch, at the safe batch with 15%
// free) and the recommended batch's throughput. Every figure is the single `plan`'s for that model.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "plan/plan.h"

namespace batchwise {

struct PlanRow {
  std::string model;         // as given to make_plan (preset name or file path)
  Expected<Plan> plan;       // an error (e.g. an unreadable GGUF) is a row, not the end of the table
};

std::string plan_table_text(const std::vector<PlanRow>& rows);
std::string plan_table_json(const std::vector<PlanRow>& rows);

}  // namespace batchwise
