// Reading untrusted JSON (batch lines, request bodies, server answers, config files) without
// exceptions: nlohmann's value()/get<T>() throw type_error when a field has another type than the
// one asked for, and on a worker thread that is std::terminate for the whole job. Every helper
// here checks the type first and says what was wrong as a value. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace batchwise {

// Nesting deeper than this is refused where a batch line is read: nlohmann's dump, copy and
// comparison recurse once per level, so 70,000 nested arrays overflow a thread's stack.
inline constexpr int kMaxJsonDepth = 128;

// The deepest nesting of arrays and objects in `text` (strings skipped), counted without parsing, so
// a hostile line is measured before anything recursive sees it. Stops counting past `limit` + 1.
int json_nesting_depth(std::string_view text, int limit = kMaxJsonDepth);

// Parses `text`; nullopt when it is not JSON or nests deeper than `max_depth`.
std::optional<nlohmann::json> parse_json_bounded(std::string_view text, int max_depth = kMaxJsonDepth);

// object[key] when `object` is an object holding it, else nullptr (no insertion, no exception).
const nlohmann::json* json_field(const nlohmann::json& object, std::string_view key);

// object[key] as a string / integer / bool, or `fallback` when absent or null; an error naming the
// key when present with another type (`where` prefixes the message, e.g. "body field").
Expected<std::string> json_string_or(const nlohmann::json& object, std::string_view key, std::string fallback,
                                     std::string_view where = "field");
Expected<int64_t> json_int_or(const nlohmann::json& object, std::string_view key, int64_t fallback,
                              std::string_view where = "field");
Expected<bool> json_bool_or(const nlohmann::json& object, std::string_view key, bool fallback,
                            std::string_view where = "field");

// An integer that fits int64 (a uint64 above INT64_MAX or a float is nullopt).
std::optional<int64_t> json_as_int64(const nlohmann::json& value);

// Where the value of top-level `key` lies in the JSON object `text` (the last one, as a parser keeps
// the last of duplicate keys), found by skipping strings and brackets, not by parsing: {offset,
// length}; {0, 0} when absent. `text` must be valid JSON (checked before by a parser).
std::pair<size_t, size_t> json_top_level_value_span(std::string_view text, std::string_view key);

// dump() that never throws: invalid UTF-8 is replaced.
std::string json_dump(const nlohmann::json& value);

}  // namespace batchwise
