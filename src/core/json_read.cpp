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

namespace {

// Skips a JSON string starting at text[i] == '"'; returns the index after its closing quote.
size_t skip_string(std::string_view text, size_t i) {
  for (++i; i < text.size(); ++i) {
    if (text[i] == '\\') ++i;
    else if (text[i] == '"') return i + 1;
  }
  return text.size();
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Skips one JSON value starting at text[i]; returns the index after it.
size_t skip_value(std::string_view text, size_t i) {
  if (i >= text.size()) return i;
  if (text[i] == '"') return skip_string(text, i);
  if (text[i] == '{' || text[i] == '[') {
    int depth = 0;
    for (; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '"') {
        i = skip_string(text, i) - 1;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if ((c == '}' || c == ']') && --depth == 0) {
        return i + 1;
      }
    }
    return i;
  }
  while (i < text.size() && text[i] != ',' && text[i] != '}' && text[i] != ']' && !is_space(text[i])) ++i;
  return i;
}

}  // namespace

std::pair<size_t, size_t> json_top_level_value_span(std::string_view text, std::string_view key) {
  std::pair<size_t, size_t> found{0, 0};
  size_t i = 0;
  while (i < text.size() && is_space(text[i])) ++i;
  if (i >= text.size() || text[i] != '{') return found;
  ++i;
  while (i < text.size()) {
    while (i < text.size() && (is_space(text[i]) || text[i] == ',')) ++i;
    if (i >= text.size() || text[i] != '"') break;
    const size_t key_end = skip_string(text, i);
    const std::string_view k = text.substr(i + 1, key_end - i - 2);
    i = key_end;
    while (i < text.size() && (is_space(text[i]) || text[i] == ':')) ++i;
    const size_t value_end = skip_value(text, i);
    if (k == key) found = {i, value_end - i};
    i = value_end;
  }
  return found;
}

}  // namespace batchwise
