#include "server/api_object.h"

#include <string_view>

namespace batchwise {
namespace {

// Fields that start with this are the server's own and never shown to a client.
constexpr std::string_view kPrivatePrefix = "batchwise_";

}  // namespace

nlohmann::json public_view(nlohmann::json doc) {
  for (auto it = doc.begin(); it != doc.end();) {
    if (std::string_view(it.key()).starts_with(kPrivatePrefix)) {
      it = doc.erase(it);
    } else {
      ++it;
    }
  }
  return doc;
}

nlohmann::json list_object(std::vector<nlohmann::json> items, size_t limit) {
  const bool has_more = items.size() > limit;
  if (has_more) items.resize(limit);
  nlohmann::json data = nlohmann::json::array();
  for (auto& d : items) data.push_back(public_view(std::move(d)));
  return {{"object", "list"},
          {"data", data},
          {"first_id", data.empty() ? nlohmann::json() : data.front()["id"]},
          {"last_id", data.empty() ? nlohmann::json() : data.back()["id"]},
          {"has_more", has_more}};
}

Error not_found(const std::string& what, const std::string& id) {
  return Error{ErrorCode::kNotFound, "no " + what + " with id `" + id + "`"};
}

}  // namespace batchwise
