#include "job/shard_set.h"

#include <algorithm>
#include <optional>

namespace batchwise {
namespace {

constexpr std::string_view kShardMark = ".shard-";
constexpr std::string_view kStateSuffix = ".state.db";

// OUT.shard-2-of-4.state.db -> OUT.jsonl; nullopt for a name of another form.
std::optional<std::filesystem::path> output_of_state(const std::filesystem::path& state) {
  const std::string name = state.filename().string();
  const size_t mark = name.rfind(kShardMark);
  if (mark == std::string::npos || !name.ends_with(kStateSuffix)) return std::nullopt;
  return state.parent_path() / (name.substr(0, mark) + ".jsonl");
}

std::string describe(const ShardState& s) { return "shard " + shard_name(s.meta.shard) + " (" + s.path.string() + ")"; }

}  // namespace

std::vector<std::filesystem::path> find_shard_states(const std::filesystem::path& output, int64_t count) {
  std::string stem = output.filename().string();
  if (stem.ends_with(".jsonl")) stem.resize(stem.size() - 6);
  const std::string prefix = stem + std::string(kShardMark);
  const std::string suffix = (count > 0 ? "-of-" + std::to_string(count) : std::string()) + std::string(kStateSuffix);
  std::filesystem::path dir = output.parent_path();
  if (dir.empty()) dir = ".";
  std::vector<std::filesystem::path> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(prefix) && name.ends_with(suffix) && name.find("-of-") != std::string::npos) {
      found.push_back(entry.path());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

Expected<ShardSet> open_shard_set(const std::vector<std::filesystem::path>& states) {
  if (states.empty()) return make_error(ErrorCode::kNotFound, "no shard states given");
  ShardSet set;
  for (const auto& path : states) {
    if (!std::filesystem::exists(path)) {
      return make_error(ErrorCode::kNotFound, path.string() + " does not exist");
    }
    ShardState s;
    s.path = path;
    BW_ASSIGN_OR_RETURN(s.store, JobStore::open(path));
    BW_ASSIGN_OR_RETURN(std::optional<JobMeta> meta, s.store->job());
    if (!meta) {
      set.starting.push_back(path);
      continue;
    }
    s.meta = *meta;
    s.lines = s.meta.requests + s.meta.invalid_lines;
    BW_ASSIGN_OR_RETURN(std::unordered_set<int64_t> finished, s.store->finished_lines());
    s.finished = static_cast<int64_t>(finished.size());
    set.shards.push_back(std::move(s));
  }
  if (set.shards.empty()) {
    return make_error(ErrorCode::kNotFound, set.starting.front().string() +
                                                " holds no job yet (its run is starting, or never started)");
  }
  std::sort(set.shards.begin(), set.shards.end(),
            [](const ShardState& a, const ShardState& b) { return a.meta.shard.index < b.meta.shard.index; });
  const ShardState& first = set.shards.front();
  set.count = first.meta.shard.count;
  set.input_path = first.meta.input_path;
  set.input_hash = first.meta.input_hash;
  set.input_lines = first.meta.input_lines;
  if (auto out = output_of_state(first.path)) set.output = *out;
  for (size_t i = 0; i < set.shards.size(); ++i) {
    const ShardState& s = set.shards[i];
    if (!s.meta.shard.sharded() && set.shards.size() > 1) {
      return make_error(ErrorCode::kInvalidArgument,
                        s.path.string() + " is the state of a whole job, not of a shard (`run --shard I/N`): "
                                          "leave it out");
    }
    if (s.meta.input_hash != set.input_hash) {
      return make_error(ErrorCode::kInvalidArgument,
                        describe(s) + " ran on another input (" + s.meta.input_path + ", hash " + s.meta.input_hash +
                            ") than " + describe(first) + ", which ran on " + set.input_path + " (hash " +
                            set.input_hash + "): every shard must run on the same file; run that shard again on it with --restart, "
                            "or leave the foreign state out");
    }
    if (s.meta.shard.count != set.count) {
      return make_error(ErrorCode::kInvalidArgument,
                        describe(s) + " splits the input in " + std::to_string(s.meta.shard.count) + ", " +
                            describe(first) + " in " + std::to_string(set.count) +
                            ": every shard of a job must use the same N");
    }
    if (i > 0 && s.meta.shard.index == set.shards[i - 1].meta.shard.index) {
      return make_error(ErrorCode::kInvalidArgument, "shard " + shard_name(s.meta.shard) + " is given twice: " +
                                                         set.shards[i - 1].path.string() + " and " + s.path.string() +
                                                         ": keep one");
    }
  }
  for (int64_t index = 0, next = 0; index < set.count; ++index) {
    if (next < static_cast<int64_t>(set.shards.size()) && set.shards[next].meta.shard.index == index) {
      ++next;
    } else {
      set.missing.push_back(index);
    }
  }
  return set;
}

const std::filesystem::path* starting_state(const ShardSet& set, int64_t index) {
  const std::string name = ".shard-" + std::to_string(index) + "-of-" + std::to_string(set.count) + ".state.db";
  for (const auto& p : set.starting) {
    if (p.filename().string().ends_with(name)) return &p;
  }
  return nullptr;
}

std::string shard_run_hint(const ShardSet& set, int64_t index) {
  const std::string out = set.output.empty() ? std::string("OUT.jsonl") : set.output.string();
  return "batchwise run " + set.input_path + " -o " + out + " --shard " + shard_name({index, set.count});
}

}  // namespace batchwise
