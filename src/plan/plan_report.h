// A plan written out: JSON for programs (every figure named with its unit: `_bytes`, `_s`,
// `_tokens_per_s`, `_tokens`) and a table for people.
#pragma once

#include <string>

#include "plan/plan.h"

namespace batchwise {

std::string plan_to_json(const Plan& plan);
std::string plan_to_text(const Plan& plan);

}  // namespace batchwise
