#include "engine/http/sse_assembler.h"

#include "core/json_read.h"

namespace batchwise {
namespace {

std::string shorten(std::string_view text) {
  std::string s(text.substr(0, 120));
  return text.size() > 120 ? s + "..." : s;
}

// The text a choice's delta carries, if it is a string.
std::string_view string_at(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return {};
  return it->get_ref<const std::string&>();
}

// A text field that is absent, null or a string; a number or an object there is a broken server,
// not an empty answer.
bool text_field_ok(const nlohmann::json& object, const char* key) {
  const nlohmann::json* v = json_field(object, key);
  return !v || v->is_null() || v->is_string();
}

}  // namespace

Status SseAssembler::feed(std::string_view bytes, double now_s) {
  if (error_) return std::unexpected(*error_);
  pending_.append(bytes);
  size_t start = 0;
  while (!done_) {
    const size_t nl = pending_.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view line(pending_.data() + start, nl - start);
    start = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (Status s = take_line(line, now_s); !s) {
      error_ = s.error();
      return s;
    }
  }
  pending_.erase(0, done_ ? pending_.size() : start);
  return {};
}

Status SseAssembler::take_line(std::string_view line, double now_s) {
  if (line.empty()) return dispatch(now_s);
  if (line.front() == ':') return {};  // comment (keep-alive)
  const size_t colon = line.find(':');
  const std::string_view field = line.substr(0, colon);
  if (field != "data") return {};  // event, id, retry, or a field we do not use
  std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (has_data_) data_ += '\n';
  data_.append(value);
  has_data_ = true;
  return {};
}

Status SseAssembler::dispatch(double now_s) {
  if (!has_data_) return {};
  has_data_ = false;
  std::string data = std::move(data_);
  data_.clear();
  events_++;
  if (data == "[DONE]") {
    done_ = true;
    return {};
  }
  const std::optional<nlohmann::json> chunk = parse_json_bounded(data);
  if (!chunk || !chunk->is_object()) {
    return make_error(ErrorCode::kServerError, "streamed event " + std::to_string(events_) +
                                                   " is not a JSON object (or nests too deep): " + shorten(data));
  }
  return take_chunk(*chunk, now_s);
}

Status SseAssembler::take_chunk(const nlohmann::json& chunk, double now_s) {
  if (auto e = chunk.find("error"); e != chunk.end()) {
    const std::string_view message = e->is_object() ? string_at(*e, "message") : string_at(chunk, "error");
    return make_error(ErrorCode::kServerError,
                      "the server ended the stream with an error: " + (message.empty() ? shorten(json_dump(*e)) : std::string(message)));
  }
  if (id_.is_null() && chunk.contains("id")) id_ = chunk["id"];
  if (created_.is_null() && chunk.contains("created")) created_ = chunk["created"];
  if (model_.is_null() && chunk.contains("model")) model_ = chunk["model"];
  if (fingerprint_.is_null() && chunk.contains("system_fingerprint")) fingerprint_ = chunk["system_fingerprint"];
  if (auto u = chunk.find("usage"); u != chunk.end() && u->is_object()) usage_ = *u;
  if (auto t = chunk.find("timings"); t != chunk.end() && t->is_object()) timings_ = *t;
  auto list = chunk.find("choices");
  if (list == chunk.end() || list->is_null()) return {};  // the usage chunk at the end has none
  auto broken = [&](const std::string& what) {
    return make_error(ErrorCode::kServerError,
                      "streamed event " + std::to_string(events_) + ": " + what + ": " + shorten(json_dump(chunk)));
  };
  if (!list->is_array()) return broken("`choices` is not an array");
  bool carried_text = false;
  for (const auto& c : *list) {
    if (!c.is_object()) return broken("a choice is not an object");
    // Checked, not c.value("index", 0): that throws on "zero" inside curl's write callback.
    const nlohmann::json* index_field = json_field(c, "index");
    const std::optional<int64_t> index =
        !index_field || index_field->is_null() ? std::optional<int64_t>(0) : json_as_int64(*index_field);
    if (!index || *index < 0 || *index > 1024) return broken("a choice's `index` is not a small integer");
    Choice& choice = choices_[*index];
    std::string_view text, reasoning;
    if (chat_) {
      auto d = c.find("delta");
      if (d != c.end() && !d->is_null()) {
        if (!d->is_object() || !text_field_ok(*d, "content") || !text_field_ok(*d, "reasoning_content")) {
          return broken("a choice's `delta` content is not a string");
        }
        text = string_at(*d, "content");
        reasoning = string_at(*d, "reasoning_content");
      }
    } else {
      if (!text_field_ok(c, "text")) return broken("a choice's `text` is not a string");
      text = string_at(c, "text");
    }
    choice.content.append(text);
    choice.reasoning.append(reasoning);
    carried_text = carried_text || !text.empty() || !reasoning.empty();
    if (auto f = c.find("finish_reason"); f != c.end() && !f->is_null()) choice.finish_reason = *f;
  }
  if (carried_text) {
    if (!first_content_s_) first_content_s_ = now_s;
    last_content_s_ = now_s;
    content_chunks_++;
  }
  return {};
}

double SseAssembler::mean_gap_ms() const {
  if (content_chunks_ < 2 || !first_content_s_) return 0;
  return (last_content_s_ - *first_content_s_) * 1000 / (content_chunks_ - 1);
}

Expected<nlohmann::json> SseAssembler::finish() {
  if (error_) return std::unexpected(*error_);
  if (!done_) {
    // A last event without its blank line still counts; the [DONE] marker must have come.
    if (!pending_.empty()) {
      std::string rest = std::move(pending_);
      pending_.clear();
      if (Status s = feed(rest + "\n", last_content_s_); !s) return std::unexpected(s.error());
    }
    if (!done_ && has_data_) {
      if (Status s = dispatch(last_content_s_); !s) return std::unexpected(s.error());
    }
    if (!done_) {
      return make_error(ErrorCode::kServerError, "the stream ended without `data: [DONE]` after " +
                                                     std::to_string(events_) + " events (cut short)");
    }
  }
  nlohmann::json body = {{"id", id_}, {"object", chat_ ? "chat.completion" : "text_completion"},
                         {"created", created_}, {"model", model_}};
  if (!fingerprint_.is_null()) body["system_fingerprint"] = fingerprint_;
  nlohmann::json choices = nlohmann::json::array();
  for (auto& [index, c] : choices_) {
    nlohmann::json out = {{"index", index}};
    if (chat_) {
      out["message"] = {{"role", "assistant"}, {"content", std::move(c.content)}};
      if (!c.reasoning.empty()) out["message"]["reasoning_content"] = std::move(c.reasoning);
    } else {
      out["text"] = std::move(c.content);
    }
    out["finish_reason"] = c.finish_reason;
    choices.push_back(std::move(out));
  }
  body["choices"] = std::move(choices);
  if (!usage_.is_null()) body["usage"] = usage_;
  if (!timings_.is_null()) body["timings"] = timings_;
  return body;
}

}  // namespace batchwise
