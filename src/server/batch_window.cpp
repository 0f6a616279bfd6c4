#include "server/batch_window.h"

#include <charconv>

namespace batchwise {

Expected<double> parse_completion_window(const std::string& text) {
  const auto bad = [&] {
    return make_error(ErrorCode::kInvalidArgument,
                      "field `completion_window` must be \"24h\" (or a duration such as \"90s\", \"30m\", \"2h\"; "
                      "got \"" + text.substr(0, 32) + "\")");
  };
  if (text.size() < 2) return bad();
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, n);
  if (ec != std::errc() || end != text.data() + text.size() - 1 || n <= 0) return bad();
  const char unit = text.back();
  const double scale = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 0;
  if (scale == 0 || static_cast<double>(n) * scale > 7 * 86400.0) return bad();
  return static_cast<double>(n) * scale;
}

Status check_metadata(const nlohmann::json& metadata) {
  if (metadata.is_null()) return {};
  if (!metadata.is_object() || metadata.size() > 16) {
    return make_error(ErrorCode::kInvalidArgument, "field `metadata` must be an object of at most 16 string values");
  }
  for (const auto& [key, value] : metadata.items()) {
    if (key.size() > 64 || !value.is_string() || value.get_ref<const std::string&>().size() > 512) {
      return make_error(ErrorCode::kInvalidArgument, "metadata `" + key.substr(0, 64) +
                                                         "`: keys are up to 64 characters, values strings up to 512");
    }
  }
  return {};
}

}  // namespace batchwise
