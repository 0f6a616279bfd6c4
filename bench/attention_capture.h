// AttentionCapture: the attention output of every layer of one decode step, taken from a llama.cpp context through
// its eval callback, and layer 0's flash-attention inputs (Q, K, V, mask), so that a wrong answer of one attention
// path can be placed: two contexts that hold the same cells and decode the same ubatch have equal layer-0 inputs,
// so a difference at layer 0 is the attention op's own, and a host computation in double from the captured inputs
// says which of the two is right, for which rows (queries) and heads. Used by attention_logits_check
// (ATTENTION_CAPTURE=1). Bench-only: it reads device tensors back, which is slow and stops CUDA graphs.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "ggml-backend.h"
#include "ggml.h"

namespace bench {

// A tensor's bytes as they lie in its buffer (a view's whole span) and its shape and strides.
struct TensorCopy {
  ggml_type type = GGML_TYPE_F32;
  int64_t ne[4] = {};
  size_t nb[4] = {};
  std::vector<uint8_t> bytes;

  static TensorCopy of(const ggml_tensor* t) {
    TensorCopy c;
    c.type = t->type;
    for (int i = 0; i < 4; ++i) c.ne[i] = t->ne[i], c.nb[i] = t->nb[i];
    c.bytes.resize(ggml_nbytes(t));
    ggml_backend_tensor_get(t, c.bytes.data(), 0, c.bytes.size());
    return c;
  }
  // Element (i0, i1, i2) as a float (F32 or F16 only).
  float at(int64_t i0, int64_t i1, int64_t i2) const {
    const uint8_t* p = bytes.data() + i0 * nb[0] + i1 * nb[1] + i2 * nb[2];
    if (type == GGML_TYPE_F16) {
      ggml_fp16_t h;
      std::memcpy(&h, p, sizeof h);
      return ggml_fp16_to_fp32(h);
    }
    float f;
    std::memcpy(&f, p, sizeof f);
    return f;
  }
};

// A flash-attention node's inputs, read back from the device.
struct FlashInputs {
  TensorCopy q, k, v, mask;
  float scale = 1.0f;
  static FlashInputs of(const ggml_tensor* fa) {
    FlashInputs in;
    in.q = TensorCopy::of(fa->src[0]), in.k = TensorCopy::of(fa->src[1]);
    in.v = TensorCopy::of(fa->src[2]), in.mask = TensorCopy::of(fa->src[3]);
    std::memcpy(&in.scale, fa->op_params, sizeof(float));
    return in;
  }
};

inline double rel_l2(const float* a, const float* ref, size_t n) {
  double sd = 0, sr = 0;
  for (size_t i = 0; i < n; ++i) sd += (double(a[i]) - ref[i]) * (double(a[i]) - ref[i]), sr += double(ref[i]) * ref[i];
  return sr > 0 ? std::sqrt(sd / sr) : 0;
}

// K and V of layer 0 as floats, [kv_head][cell][d] (read once: the host attention below visits them many times).
struct HostKV {
  int64_t d_k = 0, d_v = 0, n_kv = 0, n_kv_head = 0, gqa = 1;
  std::vector<float> k, v;
  explicit HostKV(const FlashInputs& c)
      : d_k(c.k.ne[0]), d_v(c.v.ne[0]), n_kv(c.k.ne[1]), n_kv_head(c.k.ne[2]), gqa(c.q.ne[2] / c.k.ne[2]) {
    k.resize(static_cast<size_t>(n_kv_head * n_kv * d_k)), v.resize(static_cast<size_t>(n_kv_head * n_kv * d_v));
    for (int64_t hk = 0; hk < n_kv_head; ++hk) {
      for (int64_t j = 0; j < n_kv; ++j) {
        for (int64_t d = 0; d < d_k; ++d) k[(hk * n_kv + j) * d_k + d] = c.k.at(d, j, hk);
        for (int64_t d = 0; d < d_v; ++d) v[(hk * n_kv + j) * d_v + d] = c.v.at(d, j, hk);
      }
    }
  }
};

// One layer's attention for query row `r` and head `h` in double, from the captured inputs, over the cells
// `use(j)` admits, each scored with `bias(j)` added (the row's mask, or 0); `out` gets d_v values. Returns the
// number of cells used.
template <typename Use, typename Bias>
int host_attention(const FlashInputs& c, const HostKV& kv, int64_t r, int64_t h, Use use, Bias bias, double* out) {
  const int64_t hk = h / kv.gqa;
  std::vector<double> q(static_cast<size_t>(kv.d_k));
  for (int64_t d = 0; d < kv.d_k; ++d) q[d] = c.q.at(d, r, h);
  std::vector<std::pair<int64_t, double>> scores;
  double max_s = -INFINITY;
  for (int64_t j = 0; j < kv.n_kv; ++j) {
    if (!use(j)) continue;
    const float* kj = &kv.k[(hk * kv.n_kv + j) * kv.d_k];
    double s = 0;
    for (int64_t d = 0; d < kv.d_k; ++d) s += q[d] * kj[d];
    s = s * c.scale + bias(j);
    scores.emplace_back(j, s);
    max_s = std::max(max_s, s);
  }
  for (int64_t d = 0; d < kv.d_v; ++d) out[d] = 0;
  double sum = 0;
  for (auto& [j, s] : scores) {
    const double p = std::exp(s - max_s);
    sum += p;
    const float* vj = &kv.v[(hk * kv.n_kv + j) * kv.d_v];
    for (int64_t d = 0; d < kv.d_v; ++d) out[d] += p * vj[d];
  }
  for (int64_t d = 0; d < kv.d_v && sum > 0; ++d) out[d] /= sum;
  return static_cast<int>(scores.size());
}

// How far a layer's flash-attention output is from the host's attention over its own inputs: the worst and the
// mean relative L2 error over every query row of a few heads (one in each group of KV heads, as far as 4).
struct HostCheck {
  double worst = 0, mean = 0;
  int pairs = 0;
};

inline HostCheck check_against_host(const FlashInputs& in, const std::vector<float>& out) {
  const HostKV kv(in);
  const int64_t n_head = in.q.ne[2], n_rows = in.q.ne[1], d_v = kv.d_v;
  std::vector<double> ref(static_cast<size_t>(d_v));
  HostCheck c;
  for (int64_t g = 0; g < std::min<int64_t>(4, kv.n_kv_head); ++g) {
    const int64_t h = g * (kv.n_kv_head / std::min<int64_t>(4, kv.n_kv_head)) * kv.gqa + g % kv.gqa;
    for (int64_t r = 0; r < n_rows; ++r) {
      const auto sees = [&](int64_t j) { return std::isfinite(in.mask.at(j, r, 0)); };
      const auto bias = [&](int64_t j) { return double(in.mask.at(j, r, 0)); };
      if (host_attention(in, kv, r, h, sees, bias, ref.data()) == 0) continue;
      double sd = 0, sr = 0;
      for (int64_t d = 0; d < d_v; ++d) {
        const double got = out[static_cast<size_t>((r * n_head + h) * d_v + d)];
        sd += (got - ref[d]) * (got - ref[d]), sr += ref[d] * ref[d];
      }
      const double e = sr > 0 ? std::sqrt(sd / sr) : 0;
      c.worst = std::max(c.worst, e), c.mean += e, c.pairs++;
    }
  }
  if (c.pairs > 0) c.mean /= c.pairs;
  return c;
}

struct AttentionCapture {
  bool active = false;                      // capture during the next llama_decode only
  bool check_layers = false;                // check every layer against the host (check_against_host)
  std::map<int, std::vector<float>> layers;  // layer -> kqv_out, [n_embd_head * n_head, n_tokens] row-major by token
  std::map<int, HostCheck> host;            // layer -> its check, with check_layers
  FlashInputs layer0;                       // layer 0's flash-attention inputs

  // llama_context_params::cb_eval; user_data is an AttentionCapture.
  static bool callback(ggml_tensor* t, bool ask, void* user_data) {
    auto* self = static_cast<AttentionCapture*>(user_data);
    int layer = -1;
    if (!self->active || std::sscanf(t->name, "kqv_out-%d", &layer) != 1) return !ask;
    if (ask) return true;
    std::vector<float>& out = self->layers[layer];
    out.resize(static_cast<size_t>(ggml_nelements(t)));
    if (t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t)) return true;
    ggml_backend_tensor_get(t, out.data(), 0, out.size() * sizeof(float));
    const ggml_tensor* fa = t->src[0];
    if (fa == nullptr || fa->op != GGML_OP_FLASH_ATTN_EXT) return true;
    if (layer == 0) self->layer0 = FlashInputs::of(fa);
    if (self->check_layers) self->host[layer] = check_against_host(layer == 0 ? self->layer0 : FlashInputs::of(fa), out);
    return true;
  }
};

}  // namespace bench
