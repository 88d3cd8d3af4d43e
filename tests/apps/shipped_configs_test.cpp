// tests/apps/shipped_configs_test.cpp — the configs in configs/ are valid and say what configs/README.md
// promises: every file passes `natgrad validate` (keys, types, ranges, data files on the real CIFAR-10),
// the quickstart is the small CPU recipe, and within a study set only the optimizer block (and the name)
// differs between files.
#include <algorithm>

#include "tests/apps/app_test_util.h"

namespace ng::app::testing {
namespace {

using nlohmann::json;

std::string configs_dir() { return std::string(NATGRAD_SOURCE_DIR) + "/configs"; }

std::vector<std::string> json_files(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".json") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// The resolved config (every default filled in) as `natgrad validate --print` gives it.
json resolved(const std::string& path) {
  const RunResult r = run_natgrad({"validate", path, "--print"});
  EXPECT_EQ(r.exit_code, 0) << path << ":\n" << r.output;
  // A device this machine cannot use is a warning line before the JSON (validate_command.cpp).
  return r.exit_code == 0 ? json::parse(r.output.substr(r.output.find('{'))) : json::object();
}

TEST(ShippedConfigs, QuickstartIsTheSmallCpuRecipe) {
  const json q = resolved(configs_dir() + "/quickstart.json");
  EXPECT_EQ(q["device"], "cpu");
  EXPECT_EQ(q["threads"], 2);
  EXPECT_EQ(q["model"]["depth"], 11);
  EXPECT_EQ(q["model"]["width"], 0.25);
  EXPECT_EQ(q["model"]["batch_norm"], true);
  EXPECT_EQ(q["data"]["dataset"], "cifar10");
  EXPECT_EQ(q["eval"]["target_accuracy"], 0.75);
  EXPECT_LE(q["train"]["epochs"].get<int>(), 4) << "the ≤ 5 minute budget was measured for 4 epochs";
}

// Every file of a study set validates; with the optimizer block and the name removed they are identical.
void expect_one_recipe(const std::string& set, size_t expected_files, int expected_epochs, const char* device,
                       const std::vector<std::string>& types_needed = {"sgd", "adamw", "singd", "ikfac", "kfac"}) {
  const auto files = json_files(configs_dir() + "/" + set);
  ASSERT_EQ(files.size(), expected_files) << set;
  json first;
  std::vector<std::string> types;
  for (const auto& f : files) {
    json c = resolved(f);
    ASSERT_TRUE(c.contains("optimizer")) << f;
    types.push_back(c["optimizer"]["type"].get<std::string>());
    EXPECT_EQ(c["device"], device) << f;
    EXPECT_EQ(c["train"]["epochs"], expected_epochs) << f;
    c.erase("optimizer");
    c.erase("name");
    if (first.is_null()) first = c;
    EXPECT_EQ(c, first) << f << " differs from " << files.front() << " outside the optimizer block";
  }
  for (const auto& t : types_needed)
    EXPECT_NE(std::find(types.begin(), types.end(), t), types.end()) << set << " has no " << t << " config";
}

TEST(ShippedConfigs, CpuStudyIsOneRecipeWithFourteenOptimizers) { expect_one_recipe("cpu-study", 14, 10, "cpu"); }

TEST(ShippedConfigs, GpuVgg16SetIsOneRecipeWithFourteenOptimizers) {
  expect_one_recipe("gpu-vgg16", 14, 60, "cuda");
}

TEST(ShippedConfigs, TourSetIsOneRecipeWithNineOptimizers) {
  expect_one_recipe("tour", 9, 4, "cpu", {"sgd", "singd", "ikfac", "kfac"});
}

}  // namespace
}  // namespace ng::app::testing
