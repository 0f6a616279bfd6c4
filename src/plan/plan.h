// make_plan: the whole of `batchwise plan` without the printing. Resolves the model (GGUF, config.json
// or preset) and the hardware (probe or catalogue), sizes the weights for the quantization, and asks
// the recommender for batch/context, then writes the engine flags. Loads no weights, opens no store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "hardware/custom_machine.h"
#include "hardware/device.h"
#include "model/model_source.h"
#include "plan/engine_flags.h"
#include "plan/perf_model.h"
#include "plan/recommend.h"
#include "plan/tips.h"
#include "plan/workload_shape.h"

namespace batchwise {

struct PlanRequest {
  std::string model;                         // preset name, FILE.gguf, config.json or its folder
  std::optional<std::string> quant;          // file type; default: the GGUF's own, else q4_k_m
  std::optional<std::string> gpu;            // catalogue name; unset: probe this machine
  int gpu_count = 1;
  MachineOverrides machine;                  // --gpu-memory, --gpu-bandwidth, --gpu-tflops, --cpu-cores, --ram
  WorkloadShape workload;
  std::string kv_type = "f16";
  std::optional<std::string> k_type, v_type;  // -ctk / -ctv: one side other than kv_type
  std::optional<int64_t> parallel;           // -np: evaluate exactly this batch (besides recommending)
  std::optional<int64_t> ctx_tokens;         // -c: evaluate exactly this many KV cells
  std::optional<int64_t> lanes;              // --lanes: run's contexts; unset: 1 on the CPU, the fastest on a GPU
  std::optional<double> max_latency_s;
  // -ub; unset: what run uses, on one GPU kGpuDefaultUbatchTokens (with -b kGpuDefaultBatchTokens), else 512
  std::optional<int64_t> ubatch_tokens;
  bool flash_attention = true;
  bool sparse_attention = true;              // run's --attention: cascade or sparse (planned alike), or dense
  bool share_prefix = true;
  Calibration calibration;
  // Scale the speed model by what `tune` measured on this hardware (probed hardware only).
  bool use_measured_calibration = false;
};

struct DeviceShare {
  std::string name;
  int64_t memory_bytes = 0;          // the device's memory
  DeviceMemory predicted;            // what the plan puts on it
};

struct Plan {
  ModelInfo model;
  std::string quant;                 // "q4_k_m", or "file" for a GGUF's own mix
  WeightsSummary weights;
  Hardware hardware;
  RecommendInput input;
  Recommendation recommendation;
  std::vector<DeviceShare> devices;  // the recommended batch's memory on each device (layers split evenly)
  std::vector<EngineFlags> flags;    // for the recommended batch
  std::vector<EngineFlags> asked_flags;  // for the user's -np/-c, when given
  std::vector<Tip> tips;
  std::vector<std::string> notes;
  std::optional<double> measured_speed_factor;  // set when tune's calibration was applied
};

Expected<Plan> make_plan(const PlanRequest& request);

}  // namespace batchwise
