// tests/apps/config_errors_test.cpp — bad configs through the CLI entry: `natgrad validate` (and `train`)
// must exit with code 2 and a message naming the JSON path and what was expected.
#include <functional>

#include "tests/apps/app_test_util.h"

namespace ng::app::testing {
namespace {

using nlohmann::json;

struct BadConfig {
  const char* what;
  std::function<void(json&)> edit;  // applied to a valid config
  const char* expected;             // substring of the error message
};

json valid_config() {
  json j = tiny_config();
  j["train"]["epochs"] = 1;
  return j;
}

json& layer(json& j, size_t i) { return j["model"]["layers"][i]; }

const std::vector<BadConfig>& bad_configs() {
  static const std::vector<BadConfig> cases = {
      {"unknown top-level key", [](json& j) { j["epochz"] = 3; }, "epochz: unknown key"},
      {"seed of the wrong type", [](json& j) { j["seed"] = "zero"; }, "seed: expected an integer in [0, "},
      {"negative seed", [](json& j) { j["seed"] = -1; }, "seed: expected an integer in [0, "},
      {"unknown device", [](json& j) { j["device"] = "tpu"; }, "device: expected \"cpu\", \"cuda\" or \"cuda:N\" (N < 16), got \"tpu\""},
      {"too many threads", [](json& j) { j["threads"] = 2000; }, "threads: expected an integer in [0, 1024], got 2000"},
      {"unknown precision", [](json& j) { j["precision"] = "float16"; },
       "precision: expected one of \"float32\", \"bfloat16\", got \"float16\""},
      {"name with a slash", [](json& j) { j["name"] = "a/b"; }, "name: expected a non-empty name without '/'"},
      {"missing model", [](json& j) { j.erase("model"); }, "model: required key is missing"},
      {"unknown model type", [](json& j) { j["model"] = {{"type", "resnet"}}; },
       "model.type: expected one of \"vgg\", \"sequential\", got \"resnet\""},
      {"VGG depth that does not exist", [](json& j) { j["model"] = {{"type", "vgg"}, {"depth", 12}}; },
       "model.depth: expected 11, 13, 16 or 19, got 12"},
      {"VGG width zero", [](json& j) { j["model"] = {{"type", "vgg"}, {"width", 0}}; }, "model.width: expected a number in"},
      {"VGG classes that do not match the data", [](json& j) { j["model"] = {{"type", "vgg"}, {"num_classes", 100}}; },
       "model.num_classes: expected 10 (the classes of the data), got 100"},
      {"conv input channels that do not match", [](json& j) { layer(j, 0)["in_channels"] = 4; },
       "model.layers[0].in_channels: expected 3 (the layer receives 3x32x32 images), got 4"},
      {"batch-norm features that do not match", [](json& j) { layer(j, 1)["num_features"] = 16; },
       "model.layers[1].num_features: expected 8"},
      {"linear on images", [](json& j) { j["model"]["layers"].erase(4); },
       "model.layers[5]: linear needs flat features but receives 8x8x8 images (add a flatten before it)"},
      {"linear input features that do not match", [](json& j) { layer(j, 6)["in_features"] = 500; },
       "model.layers[6].in_features: expected 512"},
      {"last layer with the wrong number of outputs", [](json& j) { layer(j, 6)["out_features"] = 20; },
       "model.layers: the last layer gives 20 features, expected 10"},
      {"unknown layer key", [](json& j) { layer(j, 0)["kernel"] = 3; }, "model.layers[0].kernel: unknown key"},
      {"unknown layer type", [](json& j) { layer(j, 2)["type"] = "gelu"; }, "model.layers[2].type: expected one of"},
      {"pooling window larger than the image", [](json& j) { layer(j, 3)["kernel_size"] = 40; },
       "model.layers[3].kernel_size: a 40x40 pooling window does not fit"},
      {"missing required layer key", [](json& j) { layer(j, 0).erase("out_channels"); },
       "model.layers[0].out_channels: required key is missing"},
      {"unknown dataset", [](json& j) { j["data"]["dataset"] = "mnist"; },
       "data.dataset: expected one of \"cifar10\", \"image_folder\", got \"mnist\""},
      {"data root that does not exist", [](json& j) { j["data"]["root"] = "/nonexistent/natgrad-data"; },
       "data.root: folder '/nonexistent/natgrad-data' does not exist"},
      {"data root without CIFAR-10", [](json& j) { j["data"]["root"] = NATGRAD_SOURCE_DIR; },
       "data.root: data root: the configured folder"},
      {"unknown padding mode", [](json& j) { j["data"]["augmentation"] = {{"pad_mode", "mirror"}}; },
       "data.augmentation.pad_mode: expected one of \"zero\", \"reflect\", got \"mirror\""},
      {"fixed normalisation without values", [](json& j) { j["data"]["normalize"] = {{"mode", "fixed"}}; },
       "data.normalize.mode: \"fixed\" needs \"mean\" and \"std\""},
      {"normalisation with two channels",
       [](json& j) { j["data"]["normalize"] = {{"mode", "fixed"}, {"mean", {0.5, 0.5, 0.5}}, {"std", {0.2, 0.2}}}; },
       "data.normalize.std: expected an array of 3 numbers"},
      {"validation split as large as the training set", [](json& j) { j["data"]["validation_size"] = 384; },
       "data.validation_size: expected fewer than the 384 training records"},
      {"missing optimizer", [](json& j) { j.erase("optimizer"); }, "optimizer: required key is missing"},
      {"unknown optimizer", [](json& j) { j["optimizer"] = {{"type", "lbfgs"}}; },
       "optimizer.type: expected one of \"sgd\", \"adamw\", \"singd\", \"ikfac\", \"kfac\", got \"lbfgs\""},
      {"negative learning rate", [](json& j) { j["optimizer"]["lr"] = -0.1; }, "optimizer.lr: expected a number in [0, "},
      {"momentum as a string", [](json& j) { j["optimizer"]["momentum"] = "high"; },
       "optimizer.momentum: expected a number in [0, 1], got \"high\" (a string)"},
      {"Nesterov without momentum", [](json& j) { j["optimizer"] = {{"type", "sgd"}, {"nesterov", true}}; },
       "optimizer.nesterov: needs momentum > 0 and dampening = 0"},
      {"SGD with a SINGD key", [](json& j) { j["optimizer"] = {{"type", "sgd"}, {"damping", 0.1}}; },
       "optimizer.damping: unknown key"},
      {"unknown factor structure", [](json& j) { j["optimizer"]["structure_K"] = "sparse"; },
       "optimizer.structure_K: expected one of \"dense\", \"diagonal\""},
      {"unknown key in a structure object",
       [](json& j) { j["optimizer"]["structure_C"] = {{"type", "block_diagonal"}, {"blocks", 3}}; },
       "optimizer.structure_C.blocks: unknown key"},
      {"float16 factors", [](json& j) { j["optimizer"]["dtype_K"] = "float16"; },
       "optimizer.dtype_K: expected one of \"weight\", \"float32\", \"bfloat16\""},
      {"IKFAC with Riemannian momentum", [](json& j) { j["optimizer"]["type"] = "ikfac"; j["optimizer"]["alpha1"] = 0.5; },
       "optimizer.alpha1: unknown key"},
      {"unknown fallback rule", [](json& j) { j["optimizer"]["fallback"] = {{"type", "rmsprop"}}; },
       "optimizer.fallback.type: expected one of \"sgd\", \"adamw\""},
      {"update interval zero", [](json& j) { j["optimizer"]["T"] = 0; }, "optimizer.T: expected an integer in [1, "},
      {"KFAC inverse interval as a string", [](json& j) { j["optimizer"] = {{"type", "kfac"}, {"T_inv", "10"}}; },
       "optimizer.T_inv: expected an integer"},
      {"schedule of a hyper-parameter the optimizer lacks",
       [](json& j) { j["optimizer"] = {{"type", "sgd"}}; j["schedules"] = {{"lr_cov", {{"type", "constant"}}}}; },
       "schedules.lr_cov: optimizer 'sgd' has no hyper-parameter 'lr_cov' to schedule"},
      {"unknown schedule type", [](json& j) { j["schedules"]["lr"] = {{"type", "linear"}}; },
       "schedules.lr.type: expected one of \"constant\", \"step\", \"multistep\", \"cosine\", \"one_cycle\""},
      {"decreasing milestones",
       [](json& j) { j["schedules"]["lr"] = {{"type", "multistep"}, {"milestones_epochs", {0.8, 0.2}}}; },
       "schedules.lr.milestones_epochs: expected increasing epochs"},
      {"one-cycle with a warm-up", [](json& j) { j["schedules"]["lr"] = {{"type", "one_cycle"}, {"warmup_epochs", 1}}; },
       "schedules.lr.warmup_epochs: unknown key"},
      {"warm-up longer than training", [](json& j) { j["schedules"]["lr"]["warmup_epochs"] = 5; },
       "schedules.lr.warmup_epochs: expected a number in [0, 1]"},
      {"zero epochs", [](json& j) { j["train"]["epochs"] = 0; }, "train.epochs: expected an integer in [1, "},
      {"fractional batch size", [](json& j) { j["train"]["batch_size"] = 1.5; },
       "train.batch_size: expected an integer in [1, "},
      {"target accuracy in percent", [](json& j) { j["eval"]["target_accuracy"] = 75; },
       "eval.target_accuracy: expected a number in [0, 1], got 75"},
      {"unknown progress mode", [](json& j) { j["log"]["progress"] = "fancy"; },
       "log.progress: expected one of \"auto\", \"bar\", \"lines\", \"off\""},
      {"negative checkpoint interval", [](json& j) { j["checkpoint"]["interval_steps"] = -5; },
       "checkpoint.interval_steps: expected an integer in [0, "},
      {"block that is not an object", [](json& j) { j["train"] = 10; }, "train: expected an object, got 10"},
  };
  return cases;
}

TEST(ConfigErrors, EveryBadConfigExitsWithCode2AndNamesItsPath) {
  ASSERT_GE(bad_configs().size(), 25u);
  TempDir dir;
  for (size_t i = 0; i < bad_configs().size(); ++i) {
    const BadConfig& c = bad_configs()[i];
    json j = valid_config();
    c.edit(j);
    const std::string path = write_config(dir / ("bad" + std::to_string(i) + ".json"), j);
    const RunResult r = run_natgrad({"validate", path});
    EXPECT_EQ(r.exit_code, 2) << c.what << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos)
        << c.what << ": expected the message to contain\n  " << c.expected << "\ngot\n  " << r.output;
  }
}

TEST(ConfigErrors, TheValidBaseConfigPasses) {
  TempDir dir;
  const RunResult r = run_natgrad({"validate", write_config(dir / "ok.json", valid_config())});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("OK (tiny: sequential model, singd optimizer, 1 epochs)"), std::string::npos) << r.output;
}

TEST(ConfigErrors, TrainRejectsABadConfigWithCode2BeforeWritingAnything) {
  TempDir dir;
  json j = valid_config();
  j["optimizer"]["lr"] = "fast";
  const RunResult r = run_natgrad({"train", write_config(dir / "bad.json", j), "--out", dir / "run"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("optimizer.lr: expected a number"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "run"));
}

TEST(ConfigErrors, OverridesAreCheckedLikeTheFile) {
  TempDir dir;
  const std::string path = write_config(dir / "ok.json", valid_config());
  RunResult r = run_natgrad({"validate", path, "--set", "train.epoch=3"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("train.epoch: unknown key"), std::string::npos) << r.output;
  r = run_natgrad({"validate", path, "--set", "optimizer.T=5", "--print"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("\"T\": 5"), std::string::npos) << r.output;
  r = run_natgrad({"validate", path, "--set", "noequals"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--set noequals: expected path.to.key=value"), std::string::npos) << r.output;
}

TEST(ConfigErrors, UnreadableFilesAreConfigErrors) {
  TempDir dir;
  RunResult r = run_natgrad({"validate", dir / "missing.json"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("missing.json: cannot open config file"), std::string::npos) << r.output;
  write_file(dir / "broken.json", "{\"seed\": 1,");
  r = run_natgrad({"validate", dir / "broken.json"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("broken.json: invalid JSON"), std::string::npos) << r.output;
}

TEST(ConfigErrors, ResolvedConfigFillsEveryDefault) {
  TempDir dir;
  json j = valid_config();
  j["optimizer"] = {{"type", "kfac"}};
  const RunResult r = run_natgrad({"validate", write_config(dir / "k.json", j), "--print"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const json resolved = json::parse(r.output);
  EXPECT_EQ(resolved["optimizer"]["T_inv"], 100);
  EXPECT_EQ(resolved["optimizer"]["fallback"]["type"], "sgd");
  EXPECT_EQ(resolved["optimizer"]["fallback"]["lr"], resolved["optimizer"]["lr"]);
  EXPECT_EQ(resolved["data"]["augmentation"]["crop_padding"], 4);
  EXPECT_EQ(resolved["log"]["progress"], "lines");
  EXPECT_EQ(resolved["precision"], "float32");
  EXPECT_EQ(resolved["model"]["layers"][3]["stride"], 4);  // pooling stride defaults to the window
}

}  // namespace
}  // namespace ng::app::testing
