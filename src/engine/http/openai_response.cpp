#include "engine/http/openai_response.h"

#include <algorithm>
#include <cctype>

#include "core/json_read.h"

namespace batchwise {
namespace {

// The server's own words about an error: OpenAI's {"error": {"message": ...}}, else the body's start.
std::string error_text(const std::string& body) {
  const std::optional<nlohmann::json> parsed = parse_json_bounded(body);
  const nlohmann::json j = parsed ? *parsed : nlohmann::json();
  if (j.is_object()) {
    auto e = j.find("error");
    if (e != j.end() && e->is_object() && e->contains("message") && (*e)["message"].is_string()) {
      return (*e)["message"].get<std::string>();
    }
    if (e != j.end() && e->is_string()) return e->get<std::string>();
  }
  std::string text = body.substr(0, 200);
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

// Whether an error answer says the request did not fit the context. The servers' words: OpenAI
// "context_length_exceeded", vLLM "maximum context length", llama-server "exceed_context_size_error",
// "exceeds the available context size" (400) and "Context size has been exceeded." (500). For a 5xx only
// the explicit phrases count: a server error that merely mentions a context is still a server error.
bool says_context_exceeded(std::string_view body, bool server_error) {
  std::string text(body.substr(0, 4096));
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  auto has = [&](std::string_view phrase) { return text.find(phrase) != std::string::npos; };
  if (has("context_length_exceeded") || has("exceed_context") || has("context size has been exceeded")) return true;
  if (server_error) return false;
  return has("context_length") || has("context length") || has("context size") || has("context window");
}

}  // namespace

namespace {

// Picks usage.prompt_tokens, usage.completion_tokens, usage.prompt_tokens_details.cached_tokens and
// timings.cache_n out of the event stream, and checks the shape of `choices` on the way (an array
// of objects whose message.content / text is a string or null); keys_[d] is the current key at
// depth d (1 = top level). Nesting past kMaxJsonDepth stops the parse (the body is refused).
class UsageSax final : public nlohmann::json_sax<nlohmann::json> {
 public:
  ResponseUsage usage;

  bool null() override { return value(kNull); }
  bool boolean(bool) override { return value(kOther); }
  bool number_integer(number_integer_t v) override { return number(static_cast<int64_t>(v)); }
  bool number_unsigned(number_unsigned_t v) override {
    return number(v > static_cast<number_unsigned_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(v));
  }
  bool number_float(number_float_t v, const string_t&) override {
    // A NaN or huge float cast to an integer is undefined behaviour: clamp first.
    return number(v >= -9.0e18 && v <= 9.0e18 ? static_cast<int64_t>(v) : 0);
  }
  bool string(string_t&) override { return value(kString); }
  bool binary(binary_t&) override { return value(kOther); }
  bool start_object(std::size_t) override {
    container(/*is_object=*/true);
    return enter();
  }
  bool end_object() override { return leave(); }
  bool start_array(std::size_t) override {
    if (depth_ == 1 && keys_[1] == "output") usage.has_output = true;
    container(/*is_object=*/false);
    return enter();
  }
  bool end_array() override { return leave(); }
  bool key(string_t& k) override {
    if (depth_ < kDepth) keys_[depth_] = k;
    if (depth_ == 1 && k == "timings") usage.llama_server = true;
    if (depth_ == 3 && in_choices()) {
      usage.choices_with_message += k == "message";
      usage.choices_with_text += k == "text";
    }
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  enum ValueKind { kNull, kString, kOther };
  static constexpr int kDepth = 5;

  bool in_choices() const { return depth_ >= 1 && keys_[1] == "choices"; }
  void wrong(const char* what) {
    if (usage.shape_error.empty()) usage.shape_error = what;
  }
  // Checks a scalar at the current depth against what OpenAI's answer has there.
  bool value(ValueKind kind) {
    if (!in_choices()) return true;
    if (depth_ == 1) wrong("`choices` is not an array");
    if (depth_ == 2) wrong("a choice is not an object");
    if (depth_ == 3 && keys_[3] == "text" && kind != kString) wrong("a choice's `text` is not a string");
    if (depth_ == 3 && keys_[3] == "message") wrong("a choice's `message` is not an object");
    if (depth_ == 4 && keys_[3] == "message" && keys_[4] == "content" && kind == kOther) {
      wrong("a choice's message content is not a string");
    }
    return true;
  }
  void container(bool is_object) {
    if (depth_ == 1 && keys_[1] == "choices") {
      if (is_object) wrong("`choices` is not an array");
      else usage.has_choices = true;
      return;
    }
    if (!in_choices()) return;
    if (depth_ == 2 && is_object) usage.choices++;
    if (depth_ == 2 && !is_object) wrong("a choice is not an object");
    if (depth_ == 3 && keys_[3] == "text") wrong("a choice's `text` is not a string");
    if (depth_ == 3 && keys_[3] == "message" && !is_object) wrong("a choice's `message` is not an object");
    if (depth_ == 4 && keys_[3] == "message" && keys_[4] == "content") wrong("a choice's message content is not a string");
  }
  bool enter() {
    depth_++;
    if (depth_ < kDepth) keys_[depth_].clear();
    return depth_ <= kMaxJsonDepth;
  }
  bool leave() {
    depth_--;
    return true;
  }
  bool number(int64_t v) {
    (void)value(kOther);
    // Chat and text completions' names, and the Responses API's (input/output tokens).
    if (depth_ == 2 && keys_[1] == "usage") {
      if (keys_[2] == "prompt_tokens" || keys_[2] == "input_tokens") usage.prompt_tokens = v;
      if (keys_[2] == "completion_tokens" || keys_[2] == "output_tokens") usage.completion_tokens = v;
    } else if (depth_ == 3 && keys_[1] == "usage" &&
               (keys_[2] == "prompt_tokens_details" || keys_[2] == "input_tokens_details") && keys_[3] == "cached_tokens") {
      usage.cached_tokens = v;
    } else if (depth_ == 2 && keys_[1] == "timings" && keys_[2] == "cache_n") {
      llama_cache_n_ = v;
    }
    return true;
  }
  int depth_ = 0;
  std::string keys_[kDepth];

 public:
  int64_t llama_cache_n_ = 0;
};

}  // namespace

std::optional<ResponseUsage> read_usage(std::string_view body) {
  UsageSax sax;
  if (!nlohmann::json::sax_parse(body.begin(), body.end(), &sax)) return std::nullopt;
  ResponseUsage u = sax.usage;
  if (u.cached_tokens == 0) u.cached_tokens = sax.llama_cache_n_;
  u.cached_tokens = std::clamp<int64_t>(u.cached_tokens, 0, u.prompt_tokens);
  return u;
}

std::string answer_shape_error(ApiKind kind, const ResponseUsage& usage) {
  if (kind == ApiKind::kEmbeddings) return "";
  if (kind == ApiKind::kResponses) return usage.has_output ? "" : "the answer has no `output` array";
  if (!usage.shape_error.empty()) return usage.shape_error;
  if (!usage.has_choices) return "the answer has no `choices`";
  // An empty `choices` or a choice without its answer (a stream's `delta` sent as the whole body)
  // carries no answer: recording it as ok would hide the server's fault.
  if (usage.choices == 0) return "the answer's `choices` is empty";
  if (kind == ApiKind::kChatCompletions && usage.choices_with_message < usage.choices) {
    return "a choice has no `message`";
  }
  if (kind == ApiKind::kCompletions && usage.choices_with_text < usage.choices) return "a choice has no `text`";
  return "";
}

Error error_for_http_status(int status, const std::string& body) {
  const std::string what = "HTTP " + std::to_string(status) + ": " + error_text(body);
  if (status == 429) return {ErrorCode::kRateLimited, what};
  if (status == 408) return {ErrorCode::kTimeout, what};
  // llama-server answers 500 "Context size has been exceeded." when its KV cache is full mid-decode:
  // the same request fails the same way again on that server, so it is final, not a retry.
  if (status >= 500 && says_context_exceeded(body, /*server_error=*/true)) {
    return {ErrorCode::kContextExceeded,
            what + " (the server's context is too small for its requests: start it with a larger -c, or fewer "
                   "slots sharing it)"};
  }
  if (status >= 500) return {ErrorCode::kServerError, what};
  if (status == 401 || status == 403) {
    return {ErrorCode::kInvalidArgument, what + " (the endpoint refused the API key: check --api-key-env)"};
  }
  if ((status == 400 || status == 413) && says_context_exceeded(body, /*server_error=*/false)) {
    return {ErrorCode::kContextExceeded, what};
  }
  return {ErrorCode::kInvalidArgument, what};
}

std::optional<int> read_total_slots(std::string_view body) {
  const std::optional<nlohmann::json> j = parse_json_bounded(body);
  if (!j || !j->is_object()) return std::nullopt;
  const nlohmann::json* slots = json_field(*j, "total_slots");
  if (!slots) return std::nullopt;
  const std::optional<int64_t> n = json_as_int64(*slots);
  if (!n || *n < 1 || *n > 1 << 20) return std::nullopt;
  return static_cast<int>(*n);
}

Expected<std::string> normalize_endpoint(std::string_view url) {
  const size_t scheme = url.starts_with("http://") ? 7 : url.starts_with("https://") ? 8 : 0;
  if (scheme == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--endpoint " + std::string(url) + ": give an http:// or https:// URL, e.g. http://127.0.0.1:8080");
  }
  std::string rest(url.substr(scheme));
  while (rest.ends_with("/")) rest.pop_back();
  if (rest.ends_with("/v1")) rest.resize(rest.size() - 3);
  while (rest.ends_with("/")) rest.pop_back();
  if (rest.empty() || rest.front() == '/') {
    return make_error(ErrorCode::kInvalidArgument, "--endpoint " + std::string(url) + ": no host");
  }
  return std::string(url.substr(0, scheme)) + rest;
}

Expected<std::vector<std::string>> normalize_endpoints(const std::vector<std::string>& urls) {
  if (urls.empty()) return make_error(ErrorCode::kInvalidArgument, "no --endpoint given");
  std::vector<std::string> out;
  for (const auto& e : urls) {
    BW_ASSIGN_OR_RETURN(std::string url, normalize_endpoint(e));
    if (std::find(out.begin(), out.end(), url) != out.end()) {
      return make_error(ErrorCode::kInvalidArgument, "--endpoint " + e + " is given twice");
    }
    out.push_back(std::move(url));
  }
  return out;
}

}  // namespace batchwise
