#include "job/shard.h"

#include <algorithm>
#include <charconv>

#include "core/files.h"
#include "job/batch_input.h"

namespace batchwise {
namespace {

std::optional<int64_t> parse_count(std::string_view text) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

Expected<Shard> parse_shard(std::string_view text) {
  const std::string shown = "--shard " + std::string(text);
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument, shown + ": write it as I/N, e.g. 0/4 for the first of four shards");
  }
  const auto index = parse_count(text.substr(0, slash));
  const auto count = parse_count(text.substr(slash + 1));
  if (!index || !count) {
    return make_error(ErrorCode::kInvalidArgument, shown + ": I and N must be whole numbers, e.g. 0/4");
  }
  if (*count < 1 || *count > kMaxShards) {
    return make_error(ErrorCode::kInvalidArgument,
                      shown + ": N must be from 1 to " + std::to_string(kMaxShards));
  }
  if (*index < 0 || *index >= *count) {
    return make_error(ErrorCode::kInvalidArgument,
                      shown + ": I counts from 0 and must be below N (0 to " + std::to_string(*count - 1) + ")");
  }
  return Shard{*index, *count};
}

std::string shard_name(const Shard& shard) {
  return std::to_string(shard.index) + "/" + std::to_string(shard.count);
}

int64_t shard_of(std::string_view custom_id, int64_t count) {
  if (count <= 1 || custom_id.empty()) return 0;
  return static_cast<int64_t>(fnv1a64(custom_id) % static_cast<uint64_t>(count));
}

void keep_shard(BatchInput& input, const Shard& shard) {
  if (!shard.sharded()) return;
  std::erase_if(input.requests, [&](const InputLine& l) { return shard_of(l.custom_id, shard.count) != shard.index; });
  std::erase_if(input.errors, [&](const LineError& e) { return shard_of(e.custom_id, shard.count) != shard.index; });
}

std::filesystem::path shard_output_path(const std::filesystem::path& output, const Shard& shard) {
  if (!shard.sharded()) return output;
  std::string s = output.string();
  if (s.ends_with(".jsonl")) s.resize(s.size() - 6);
  return s + ".shard-" + std::to_string(shard.index) + "-of-" + std::to_string(shard.count) + ".jsonl";
}

}  // namespace batchwise
