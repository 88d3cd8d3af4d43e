// tests/data/data_root_test.cpp — data-root lookup order: config, NATGRAD_DATA, <repo>/../shared/data,
// <repo>/data, else an error that says how to fetch.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "data/data_root.h"
#include "data_test_util.h"

namespace ng::data::test {
namespace {

// A scratch layout: base/repo (the repository), base/shared/data, base/env, base/config.
class DataRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv(kDataRootEnv);
    fs::create_directories(repo());
  }
  void TearDown() override { ::unsetenv(kDataRootEnv); }
  fs::path repo() const { return tmp_.path() / "repo"; }
  std::string with_cifar(const fs::path& root) const {
    fs::create_directories(root / kCifarBatchDir);
    return fs::weakly_canonical(root).string();
  }
  TempDir tmp_;
};

TEST_F(DataRootTest, ConfigComesFirst) {
  const std::string config = with_cifar(tmp_.path() / "config");
  ::setenv(kDataRootEnv, with_cifar(tmp_.path() / "env").c_str(), 1);
  with_cifar(tmp_.path() / "shared" / "data");
  EXPECT_EQ(find_data_root(config, repo().string()), config);
}

TEST_F(DataRootTest, EnvironmentComesBeforeTheRepository) {
  const std::string env = with_cifar(tmp_.path() / "env");
  ::setenv(kDataRootEnv, env.c_str(), 1);
  with_cifar(tmp_.path() / "shared" / "data");
  EXPECT_EQ(find_data_root("", repo().string()), env);
}

TEST_F(DataRootTest, SharedDataBesideTheRepositoryComesBeforeRepoData) {
  const std::string shared = with_cifar(tmp_.path() / "shared" / "data");
  const std::string local = with_cifar(repo() / "data");
  EXPECT_EQ(find_data_root("", repo().string()), shared);
  fs::remove_all(tmp_.path() / "shared");
  EXPECT_EQ(find_data_root("", repo().string()), local);
}

TEST_F(DataRootTest, ExplicitRootsWithoutDataAreErrors) {
  with_cifar(tmp_.path() / "shared" / "data");
  const std::string empty = (tmp_.path() / "empty").string();
  EXPECT_NE(error_of([&] { find_data_root(empty, repo().string()); }).find("the configured folder " + empty),
            std::string::npos);
  ::setenv(kDataRootEnv, empty.c_str(), 1);
  EXPECT_NE(error_of([&] { find_data_root("", repo().string()); }).find("NATGRAD_DATA=" + empty),
            std::string::npos);
}

TEST_F(DataRootTest, NothingFoundSaysHowToFetch) {
  const std::string msg = error_of([&] { find_data_root("", repo().string()); });
  EXPECT_NE(msg.find("CIFAR-10 not found"), std::string::npos) << msg;
  EXPECT_NE(msg.find("natgrad data fetch cifar10 --dir DIR"), std::string::npos) << msg;
}

TEST(DataRoot, DefaultRepoDirIsTheSourceTreeAboveTheBuildFolder) {
  const fs::path src = fs::weakly_canonical(NATGRAD_SOURCE_DIR), bin = fs::weakly_canonical(NATGRAD_BINARY_DIR);
  const bool in_tree = std::mismatch(src.begin(), src.end(), bin.begin(), bin.end()).first == src.end();
  EXPECT_EQ(fs::weakly_canonical(default_repo_dir()), in_tree ? src : fs::current_path());
}

}  // namespace
}  // namespace ng::data::test
