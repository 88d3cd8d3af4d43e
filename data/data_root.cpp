// data/data_root.cpp — data-root lookup.
#include "data/data_root.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "data/cifar10.h"

namespace ng::data {
namespace {

namespace fs = std::filesystem;

bool holds_cifar(const fs::path& root) {
  std::error_code ec;
  return fs::is_directory(root / kCifarBatchDir, ec);
}

}  // namespace

std::string find_data_root(const std::string& configured, const std::string& repo_dir) {
  if (!configured.empty()) {
    NG_CHECK(holds_cifar(configured), "data root: the configured folder ", configured, " has no ",
             kCifarBatchDir, "/; ", kCifarFetchHint);
    return configured;
  }
  const char* env = std::getenv(kDataRootEnv);
  if (env && *env) {
    NG_CHECK(holds_cifar(env), "data root: ", kDataRootEnv, "=", env, " has no ", kCifarBatchDir, "/; ",
             kCifarFetchHint);
    return env;
  }
  const std::vector<fs::path> candidates = {fs::path(repo_dir) / ".." / "shared" / "data",
                                            fs::path(repo_dir) / "data"};
  for (const auto& c : candidates)
    if (holds_cifar(c)) return fs::weakly_canonical(c).string();
  NG_FAIL("data root: CIFAR-10 not found (no data root in the config, ", kDataRootEnv, " unset, no ",
          kCifarBatchDir, "/ in ", candidates[0].string(), " or ", candidates[1].string(), "); ",
          kCifarFetchHint);
}

std::string default_repo_dir() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec)
    for (fs::path p = exe.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path())
      if (fs::is_regular_file(p / "apps" / "commands.h", ec)) return p.string();
  return fs::current_path().string();
}

}  // namespace ng::data
