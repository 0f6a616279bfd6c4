// The tune plot as a stand-alone SVG: throughput (left axis) and p95 latency (right axis) against the
// knob on a log2 axis, one point per measured trial, infeasible settings as red crosses on the axis,
// the knee and the chosen setting marked and labelled, every axis labelled with its unit. Pure.
#pragma once

#include <string>
#include <vector>

#include "tune/choice.h"
#include "tune/trial.h"

namespace batchwise {

struct PlotLabels {
  std::string title;             // "batchwise tune: tiny.gguf, seed workload"
  std::string knob;              // "parallel sequences"
  std::string throughput_unit;   // "requests/s"
};

std::string tune_plot_svg(const std::vector<Trial>& trials, const Choice& choice, const PlotLabels& labels);

}  // namespace batchwise
