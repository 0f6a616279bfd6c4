#include "job/merge.h"

#include <queue>
#include <string>
#include <unordered_map>

#include "job/batch_output.h"
#include "job/shard_set.h"

namespace batchwise {
namespace {

// Results per read from each shard's state while merging.
constexpr int64_t kPageResults = 512;

Status check_complete(const ShardSet& set) {
  if (!set.missing.empty()) {
    std::string names;
    for (int64_t index : set.missing) names += (names.empty() ? "" : ", ") + shard_name({index, set.count});
    return make_error(ErrorCode::kNotFound,
                      "shard " + names + " of this job has no state here: run `" +
                          shard_run_hint(set, set.missing.front()) +
                          "` (under Slurm: its array task) and merge again, or give its state's path");
  }
  for (const ShardState& s : set.shards) {
    if (!s.complete()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "shard " + shard_name(s.meta.shard) + " (" + s.path.string() + ") is not finished: " +
                            std::to_string(s.lines - s.finished) + " of " + std::to_string(s.lines) +
                            " requests pending; run `" + shard_run_hint(set, s.meta.shard.index) +
                            "` again to resume it (or requeue its Slurm task), then merge again");
    }
  }
  return {};
}

// Every input line and every custom_id in one shard only. A line or id in two shards means they were
// not cut by one --shard selection (a state edited or written by something else): merging would
// give that request twice.
Status check_exactly_once(const ShardSet& set) {
  std::unordered_map<std::string, int64_t> shard_of_id;
  std::unordered_map<int64_t, int64_t> shard_of_line;
  int64_t total = 0;
  for (const ShardState& s : set.shards) {
    std::optional<Error> duplicate;
    BW_TRY(s.store->for_each_result([&](const ResultRecord& r) {
      total++;
      if (duplicate) return;
      const int64_t here = s.meta.shard.index;
      auto [line_it, new_line] = shard_of_line.emplace(r.line, here);
      auto where = [&](int64_t index) { return "shard " + shard_name({index, set.count}); };
      if (!new_line) {
        duplicate = Error{ErrorCode::kCorrupt, "input line " + std::to_string(r.line) + " has a result in " +
                                                   where(line_it->second) + " and in " + where(here) + " (" +
                                                   s.path.string() + ")"};
        return;
      }
      if (r.custom_id.empty()) return;  // an invalid line without an id: its line number is its key
      auto [id_it, new_id] = shard_of_id.emplace(r.custom_id, here);
      if (!new_id && id_it->second != here) {
        duplicate = Error{ErrorCode::kCorrupt, "custom_id `" + r.custom_id + "` has a result in " +
                                                   where(id_it->second) + " and in " + where(here) + " (" +
                                                   s.path.string() + ")"};
      }
    }));
    if (duplicate) {
      return std::unexpected(duplicate->with_context(
          "not merged: these states were not cut from the input by one `run --shard` selection; run the shards "
          "again with --restart (each into a fresh state)"));
    }
  }
  if (set.input_lines > 0 && total != set.input_lines) {
    return make_error(ErrorCode::kCorrupt, "not merged: the shards hold " + std::to_string(total) +
                                               " results but the input has " + std::to_string(set.input_lines) +
                                               " lines; run the shards again with --restart");
  }
  return {};
}

// Each shard's results in line order, a page at a time.
class ShardCursor {
 public:
  explicit ShardCursor(JobStore& store) : store_(store) {}
  // The next result, or nullptr after the last.
  Expected<ResultRecord*> peek() {
    if (next_ < page_.size()) return &page_[next_];
    if (done_) return nullptr;
    BW_ASSIGN_OR_RETURN(page_, store_.results_after(after_line_, kPageResults));
    next_ = 0;
    done_ = static_cast<int64_t>(page_.size()) < kPageResults;
    if (page_.empty()) return nullptr;
    after_line_ = page_.back().line;
    return &page_[0];
  }
  void pop() { ++next_; }

 private:
  JobStore& store_;
  std::vector<ResultRecord> page_;
  size_t next_ = 0;
  int64_t after_line_ = 0;
  bool done_ = false;
};

}  // namespace

Expected<MergeOutcome> merge_shards(const MergeOptions& options) {
  BW_ASSIGN_OR_RETURN(ShardSet set, open_shard_set(options.states));
  if (set.count < 2) {
    return make_error(ErrorCode::kInvalidArgument, set.shards.front().path.string() +
                                                       " is the state of a whole job (not run with --shard): its "
                                                       "run already wrote the output; nothing to merge");
  }
  if (options.shards > 0 && set.count != options.shards) {
    return make_error(ErrorCode::kInvalidArgument, set.shards.front().path.string() + " is shard " +
                                                       shard_name(set.shards.front().meta.shard) + ", not one of " +
                                                       std::to_string(options.shards) + " (--shards)");
  }
  BW_TRY(check_complete(set));
  BW_TRY(check_exactly_once(set));

  std::vector<ShardCursor> cursors;
  for (ShardState& s : set.shards) cursors.emplace_back(*s.store);
  // The cursor whose next result has the lowest input line goes first: (line, cursor).
  using Head = std::pair<int64_t, size_t>;
  std::priority_queue<Head, std::vector<Head>, std::greater<>> heads;
  for (size_t i = 0; i < cursors.size(); ++i) {
    BW_ASSIGN_OR_RETURN(ResultRecord * r, cursors[i].peek());
    if (r) heads.emplace(r->line, i);
  }
  auto next = [&](ResultRecord& out) -> Expected<bool> {
    if (heads.empty()) return false;
    const size_t i = heads.top().second;
    heads.pop();
    BW_ASSIGN_OR_RETURN(ResultRecord * r, cursors[i].peek());
    out = std::move(*r);
    cursors[i].pop();
    BW_ASSIGN_OR_RETURN(ResultRecord * following, cursors[i].peek());
    if (following) heads.emplace(following->line, i);
    return true;
  };
  MergeOutcome outcome;
  outcome.output = options.output;
  outcome.errors = options.errors.empty() ? default_error_path(options.output) : options.errors;
  BW_ASSIGN_OR_RETURN(WrittenFiles written, write_result_files(next, outcome.output, outcome.errors));
  outcome.shards = static_cast<int64_t>(set.shards.size());
  outcome.ok = written.ok;
  outcome.failed = written.failed;
  return outcome;
}

}  // namespace batchwise
