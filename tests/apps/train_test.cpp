// tests/apps/train_test.cpp — `natgrad train` end to end on 384 real CIFAR-10 images: every run-directory
// artefact, two runs of one config bitwise equal, a run SIGKILLed mid-epoch resuming to bitwise-equal
// final weights, `natgrad eval` on the result, bfloat16 precision keeping float32 master weights, and
// divergence reported with the layer it came from.
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <thread>

#include "core/safetensors.h"
#include "tests/apps/app_test_util.h"

namespace ng::app::testing {
namespace {

using nlohmann::json;

// One reference run of tiny_config(), shared by the tests of this file (cached_run).
class TrainRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    config_ = *dir_ / "tiny.json";
    run_ = cached_run(tiny_config(), config_);
    ASSERT_FALSE(run_.empty());
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string run() { return run_; }

  static TempDir* dir_;
  static std::string config_, run_;
};
TempDir* TrainRun::dir_ = nullptr;
std::string TrainRun::config_, TrainRun::run_;

TEST_F(TrainRun, WritesEveryRunDirectoryArtefact) {
  const std::string r = run();
  // The resolved config: what was given plus every default.
  const json cfg = json::parse(read_file(r + "/config.json"));
  EXPECT_EQ(cfg["name"], "tiny");
  EXPECT_EQ(cfg["optimizer"]["T"], 2);
  EXPECT_EQ(cfg["optimizer"]["structure_K"]["type"], "diagonal");
  EXPECT_TRUE(cfg["optimizer"].contains("damping"));
  EXPECT_EQ(cfg["data"]["augmentation"]["horizontal_flip"], true);

  const json prov = json::parse(read_file(r + "/provenance.json"));
  for (const char* key : {"git_commit", "build_type", "compiler", "cxx_flags", "cpu", "threads", "start_time",
                          "command_line", "cuda", "natgrad_version"})
    EXPECT_TRUE(prov.contains(key)) << key;
  EXPECT_EQ(prov["threads"], 2);
  EXPECT_EQ(prov["command_line"][1], "train");
  // The build's commit: 40 hex digits in a git checkout (as in CI), "unknown" otherwise.
  const std::string commit = prov["git_commit"];
  EXPECT_TRUE(commit == "unknown" || (commit.size() == 40 && commit.find_first_not_of("0123456789abcdef") ==
                                                               std::string::npos))
      << commit;

  // metrics.jsonl: a train line per step (log interval 1) and an epoch line per epoch.
  int train_lines = 0, epoch_lines = 0;
  for (const json& line : read_jsonl(r + "/metrics.jsonl")) {
    if (line["kind"] == "train") {
      ++train_lines;
      for (const char* key : {"epoch", "step", "loss", "lr", "images_per_s", "time"}) EXPECT_TRUE(line.contains(key)) << key;
      EXPECT_GT(line["images_per_s"].get<double>(), 0.0);
    } else if (line["kind"] == "epoch") {
      ++epoch_lines;
      for (const char* key : {"train_loss", "train_accuracy", "test_loss", "test_accuracy", "epoch_seconds",
                              "peak_memory_bytes", "optimizer_state_bytes", "lr", "time"})
        EXPECT_TRUE(line.contains(key)) << key;
      EXPECT_EQ(line["epoch"], epoch_lines);
      EXPECT_GT(line["optimizer_state_bytes"].get<int64_t>(), 0);
    }
  }
  EXPECT_EQ(train_lines, 36);  // 3 epochs × 384/32 batches
  EXPECT_EQ(epoch_lines, 3);

  // curvature.jsonl: SINGD's per-layer diagnostics every 2 steps for the conv and linear layers.
  const auto curv = read_jsonl(r + "/curvature.jsonl");
  ASSERT_FALSE(curv.empty());
  bool conv_seen = false;
  for (const json& rec : curv) {
    EXPECT_EQ(rec["step"].get<int64_t>() % 2, 0);
    if (rec["layer"] == "0") {
      conv_seen = true;
      for (const char* key : {"avgtr_H_K", "avgtr_H_C", "K_fro", "C_fro", "m_K_inf", "m_C_inf", "grad_norm",
                              "update_norm", "update_grad_ratio"})
        EXPECT_TRUE(rec.contains(key)) << key;
    }
  }
  EXPECT_TRUE(conv_seen);

  // Checkpoints and final weights (PyTorch nn.Sequential names).
  for (const char* f : {"/checkpoints/last.safetensors", "/checkpoints/best.safetensors"}) {
    const SafetensorsFile ck = load_safetensors(r + f);
    EXPECT_TRUE(ck.metadata.count("natgrad.train")) << f;
    EXPECT_TRUE(ck.metadata.count("natgrad.optimizer")) << f;
    EXPECT_NE(ck.find("model.0.weight"), nullptr) << f;
  }
  const SafetensorsFile fin = load_safetensors(r + "/final.safetensors");
  for (const char* name : {"0.weight", "0.bias", "1.weight", "1.running_mean", "1.num_batches_tracked", "6.weight"})
    EXPECT_NE(fin.find(name), nullptr) << name;

  const json sum = json::parse(read_file(r + "/summary.json"));
  EXPECT_EQ(sum["status"], "completed");
  EXPECT_EQ(sum["epochs"], 3);
  EXPECT_EQ(sum["steps"], 36);
  for (const char* key : {"final_test_accuracy", "best_test_accuracy", "total_seconds", "peak_memory_bytes",
                          "optimizer_state_bytes", "mean_epoch_seconds"})
    EXPECT_TRUE(sum[key].is_number()) << key;
  EXPECT_GE(sum["best_test_accuracy"].get<double>(), sum["final_test_accuracy"].get<double>());
  EXPECT_GT(sum["final_test_accuracy"].get<double>(), 0.15);  // chance is 0.10
  EXPECT_TRUE(sum["time_to_target_seconds"].is_number());     // target 0.15 reached

  // The run's own report: every section a single SINGD run has (C is dense, K diagonal), and no wording
  // that only fits several seeds.
  const std::string html = read_file(r + "/report.html");
  for (const char* text : {"One run of config <b>tiny</b>", "Test accuracy vs epoch", "Train loss per step",
                           "Learning rate and scheduled hyper-parameters", "lr per step", "Curvature diagnostics per layer",
                           "‖update‖ / ‖gradient‖: layer × step", "avgtr(H_K) (SINGD/IKFAC) per layer",
                           "avgtr(H_C) (SINGD/IKFAC): layer × step", "cond(CCᵀ) (dense C) per layer", "class=\"cell\"",
                           "data-report-ok", "<table>"})
    EXPECT_NE(html.find(text), std::string::npos) << text;
  for (const char* text : {"mean over", "bands", "cond(KKᵀ)", "Accuracy against cost", "By optimizer family"})
    EXPECT_EQ(html.find(text), std::string::npos) << text;

}

TEST_F(TrainRun, PrintsPlainProgressLinesAndWhereTheReportIs) {
  TempDir other;
  const RunResult r = run_natgrad({"train", config_, "--out", other / "run", "--set", "train.epochs=1"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("epoch 1/1 step    12/12  loss "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("final test accuracy: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("report: " + (other / "run") + "/report.html"), std::string::npos) << r.output;
}

TEST_F(TrainRun, TwoRunsOfOneConfigAreBitwiseEqual) {
  TempDir other;
  const RunResult r = run_natgrad({"train", config_, "--out", other / "run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(other / "run/final.safetensors"), read_file(run() + "/final.safetensors"));
  EXPECT_EQ(metrics_without_timing(other / "run"), metrics_without_timing(run()));
  EXPECT_EQ(read_file(other / "run/curvature.jsonl"), read_file(run() + "/curvature.jsonl"));
}

TEST_F(TrainRun, SigkillMidEpochThenResumeGivesBitwiseEqualWeights) {
  TempDir other;
  const std::string killed = other / "run";
  const pid_t pid = spawn_natgrad({"train", config_, "--out", killed}, other / "log");
  // Kill once step 17 (epoch 2 of 3, batch 5 of 12) has been logged: the last checkpoint is then the
  // one of step 15, in the middle of epoch 2, and steps after it are lost and must be replayed.
  bool seen = false;
  for (int i = 0; i < 120000 && !seen; ++i) {  // (the line may be half-written: look for its text)
    seen = read_file(killed + "/metrics.jsonl").find("\"step\":17,") != std::string::npos;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(seen) << read_file(other / "log");
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the run finished before it could be killed; log:\n" << read_file(other / "log");
  EXPECT_FALSE(fs::exists(killed + "/final.safetensors"));

  const SafetensorsFile ck = load_safetensors(killed + "/checkpoints/last.safetensors");
  const json state = json::parse(ck.metadata.at("natgrad.train"))["state"];
  EXPECT_GT(state["epoch_step"].get<int64_t>(), 0) << "the checkpoint should be mid-epoch: " << state.dump();
  EXPECT_LT(state["global_step"].get<int64_t>(), 36);

  const RunResult r = run_natgrad({"train", "--resume", killed});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resuming"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(killed + "/final.safetensors"), read_file(run() + "/final.safetensors"));
  EXPECT_EQ(metrics_without_timing(killed), metrics_without_timing(run()));
  EXPECT_EQ(read_file(killed + "/curvature.jsonl"), read_file(run() + "/curvature.jsonl"));
  const json prov = json::parse(read_file(killed + "/provenance.json"));
  EXPECT_EQ(prov["resumes"].size(), 1u);
}

TEST_F(TrainRun, ResumeRefusesAnotherConfigAndOutRefusesAnExistingRun) {
  json changed = tiny_config();
  changed["optimizer"]["lr"] = 0.5;
  TempDir other;
  RunResult r = run_natgrad({"train", "--resume", run(), write_config(other / "c.json", changed)});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("optimizer.fallback.lr, optimizer.lr: differ from the config of the run"), std::string::npos)
      << r.output;
  r = run_natgrad({"train", config_, "--out", run()});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("already holds a run"), std::string::npos) << r.output;
}

TEST_F(TrainRun, EvalReproducesTheFinalTestAccuracy) {
  const json sum = json::parse(read_file(run() + "/summary.json"));
  for (const std::string& weights : {run() + "/final.safetensors", run() + "/checkpoints/last.safetensors"}) {
    const RunResult r = run_natgrad({"eval", weights, "--config", config_});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const json out = json::parse(r.output);
    EXPECT_EQ(out["test_accuracy"].get<double>(), sum["final_test_accuracy"].get<double>()) << weights;
    EXPECT_EQ(out["test_images"], 128);
  }
}

TEST_F(TrainRun, InitStartsFromGivenWeights) {
  TempDir other;
  json cfg = tiny_config();
  cfg["train"]["epochs"] = 1;
  cfg["optimizer"]["lr"] = 0.0;  // no update: the final weights are the initial ones
  cfg["data"]["train_subset"] = 64;
  cfg["model"]["layers"].erase(5);  // no dropout, so nothing differs but the weights
  cfg["model"]["layers"].erase(1);  // no BatchNorm statistics to update
  const std::string c = write_config(other / "c.json", cfg);
  RunResult r = run_natgrad({"train", c, "--out", other / "a"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  cfg["seed"] = 99;  // other initial weights, replaced by --init
  r = run_natgrad({"train", write_config(other / "d.json", cfg), "--out", other / "b", "--init", other / "a/final.safetensors"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(other / "b/final.safetensors"), read_file(other / "a/final.safetensors"));
}

TEST_F(TrainRun, Bfloat16PrecisionIsMixedPrecisionWithFloat32MasterWeights) {
  TempDir other;
  json cfg = tiny_config();
  cfg["precision"] = "bfloat16";
  cfg["train"]["epochs"] = 1;
  cfg["data"]["train_subset"] = 128;
  const RunResult r = run_natgrad({"train", write_config(other / "c.json", cfg), "--out", other / "run"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const SafetensorsFile w = load_safetensors(other / "run/final.safetensors");
  ASSERT_FALSE(w.tensors.empty());
  for (const auto& [name, t] : w.tensors) {
    if (is_floating(t.dtype())) {
      EXPECT_EQ(t.dtype(), DType::f32) << name;  // weights and BN statistics
    }
  }
  int epochs = 0;
  for (const json& line : read_jsonl(other / "run/metrics.jsonl"))
    if (line.contains("train_loss")) {
      ++epochs;
      EXPECT_TRUE(std::isfinite(line["train_loss"].get<double>())) << line.dump();
    }
  EXPECT_EQ(epochs, 1);
}

TEST_F(TrainRun, NonFiniteValuesAreReportedWithTheirLayerAndEndTheRun) {
  // Finite weights so large in the classifier ("6") that its outputs overflow: every step's loss is NaN.
  // (Weights that are already NaN are refused by --init; tests/apps/bad_input_test.cpp.)
  TempDir other;
  SafetensorsFile w = load_safetensors(run() + "/final.safetensors");
  for (auto& [name, t] : w.tensors)
    if (name == "6.weight")
      for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = 3e38f;
  save_safetensors(other / "nan.safetensors", w.tensors);
  json cfg = tiny_config();
  cfg["train"]["max_skipped_steps"] = 2;
  const std::string c = write_config(other / "c.json", cfg);
  const RunResult r = run_natgrad({"train", c, "--out", other / "run", "--init", other / "nan.safetensors"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("diverged: 3 consecutive steps skipped; last: non-finite loss (NaN) in '6'"),
            std::string::npos)
      << r.output;
  const json sum = json::parse(read_file(other / "run/summary.json"));
  EXPECT_EQ(sum["status"], "diverged");
  EXPECT_EQ(sum["skipped_steps"], 3);
  int events = 0;
  for (const json& line : read_jsonl(other / "run/metrics.jsonl"))
    if (line["kind"] == "event" && line["event"] == "skipped_step") {
      ++events;
      EXPECT_EQ(line["where"], "6") << line.dump();
    }
  EXPECT_EQ(events, 3);
  EXPECT_FALSE(fs::exists(other / "run/final.safetensors"));
  // The report marks the skipped steps and the divergence on the per-step curve.
  const std::string html = read_file(other / "run/report.html");
  EXPECT_NE(html.find("Train loss per step"), std::string::npos);
  EXPECT_NE(html.find("skipped (non-finite loss (NaN) in '6')"), std::string::npos);
  EXPECT_NE(html.find("tiny seed 3: diverged: 3 consecutive steps skipped"), std::string::npos);
}

}  // namespace
}  // namespace ng::app::testing
