#include "model/amx_packing.h"

#include <limits>
#include <string_view>

#include "ggml-backend.h"
#include "ggml-cpu.h"

namespace batchwise {
namespace {

struct AmxLayout {
  std::string_view type;
  int64_t row_alignment;    // the row length must be a multiple of this
  int64_t extra_per_block;  // bytes the packed layout adds to each of the type's blocks
};

// ggml-cpu/amx: qtype_has_amx_kernels, the supports_op alignments and get_row_size.
constexpr AmxLayout kAmxLayouts[] = {
    {"f16", 16, 0},  {"q4_0", 32, 0},  {"q4_1", 32, 0}, {"q8_0", 32, 4},
    {"q4_k", 256, 4}, {"q5_k", 256, 4}, {"q6_k", 256, 0}, {"iq4_xs", 256, 2},
};
constexpr int64_t kAmxRowsMultiple = 32;  // TILE_N * 2 output rows

}  // namespace

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

bool amx_holds_model(const ModelSpec& spec) { return !spec.is_mla(); }

std::optional<int64_t> amx_matrix_bytes(const WeightType& type, int64_t ne0, int64_t ne1) {
  if (ne1 <= 0 || ne1 % kAmxRowsMultiple != 0) return std::nullopt;
  for (const AmxLayout& l : kAmxLayouts) {
    if (l.type != type.name) continue;
    if (ne0 % l.row_alignment != 0) return std::nullopt;
    const int64_t blocks_per_row = ne0 / type.block_weights;
    const int64_t packed_block = type.block_bytes + l.extra_per_block;
    // A hostile header's shape may not be multiplied out: such a matrix is not one AMX would hold either.
    if (blocks_per_row > std::numeric_limits<int64_t>::max() / packed_block / ne1) return std::nullopt;
    return ne1 * blocks_per_row * packed_block;
  }
  return std::nullopt;
}

}  // namespace batchwise
