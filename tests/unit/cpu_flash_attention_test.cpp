// ggml's tiled CPU flash attention, as our patch 0002 changes it (a tile's mask is tested as raw F16 bits before
// it is converted), against exact attention computed here in double, on the masks a lane of batchwise makes:
// rows that decode one token each for their own sequence (a shared prefix plus a few cells of their own,
// interleaved with the other sequences' cells), rows of one sequence's prompt (the prefix plus its own cells,
// causal), cells no row sees (a whole tile skipped, and tiles that start with them), and a last tile that is not
// full.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ggml-cpu.h"
#include "ggml.h"

namespace batchwise {
namespace {

constexpr int kHeadDim = 64;
constexpr int kHeads = 4;     // query heads
constexpr int kKvHeads = 2;   // grouped-query attention: 2 query heads a KV head
constexpr int kRows = 128;    // the ubatch's tokens (the tiled kernel takes 64 or more)
constexpr int kPrefix = 100;  // cells every row sees
constexpr int kFiller = 100;  // then cells no row sees (one whole tile of them, and parts of two)
constexpr int kDecodeRows = 64;
constexpr int kOwnSteps = 3;  // each decode row's own cells: one per earlier step, the sequences interleaved
constexpr int kPromptCells = kRows - kDecodeRows;
constexpr int kOwnStart = kPrefix + kFiller;
constexpr int kPromptStart = kOwnStart + kOwnSteps * kDecodeRows;
constexpr int kCells = kPromptStart + kPromptCells;  // 456: the last tile of 64 holds 8 cells

bool cell_visible(int row, int cell) {
  if (cell < kPrefix) return true;
  if (cell < kOwnStart) return false;
  if (row < kDecodeRows) return cell < kPromptStart && (cell - kOwnStart) % kDecodeRows == row;
  const int prompt_pos = row - kDecodeRows;
  return cell >= kPromptStart && cell <= kPromptStart + prompt_pos;
}

TEST(CpuFlashAttention, TiledKernelOnALanesMasksMatchesExactAttention) {
  ggml_init_params params{};
  params.mem_size = 64u << 20;
  ggml_context* ctx = ggml_init(params);
  ASSERT_NE(ctx, nullptr);
  ggml_tensor* q = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, kHeadDim, kRows, kHeads);
  ggml_tensor* k = ggml_new_tensor_3d(ctx, GGML_TYPE_F16, kHeadDim, kCells, kKvHeads);
  ggml_tensor* v = ggml_new_tensor_3d(ctx, GGML_TYPE_F16, kHeadDim, kCells, kKvHeads);
  ggml_tensor* mask = ggml_new_tensor_2d(ctx, GGML_TYPE_F16, kCells, kRows);

  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto* qd = static_cast<float*>(q->data);
  for (int64_t i = 0; i < ggml_nelements(q); ++i) qd[i] = normal(rng);
  auto* kd = static_cast<ggml_fp16_t*>(k->data);
  auto* vd = static_cast<ggml_fp16_t*>(v->data);
  for (int64_t i = 0; i < ggml_nelements(k); ++i) kd[i] = ggml_fp32_to_fp16(normal(rng));
  for (int64_t i = 0; i < ggml_nelements(v); ++i) vd[i] = ggml_fp32_to_fp16(normal(rng));
  auto* md = static_cast<ggml_fp16_t*>(mask->data);
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kCells; ++c) md[r * kCells + c] = ggml_fp32_to_fp16(cell_visible(r, c) ? 0.0f : -INFINITY);
  }

  const float scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));
  ggml_tensor* out = ggml_flash_attn_ext(ctx, q, k, v, mask, scale, 0.0f, 0.0f);
  ggml_cgraph* graph = ggml_new_graph(ctx);
  ggml_build_forward_expand(graph, out);
  ASSERT_EQ(ggml_graph_compute_with_ctx(ctx, graph, 2), GGML_STATUS_SUCCESS);

  // out: [head_dim, heads, rows]
  const auto* od = static_cast<const float*>(out->data);
  double worst = 0;
  for (int h = 0; h < kHeads; ++h) {
    const int kv_head = h / (kHeads / kKvHeads);
    for (int r = 0; r < kRows; ++r) {
      const float* qrow = qd + (static_cast<int64_t>(h) * kRows + r) * kHeadDim;
      std::vector<double> weights(kCells, 0.0);
      double top = -INFINITY;
      for (int c = 0; c < kCells; ++c) {
        if (!cell_visible(r, c)) continue;
        const ggml_fp16_t* krow = kd + (static_cast<int64_t>(kv_head) * kCells + c) * kHeadDim;
        double dot = 0;
        for (int d = 0; d < kHeadDim; ++d) dot += static_cast<double>(qrow[d]) * ggml_fp16_to_fp32(krow[d]);
        weights[c] = dot * scale;
        top = std::max(top, weights[c]);
      }
      double sum = 0;
      std::vector<double> expected(kHeadDim, 0.0);
      for (int c = 0; c < kCells; ++c) {
        if (!cell_visible(r, c)) continue;
        const double w = std::exp(weights[c] - top);
        sum += w;
        const ggml_fp16_t* vrow = vd + (static_cast<int64_t>(kv_head) * kCells + c) * kHeadDim;
        for (int d = 0; d < kHeadDim; ++d) expected[d] += w * ggml_fp16_to_fp32(vrow[d]);
      }
      const float* got = od + (static_cast<int64_t>(r) * kHeads + h) * kHeadDim;
      for (int d = 0; d < kHeadDim; ++d) worst = std::max(worst, std::fabs(expected[d] / sum - got[d]));
    }
  }
  // F16 keys and values, F32 arithmetic with an online softmax: errors near 1e-6 here; a cell wrongly skipped
  // or wrongly counted moves a row's output by ~0.1.
  EXPECT_LT(worst, 1e-3) << "largest difference from exact attention";
  ggml_free(ctx);
}

}  // namespace
}  // namespace batchwise
