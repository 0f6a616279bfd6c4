// The OpenAI-shaped objects the Files and Batches APIs return: a stored document as a client sees it, a page of
// them as a list object, and the not-found error.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"

namespace batchwise {

// The document without the server's own fields (those whose names start with `batchwise_`).
nlohmann::json public_view(nlohmann::json doc);
// OpenAI's list object of the first `limit` of `items` (asked for one more, to tell has_more), each public_view'ed.
nlohmann::json list_object(std::vector<nlohmann::json> items, size_t limit);
Error not_found(const std::string& what, const std::string& id);  // "no file with id `x`"

}  // namespace batchwise
