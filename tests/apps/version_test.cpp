// tests/apps/version_test.cpp — `natgrad --version`: the project version and the commit the binary is built
// from, on stdout, exit 0.
#include <regex>

#include "tests/apps/app_test_util.h"

namespace ng::app::testing {
namespace {

TEST(Version, PrintsTheVersionAndTheBuildCommit) {
  const RunResult r = run_natgrad({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  // 40 hex digits in a git checkout (as in CI), "unknown" outside one.
  const std::regex line(R"(natgrad [0-9]+\.[0-9]+\.[0-9]+ \(commit ([0-9a-f]{40}|unknown)(, modified)?\)\n)");
  EXPECT_TRUE(std::regex_match(r.output, line)) << r.output;
}

}  // namespace
}  // namespace ng::app::testing
