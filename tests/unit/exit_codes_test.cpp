// Exit codes in --help (issue 29, item 3): every verb lists what its exit statuses mean, from one table;
// a status a verb never returns is not listed.
#include "cli/exit_codes.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

bool lists(const std::string& help, int code) {
  std::string number = std::to_string(code);
  number.resize(5, ' ');
  return help.find("\n  " + number) != std::string::npos;
}

TEST(ExitCodes, RunListsEveryCodeOfTheConvention) {
  const std::string help = exit_codes_help(verb_exits("run"));
  for (int code : {kExitOk, kExitFailures, kExitUsage, kExitFatal, kExitInterrupted}) {
    EXPECT_TRUE(lists(help, code)) << code << " missing from\n" << help;
  }
  EXPECT_TRUE(help.starts_with("Exit codes:\n  0    ")) << help;
}

TEST(ExitCodes, AVerbListsOnlyTheCodesItReturns) {
  const std::string plan = exit_codes_help(verb_exits("plan"));
  EXPECT_TRUE(lists(plan, kExitOk) && lists(plan, kExitUsage) && lists(plan, kExitFatal)) << plan;
  EXPECT_FALSE(lists(plan, kExitFailures)) << plan;
  EXPECT_FALSE(lists(plan, kExitInterrupted)) << plan;
  const std::string serve = exit_codes_help(verb_exits("serve"));
  EXPECT_TRUE(lists(serve, kExitInterrupted)) << serve;
  EXPECT_FALSE(lists(serve, kExitFailures)) << serve;
  EXPECT_TRUE(lists(exit_codes_help(verb_exits("merge")), kExitFailures));
  EXPECT_TRUE(lists(exit_codes_help(verb_exits("tune")), kExitFailures));
}

TEST(ExitCodes, AVerbMissingFromTheTableStillListsUsageAndFatal) {
  const std::string help = exit_codes_help(verb_exits("a-verb-added-later"));
  EXPECT_TRUE(lists(help, kExitOk) && lists(help, kExitUsage) && lists(help, kExitFatal)) << help;
}

TEST(ExitCodes, EverySubcommandsHelpEndsWithItsCodesAndKeepsItsOwnFooter) {
  CLI::App app{"test"};
  auto* run = app.add_subcommand("run", "");
  run->footer("Results go to OUT.");
  app.add_subcommand("probe", "");
  add_exit_codes_to_help(app);
  EXPECT_EQ(run->get_footer(), "Results go to OUT.\n" + exit_codes_help(verb_exits("run")));
  EXPECT_EQ(app.get_subcommand("probe")->get_footer(), exit_codes_help(verb_exits("probe")));
  EXPECT_NE(app.get_footer().find("130 interrupted"), std::string::npos) << app.get_footer();
}

}  // namespace
}  // namespace batchwise
