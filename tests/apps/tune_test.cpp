// tests/apps/tune_test.cpp — `natgrad tune` end to end on a few hundred real CIFAR-10 images: records,
// successive-halving promotion, the best config, the report, rungs that continue exactly like a direct
// run, a killed tune that resumes to the same records, diverging trials, and bad input (exit 2 naming
// the key).
#include <chrono>
#include <thread>

#include "tests/apps/app_test_util.h"

namespace ng::app::testing {
namespace {

using nlohmann::json;

// A tiny SGD run (12 steps per epoch, one thread) with a 128-image validation split, 4 epochs.
json tune_base() {
  json j = tiny_config();
  j["name"] = "tuned";
  j["threads"] = 1;
  j["optimizer"] = {{"type", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}};
  j["data"]["train_subset"] = 512;
  j["data"]["validation_size"] = 128;
  j["train"]["epochs"] = 4;
  j["checkpoint"]["interval_steps"] = 3;
  j["log"]["progress"] = "off";
  return j;
}

// Quasi-random, budget 2 with halving (eta 2, rungs 1, 2, 4): 4 trials, 2 continue to 2 epochs, 1 to 4.
json tune_space(const json& base) {
  return {{"base", base},
          {"seed", 2},
          {"budget", 2},
          {"halving", {{"min_epochs", 1}, {"eta", 2}}},
          {"params", {{"optimizer.lr", {{"log_uniform", {0.005, 0.5}}}}, {"optimizer.momentum", {{"choice", {0.0, 0.9}}}}}}};
}

std::vector<json> records_at(const std::vector<json>& records, int64_t rung) {
  std::vector<json> out;
  for (const auto& r : records)
    if (r["rung"] == rung) out.push_back(r);
  return out;
}

TEST(Tune, SuccessiveHalvingPicksTheBestOnTheValidationSplit) {
  TempDir dir;
  const std::string space = write_config(dir / "space.json", tune_space(tune_base()));
  const std::string out = dir / "tune";
  const RunResult r = run_natgrad({"tune", space, "--out", out, "--jobs", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto records = read_jsonl(out + "/tune.jsonl");
  const auto r0 = records_at(records, 0), r1 = records_at(records, 1), r2 = records_at(records, 2);
  ASSERT_EQ(r0.size(), 4u);
  ASSERT_EQ(r1.size(), 2u);
  ASSERT_EQ(r2.size(), 1u);
  for (const auto& rec : records) {
    EXPECT_EQ(rec["status"], "ok") << rec.dump();
    EXPECT_FALSE(rec.contains("test_accuracy"));
  }
  // The two promoted trials are the two best of rung 0, and the winner the better of them at rung 1.
  std::vector<json> sorted = r0;
  std::sort(sorted.begin(), sorted.end(), [](const json& a, const json& b) {
    return a["val_accuracy"] != b["val_accuracy"] ? a["val_accuracy"] > b["val_accuracy"] : a["trial"] < b["trial"];
  });
  std::set<int64_t> promoted = {r1[0]["trial"], r1[1]["trial"]};
  EXPECT_EQ(promoted, (std::set<int64_t>{sorted[0]["trial"], sorted[1]["trial"]}));
  const json& w1 = r1[0]["val_accuracy"] > r1[1]["val_accuracy"] ||
                           (r1[0]["val_accuracy"] == r1[1]["val_accuracy"] && r1[0]["trial"] < r1[1]["trial"])
                       ? r1[0] : r1[1];
  EXPECT_EQ(r2[0]["trial"], w1["trial"]);
  EXPECT_EQ(r2[0]["epochs"], 4);
  for (const auto& rec : r0) {  // trials that stop keep their records but not their checkpoints
    const std::string t = out + "/trials/t" + std::to_string(rec["trial"].get<int64_t>());
    EXPECT_TRUE(fs::exists(t + "/metrics.jsonl")) << t;
    EXPECT_EQ(fs::exists(t + "/checkpoints"), rec["trial"] == r2[0]["trial"]) << t;
  }

  // best.json is the base config with the winner's setting, and a valid config.
  const json best = json::parse(read_file(out + "/best.json"));
  json want = tune_base();
  want["optimizer"]["lr"] = r2[0]["setting"]["optimizer.lr"];
  want["optimizer"]["momentum"] = r2[0]["setting"]["optimizer.momentum"];
  EXPECT_EQ(best, want);
  EXPECT_EQ(run_natgrad({"validate", out + "/best.json"}).exit_code, 0);

  // A trial continued rung by rung equals the same config trained to the end at once.
  const std::string winner = out + "/trials/t" + std::to_string(r2[0]["trial"].get<int64_t>());
  const RunResult direct = run_natgrad({"train", winner + ".json", "--out", dir / "direct", "--no-test"});
  ASSERT_EQ(direct.exit_code, 0) << direct.output;
  EXPECT_EQ(metrics_without_timing(winner), metrics_without_timing(dir / "direct"));
  EXPECT_EQ(read_file(winner + "/final.safetensors"), read_file(dir / "direct/final.safetensors"));
  for (const auto& line : read_jsonl(winner + "/metrics.jsonl")) {  // trials never see the test split
    EXPECT_FALSE(line.contains("test_accuracy")) << line.dump();
    if (line["kind"] == "epoch") {
      EXPECT_TRUE(line.contains("val_accuracy")) << line.dump();
    }
  }

  const std::string html = read_file(out + "/report.html");
  size_t plots = 0;
  for (size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) ++plots;
  EXPECT_EQ(plots, 2u);  // one sensitivity plot per tuned key
  EXPECT_NE(html.find("optimizer.lr (log scale)"), std::string::npos);
  const size_t first_row = html.find("<tr><td>t");  // the table lists the winner first
  ASSERT_NE(first_row, std::string::npos);
  EXPECT_EQ(html.substr(first_row, 40).find("<tr><td>t" + std::to_string(r2[0]["trial"].get<int64_t>()) + "</td>"), 0u);
  EXPECT_NE(html.find(">completed</td>"), std::string::npos);
  EXPECT_NE(html.find(">halted</td>"), std::string::npos);
}

TEST(Tune, AKilledTuneRestartedGivesTheRecordsOfAnUninterruptedOne) {
  TempDir dir;
  const std::string space = write_config(dir / "space.json", tune_space(tune_base()));
  const RunResult whole = run_natgrad({"tune", space, "--out", dir / "whole"});
  ASSERT_EQ(whole.exit_code, 0) << whole.output;

  const std::string out = dir / "killed";
  const pid_t pid = spawn_natgrad({"tune", space, "--out", out}, dir / "log");
  // Kill the tune in the middle of trial t1's first epoch (step 5 logged; its checkpoint is at step 3).
  bool seen = false;
  for (int i = 0; i < 120000 && !seen; ++i) {
    seen = read_file(out + "/trials/t1/metrics.jsonl").find("\"step\":5,") != std::string::npos;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(seen) << read_file(dir / "log");
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the tune finished before it could be killed";
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // its trial process dies with it
  EXPECT_EQ(read_jsonl(out + "/tune.jsonl").size(), 1u);
  EXPECT_FALSE(fs::exists(out + "/best.json"));

  const RunResult resumed = run_natgrad({"tune", space, "--out", out});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(resumed.output.find("rung 1/3 (1 epochs): t0 "), std::string::npos) << "t0 ran again:\n" << resumed.output;
  EXPECT_EQ(read_file(out + "/tune.jsonl"), read_file(dir / "whole/tune.jsonl"));
  EXPECT_EQ(read_file(out + "/best.json"), read_file(dir / "whole/best.json"));

  // A finished tune restarted does nothing again and keeps its records.
  const RunResult again = run_natgrad({"tune", space, "--out", out});
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.output.find("rung 1/3"), std::string::npos) << again.output;
  EXPECT_EQ(read_file(out + "/tune.jsonl"), read_file(dir / "whole/tune.jsonl"));
}

TEST(Tune, DivergingTrialsAreRecordedAndNeverChosen) {
  TempDir dir;
  json base = tune_base();
  base["train"]["epochs"] = 2;
  base["train"]["max_skipped_steps"] = 2;
  auto& layers = base["model"]["layers"];  // without BatchNorm, a huge learning rate overflows in a few steps
  layers.erase(layers.begin() + 1);
  json space = {{"base", base}, {"strategy", "grid"}, {"params", {{"optimizer.lr", {{"choice", {1e6, 0.05}}}}}}};
  const std::string out = dir / "tune";
  const RunResult r = run_natgrad({"tune", write_config(dir / "space.json", space), "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto records = read_jsonl(out + "/tune.jsonl");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["status"], "diverged") << records[0].dump();
  EXPECT_NE(records[0]["error"].get<std::string>().find("diverged"), std::string::npos);
  EXPECT_EQ(records[1]["status"], "ok");
  EXPECT_EQ(json::parse(read_file(out + "/best.json"))["optimizer"]["lr"], 0.05);
  EXPECT_NE(read_file(out + "/report.html").find("diverged or failed"), std::string::npos);

  // When every trial fails there is no best config: exit 1.
  space["params"]["optimizer.lr"]["choice"] = {1e6};
  const RunResult all = run_natgrad({"tune", write_config(dir / "bad.json", space), "--out", dir / "bad"});
  EXPECT_EQ(all.exit_code, 1) << all.output;
  EXPECT_NE(all.output.find("no trial completed"), std::string::npos) << all.output;
  EXPECT_FALSE(fs::exists(dir / "bad/best.json"));
}

TEST(Tune, BadInputExitsWith2NamingTheKey) {
  TempDir dir;
  const json good = tune_space(tune_base());
  auto expect_error = [&](const json& space, const std::vector<std::string>& extra, const std::string& key) {
    std::vector<std::string> args = {"tune", write_config(dir / "space.json", space), "--out", dir / "out"};
    args.insert(args.end(), extra.begin(), extra.end());
    const RunResult r = run_natgrad(args);
    EXPECT_EQ(r.exit_code, 2) << key << ": " << r.output;
    EXPECT_NE(r.output.find(key), std::string::npos) << key << ": " << r.output;
  };
  json s = good;
  s["base"]["data"].erase("validation_size");
  expect_error(s, {}, "data.validation_size");
  s = good;
  s["params"]["optimizer.lrr"] = {{"uniform", {0.1, 0.2}}};
  expect_error(s, {}, "optimizer.lrr: unknown key");
  s = good;
  s["params"]["optimizer.lr"] = {{"log_uniform", {0.5, 0.5}}};
  expect_error(s, {}, "params.optimizer.lr.log_uniform");
  s = good;
  s["params"]["optimizer.lr"] = {{"uniform", {-1.0, -0.5}}};  // outside the config's range
  expect_error(s, {}, "optimizer.lr: expected a number");
  s = good;
  s["budget"] = -3;
  expect_error(s, {}, "budget");
  s = good;
  s["halving"]["min_epochs"] = 4;
  expect_error(s, {}, "halving.min_epochs");
  expect_error(good, {"--jobs", "0"}, "--jobs");
  expect_error(good, {"--set", "data.validation_size=0"}, "data.validation_size");
  // An output folder that holds another tune (one trial of one epoch).
  json quick = good;
  quick.erase("halving");
  quick["budget"] = 1;
  quick["base"]["train"]["epochs"] = 1;
  const RunResult first = run_natgrad({"tune", write_config(dir / "one.json", quick), "--out", dir / "taken"});
  ASSERT_EQ(first.exit_code, 0) << first.output;
  s = quick;
  s["seed"] = 3;
  const RunResult other = run_natgrad({"tune", write_config(dir / "two.json", s), "--out", dir / "taken"});
  EXPECT_EQ(other.exit_code, 2) << other.output;
  EXPECT_NE(other.output.find("--out"), std::string::npos) << other.output;
  const RunResult stop = run_natgrad({"train", write_config(dir / "c.json", tune_base()), "--stop-after-epoch", "0"});
  EXPECT_EQ(stop.exit_code, 2) << stop.output;
  EXPECT_NE(stop.output.find("--stop-after-epoch"), std::string::npos) << stop.output;
}

// configs/cpu-tune: one space per CPU-study optimizer, each on its cpu-study config with a validation split,
// tuning its natural keys with the same budget and halving; every one passes a dry run.
TEST(Tune, ShippedSpacesGiveEveryOptimizerTheSameBudget) {
  const std::string dir = std::string(NATGRAD_SOURCE_DIR) + "/configs/cpu-tune";
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().stem().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"adamw", "ikfac", "kfac", "sgd", "singd-dense", "singd-diagonal",
                                             "singd-hierarchical", "singd-toeplitz"}));
  for (const auto& name : names) {
    const std::string path = dir + "/" + name + ".json";
    const json space = json::parse(read_file(path));
    EXPECT_EQ(space["base"], "../cpu-study/" + name + ".json");
    EXPECT_EQ(space["set"], json({"data.validation_size=5000"})) << name;
    EXPECT_EQ(space["budget"], 4) << name;
    EXPECT_EQ(space["halving"], json({{"min_epochs", 1}, {"eta", 3}})) << name;
    std::vector<std::string> keys = {"optimizer.lr", "optimizer.weight_decay"};
    if (name != "sgd" && name != "adamw") keys.push_back("optimizer.damping");
    if (name == "kfac") keys.push_back("optimizer.T_inv");
    EXPECT_EQ(space["params"].size(), keys.size()) << name;
    for (const auto& k : keys) EXPECT_TRUE(space["params"].contains(k)) << name << ": " << k;
    const RunResult r = run_natgrad({"tune", path, "--dry-run"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("17 trials, rungs at 1 (17 trials) 3 (5 trials) 10 (1 trials) epochs, at most 34 epochs"),
              std::string::npos) << r.output;
  }
  const RunResult example = run_natgrad({"tune", std::string(NATGRAD_SOURCE_DIR) + "/configs/tune-example.json", "--dry-run"});
  EXPECT_EQ(example.exit_code, 0) << example.output;
  EXPECT_NE(example.output.find(": 7 trials"), std::string::npos) << example.output;
}

}  // namespace
}  // namespace ng::app::testing
