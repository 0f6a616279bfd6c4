#include "core/json_read.h"

namespace batchwise {
namespace {

Error type_error(std::string_view where, std::string_view key, std::string_view wanted) {
  return Error{ErrorCode::kInvalidArgument, std::string(where) + " `" + std::string(key) + "` must be " +
                                                std::string(wanted)};
}

}  // namespace

int json_nesting_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (c == ']' || c == '}') {
      if (depth > 0) --depth;
    }
  }
  return deepest;
}

std::optional<nlohmann::json> parse_json_bounded(std::string_view text, int max_depth) {
  if (json_nesting_depth(text, max_depth) > max_depth) return std::nullopt;
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

const nlohmann::json* json_field(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

Expected<std::string> json_string_or(const nlohmann::json& object, std::string_view key, std::string fallback,
                                     std::string_view where) {
  const nlohmann::json* v = json_field(object, key);
  if (!v || v->is_null()) return fallback;
  if (!v->is_string()) return std::unexpected(type_error(where, key, "a string"));
  return v->get<std::string>();
}

Expected<int64_t> json_int_or(const nlohmann::json& object, std::string_view key, int64_t fallback,
                              std::string_view where) {
  const nlohmann::json* v = json_field(object, key);
  if (!v || v->is_null()) return fallback;
  const auto i = json_as_int64(*v);
  if (!i) return std::unexpected(type_error(where, key, "an integer"));
  return *i;
}

Expected<bool> json_bool_or(const nlohmann::json& object, std::string_view key, bool fallback, std::string_view where) {
  const nlohmann::json* v = json_field(object, key);
  if (!v || v->is_null()) return fallback;
  if (!v->is_boolean()) return std::unexpected(type_error(where, key, "true or false"));
  return v->get<bool>();
}

std::optional<int64_t> json_as_int64(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    const auto u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  return std::nullopt;
}

std::string json_dump(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace batchwise
