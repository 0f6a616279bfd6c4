// test::scratch_dir (test_support.h), on its own so that the sanitizer slice (tests/CMakeLists.txt), which
// links no batchwise module, can use it.
#include <gtest/gtest.h>

#include "test_support.h"

namespace batchwise::test {

std::filesystem::path scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = info ? std::string(info->test_suite_name()) + "." + info->name() : "no-test";
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  const auto dir = std::filesystem::path(BATCHWISE_TEST_TMP) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace batchwise::test
