// run_thread: the one boundary of every thread batchwise starts.
#include "core/thread.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace batchwise {
namespace {

TEST(RunThread, AnExceptionThatEscapesIsHandedToOnEscapeAndTheProcessLivesOn) {
  std::string seen;
  std::thread t = run_thread("test", [] { throw std::runtime_error("boom"); },
                             [&](const std::string& what) { seen = what; });
  t.join();  // std::terminate would have ended the test binary here
  EXPECT_EQ(seen, "boom");
}

TEST(RunThread, ANonStandardExceptionAndAThrowingHandlerAreCaughtToo) {
  bool called = false;
  std::thread t = run_thread("test", [] { throw 42; }, [&](const std::string& what) {
    called = true;
    EXPECT_EQ(what, "unknown exception");
    throw std::logic_error("the handler failed too");
  });
  t.join();
  EXPECT_TRUE(called);
}

TEST(RunThread, AThreadThatEndsNormallyNeverCallsOnEscape) {
  bool ran = false, escaped = false;
  std::thread t = run_thread("test", [&] { ran = true; }, [&](const std::string&) { escaped = true; });
  t.join();
  EXPECT_TRUE(ran);
  EXPECT_FALSE(escaped);
  EXPECT_FALSE(run_guarded("test", [] { throw std::runtime_error("x"); }));
  EXPECT_TRUE(run_guarded("test", [] {}));
}

}  // namespace
}  // namespace batchwise
