#include "job/line_scan.h"

#include <nlohmann/json.hpp>

#include "core/files.h"
#include "core/json_read.h"

namespace batchwise {
namespace {

// Characters of the prompt that decide which requests are grouped as sharing a prefix.
constexpr size_t kPrefixKeyChars = 1024;

// The events of one line: the top-level fields dispatch needs, the prompt's first characters, and the
// nesting depth (past kMaxJsonDepth the rest is still read, so a custom_id after the deep part is found,
// but nothing is kept: nlohmann's parser is iterative, only a DOM would recurse).
class LineSax final : public nlohmann::json_sax<nlohmann::json> {
 public:
  enum class Field { kNone, kCustomId, kMethod, kUrl, kPriority, kBody, kOther };
  bool root_object = false;
  bool too_deep = false;
  std::string custom_id, method, url;
  bool method_seen = false, method_string = false, url_string = false;
  bool body_object = false;
  bool priority_seen = false;
  std::optional<int64_t> priority;
  // messages[].content (strings and text parts) concatenated; prompt; /v1/responses' instructions and input
  std::string chat_text, prompt_text, instructions_text, input_text;

  bool null() override { return scalar(); }
  bool boolean(bool) override { return scalar(); }
  bool number_integer(number_integer_t v) override {
    if (at_field(Field::kPriority)) priority = v;
    return scalar();
  }
  bool number_unsigned(number_unsigned_t v) override {
    if (at_field(Field::kPriority) && v <= static_cast<number_unsigned_t>(INT64_MAX)) priority = static_cast<int64_t>(v);
    return scalar();
  }
  bool number_float(number_float_t, const string_t&) override { return scalar(); }
  bool binary(binary_t&) override { return scalar(); }
  bool string(string_t& s) override {
    if (depth_ == 1) {
      if (field_ == Field::kCustomId) custom_id = std::move(s);
      else if (field_ == Field::kMethod) method_string = true, method = std::move(s);
      else if (field_ == Field::kUrl) url_string = true, url = std::move(s);
    } else if (in_body()) {
      if (depth_ == 2 && keys_[2] == "prompt") append(prompt_text, s);
      else if (depth_ == 2 && keys_[2] == "instructions") append(instructions_text, s);
      else if (depth_ == 2 && keys_[2] == "input") append(input_text, s);
      else if (message_content()) append(keys_[2] == "messages" ? chat_text : input_text, s);
    }
    return true;
  }
  bool start_object(std::size_t) override {
    if (depth_ == 0) root_object = true;
    if (at_field(Field::kBody)) body_object = true;
    return enter();
  }
  bool end_object() override { return leave(); }
  bool start_array(std::size_t) override { return enter(); }
  bool end_array() override { return leave(); }
  bool key(string_t& k) override {
    if (depth_ == 1) {
      field_ = k == "custom_id" ? Field::kCustomId
               : k == "method"  ? Field::kMethod
               : k == "url"     ? Field::kUrl
               : k == "priority" ? Field::kPriority
               : k == "body"    ? Field::kBody
                                : Field::kOther;
      // A repeated key replaces the value before it, as a parser building the object keeps the last.
      if (field_ == Field::kCustomId) custom_id.clear();
      if (field_ == Field::kMethod) method_seen = true, method_string = false;
      if (field_ == Field::kUrl) url_string = false;
      if (field_ == Field::kBody) {
        body_object = false;
        chat_text.clear(), prompt_text.clear(), instructions_text.clear(), input_text.clear();
      }
      if (field_ == Field::kPriority) priority_seen = true, priority.reset();
    }
    if (depth_ < kKeyDepth) keys_[depth_] = std::move(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  static constexpr int kKeyDepth = 7;
  bool at_field(Field f) const { return depth_ == 1 && field_ == f; }
  // A string that is a message's content (messages[i].content, or /v1/responses' input[i].content), or the
  // text of one of its parts (content[j].text).
  bool message_content() const {
    if (keys_[2] != "messages" && keys_[2] != "input") return false;
    return (depth_ == 4 && keys_[4] == "content") || (depth_ == 6 && keys_[4] == "content" && keys_[6] == "text");
  }
  bool in_body() const { return depth_ >= 2 && field_ == Field::kBody && !too_deep; }
  bool scalar() { return true; }
  static void append(std::string& text, const std::string& s) {
    if (text.size() < kPrefixKeyChars) text.append(s, 0, kPrefixKeyChars - text.size());
  }
  bool enter() {
    if (++depth_ > kMaxJsonDepth) too_deep = true;
    if (depth_ < kKeyDepth) keys_[depth_].clear();
    return true;
  }
  bool leave() {
    --depth_;
    return true;
  }
  int depth_ = 0;
  Field field_ = Field::kNone;
  std::string keys_[kKeyDepth];
};

}  // namespace

std::string scan_line(std::string_view text, ScannedLine& out) {
  LineSax sax;
  const bool parsed = nlohmann::json::sax_parse(text.begin(), text.end(), &sax);
  if (!sax.custom_id.empty()) out.custom_id = sax.custom_id;
  if (sax.too_deep) {
    return "JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels (the limit per line); flatten the body";
  }
  if (!parsed) return "not valid JSON (each line must be one JSON object)";
  if (!sax.root_object) return "must be a JSON object";
  if (out.custom_id.empty()) return "field `custom_id` missing or not a non-empty string";
  if (sax.method_seen && (!sax.method_string || sax.method != "POST")) return "field `method` must be \"POST\"";
  if (!sax.url_string) return "field `url` missing";
  const auto kind = api_kind_from_url(sax.url);
  if (!kind) return "unknown url `" + sax.url + "`: use " + api_kind_urls_text();
  out.kind = *kind;
  if (!sax.body_object) return "field `body` missing or not an object";
  if (sax.priority_seen) {
    if (!sax.priority || *sax.priority < INT32_MIN || *sax.priority > INT32_MAX) {
      return "field `priority` must be a 32-bit integer";
    }
    out.priority = static_cast<int32_t>(*sax.priority);
  }
  // The text the prompt starts with, in the order the prompt is rendered (instructions are the first message).
  out.prefix_key = fnv1a64(*kind == ApiKind::kChatCompletions ? sax.chat_text
                           : *kind == ApiKind::kResponses     ? sax.instructions_text + sax.input_text
                                                              : sax.prompt_text);
  const auto [offset, length] = json_top_level_value_span(text, "body");
  // A key spelled with escapes ("bo\u0064y") is the body to a parser but not to the span search.
  if (length == 0 || text[offset] != '{') return "field `body` must be spelled `body` (no escapes in the key)";
  out.body_offset = static_cast<uint32_t>(offset);
  out.body_length = static_cast<uint32_t>(length);
  return "";
}

}  // namespace batchwise
