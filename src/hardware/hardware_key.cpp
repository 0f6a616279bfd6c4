#include "hardware/hardware_key.h"

namespace batchwise {

std::string hardware_key(const Hardware& hw) {
  if (!hw.gpus.empty()) {
    const Device& g = hw.gpus.front();
    return "gpu " + std::to_string(hw.gpus.size()) + " x " + g.name + " (" + std::to_string(g.memory_bytes >> 20) + " MiB)";
  }
  const std::string model = hw.host.cpu_model.empty() ? std::string("unknown cpu") : hw.host.cpu_model;
  return "cpu " + model + " (" + std::to_string(hw.host.logical_cpus) + " cpus)";
}

}  // namespace batchwise
