#include "cli/engine_flags.h"

#include <string>

#include "engine/llama/chat_template.h"

namespace batchwise {
namespace {

// llama.cpp's KV cache types; quantized V needs flash attention (llama.cpp refuses the context otherwise).
void add_kv_type_flags(CLI::App& sub, LlamaEngineOptions& engine) {
  const auto types = CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1"});
  sub.add_option("--cache-type-k", engine.cache_type_k, "(-ctk) KV cache type of the keys")->capture_default_str()->check(types);
  sub.add_option("--cache-type-v", engine.cache_type_v, "(-ctv) KV cache type of the values")->capture_default_str()->check(types);
  sub.add_option_function<std::string>(
         "--kv-type", [&engine](const std::string& t) { engine.cache_type_k = engine.cache_type_v = t; },
         "KV cache type of keys and values at once (what `batchwise plan --kv-type` plans for)")
      ->check(types);
}

}  // namespace

void add_embedded_engine_flags(CLI::App& sub, LlamaEngineOptions& engine) {
  sub.add_option("-b,--batch-size", engine.n_batch, "tokens per llama_decode")->capture_default_str();
  sub.add_option("--ubatch-size", engine.n_ubatch, "(-ub) tokens per compute step")->capture_default_str();
  // BATCHWISE_THREADS: for a machine shared by several jobs at once (a CI runner, ctest -j), where each
  // taking every CPU makes llama.cpp's threads spin at their barriers against each other.
  sub.add_option("-t,--threads", engine.n_threads,
                 "CPU threads per lane (0: the CPUs this process may use, split between lanes)")
      ->envname("BATCHWISE_THREADS")
      ->capture_default_str();
  sub.add_option("--n-gpu-layers,--gpu-layers", engine.n_gpu_layers, "(-ngl) layers on the GPU (CUDA builds)")
      ->capture_default_str();
  add_kv_type_flags(sub, engine);
  sub.add_option("--max-request-tokens", engine.max_request_tokens,
                 "prompt + max_tokens limit per request (0: the model's trained context)")
      ->capture_default_str();
  sub.add_option("--prefix-slots", engine.prefix_slots, "cached shared prefixes kept at once")->capture_default_str();
  sub.add_option_function<std::string>(
         "--flash-attn", [&engine](const std::string& v) { engine.flash_attention = v != "off"; },
         "(-fa) flash attention: on, off or auto (default: auto, on where the backend has it; a bare -fa means on)")
      ->check(CLI::IsMember({"on", "off", "auto"}));
  sub.add_option_function<std::string>(
         "--attention",
         [&engine](const std::string& v) {
           engine.sparse_attention = v != "dense";
           engine.cascade_attention = v == "cascade";
         },
         "dense: each token attends to every KV cell of its lane, masked (llama.cpp's own way); sparse: only to "
         "the cells of its own sequence (a shared prefix and its own tokens), gathered on the GPU (Llama-shaped "
         "heads); cascade: the prefix a lane's sequences share once for all of them, then each one's own cells "
         "sparse, the two merged exactly. Needs flash attention (default: cascade where the layers are on GPUs "
         "that run it (NVIDIA Turing and newer), else sparse on a GPU; dense on a CPU, where the paths compute "
         "nearly the same and dense is fastest)")
      ->check(CLI::IsMember({"sparse", "dense", "cascade"}));
  std::string names;
  for (const auto& n : builtin_chat_templates()) names += (names.empty() ? "" : ", ") + n;
  sub.add_option("--chat-template", engine.chat_template,
                 "the chat template for /v1/chat/completions instead of the GGUF's own (which is rendered as "
                 "Jinja by llama.cpp's own engine, as llama-server does): a Jinja template file, or a built-in "
                 "name, rendered by llama.cpp's code for it (default: the GGUF's). Built-ins: " + names);
  sub.add_flag("--device-sampling", engine.device_sampling,
               "greedy argmax inside llama.cpp's graph: one token per sequence leaves the GPU, not its logits");
}

}  // namespace batchwise
