// `batchwise probe` without the printing: NVML GPUs (each with the catalogue entry its name matches),
// the CPU and RAM, written as JSON (units in every name) or as lines for people.
#pragma once

#include <string>

#include "hardware/device.h"
#include "hardware/host_info.h"
#include "hardware/nvml.h"

namespace batchwise {

struct ProbeReport {
  NvmlProbe nvml;
  HostInfo host;
  std::vector<Device> devices;  // the GPUs as a plan sees them (probed + catalogue), or the CPU
};

ProbeReport probe_hardware();
std::string probe_to_json(const ProbeReport& report);
std::string probe_to_text(const ProbeReport& report);

}  // namespace batchwise
