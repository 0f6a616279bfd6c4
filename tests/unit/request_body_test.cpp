// What the HTTP engine POSTs: the input's own body bytes, with only batchwise's fields added.
#include "engine/http/request_body.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

EngineRequest with_text(std::string text) {
  EngineRequest r;
  r.body_text = std::move(text);
  return r;
}

TEST(RequestBody, TheInputsBytesGoAsTheyAre) {
  const std::string body = R"({"z":1,"temperature":1.10e-7,"messages":[{"content":"caf\u00e9"}],"seed":123456789012345678901234567890})";
  auto r = with_text(body);
  EXPECT_EQ(request_body(r, false), body);
}

TEST(RequestBody, StreamingPutsItsTwoFieldsInFrontOfTheBodysOwn) {
  auto r = with_text(R"({"z":1,"temperature":1.10e-7})");
  EXPECT_EQ(request_body(r, true), R"({"stream":true,"stream_options":{"include_usage":true},"z":1,"temperature":1.10e-7})");
  auto empty = with_text("{ }");
  EXPECT_EQ(request_body(empty, true), R"({"stream":true,"stream_options":{"include_usage":true} })");
}

TEST(RequestBody, ABodyThatSetsStreamItselfHasItReplacedWithItsKeyOrderKept) {
  auto r = with_text(R"({"z":1,"stream":false,"a":2})");
  EXPECT_EQ(request_body(r, true), R"({"z":1,"stream":true,"a":2,"stream_options":{"include_usage":true}})");
}

TEST(RequestBody, AParsedBodyIsSerializedOnce) {
  EngineRequest r;
  r.body = {{"model", "m"}};
  EXPECT_EQ(request_body(r, false), R"({"model":"m"})");
  EXPECT_EQ(request_body(r, true), R"({"model":"m","stream":true,"stream_options":{"include_usage":true}})");
}

}  // namespace
}  // namespace batchwise
