// tests/apps/docs_references_test.cpp — the repository explains its mathematics in docs/singd.md and must
// not lean on design notes that live outside it. Over every tracked text file (git ls-files; outside a git
// checkout, the source tree without build, run and hidden folders): no mention of the external design
// notes (the shared design folder, the SINGD spec file); every "§N" sits on a line that names docs/singd.md
// (code comments point there as "docs/singd.md §6.1"), and every such section exists as a "## N." or
// "### N.M" heading of docs/singd.md — whose own "§N" cross-references are checked the same way.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/apps/app_test_util.h"

namespace {

namespace fs = std::filesystem;
using ng::app::testing::read_file;

const fs::path kRoot = NATGRAD_SOURCE_DIR;
const std::string kDocs = "docs/singd.md";
const std::string kSection = "\u00a7";  // the section sign, escaped so that this file passes its own check

// The lines of `v`, one per line, for a failure message.
std::string listed(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += "\n  " + s;
  return out;
}

// The files git tracks (paths relative to the source root), or none when git or the repository is absent.
std::vector<std::string> tracked_files() {
  std::vector<std::string> out;
  const std::string cmd = "git -C '" + kRoot.string() + "' ls-files -z 2>/dev/null";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return out;
  std::string name;
  for (int c; (c = std::fgetc(pipe)) != EOF;) {
    if (c != '\0') {
      name += static_cast<char>(c);
    } else if (!name.empty()) {
      out.push_back(name);
      name.clear();
    }
  }
  return pclose(pipe) == 0 ? out : std::vector<std::string>{};
}

// Paths (relative to the source root) of the text files a reader of the repository sees: the tracked ones,
// or, outside a git checkout, everything but build*/ and runs/ folders, caches and hidden folders other
// than .ci/. Binary files (a NUL byte) are left out.
std::vector<std::string> repository_text_files() {
  std::vector<std::string> candidates = tracked_files();
  if (candidates.empty()) {
    for (auto it = fs::recursive_directory_iterator(kRoot); it != fs::recursive_directory_iterator(); ++it) {
      const std::string name = it->path().filename().string();
      const std::string rel = fs::relative(it->path(), kRoot).generic_string();
      const bool hidden = name.size() > 1 && name[0] == '.' && name != ".ci";
      if (it->is_directory() && (hidden || name.rfind("build", 0) == 0 || name == "runs" ||
                                 name == "__pycache__" || rel == "data/cifar-10-batches-bin"))
        it.disable_recursion_pending();
      else if (it->is_regular_file())
        candidates.push_back(rel);
    }
  }
  std::vector<std::string> out;
  for (const std::string& rel : candidates) {
    const std::string text = read_file((kRoot / rel).string());
    if (text.find('\0') == std::string::npos) out.push_back(rel);
  }
  return out;
}

// The section numbers of docs/singd.md: "## 3. Title" gives "3", "### 3.2 Title" gives "3.2".
std::set<std::string> docs_sections() {
  std::set<std::string> out;
  std::istringstream in(read_file((kRoot / kDocs).string()));
  const std::regex heading(R"(^#{2,3} ([0-9]+(?:\.[0-9]+)?)\.? )");
  std::smatch m;
  for (std::string line; std::getline(in, line);)
    if (std::regex_search(line, m, heading)) out.insert(m[1]);
  return out;
}

TEST(DocsReferences, NothingPointsAtTheExternalDesignNotes) {
  // Spelt in pieces so that this file does not match itself.
  const std::vector<std::string> banned = {std::string("shared/") + "design", std::string("singd-") + "spec"};
  std::vector<std::string> hits;
  for (const std::string& rel : repository_text_files()) {
    std::istringstream in(read_file((kRoot / rel).string()));
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      for (const std::string& b : banned)
        if (line.find(b) != std::string::npos) hits.push_back(rel + ":" + std::to_string(n) + " mentions " + b);
    }
  }
  EXPECT_TRUE(hits.empty()) << hits.size() << " line(s) point outside the repository (use " << kDocs << " "
                            << kSection << "N instead):" << listed(hits);
}

TEST(DocsReferences, EverySectionPointerNamesAnExistingSection) {
  const std::set<std::string> sections = docs_sections();
  ASSERT_GE(sections.size(), 10u) << kDocs << " is missing or lost its numbered headings";
  const std::regex pointer(kSection + "([0-9]+(?:\\.[0-9]+)?)");
  std::vector<std::string> errors;
  int checked = 0;
  for (const std::string& rel : repository_text_files()) {
    std::istringstream in(read_file((kRoot / rel).string()));
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      if (line.find(kSection) == std::string::npos) continue;
      const std::string where = rel + ":" + std::to_string(n);
      if (rel != kDocs && line.find(kDocs) == std::string::npos) {
        errors.push_back(where + ": a " + kSection + " on a line that does not name " + kDocs);
        continue;
      }
      for (auto it = std::sregex_iterator(line.begin(), line.end(), pointer); it != std::sregex_iterator(); ++it) {
        ++checked;
        if (!sections.count((*it)[1])) errors.push_back(where + ": " + kDocs + " has no section " + kSection + (*it)[1].str());
      }
    }
  }
  EXPECT_GE(checked, 50) << "fewer section pointers than the code comments hold: is the scan reading the tree?";
  EXPECT_TRUE(errors.empty()) << errors.size() << " bad section pointer(s):" << listed(errors);
}

}  // namespace
