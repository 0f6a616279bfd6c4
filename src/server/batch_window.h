// Checks of a create-batch request's fields that need no state: the completion window and metadata.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/status.h"

namespace batchwise {

// "24h" as OpenAI takes it; as an extension also "90s", "30m", "2h" (1 s to 7 days). Seconds.
Expected<double> parse_completion_window(const std::string& text);

// OpenAI's rule: null, or an object of at most 16 string values, keys up to 64 and values up to 512 chars.
Status check_metadata(const nlohmann::json& metadata);

}  // namespace batchwise
