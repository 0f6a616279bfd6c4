// merge_shards: joins the shards of one job (`run --shard I/N` on many machines) into the output
// and error files one `run` of the whole input would have written, in input line order. It writes
// nothing unless every shard of the one input is there and finished and every input line and
// custom_id is in exactly one shard; then both files are written atomically (temp file + rename).
// It reads the shards' states, not their output files: the state holds each result exactly once
// under its line, and says which input and which shard it is.
//
// Memory: the custom_ids of the whole job (to find one in two shards) and a page of results per
// shard; the results themselves stream through.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "core/status.h"

namespace batchwise {

struct MergeOptions {
  std::vector<std::filesystem::path> states;  // every shard's state database
  std::filesystem::path output;
  std::filesystem::path errors;               // empty: OUT.errors.jsonl
  int64_t shards = 0;                         // N the job must have; 0: what the states say
};

struct MergeOutcome {
  int64_t shards = 0;
  int64_t ok = 0;
  int64_t failed = 0;
  std::filesystem::path output;
  std::filesystem::path errors;
};

// Errors: kNotFound for a missing shard, kInvalidArgument for an unfinished or foreign shard, kCorrupt
// for a line or custom_id found in two shards; each message names the shard and what to do.
Expected<MergeOutcome> merge_shards(const MergeOptions& options);

}  // namespace batchwise
