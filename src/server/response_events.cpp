#include "server/response_events.h"

#include "core/clock.h"
#include "core/json_read.h"

namespace batchwise {

ResponseEvents::ResponseEvents(std::string model, const std::string& request_id)
    : model_(std::move(model)),
      response_id_("resp_" + request_id),
      message_id_("msg_" + request_id),
      created_at_(unix_time_s()) {}

nlohmann::json ResponseEvents::event(const std::string& type, nlohmann::json fields) {
  fields["type"] = type;
  fields["sequence_number"] = sequence_++;
  return fields;
}

nlohmann::json ResponseEvents::in_progress_response() const {
  return {{"id", response_id_}, {"object", "response"},  {"created_at", created_at_}, {"status", "in_progress"},
          {"error", nullptr},   {"model", model_},         {"output", nlohmann::json::array()}, {"usage", nullptr}};
}

nlohmann::json ResponseEvents::text_part(const std::string& text) const {
  return {{"type", "output_text"}, {"text", text}, {"annotations", nlohmann::json::array()}};
}

std::vector<nlohmann::json> ResponseEvents::start() {
  const nlohmann::json item = {{"id", message_id_}, {"type", "message"}, {"status", "in_progress"},
                               {"role", "assistant"}, {"content", nlohmann::json::array()}};
  return {event("response.created", {{"response", in_progress_response()}}),
          event("response.in_progress", {{"response", in_progress_response()}}),
          event("response.output_item.added", {{"output_index", 0}, {"item", item}}),
          event("response.content_part.added",
                {{"item_id", message_id_}, {"output_index", 0}, {"content_index", 0}, {"part", text_part("")}})};
}

nlohmann::json ResponseEvents::text(const std::string& piece) {
  text_ += piece;
  return event("response.output_text.delta", {{"item_id", message_id_},
                                              {"output_index", 0},
                                              {"content_index", 0},
                                              {"delta", piece},
                                              {"logprobs", nlohmann::json::array()}});
}

std::vector<nlohmann::json> ResponseEvents::finish(const nlohmann::json& reply) {
  std::vector<nlohmann::json> out;
  // An engine that does not stream (an --endpoint model) leaves the whole text to the end.
  const std::string whole = answer_text(reply);
  if (whole.size() > text_.size() && whole.starts_with(text_)) out.push_back(text(whole.substr(text_.size())));
  const bool complete = !reply.is_object() || reply.value("status", "completed") != "incomplete";
  const nlohmann::json place = {{"item_id", message_id_}, {"output_index", 0}, {"content_index", 0}};
  nlohmann::json text_done = place;
  text_done["text"] = text_;
  nlohmann::json part_done = place;
  part_done["part"] = text_part(text_);
  const nlohmann::json item = {{"id", message_id_},
                               {"type", "message"},
                               {"status", complete ? "completed" : "incomplete"},
                               {"role", "assistant"},
                               {"content", nlohmann::json::array({text_part(text_)})}};
  out.push_back(event("response.output_text.done", std::move(text_done)));
  out.push_back(event("response.content_part.done", std::move(part_done)));
  out.push_back(event("response.output_item.done", {{"output_index", 0}, {"item", item}}));
  out.push_back(event(complete ? "response.completed" : "response.incomplete", {{"response", reply}}));
  return out;
}

nlohmann::json ResponseEvents::error(const Error& e) {
  return event("error", {{"code", error_code_name(e.code)}, {"message", e.message}, {"param", nullptr}});
}

std::string ResponseEvents::answer_text(const nlohmann::json& reply) {
  std::string text;
  const nlohmann::json* output = json_field(reply, "output");
  if (!output || !output->is_array()) return text;
  for (const auto& item : *output) {
    const nlohmann::json* content = json_field(item, "content");
    if (!content || !content->is_array()) continue;
    for (const auto& part : *content) {
      const nlohmann::json* type = json_field(part, "type");
      const nlohmann::json* t = json_field(part, "text");
      if (type && *type == "output_text" && t && t->is_string()) text += t->get_ref<const std::string&>();
    }
  }
  return text;
}

}  // namespace batchwise
