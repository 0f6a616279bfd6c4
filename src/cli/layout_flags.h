// -np/--parallel and --lanes, declared once for every verb that lays sequences out over llama.cpp
// contexts (run, plan), so they are spelled, ranged and explained alike; each verb says only what its
// default is.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace batchwise {

inline constexpr int kMaxParallel = 4032;  // 16 lanes x 252
inline constexpr int kMaxLanes = 16;

CLI::Option* add_parallel_option(CLI::App& sub, int& parallel, const std::string& default_text);
CLI::Option* add_lanes_option(CLI::App& sub, int& lanes, const std::string& default_text);

}  // namespace batchwise
