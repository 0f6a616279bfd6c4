// The identity of this machine's hardware for caches of measurements (tune results, plan's
// calibration): the GPUs' names, count and memory, or, without a GPU, the CPU model and its logical
// CPUs. Two machines with the same key are expected to measure alike. Pure.
#pragma once

#include <string>

#include "hardware/device.h"

namespace batchwise {

// "gpu 1 x NVIDIA H200 (143771 MiB)" or "cpu Intel(R) Xeon(R) ... (2 cpus)".
std::string hardware_key(const Hardware& hw);

}  // namespace batchwise
