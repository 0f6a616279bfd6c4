// The events of a streamed /v1/responses answer: their order, sequence numbers and ids, and the text an engine
// that does not stream (an --endpoint model) leaves to the end.
#include "server/response_events.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

nlohmann::json reply(const std::string& text, const std::string& status) {
  return {{"object", "response"},
          {"status", status},
          {"output", {{{"type", "message"}, {"content", {{{"type", "output_text"}, {"text", text}}}}}}}};
}

TEST(ResponseEvents, StreamedPiecesThenTheClosingEventsWithRisingSequenceNumbers) {
  ResponseEvents events("m", "req_1");
  std::vector<nlohmann::json> all = events.start();
  all.push_back(events.text("Hel"));
  all.push_back(events.text("lo"));
  for (auto& e : events.finish(reply("Hello", "completed"))) all.push_back(e);
  std::vector<std::string> types;
  for (size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i]["sequence_number"], i);
    types.push_back(all[i]["type"]);
  }
  EXPECT_EQ(types, (std::vector<std::string>{"response.created", "response.in_progress", "response.output_item.added",
                                             "response.content_part.added", "response.output_text.delta",
                                             "response.output_text.delta", "response.output_text.done",
                                             "response.content_part.done", "response.output_item.done",
                                             "response.completed"}));
  EXPECT_EQ(all[0]["response"]["id"], "resp_req_1");
  EXPECT_EQ(all[4]["item_id"], "msg_req_1");
  EXPECT_EQ(all[6]["text"], "Hello");
  EXPECT_EQ(all[8]["item"]["status"], "completed");
  EXPECT_EQ(all.back()["response"], reply("Hello", "completed"));
}

TEST(ResponseEvents, AWholeAnswerIsOneDeltaAndACutOneEndsIncomplete) {
  ResponseEvents events("m", "req_2");
  (void)events.start();
  const auto closing = events.finish(reply("All at once", "incomplete"));
  ASSERT_EQ(closing.size(), 5u);
  EXPECT_EQ(closing[0]["type"], "response.output_text.delta");
  EXPECT_EQ(closing[0]["delta"], "All at once");
  EXPECT_EQ(closing[3]["item"]["status"], "incomplete");
  EXPECT_EQ(closing[4]["type"], "response.incomplete");
  EXPECT_EQ(ResponseEvents::answer_text(reply("x", "completed")), "x");
  EXPECT_EQ(ResponseEvents::answer_text(nlohmann::json::parse(R"({"output": 3})")), "");
}

TEST(ResponseEvents, AnErrorIsTheApisErrorEvent) {
  ResponseEvents events("m", "req_3");
  const auto e = events.error(Error{ErrorCode::kTimeout, "no answer within 1 s"});
  EXPECT_EQ(e["type"], "error");
  EXPECT_EQ(e["message"], "no answer within 1 s");
  EXPECT_EQ(e["sequence_number"], 0);
}

}  // namespace
}  // namespace batchwise
