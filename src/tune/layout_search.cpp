#include "tune/layout_search.h"

#include <algorithm>
#include <map>

#include "core/units.h"

namespace batchwise {
namespace {

class LayoutSearch {
 public:
  LayoutSearch(const LayoutSearchOptions& o, const LayoutMeasureFn& measure)
      : o_(o), measure_(measure), memory_(o.total.prior_bytes_per_unit) {}

  SearchResult run() {
    // 1. The total at base_lanes; a few trials are kept for the lanes.
    SearchOptions first = o_.total;
    first.max_knob = std::min(first.max_knob, o_.max_per_lane * o_.base_lanes);
    if (o_.max_lanes > o_.base_lanes) first.max_trials = std::max(4, first.max_trials - 8);
    if (o_.anchor) first.max_trials = std::max(1, std::min(first.max_trials, o_.total.max_trials - 1));  // its trial
    SearchResult r1 = search_knob(first, [&](int64_t k) { return measure_(k, lanes_for(k, o_.base_lanes)); });
    run_ = r1.trials_run;
    for (Trial& t : r1.trials) remember(std::move(t));
    if (o_.anchor && o_.anchor->lanes <= o_.max_lanes && o_.anchor->total >= o_.anchor->lanes) {
      at(o_.anchor->total, o_.anchor->lanes);
    }
    auto best = best_index();
    if (!best || o_.max_lanes <= 1) return result();

    // 2. More lanes of the best sequences per lane, the total growing with them: double while a doubling
    // pays, then bisect between the best lanes and the first that did not.
    const Trial b = trials_[*best];
    const int64_t per_lane = (b.knob + b.lanes - 1) / b.lanes;
    int paying = b.lanes;
    int past = 0;  // the first lanes count that did not pay (0: none found)
    for (int lanes = b.lanes * 2; lanes <= o_.max_lanes; lanes *= 2) {
      if (!better(at(per_lane * lanes, lanes), rate(per_lane * paying, paying))) {
        past = lanes;
        break;
      }
      paying = lanes;
    }
    if (past == 0) past = o_.max_lanes + 1;  // the top of the range was not reached
    int lo = paying, hi = past;
    while (hi > lo + 1 && !out_of_trials()) {
      const int mid = lo + (hi - lo) / 2;
      if (mid > o_.max_lanes) break;
      if (at(per_lane * mid, mid).items_per_s > rate(per_lane * lo, lo)) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    // 3. Sequences per lane at the best lanes: with more lanes each lane's host work hides better, so the
    // best per lane moves; a quarter fewer, then half more while that pays (at most 252).
    const Trial at_best = trials_[*best_index()];
    const int lanes = at_best.lanes;
    int64_t s = (at_best.knob + lanes - 1) / lanes;
    if (s - s / 4 >= 1 && s / 4 > 0) at((s - s / 4) * lanes, lanes);
    for (int step = 0; step < 3 && !out_of_trials(); ++step) {
      const int64_t more = std::min(o_.max_per_lane, s + s / 2);
      if (more <= s || !better(at(more * lanes, lanes), rate(s * lanes, lanes) / (1.0 + o_.total.min_gain))) break;
      s = more;
    }
    // 4. One lane at the best total, where one context holds it.
    best = best_index();
    if (best && trials_[*best].lanes > 1 && trials_[*best].knob <= o_.max_per_lane) at(trials_[*best].knob, 1);
    return result();
  }

 private:
  static int lanes_for(int64_t total, int lanes) { return static_cast<int>(std::min<int64_t>(lanes, total)); }
  bool out_of_trials() const { return run_ >= o_.total.max_trials; }
  double rate(int64_t total, int lanes) { return at(total, lanes).items_per_s; }
  bool better(const Trial& t, double than) const { return t.feasible() && t.items_per_s > than * (1.0 + o_.total.min_gain); }

  void remember(Trial t) {
    if (t.feasible()) memory_.add(t.knob, t.peak_memory_bytes);
    if (t.outcome == TrialOutcome::kOutOfMemory || t.outcome == TrialOutcome::kOverMemoryLimit) {
      smallest_failed_ = std::min(smallest_failed_.value_or(t.knob), t.knob);
    }
    index_[{t.knob, t.lanes}] = trials_.size();
    trials_.push_back(std::move(t));
  }

  // The trial of `total` over `lanes`: measured once, or skipped when its memory cannot fit.
  const Trial& at(int64_t total, int lanes) {
    lanes = lanes_for(total, lanes);
    if (auto it = index_.find({total, lanes}); it != index_.end()) return trials_[it->second];
    Trial t;
    t.knob = total;
    t.lanes = lanes;
    const auto predicted = memory_.predict(total);
    const double lane_bytes = o_.prior_bytes_per_lane.value_or(0.0) * std::max(0, lanes - o_.base_lanes);
    if (o_.max_total > 0 && total > o_.max_total) {
      t.outcome = TrialOutcome::kTooFewRequests;
      t.why = "not run: a trial holds fewer than 2 waves of " + std::to_string(total) +
              " sequences (--trial-max-requests is " + std::to_string(2 * o_.max_total) + " or less)";
    } else if (smallest_failed_ && total >= *smallest_failed_) {
      t.outcome = TrialOutcome::kPredictedTooBig;
      t.why = "not run: " + std::to_string(*smallest_failed_) + " already ran out of memory";
    } else if (predicted && o_.total.memory_limit_bytes &&
               (static_cast<double>(*predicted) + lane_bytes) * (1.0 + o_.total.memory_margin) >
                   static_cast<double>(*o_.total.memory_limit_bytes)) {
      t.outcome = TrialOutcome::kPredictedTooBig;
      t.predicted_memory_bytes = *predicted + static_cast<int64_t>(lane_bytes);
      t.why = "not run: predicted " + format_gib(*t.predicted_memory_bytes) + " + " +
              std::to_string(static_cast<int>(o_.total.memory_margin * 100)) + "% exceeds the limit " +
              format_gib(*o_.total.memory_limit_bytes);
    } else if (out_of_trials()) {
      t.outcome = TrialOutcome::kFailed;
      t.why = "not run: the trial budget is spent";
    } else {
      t = measure_(total, lanes);
      t.knob = total;
      t.lanes = lanes;
      ++run_;
    }
    remember(std::move(t));
    return trials_.back();
  }

  std::optional<size_t> best_index() const {
    std::optional<size_t> best;
    for (size_t i = 0; i < trials_.size(); ++i) {
      if (trials_[i].feasible() && (!best || trials_[i].items_per_s > trials_[*best].items_per_s)) best = i;
    }
    return best;
  }

  SearchResult result() {
    SearchResult r;
    r.best = best_index();
    r.trials = std::move(trials_);
    r.trials_run = run_;
    fill_speedups(r.trials);
    return r;
  }

  const LayoutSearchOptions& o_;
  const LayoutMeasureFn& measure_;
  MemoryPredictor memory_;
  std::vector<Trial> trials_;
  std::map<std::pair<int64_t, int>, size_t> index_;
  std::optional<int64_t> smallest_failed_;
  int run_ = 0;
};

}  // namespace

SearchResult search_layout(const LayoutSearchOptions& options, const LayoutMeasureFn& measure) {
  return LayoutSearch(options, measure).run();
}

}  // namespace batchwise
