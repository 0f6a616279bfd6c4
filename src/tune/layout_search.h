// search_layout: the embedded engine's two knobs at once, sequences per lane and lanes (llama.cpp
// contexts over one model; a context holds at most 252 of run's sequences). Measured on an H200 (8B,
// seed, dense attention): 256 x 2 lanes 181 req/s, 512 x 4 205, 768 x 6 205, 1,008 x 8 202: the optimum lay
// along "more lanes of ~128 sequences", which a search over the total at a fixed lanes count, then over lanes
// at a fixed total, never reaches (it chose 256 x 2); with sparse attention (H100) at 4 lanes of 252. So:
//   1. the total K at `base_lanes` with search_knob (1, the start, doubling, bisection);
//   2. lanes at the best sequences per lane s = K / lanes: double the lanes while it pays, the total
//      growing with them (s x L), then bisect between the best lanes and the first that did not pay;
//   3. sequences per lane at the best lanes: a quarter fewer and half more, once each;
//   4. one lane at the best total, where one context holds it.
// An anchor (tune on a GPU: run's own default layout) is measured after phase 1 and competes with the rest,
// so that tune's answer, which run then takes, is never one measured slower than what run does untuned.
// Memory: as search_knob, fixed + per-sequence bytes fitted to the trials so far; a layout whose
// prediction + margin exceeds the limit is recorded as kPredictedTooBig and not run.
// Single-threaded; calls measure in order.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "tune/knob_search.h"

namespace batchwise {

struct LayoutSearchOptions {
  SearchOptions total;            // phase 1 over the total at base_lanes (max_knob: 252 x base_lanes)
  int base_lanes = 1;
  int max_lanes = 1;
  int64_t max_per_lane = 252;
  int64_t max_total = 0;          // no layout of more sequences is run (0: none); a trial must hold 2 waves of it
  // Bytes one more lane costs besides its sequences (its compute buffer and prefix cells: plan's estimate).
  std::optional<double> prior_bytes_per_lane;
  struct Layout {
    int64_t total = 0;
    int lanes = 1;
  };
  std::optional<Layout> anchor;   // measured after phase 1 where its lanes are allowed
};

// A trial of `total` sequences over `lanes` (total >= lanes).
using LayoutMeasureFn = std::function<Trial(int64_t total, int lanes)>;

SearchResult search_layout(const LayoutSearchOptions& options, const LayoutMeasureFn& measure);

}  // namespace batchwise
