// Every verb's --help as a user reads it (issue 29, item 3): each verb lists the verb table's exit codes,
// usage (2) and fatal (3) included, and the verbs that stop cleanly on Ctrl-C list 130.
#include <gtest/gtest.h>

#include <sstream>

#include "test_support.h"

namespace batchwise::test {
namespace {

// The verbs `batchwise --help` lists, so a verb added later is checked without editing this test.
std::vector<std::string> verbs() {
  const auto r = run_batchwise({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> out;
  std::istringstream lines(r.out);
  std::string line;
  bool in_list = false;
  while (std::getline(lines, line)) {
    if (line == "Subcommands:" || line == "SUBCOMMANDS:") {
      in_list = true;
    } else if (in_list && line.starts_with("  ")) {
      std::istringstream words(line);
      std::string verb;
      words >> verb;
      out.push_back(verb);
    } else if (in_list) {
      break;
    }
  }
  return out;
}

bool lists(const std::string& help, const std::string& code) {
  const size_t at = help.find("Exit codes:");
  return at != std::string::npos && help.find("\n  " + code + " ", at) != std::string::npos;
}

TEST(CliHelp, EveryVerbListsItsExitCodes) {
  const auto all = verbs();
  ASSERT_GE(all.size(), 10u);
  for (const auto& verb : all) {
    const auto r = run_batchwise({verb, "--help"});
    EXPECT_EQ(r.exit_code, 0) << verb << ": " << r.err;
    EXPECT_TRUE(lists(r.out, "0") && lists(r.out, "2") && lists(r.out, "3")) << verb << " --help:\n" << r.out;
  }
  const auto run = run_batchwise({"run", "--help"});
  for (const char* code : {"0", "1", "2", "3", "130"}) EXPECT_TRUE(lists(run.out, code)) << code << "\n" << run.out;
  EXPECT_TRUE(lists(run_batchwise({"serve", "--help"}).out, "130"));
  EXPECT_TRUE(lists(run_batchwise({"merge", "--help"}).out, "1"));
  EXPECT_FALSE(lists(run_batchwise({"plan", "--help"}).out, "1"));
  EXPECT_NE(run_batchwise({"--help"}).out.find("Exit codes: 0 ok"), std::string::npos);
}

}  // namespace
}  // namespace batchwise::test
