// complete_utf8_prefix: a streamed piece never ends inside a character.
#include "core/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace batchwise {
namespace {

TEST(Utf8, APieceStopsBeforeACharacterWhoseBytesAreNotAllThere) {
  const std::string euro = "\xE2\x82\xAC";   // 3 bytes
  const std::string emoji = "\xF0\x9F\x98\x80";  // 4 bytes
  const std::string text = "ab" + euro + emoji;
  EXPECT_EQ(complete_utf8_prefix(text, text.size()), text.size());
  EXPECT_EQ(complete_utf8_prefix(text, 2), 2u);
  for (size_t cut = 3; cut < 5; ++cut) EXPECT_EQ(complete_utf8_prefix(text, cut), 2u) << cut;     // inside the euro
  EXPECT_EQ(complete_utf8_prefix(text, 5), 5u);
  for (size_t cut = 6; cut < 9; ++cut) EXPECT_EQ(complete_utf8_prefix(text, cut), 5u) << cut;     // inside the emoji
  EXPECT_EQ(complete_utf8_prefix(text, 0), 0u);
}

TEST(Utf8, InvalidBytesNeverHoldTheRestBack) {
  // A stray continuation byte and a lead byte followed by ASCII are as whole as they will ever be.
  EXPECT_EQ(complete_utf8_prefix("a\x80", 2), 2u);
  EXPECT_EQ(complete_utf8_prefix("\xE2z", 2), 2u);
  EXPECT_EQ(complete_utf8_prefix("\x80\x80\x80\x80", 4), 4u);
}

}  // namespace
}  // namespace batchwise
