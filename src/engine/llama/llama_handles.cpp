#include "engine/llama/llama_handles.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "core/log.h"
#include "model/amx_packing.h"
#include "model/gguf_checks.h"
#include "model/model_source.h"

namespace batchwise {
namespace {

void forward_log(ggml_log_level level, const char* text, void*) {
  if (level == GGML_LOG_LEVEL_ERROR || log_level() >= LogLevel::kDebug) std::fputs(text, stderr);
}

}  // namespace

void init_llama_backend() {
  static std::once_flag once;
  std::call_once(once, [] {
    llama_log_set(forward_log, nullptr);
    llama_backend_init();
  });
}

int llama_gpu_count() {
  init_llama_backend();
  int n = 0;
  for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
    if (ggml_backend_dev_type(ggml_backend_dev_get(i)) == GGML_BACKEND_DEVICE_TYPE_GPU) n++;
  }
  return n;
}

int64_t llama_head_size(const llama_model* model, const std::string& key) {
  char arch[64] = {}, value[32] = {};
  if (llama_model_meta_val_str(model, "general.architecture", arch, sizeof arch) < 0) return 0;
  if (llama_model_meta_val_str(model, (std::string(arch) + ".attention." + key).c_str(), value, sizeof value) >= 0) {
    return std::atoll(value);
  }
  const int32_t heads = llama_model_n_head(model);
  return heads > 0 ? llama_model_n_embd(model) / heads : 0;
}

std::optional<ggml_type> llama_kv_type_named(const std::string& name) {
  for (int t = 0; t < GGML_TYPE_COUNT; ++t) {
    const char* n = ggml_type_name(static_cast<ggml_type>(t));
    if (n != nullptr && name == n) return static_cast<ggml_type>(t);
  }
  return std::nullopt;
}

llama_model_params llama_model_params_for(const std::filesystem::path& path, int n_gpu_layers, ModelPlacement placement) {
  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = placement.kind == ModelPlacement::Kind::kCpu ? 0 : n_gpu_layers;
  if (placement.kind == ModelPlacement::Kind::kGpu) {
    mp.split_mode = LLAMA_SPLIT_MODE_NONE;  // the whole model on main_gpu: one copy per GPU, no traffic between them
    mp.main_gpu = placement.gpu;
  }
  if (llama_cpu_uses_amx()) {
    // A file batchwise cannot read a shape from (another architecture) is llama.cpp's to load as it will.
    const auto info = load_model_info(path.string());
    if (info && !amx_holds_model(info->spec)) {
      mp.use_extra_bufts = false;
      log_info("llama.cpp: " + path.filename().string() +
               " has multi-head latent attention, which llama.cpp cannot run from this CPU's AMX buffers: loaded without "
               "them");
    }
  }
  return mp;
}

Expected<ModelPtr> load_llama_model(const std::filesystem::path& path, int n_gpu_layers, ModelPlacement placement) {
  init_llama_backend();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return make_error(ErrorCode::kNotFound, "model file " + path.string() + " not found");
  }
  // llama.cpp's loader aborts the process (GGML_ASSERT) on some damaged files: our bounds-checked
  // reader looks first and turns those into an error line.
  BW_TRY(check_gguf_file_for_llama(path));
  ModelPtr model(llama_model_load_from_file(path.c_str(), llama_model_params_for(path, n_gpu_layers, placement)));
  if (!model) {
    return make_error(ErrorCode::kCorrupt,
                      "llama.cpp could not load " + path.string() + " (not a GGUF model, or truncated; --verbose says why)");
  }
  return model;
}

}  // namespace batchwise
