#include "tune/knob_search.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/units.h"

namespace batchwise {

MemoryPredictor::MemoryPredictor(std::optional<double> prior_bytes_per_unit) : prior_(prior_bytes_per_unit) {}

void MemoryPredictor::add(int64_t knob, int64_t bytes) {
  if (bytes > 0 && knob > 0) points_.emplace_back(static_cast<double>(knob), static_cast<double>(bytes));
}

std::optional<double> MemoryPredictor::bytes_per_unit() const {
  if (points_.size() < 2) return std::nullopt;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const auto& [x, y] : points_) {
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const double n = static_cast<double>(points_.size());
  const double var = sxx - sx * sx / n;
  if (var <= 0) return std::nullopt;  // every trial at the same knob
  // Memory never shrinks as the knob grows; a negative slope is measurement noise.
  return std::max(0.0, (sxy - sx * sy / n) / var);
}

std::optional<int64_t> MemoryPredictor::predict(int64_t knob) const {
  if (points_.empty()) return std::nullopt;
  const auto x = static_cast<double>(knob);
  if (const auto slope = bytes_per_unit()) {
    // Anchored at the largest measured point so the fixed part (weights, runtime) is not re-estimated
    // from the slope alone; the prediction is never below that point's measurement for larger knobs.
    const auto& far = *std::max_element(points_.begin(), points_.end());
    return static_cast<int64_t>(far.second + *slope * (x - far.first));
  }
  const auto& [x1, y1] = points_.front();
  if (prior_) return static_cast<int64_t>(y1 + *prior_ * std::max(0.0, x - x1));
  return static_cast<int64_t>(y1 * x / x1);
}

namespace {

class Search {
 public:
  Search(const SearchOptions& o, const MeasureFn& measure) : o_(o), measure_(measure), memory_(o.prior_bytes_per_unit) {}

  SearchResult run() {
    const int64_t start = std::clamp(o_.start, o_.min_knob, o_.max_knob);
    int64_t best = o_.min_knob;
    at(best);
    std::optional<int64_t> past;  // the first knob past the best found: no better, or infeasible
    if (start != best) {
      if (good(start) && throughput(start) > throughput(best)) best = start;
      else past = start;
    }
    // Exponential, upwards from the best so far, while a doubling pays.
    while (!past && !out_of_trials()) {
      const int64_t next = std::min(o_.max_knob, best * 2);
      if (next == best) break;  // at the top of the range
      if (!good(next) || throughput(next) <= throughput(best) * (1.0 + o_.min_gain)) {
        past = next;
      } else {
        best = next;
      }
    }
    // Refinement: the best lies between its measured neighbours (a unimodal curve). Halve the wider
    // side of the bracket until both sides are within a quarter of the best knob; a start that
    // overshot the peak is walked back the same way.
    int64_t lo = best, hi = best;
    for (const auto& [k, i] : index_) {
      if (!trials_[i].ran()) continue;
      if (k < best) lo = k;
      if (k > best && hi == best) hi = k;
    }
    if (past && hi == best && *past > best) hi = *past;
    while (!out_of_trials()) {
      const int64_t tol = std::max<int64_t>(1, best / 4);
      const int64_t below = best - lo, above = hi - best;
      if (below <= tol && above <= tol) break;
      const bool up = above > tol && (above >= below || below <= tol);
      const int64_t mid = up ? best + above / 2 : best - below / 2;
      if (good(mid) && throughput(mid) > throughput(best)) {
        (up ? lo : hi) = best;
        best = mid;
      } else {
        (up ? hi : lo) = mid;
      }
    }
    SearchResult r;
    r.trials = std::move(trials_);
    r.trials_run = run_;
    fill_speedups(r.trials);
    for (size_t i = 0; i < r.trials.size(); ++i) {
      if (!r.trials[i].feasible()) continue;
      if (!r.best || r.trials[i].items_per_s > r.trials[*r.best].items_per_s) r.best = i;
    }
    return r;
  }

 private:
  bool out_of_trials() const { return run_ >= o_.max_trials; }
  double throughput(int64_t k) { return at(k).items_per_s; }
  bool good(int64_t k) { return at(k).feasible(); }

  // The trial at knob k: measured once, or skipped when its memory cannot fit.
  const Trial& at(int64_t k) {
    if (auto it = index_.find(k); it != index_.end()) return trials_[it->second];
    Trial t;
    t.knob = k;
    if (smallest_failed_ && k >= *smallest_failed_) {
      t.outcome = TrialOutcome::kPredictedTooBig;
      t.why = "not run: " + std::to_string(*smallest_failed_) + " already ran out of memory";
    } else if (const auto p = memory_.predict(k); p && o_.memory_limit_bytes &&
                                                  static_cast<double>(*p) * (1.0 + o_.memory_margin) >
                                                      static_cast<double>(*o_.memory_limit_bytes)) {
      t.outcome = TrialOutcome::kPredictedTooBig;
      t.predicted_memory_bytes = *p;
      t.why = "not run: predicted " + format_gib(*p) + " + " + std::to_string(int(o_.memory_margin * 100)) +
              "% exceeds the limit " + format_gib(*o_.memory_limit_bytes);
    } else if (out_of_trials()) {
      t.outcome = TrialOutcome::kFailed;
      t.why = "not run: the trial budget is spent";
    } else {
      const auto predicted = t.predicted_memory_bytes;
      t = measure_(k);
      t.knob = k;
      if (!t.predicted_memory_bytes) t.predicted_memory_bytes = predicted;
      ++run_;
      if (t.feasible()) memory_.add(k, t.peak_memory_bytes);
      if (t.outcome == TrialOutcome::kOutOfMemory || t.outcome == TrialOutcome::kOverMemoryLimit) {
        smallest_failed_ = std::min(smallest_failed_.value_or(k), k);
      }
    }
    index_[k] = trials_.size();
    trials_.push_back(std::move(t));
    return trials_.back();
  }

  const SearchOptions& o_;
  const MeasureFn& measure_;
  MemoryPredictor memory_;
  std::vector<Trial> trials_;
  std::map<int64_t, size_t> index_;
  std::optional<int64_t> smallest_failed_;
  int run_ = 0;
};

}  // namespace

SearchResult search_knob(const SearchOptions& options, const MeasureFn& measure) {
  return Search(options, measure).run();
}

void fill_speedups(std::vector<Trial>& trials) {
  std::map<int, double> base;
  for (const auto& t : trials) {
    if (t.knob == 1 && t.feasible() && t.items_per_s > 0) base[t.lanes] = t.items_per_s;
  }
  for (auto& t : trials) {
    const auto it = base.find(t.lanes);
    t.speedup = (t.feasible() && it != base.end()) ? t.items_per_s / it->second : 0.0;
  }
}

}  // namespace batchwise
