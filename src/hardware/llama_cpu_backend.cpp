#include "hardware/llama_cpu_backend.h"

#include <string_view>

#include "ggml-backend.h"
#include "ggml-cpu.h"

namespace batchwise {

bool llama_cpu_uses_amx() {
  static const bool amx = [] {
    // The CPU backend alone: the registry would start every backend built in (CUDA's runtime with it).
    ggml_backend_reg_t reg = ggml_backend_cpu_reg();
    if (!reg || ggml_backend_reg_dev_count(reg) == 0) return false;
    // The CPU backend lists its extra buffer types (AMX, CPU_REPACK) through this optional entry point.
    auto extra = reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(
        ggml_backend_reg_get_proc_address(reg, "ggml_backend_dev_get_extra_bufts"));
    if (!extra) return false;
    for (ggml_backend_buffer_type_t* b = extra(ggml_backend_reg_dev_get(reg, 0)); b && *b; ++b) {
      if (std::string_view(ggml_backend_buft_name(*b)) == "AMX") return true;
    }
    return false;
  }();
  return amx;
}

}  // namespace batchwise
