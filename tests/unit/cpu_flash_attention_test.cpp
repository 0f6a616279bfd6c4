// ggml's tiled CPU flash attention, as our patch 0002 changes it (a tile's mask is tested as raw F16 bits before
// it is converted), against exact attention computed here in double, on the masks a lane of batchwise makes:
// rows that decode one token each for their own sequence (a shared prefix plus a few cells of their own,
// interleaved with the other sequences' cells), rows of one sequence's prompt (the prefix plus its own cells,
// causal), cells no row sees (a whole tile skipped, and tiles that start with them), and a last tile that is not
// full. Then cascade attention's parts (patch 0004: each with its rows' log-sum-exp) merged, on the same masks.
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

// A lane's tensors with random keys, values and queries, and its mask (cell_visible).
struct Lane {
  ggml_context* ctx = nullptr;
  ggml_tensor *q = nullptr, *k = nullptr, *v = nullptr, *mask = nullptr;
  const float scale = 1.0f / std::sqrt(static_cast<float>(kHeadDim));

  Lane() {
    ggml_init_params params{};
    params.mem_size = 64u << 20;
    ctx = ggml_init(params);
    q = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, kHeadDim, kRows, kHeads);
    k = ggml_new_tensor_3d(ctx, GGML_TYPE_F16, kHeadDim, kCells, kKvHeads);
    v = ggml_new_tensor_3d(ctx, GGML_TYPE_F16, kHeadDim, kCells, kKvHeads);
    mask = ggml_new_tensor_2d(ctx, GGML_TYPE_F16, kCells, kRows);
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (int64_t i = 0; i < ggml_nelements(q); ++i) static_cast<float*>(q->data)[i] = normal(rng);
    for (int64_t i = 0; i < ggml_nelements(k); ++i) static_cast<ggml_fp16_t*>(k->data)[i] = ggml_fp32_to_fp16(normal(rng));
    for (int64_t i = 0; i < ggml_nelements(v); ++i) static_cast<ggml_fp16_t*>(v->data)[i] = ggml_fp32_to_fp16(normal(rng));
    auto* md = static_cast<ggml_fp16_t*>(mask->data);
    for (int r = 0; r < kRows; ++r) {
      for (int c = 0; c < kCells; ++c) md[r * kCells + c] = ggml_fp32_to_fp16(cell_visible(r, c) ? 0.0f : -INFINITY);
    }
  }
  ~Lane() { ggml_free(ctx); }
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  // Exact attention of query head h, row r over the visible cells in [c0, c1), in double: the output row and the
  // log-sum-exp of the scores (-inf where the row sees none of them).
  std::vector<double> exact(int h, int r, int c0, int c1, double* lse) const {
    const int kv_head = h / (kHeads / kKvHeads);
    const float* qrow = static_cast<const float*>(q->data) + (static_cast<int64_t>(h) * kRows + r) * kHeadDim;
    const auto* kd = static_cast<const ggml_fp16_t*>(k->data);
    const auto* vd = static_cast<const ggml_fp16_t*>(v->data);
    std::vector<double> score(kCells, 0.0);
    double top = -INFINITY;
    for (int c = c0; c < c1; ++c) {
      if (!cell_visible(r, c)) continue;
      const ggml_fp16_t* krow = kd + (static_cast<int64_t>(kv_head) * kCells + c) * kHeadDim;
      double dot = 0;
      for (int d = 0; d < kHeadDim; ++d) dot += static_cast<double>(qrow[d]) * ggml_fp16_to_fp32(krow[d]);
      score[c] = dot * scale;
      top = std::max(top, score[c]);
    }
    double sum = 0;
    std::vector<double> out(kHeadDim, 0.0);
    for (int c = c0; c < c1; ++c) {
      if (!cell_visible(r, c)) continue;
      const double w = std::exp(score[c] - top);
      sum += w;
      const ggml_fp16_t* vrow = vd + (static_cast<int64_t>(kv_head) * kCells + c) * kHeadDim;
      for (int d = 0; d < kHeadDim; ++d) out[d] += w * ggml_fp16_to_fp32(vrow[d]);
    }
    if (sum > 0) {
      for (double& x : out) x /= sum;
    }
    if (lse != nullptr) *lse = sum > 0 ? top + std::log(sum) : -INFINITY;
    return out;
  }

  // The largest difference of `out` ([head_dim, heads, rows]) from exact attention over every cell.
  double worst_difference(const ggml_tensor* out) const {
    const auto* od = static_cast<const float*>(out->data);
    double worst = 0;
    for (int h = 0; h < kHeads; ++h) {
      for (int r = 0; r < kRows; ++r) {
        const std::vector<double> expected = exact(h, r, 0, kCells, nullptr);
        const float* got = od + (static_cast<int64_t>(r) * kHeads + h) * kHeadDim;
        for (int d = 0; d < kHeadDim; ++d) worst = std::max(worst, std::fabs(expected[d] - got[d]));
      }
    }
    return worst;
  }
};

ggml_tensor* computed(ggml_context* ctx, ggml_tensor* t) {
  ggml_cgraph* graph = ggml_new_graph(ctx);
  ggml_build_forward_expand(graph, t);
  return ggml_graph_compute_with_ctx(ctx, graph, 2) == GGML_STATUS_SUCCESS ? t : nullptr;
}

TEST(CpuFlashAttention, TiledKernelOnALanesMasksMatchesExactAttention) {
  Lane lane;
  ggml_tensor* out = computed(lane.ctx, ggml_flash_attn_ext(lane.ctx, lane.q, lane.k, lane.v, lane.mask, lane.scale, 0.0f, 0.0f));
  ASSERT_NE(out, nullptr);
  // F16 keys and values, F32 arithmetic with an online softmax: errors near 1e-6 here; a cell wrongly skipped
  // or wrongly counted moves a row's output by ~0.1.
  EXPECT_LT(lane.worst_difference(out), 1e-3) << "largest difference from exact attention";
}

#ifdef GGML_FLASH_ATTN_LSE_NONE  // our llama.cpp patch 0004
// Cascade attention (our patch 0004): attention over the cells [0, split) and over the rest computed apart, each
// with its rows' log-sum-exp, and merged as llama.cpp's graph merges them: rest + (first - rest) * sigmoid(lse_first
// - lse_rest). Splits inside the shared prefix, after it, and where the decode rows see nothing of the second part
// (a row that sees no cell of a part has output 0 and GGML_FLASH_ATTN_LSE_NONE there).
TEST(CpuFlashAttention, CascadeSplitMergedByLogSumExpMatchesExactAttention) {
  for (const int split : {64, kOwnStart, kPromptStart}) {
    Lane lane;
    ggml_context* ctx = lane.ctx;
    auto cells = [&](ggml_tensor* t, int64_t c0, int64_t c1) {
      return ggml_view_3d(ctx, t, t->ne[0], c1 - c0, t->ne[2], t->nb[1], t->nb[2], c0 * t->nb[1]);
    };
    auto columns = [&](int64_t c0, int64_t c1) {
      return ggml_view_2d(ctx, lane.mask, c1 - c0, kRows, lane.mask->nb[1], c0 * ggml_element_size(lane.mask));
    };
    ggml_tensor* first = ggml_flash_attn_ext_lse(ctx, lane.q, cells(lane.k, 0, split), cells(lane.v, 0, split), columns(0, split),
                                                 lane.scale, 0.0f, 0.0f);
    ggml_tensor* rest = ggml_flash_attn_ext_lse(ctx, lane.q, cells(lane.k, split, kCells), cells(lane.v, split, kCells),
                                                columns(split, kCells), lane.scale, 0.0f, 0.0f);
    ASSERT_TRUE(ggml_flash_attn_ext_has_lse(first));
    ASSERT_EQ(first->ne[3], 2) << "the LSE lives in a second slice";
    auto out_of = [&](ggml_tensor* fa) { return ggml_view_3d(ctx, fa, fa->ne[0], fa->ne[1], fa->ne[2], fa->nb[1], fa->nb[2], 0); };
    auto lse_of = [&](ggml_tensor* fa) {
      return ggml_view_3d(ctx, fa, 1, fa->ne[1], fa->ne[2], sizeof(float), fa->ne[1] * sizeof(float), fa->nb[3]);
    };
    ggml_tensor* w = ggml_sigmoid(ctx, ggml_sub(ctx, lse_of(first), lse_of(rest)));
    ggml_tensor* merged = ggml_add(ctx, out_of(rest), ggml_mul(ctx, ggml_sub(ctx, out_of(first), out_of(rest)), w));
    ggml_cgraph* graph = ggml_new_graph(ctx);
    ggml_build_forward_expand(graph, merged);
    ggml_build_forward_expand(graph, first);
    ggml_build_forward_expand(graph, rest);
    ASSERT_EQ(ggml_graph_compute_with_ctx(ctx, graph, 2), GGML_STATUS_SUCCESS);

    EXPECT_LT(lane.worst_difference(merged), 1e-3) << "split at " << split;
    // Each part's LSE is its own rows' exact log-sum-exp.
    double worst_lse = 0;
    int empty_rows = 0;
    for (ggml_tensor* part : {first, rest}) {
      const int c0 = part == first ? 0 : split, c1 = part == first ? split : kCells;
      const float* lse = ggml_flash_attn_ext_lse_data(part);
      for (int h = 0; h < kHeads; ++h) {
        for (int r = 0; r < kRows; ++r) {
          double expected = 0;
          lane.exact(h, r, c0, c1, &expected);
          const float got = lse[r * kHeads + h];
          if (std::isinf(expected)) {
            EXPECT_EQ(got, GGML_FLASH_ATTN_LSE_NONE) << "split " << split << " head " << h << " row " << r;
            ++empty_rows;
          } else {
            worst_lse = std::max(worst_lse, std::fabs(expected - got));
          }
        }
      }
    }
    EXPECT_LT(worst_lse, 1e-3) << "split at " << split;
    if (split == kPromptStart) {
      EXPECT_EQ(empty_rows, kHeads * kDecodeRows) << "the decode rows see no prompt cell";
    }
  }
}
#endif

}  // namespace
}  // namespace batchwise
