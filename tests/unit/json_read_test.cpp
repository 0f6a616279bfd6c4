// json_read: untrusted JSON is measured and read by checking types first, never by throwing.
#include "core/json_read.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

TEST(JsonRead, NestingDepthCountsBracketsOutsideStringsOnly) {
  EXPECT_EQ(json_nesting_depth("1"), 0);
  EXPECT_EQ(json_nesting_depth(R"({"a":[1,{"b":[]}]})"), 4);
  EXPECT_EQ(json_nesting_depth(R"({"a":"[[[[\"[[[["})"), 1);
  EXPECT_GT(json_nesting_depth(std::string(70000, '[') + std::string(70000, ']')), kMaxJsonDepth);
}

TEST(JsonRead, BoundedParseRefusesDeepNestingAndNonJson) {
  EXPECT_TRUE(parse_json_bounded(R"({"a":[1,2]})"));
  EXPECT_FALSE(parse_json_bounded("{nope"));
  EXPECT_FALSE(parse_json_bounded(std::string(200000, '[') + std::string(200000, ']')));
  EXPECT_TRUE(parse_json_bounded(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']')));
}

TEST(JsonRead, TypedReadsReturnErrorsNamingTheKeyInsteadOfThrowing) {
  const auto j = nlohmann::json::parse(R"({"type":1,"name":"x","n":18446744073709551615,"b":"yes","z":null})");
  EXPECT_FALSE(json_string_or(j, "type", ""));
  EXPECT_NE(json_string_or(j, "type", "").error().message.find("`type`"), std::string::npos);
  EXPECT_EQ(*json_string_or(j, "name", ""), "x");
  EXPECT_EQ(*json_string_or(j, "missing", "d"), "d");
  EXPECT_EQ(*json_string_or(j, "z", "d"), "d");
  EXPECT_FALSE(json_int_or(j, "n", 0));  // above INT64_MAX
  EXPECT_FALSE(json_bool_or(j, "b", false));
  EXPECT_EQ(json_field(nlohmann::json::array(), "a"), nullptr);
  EXPECT_EQ(json_as_int64(nlohmann::json(1.5)), std::nullopt);
}

}  // namespace
}  // namespace batchwise
