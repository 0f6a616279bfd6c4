// Shard: which part of a batch input one process takes when a job is spread over many machines
// (`run --shard I/N`, a Slurm array task, a Kubernetes Indexed Job pod). A line belongs to shard
// FNV-1a-64(UTF-8 bytes of its custom_id) mod N: the same on every machine and in every version of
// batchwise (docs/scale-out.md writes the function down), so N processes that never talk to each
// other take every line exactly once between them. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"

namespace batchwise {

struct BatchInput;

struct Shard {
  int64_t index = 0;  // 0-based, < count
  int64_t count = 1;  // 1: the whole input, not sharded

  bool sharded() const { return count > 1; }
  bool operator==(const Shard&) const = default;
};

// The most shards a job may have: more than any cluster has tasks, few enough to name in a file.
inline constexpr int64_t kMaxShards = 100000;

// "I/N" -> {I, N}; the error names what is wrong ("--shard 4/4: I must be below N").
Expected<Shard> parse_shard(std::string_view text);
std::string shard_name(const Shard& shard);  // "2/4"

// The shard a custom_id belongs to among `count`. A line without a custom_id (an invalid line)
// belongs to shard 0, so it is reported exactly once.
int64_t shard_of(std::string_view custom_id, int64_t count);

// Keeps the requests and invalid lines of `shard` and drops the rest (total_lines keeps the whole
// input's count, for merge to check the shards cover it).
void keep_shard(BatchInput& input, const Shard& shard);

// OUT.jsonl -> OUT.shard-I-of-N.jsonl (unchanged when not sharded).
std::filesystem::path shard_output_path(const std::filesystem::path& output, const Shard& shard);

}  // namespace batchwise
