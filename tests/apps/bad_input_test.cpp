// tests/apps/bad_input_test.cpp — the bad-input suite: hostile configs and `--set` overrides, corrupt
// weight and checkpoint files, and corrupt datasets, all generated here from one tiny run and the real
// CIFAR-10 copy. Every case runs the `natgrad` binary under a time limit and asserts the exit code (2 for
// usage and config errors, 1 for runtime failures), that the message names the key or file, that the
// process ended without a signal and without hanging, that the message stays short (values are cut), and
// that no run directory is left behind at a `--out` that a retry would need.
#include <sys/wait.h>

#include <chrono>
#include <functional>
#include <thread>

#include "core/safetensors.h"
#include "tests/apps/app_test_util.h"

namespace ng::app::testing {
namespace {

using nlohmann::json;
using ordered_json = nlohmann::ordered_json;

constexpr int kTimeoutSeconds = 120;      // generous: the suite also runs under AddressSanitizer
constexpr size_t kMaxMessageBytes = 8192;  // a 10 MB value must not give a 10 MB message

struct Bounded {
  int exit_code = -1;  // -1: killed by a signal
  bool timed_out = false;
  std::string output;
};

// Runs natgrad with a time limit (SIGKILL after kTimeoutSeconds).
Bounded run_bounded(const std::vector<std::string>& args) {
  const std::string log = (fs::temp_directory_path() / ("natgrad-bad-input-" + std::to_string(getpid()))).string();
  const pid_t pid = spawn_natgrad(args, log);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kTimeoutSeconds);
  int status = 0;
  Bounded r;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.output = read_file(log);
  std::remove(log.c_str());
  return r;
}

// The common assertions: exit code, no signal, no hang, every name in the message, a short message.
void expect_refused(const Bounded& r, int code, const std::vector<std::string>& names, const std::string& what) {
  EXPECT_FALSE(r.timed_out) << what << ": still running after " << kTimeoutSeconds << " s";
  EXPECT_EQ(r.exit_code, code) << what << "\n" << r.output.substr(0, 2000);
  for (const auto& n : names)
    EXPECT_NE(r.output.find(n), std::string::npos) << what << ": the message should name '" << n << "'\n"
                                                    << r.output.substr(0, 2000);
  EXPECT_LT(r.output.size(), kMaxMessageBytes) << what << ": message of " << r.output.size() << " bytes";
}

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

std::string deep_array(size_t n) { return repeat("[", n) + repeat("]", n); }

// ---- configs and overrides ------------------------------------------------------------------------

json base_config() {
  json j = tiny_config();
  j["train"]["epochs"] = 1;
  j["data"]["train_subset"] = 128;
  j["data"]["test_subset"] = 64;
  return j;
}

struct ConfigCase {
  std::string what;
  std::function<std::string()> text;  // the config file's contents
  std::vector<std::string> sets;      // --set overrides
  std::vector<std::string> names;     // the message must contain each
};

// A case that edits the valid base config.
ConfigCase edit(std::string what, std::function<void(json&)> fn, std::vector<std::string> names) {
  return {std::move(what), [fn] { json j = base_config(); fn(j); return j.dump(); }, {}, std::move(names)};
}
// A case whose config text is made from the valid config's compact text.
ConfigCase raw(std::string what, std::function<std::string(const std::string&)> fn, std::vector<std::string> names) {
  return {std::move(what), [fn] { return fn(base_config().dump()); }, {}, std::move(names)};
}
// A case that adds overrides to the valid config.
ConfigCase set(std::string what, std::vector<std::string> sets, std::vector<std::string> names) {
  return {std::move(what), [] { return base_config().dump(); }, std::move(sets), std::move(names)};
}

// `text` with the first occurrence of `from` replaced by `to`.
std::string replace(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return at == std::string::npos ? text : text.replace(at, from.size(), to);
}

json& layer(json& j, size_t i) { return j["model"]["layers"][i]; }

std::vector<ConfigCase> config_cases() {
  const std::string big(10'000'000, 'x');
  const std::string big_arg(100'000, 'x');  // one argv string may not pass 128 KiB (MAX_ARG_STRLEN)
  return {
      raw("100000 nested arrays under model", [](const std::string& t) { return replace(t, "\"model\":{", "\"model\":" + deep_array(100000) + ",\"m\":{"); }, {"model[0][0]", "nested deeper than 64"}),
      raw("100000 nested objects under data", [](const std::string& t) { return replace(t, "\"data\":{", "\"data\":{\"x\":" + repeat("{\"a\":", 100000) + "1" + repeat("}", 100000) + ","); }, {"data.x.a.a", "nested deeper than 64"}),
      raw("65 nested arrays (one past the limit)", [](const std::string& t) { return replace(t, "\"seed\":3", "\"seed\":" + deep_array(64)); }, {"seed", "nested deeper than 64"}),
      raw("1e400 as the learning rate", [](const std::string& t) { return replace(t, "\"lr\":0.02", "\"lr\":1e400"); }, {"optimizer.lr", "number out of range: 1e400"}),
      raw("-1e400 as the seed", [](const std::string& t) { return replace(t, "\"seed\":3", "\"seed\":-1e400"); }, {"seed", "number out of range"}),
      raw("duplicate top-level key", [](const std::string& t) { return replace(t, "\"seed\":3", "\"seed\":3,\"seed\":4"); }, {"seed: key given twice"}),
      raw("duplicate nested key", [](const std::string& t) { return replace(t, "\"lr\":0.02", "\"lr\":0.02,\"lr\":0.1"); }, {"optimizer.lr: key given twice"}),
      raw("empty file", [](const std::string&) { return std::string(); }, {"invalid JSON"}),
      raw("cut in half", [](const std::string& t) { return t.substr(0, t.size() / 2); }, {"invalid JSON"}),
      raw("trailing garbage", [](const std::string& t) { return t + "}x"; }, {"invalid JSON"}),
      raw("a top-level array", [](const std::string& t) { return "[" + t + "]"; }, {"config: expected an object"}),
      raw("a top-level number", [](const std::string&) { return std::string("42"); }, {"config: expected an object"}),
      raw("NaN literal", [](const std::string& t) { return replace(t, "\"lr\":0.02", "\"lr\":NaN"); }, {"invalid JSON", "optimizer.lr"}),
      raw("invalid UTF-8 in a string", [](const std::string& t) { return replace(t, "\"tiny\"", "\"ti\xff\xfe\""); }, {"invalid JSON", "name"}),
      raw("a comment", [](const std::string& t) { return "// my config\n" + t; }, {"invalid JSON"}),
      edit("a 10 MB name with a slash", [big](json& j) { j["name"] = big + "/"; }, {"name: expected a non-empty name", "…"}),
      edit("a 10 MB unknown key", [big](json& j) { j[big] = 1; }, {"unknown key", "…"}),
      edit("a 10 MB value of the wrong type", [big](json& j) { j["seed"] = big; }, {"seed: expected an integer", "…"}),
      edit("nested arrays where a number belongs", [](json& j) { layer(j, 5)["p"] = json::parse(deep_array(40)); }, {"model.layers[5].p"}),
      edit("batch_size larger than the data with drop_last", [](json& j) { j["train"]["batch_size"] = 1000; }, {"train.batch_size", "128 training images"}),
      edit("one_cycle too short for its steps", [](json& j) { j["schedules"]["lr"] = {{"type", "one_cycle"}, {"pct_start", 0.05}}; }, {"schedules.lr", "4 steps"}),
      edit("device cuda:99", [](json& j) { j["device"] = "cuda:99"; }, {"device", "cuda:99"}),
      edit("device cuda:", [](json& j) { j["device"] = "cuda:"; }, {"device"}),
      edit("device with a 20-digit index", [](json& j) { j["device"] = "cuda:99999999999999999999"; }, {"device"}),
      edit("device empty", [](json& j) { j["device"] = ""; }, {"device"}),
      edit("seed past 2^53", [](json& j) { j["seed"] = (int64_t{1} << 53) + 1; }, {"seed"}),
      edit("zero epochs", [](json& j) { j["train"]["epochs"] = 0; }, {"train.epochs"}),
      edit("a million epochs", [](json& j) { j["train"]["epochs"] = 1000000; }, {"train.epochs"}),
      edit("batch_size 0", [](json& j) { j["train"]["batch_size"] = 0; }, {"train.batch_size"}),
      edit("batch_size as a string", [](json& j) { j["train"]["batch_size"] = "32"; }, {"train.batch_size"}),
      edit("label_smoothing 1.5", [](json& j) { j["train"]["label_smoothing"] = 1.5; }, {"train.label_smoothing"}),
      edit("negative learning rate", [](json& j) { j["optimizer"]["lr"] = -0.1; }, {"optimizer.lr"}),
      edit("learning rate as a word", [](json& j) { j["optimizer"]["lr"] = "fast"; }, {"optimizer.lr"}),
      edit("unknown optimizer", [](json& j) { j["optimizer"]["type"] = "lion"; }, {"optimizer.type"}),
      edit("no optimizer", [](json& j) { j.erase("optimizer"); }, {"optimizer: required key is missing"}),
      edit("no model", [](json& j) { j.erase("model"); }, {"model: required key is missing"}),
      edit("unknown layer type", [](json& j) { layer(j, 2)["type"] = "gelu2"; }, {"model.layers[2].type"}),
      edit("conv with the wrong input channels", [](json& j) { layer(j, 0)["in_channels"] = 4; }, {"model.layers[0]"}),
      edit("linear with the wrong input size", [](json& j) { layer(j, 6)["in_features"] = 100; }, {"model.layers[6]"}),
      edit("data root that does not exist", [](json& j) { j["data"]["root"] = "/nonexistent/natgrad"; }, {"data.root", "/nonexistent/natgrad"}),
      edit("data root that is a file", [](json& j) { j["data"]["root"] = "/dev/null"; }, {"data.root"}),
      edit("unknown dataset", [](json& j) { j["data"]["dataset"] = "mnist"; }, {"data.dataset"}),
      edit("validation split as large as the training split", [](json& j) { j["data"]["validation_size"] = 128; }, {"data.validation_size"}),
      edit("fixed normalisation without mean", [](json& j) { j["data"]["normalize"] = {{"mode", "fixed"}}; }, {"data.normalize.mode"}),
      edit("normalisation mean of two numbers", [](json& j) { j["data"]["normalize"] = {{"mode", "fixed"}, {"mean", {0.5, 0.5}}, {"std", {0.2, 0.2, 0.2}}}; }, {"data.normalize.mean"}),
      edit("crop padding 100", [](json& j) { j["data"]["augmentation"] = {{"crop_padding", 100}}; }, {"data.augmentation.crop_padding"}),
      edit("unknown schedule type", [](json& j) { j["schedules"]["lr"]["type"] = "exp"; }, {"schedules.lr.type"}),
      edit("schedule for a hyper-parameter the optimizer lacks", [](json& j) { j["schedules"]["beta9"] = {{"type", "cosine"}}; }, {"schedules.beta9"}),
      edit("warm-up longer than the run", [](json& j) { j["schedules"]["lr"]["warmup_epochs"] = 5; }, {"schedules.lr.warmup_epochs"}),
      edit("decreasing milestones", [](json& j) { j["schedules"]["lr"] = {{"type", "multistep"}, {"milestones_epochs", {0.8, 0.2}}}; }, {"schedules.lr.milestones_epochs"}),
      edit("negative checkpoint interval", [](json& j) { j["checkpoint"]["interval_steps"] = -1; }, {"checkpoint.interval_steps"}),
      edit("unknown progress style", [](json& j) { j["log"]["progress"] = "fancy"; }, {"log.progress"}),
      edit("target accuracy 2", [](json& j) { j["eval"]["target_accuracy"] = 2; }, {"eval.target_accuracy"}),
      edit("unknown precision", [](json& j) { j["precision"] = "fp8"; }, {"precision"}),
      edit("5000 threads", [](json& j) { j["threads"] = 5000; }, {"threads"}),
      edit("name with a slash", [](json& j) { j["name"] = "a/b"; }, {"name"}),
      edit("empty name", [](json& j) { j["name"] = ""; }, {"name"}),
      edit("null where an object belongs", [](json& j) { j["train"] = nullptr; }, {"train: expected an object"}),
      edit("layers that are not a list", [](json& j) { j["model"]["layers"] = "conv"; }, {"model.layers"}),
      set("--set 1e400", {"optimizer.lr=1e400"}, {"--set optimizer.lr=1e400", "number out of range"}),
      set("--set 60000 nested arrays", {"model=" + deep_array(60000)}, {"--set model=[[[", "nested deeper than 64"}),
      set("--set a 100-level key path", {repeat("a.", 100) + "b=1"}, {"--set a.a.a", "key path deeper than 64"}),
      set("--set without =", {"noequals"}, {"--set noequals: expected path.to.key=value"}),
      set("--set without a key", {"=5"}, {"--set =5: expected path.to.key=value"}),
      set("--set with an empty path segment", {"optimizer..lr=1"}, {"empty key in path"}),
      set("--set inside a number", {"seed.x=1"}, {"'x' is inside a non-object"}),
      set("--set with a duplicate key", {"optimizer={\"type\":\"sgd\",\"lr\":1,\"lr\":2}"}, {"--set optimizer=", "lr: key given twice"}),
      set("--set batch_size past the data", {"train.batch_size=100000"}, {"train.batch_size"}),
      set("--set a word as the learning rate", {"optimizer.lr=fast"}, {"optimizer.lr", "\"fast\""}),
      set("--set device cuda:99", {"device=cuda:99"}, {"device"}),
      set("--set an unknown block", {"extra.key=1"}, {"extra: unknown key"}),
      set("--set a 100 kB value", {"name=" + big_arg + "/"}, {"name", "…"}),
      set("--set epochs 1e400", {"train.epochs=1e400"}, {"train.epochs", "number out of range"}),
  };
}

TEST(BadInput, ConfigsAndOverridesExit2NamingTheKeyAndLeaveNoRunDirectory) {
  const std::vector<ConfigCase> cases = config_cases();
  ASSERT_GE(cases.size(), 60u);
  TempDir dir;
  const std::string good = write_config(dir / "good.json", base_config());
  ASSERT_EQ(run_bounded({"validate", good}).exit_code, 0);
  for (size_t i = 0; i < cases.size(); ++i) {
    const ConfigCase& c = cases[i];
    const std::string path = dir / ("case" + std::to_string(i) + ".json");
    write_file(path, c.text());
    std::vector<std::string> validate = {"validate", path}, train = {"train", path, "--out", dir / "run"};
    for (const auto& s : c.sets) {
      for (auto* args : {&validate, &train}) args->insert(args->end(), {"--set", s});
    }
    expect_refused(run_bounded(validate), 2, c.names, "validate: " + c.what);
    expect_refused(run_bounded(train), 2, c.names, "train: " + c.what);
    EXPECT_FALSE(fs::exists(dir / "run")) << c.what << ": train left a run directory";
    fs::remove_all(dir / "run");
  }
}

TEST(BadInput, AFolderOrAMissingFileAsTheConfigIsNamed) {
  TempDir dir;
  expect_refused(run_bounded({"validate", dir.path()}), 2, {dir.path(), "is a folder"}, "folder as config");
  expect_refused(run_bounded({"train", dir.path(), "--out", dir / "run"}), 2, {dir.path(), "is a folder"},
                 "folder as config (train)");
  expect_refused(run_bounded({"validate", dir / "none.json"}), 2, {"none.json: cannot open"}, "missing config");
}

}  // namespace
}  // namespace ng::app::testing
