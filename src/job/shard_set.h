// ShardSet: the states of one job that ran as shards (`run --shard I/N` on many machines), opened
// together and checked to belong together: one input (its hash) and one N, no shard twice. What is
// missing or unfinished is kept as data, not an error: `report` shows the progress of a job whose
// shards still run, `merge` refuses it and names what to run.
//
// Threads: one thread uses a ShardSet (each JobStore has its own writer thread, idle here).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "job/job_store.h"
#include "job/shard.h"

namespace batchwise {

struct ShardState {
  std::filesystem::path path;
  std::unique_ptr<JobStore> store;
  JobMeta meta;
  int64_t lines = 0;     // this shard's lines: requests and invalid lines
  int64_t finished = 0;  // of them, with a committed result (ok or failed)
  bool complete() const { return finished >= lines; }
};

struct ShardSet {
  int64_t count = 0;                  // N
  std::string input_path;             // as the first state recorded it
  std::filesystem::path output;       // OUT, when the states have their default names, else empty
  std::string input_hash;
  int64_t input_lines = 0;            // the whole input's lines, every shard's
  std::vector<ShardState> shards;     // in shard order
  std::vector<int64_t> missing;       // indexes below N with no state given, or only a starting one
  // States that hold no job yet: their run has created the file and not yet recorded its job (it is starting).
  std::vector<std::filesystem::path> starting;
};

// OUT.shard-*-of-*.state.db beside OUT (the default state of each `run -o OUT --shard I/N`), sorted;
// with `count` > 0 only OUT.shard-*-of-<count>.state.db.
std::vector<std::filesystem::path> find_shard_states(const std::filesystem::path& output, int64_t count = 0);

// Opens every state. Refuses, naming the file and what to do: no state that holds a job (a state without one
// is a run starting: kept in `starting`, its shard missing), a state that is not a shard, states of different
// inputs or different N, the same shard twice.
Expected<ShardSet> open_shard_set(const std::vector<std::filesystem::path>& states);

// The starting state of shard `index` (its default name, OUT.shard-I-of-N.state.db), or nullptr.
const std::filesystem::path* starting_state(const ShardSet& set, int64_t index);

// What to run for a missing or unfinished shard, for messages: "batchwise run IN -o OUT --shard 2/4".
std::string shard_run_hint(const ShardSet& set, int64_t index);

}  // namespace batchwise
