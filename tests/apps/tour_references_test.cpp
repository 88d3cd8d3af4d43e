// tests/apps/tour_references_test.cpp — docs/tour.md points students at lines of natgrad; those pointers
// must not rot. Every reference is written `path:LINE` (`symbol`), and the test checks that the file exists
// and that line LINE contains the symbol; any other file:line pointer (or a bare "line N") is an error,
// so no reference escapes the check.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "tests/apps/app_test_util.h"

namespace {

using ng::app::testing::read_file;

// Line `n` (1-based) of a file, or "" when the file has fewer lines (or does not exist).
std::string line_of(const std::string& path, int n) {
  std::ifstream in(path);
  std::string line;
  for (int i = 0; i < n && std::getline(in, line); ++i)
    if (i == n - 1) return line;
  return "";
}

const std::string kTour = std::string(NATGRAD_SOURCE_DIR) + "/docs/tour.md";
// `path:LINE` (`symbol`): groups 1 path, 2 line, 3 symbol.
const std::regex kReference(R"(`([A-Za-z0-9_./]+\.(?:cpp|h|cu|cuh)):([0-9]+)`\s*\(`([^`]+)`\))");

TEST(TourReferences, EveryLinePointerNamesItsSymbolAndThatLineHoldsIt) {
  const std::string text = read_file(kTour);
  ASSERT_FALSE(text.empty()) << kTour << " is missing or empty";
  int checked = 0;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kReference); it != std::sregex_iterator(); ++it) {
    const std::string file = (*it)[1], symbol = (*it)[3];
    const int line = std::stoi((*it)[2]);
    const std::string path = std::string(NATGRAD_SOURCE_DIR) + "/" + file;
    EXPECT_TRUE(std::ifstream(path).good()) << "docs/tour.md points at " << file << ", which does not exist";
    const std::string held = line_of(path, line);
    EXPECT_NE(held.find(symbol), std::string::npos)
        << "docs/tour.md: " << file << ":" << line << " should hold `" << symbol << "`, but that line is: " << held;
    ++checked;
  }
  EXPECT_GE(checked, 15) << "docs/tour.md lost its line references";
}

TEST(TourReferences, NoUncheckedLinePointers) {
  std::string text = read_file(kTour);
  ASSERT_FALSE(text.empty()) << kTour << " is missing or empty";
  text = std::regex_replace(text, kReference, "");
  const std::regex stray(R"([A-Za-z0-9_]\.(?:cpp|h|cu|cuh):[0-9]+|\blines? [0-9]+|`:[0-9]+`)");
  std::vector<std::string> found;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), stray); it != std::sregex_iterator(); ++it)
    found.push_back(it->str());
  EXPECT_TRUE(found.empty()) << "docs/tour.md has " << found.size() << " line pointer(s) not written as "
                             << "`path:LINE` (`symbol`), e.g. '" << (found.empty() ? "" : found[0]) << "'";
}

}  // namespace
