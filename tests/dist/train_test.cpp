// tests/dist/train_test.cpp — `mpirun -np N natgrad train` end to end on real CIFAR-10 images (a few
// hundred of ../shared/data): N ranks × b/N against 1 rank × b after 20 steps (SGD, AdamW, SINGD dense and
// hierarchical, IKFAC, KFAC; a model without BatchNorm, and one with BatchNorm under
// distributed.sync_batchnorm), 3 ranks, resuming on another rank count, factor-work sharding (bitwise the
// unsharded run), bad launches, a killed and a stopped rank.
// Every distributed run also compares the parameters' bytes across ranks at each checkpoint and every step
// (distributed.check_interval_steps = 1), so a run only succeeds when all ranks hold bitwise-equal parameters.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <thread>

#include "core/safetensors.h"
#include "dist/communicator.h"
#include "tests/apps/app_test_util.h"

namespace ng::dist {
namespace {

using app::testing::read_file;
using app::testing::RunResult;
using app::testing::TempDir;
using app::testing::write_config;

// In a sanitizer build, LeakSanitizer must tell Open MPI's allocations from natgrad's (tests/dist/CMakeLists.txt):
// Open MPI's libraries are suppressed, found with the slow unwinder, and its plugins stay loaded.
void mpi_sanitizer_env() {
  const std::string lsan = std::string("suppressions=") + NATGRAD_SOURCE_DIR + "/tests/dist/lsan.supp:fast_unwind_on_malloc=0";
  setenv("LSAN_OPTIONS", lsan.c_str(), 1);
  setenv("OMPI_MCA_mca_base_component_disable_dlclose", "1", 1);
}

// Starts `mpirun -np N natgrad args...` (N = 1: natgrad alone) with output into `log`, in a process group
// of its own (so a test can end mpirun and its ranks together); returns its pid.
pid_t spawn(int ranks, const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> cmd;
  if (ranks > 1) cmd = {NATGRAD_MPIEXEC, "--allow-run-as-root", "--oversubscribe", "-np", std::to_string(ranks)};
  cmd.push_back(app::testing::natgrad_binary());
  cmd.insert(cmd.end(), args.begin(), args.end());
  return app::testing::spawn_command(cmd, log, [] {
    setpgid(0, 0);
    mpi_sanitizer_env();
  });
}

RunResult run(int ranks, const std::vector<std::string>& args, const TempDir& dir) {
  const std::string log = dir / ("log-" + std::to_string(ranks));
  return app::testing::wait_for(spawn(ranks, args, log), log);
}

// The optimizer block of `name`: sgd, adamw, singd-dense, singd-hierarchical, ikfac, kfac. The curvature
// optimizers take statistics and update their factors every step (T = 1), so each of the 20 steps
// combines the ranks' statistics.
nlohmann::json optimizer_config(const std::string& name) {
  // AdamW divides each coordinate by its own gradient scale (+ eps): with the default eps = 1e-8 a coordinate
  // whose gradient is a near-cancelling sum (measured here: a conv weight of seed 7, epoch 1) turns the
  // float32 rounding difference of the two reduction orders into 1.5e-4 relative differences after 10 steps.
  // eps = 1e-6 bounds that amplification; the ranks' results then agree to 2.5e-7 relative.
  if (name == "sgd") return {{"type", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}};
  if (name == "adamw") return {{"type", "adamw"}, {"lr", 0.003}, {"weight_decay", 0.01}, {"eps", 1e-6}};
  const nlohmann::json fallback = {{"type", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}};
  if (name == "kfac")
    return {{"type", "kfac"}, {"lr", 0.01}, {"damping", 0.01}, {"T", 1}, {"T_inv", 2}, {"fallback", fallback}};
  // IKFAC's factor step has no normalisation by the statistics' traces: a smaller β1 keeps it stable here.
  nlohmann::json singd = {{"type", name == "ikfac" ? "ikfac" : "singd"}, {"lr", 0.01},
                          {"lr_cov", name == "ikfac" ? 0.01 : 0.05}, {"damping", 0.01}, {"T", 1}, {"fallback", fallback}};
  if (name == "singd-hierarchical") {
    const nlohmann::json hierarchical = {{"type", "hierarchical"}, {"k1", 3}, {"k2", 3}};
    singd["structure_K"] = singd["structure_C"] = hierarchical;
  }
  return singd;
}

// 320 training images in global batches of `batch` (augmented: crops and flips keyed by image), 101 test
// images (the last evaluation batch is smaller than 3 ranks), checkpoints every 5 steps.
nlohmann::json config(const std::string& optimizer, int64_t batch, bool batchnorm) {
  nlohmann::json layers = nlohmann::json::array();
  // Before a BatchNorm the conv has no bias: its exact gradient would be 0 (only rounding noise is left).
  layers.push_back({{"type", "conv2d"}, {"in_channels", 3}, {"out_channels", 8}, {"kernel_size", 3}, {"padding", 1},
                    {"bias", !batchnorm}});
  if (batchnorm) layers.push_back({{"type", "batchnorm2d"}, {"num_features", 8}});
  layers.push_back({{"type", "relu"}});
  layers.push_back({{"type", "maxpool2d"}, {"kernel_size", 4}});
  layers.push_back({{"type", "flatten"}});
  layers.push_back({{"type", "linear"}, {"in_features", 512}, {"out_features", 10}});
  return {{"name", "dist"}, {"seed", 7}, {"threads", 1},
          {"model", {{"type", "sequential"}, {"layers", layers}}},
          {"data", {{"root", app::testing::cifar_root()}, {"train_subset", 10 * batch}, {"test_subset", 101}}},
          {"optimizer", optimizer_config(optimizer)},
          {"train", {{"epochs", 2}, {"batch_size", batch}}},
          {"eval", {{"batch_size", 50}}},
          {"checkpoint", {{"interval_steps", 5}}},
          {"log", {{"interval_steps", 5}, {"progress", "off"}}},
          {"distributed", {{"check_interval_steps", 1}, {"sync_batchnorm", batchnorm}}}};
}

// Every float tensor of `a` (the final weights or a checkpoint, with optimizer state) against `b`:
// max |a − b| within `tol` times max |b|, per tensor.
void expect_close(const std::string& a, const std::string& b, double tol) {
  const SafetensorsFile fa = load_safetensors(a), fb = load_safetensors(b);
  ASSERT_EQ(fa.tensors.size(), fb.tensors.size());
  double worst = 0.0;
  for (const auto& [name, t] : fa.tensors) {
    const Tensor* u = fb.find(name);
    ASSERT_NE(u, nullptr) << name;
    if (!is_floating(t.dtype())) continue;
    const auto x = t.to_vector<double>(), y = u->to_vector<double>();
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < x.size(); ++i) {
      diff = std::max(diff, std::fabs(x[i] - y[i]));
      scale = std::max(scale, std::fabs(y[i]));
    }
    EXPECT_LE(diff, tol * scale) << name << ": max difference " << diff << ", max value " << scale;
    worst = std::max(worst, diff / scale);
  }
  std::cout << "largest relative difference over the tensors of " << a << ": " << worst << "\n";
}

void expect_equivalent(const std::string& optimizer, int ranks, int64_t batch, bool batchnorm) {
  if (!mpi_built()) GTEST_SKIP() << "built without MPI";
  TempDir dir;
  const std::string cfg = write_config(dir / "c.json", config(optimizer, batch, batchnorm));
  const RunResult one = run(1, {"train", cfg, "--out", dir / "one"}, dir);
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const RunResult many = run(ranks, {"train", cfg, "--out", dir / "many"}, dir);
  ASSERT_EQ(many.exit_code, 0) << many.output;
  expect_close(dir / "many/final.safetensors", dir / "one/final.safetensors", 1e-5);
  expect_close(dir / "many/checkpoints/last.safetensors", dir / "one/checkpoints/last.safetensors", 1e-5);
  const auto prov = nlohmann::json::parse(read_file(dir / "many/provenance.json"));
  EXPECT_EQ(prov["distributed"], (nlohmann::json{{"backend", "mpi"}, {"ranks", ranks}}));
  const auto a = app::testing::read_jsonl(dir / "one/metrics.jsonl").back();
  const auto b = app::testing::read_jsonl(dir / "many/metrics.jsonl").back();
  EXPECT_EQ(a["test_accuracy"], b["test_accuracy"]);  // evaluation over ranks: the same 101 images
  EXPECT_NEAR(a["train_loss"].get<double>(), b["train_loss"].get<double>(), 1e-5);
  ASSERT_EQ(b["gradient_wait_seconds"].size(), static_cast<size_t>(ranks));
  for (const auto& w : b["gradient_wait_seconds"]) EXPECT_GE(w.get<double>(), 0.0);
  EXPECT_FALSE(a.contains("gradient_wait_seconds"));
}

TEST(DataParallelTrain, TwoRanksEqualOneRankSgd) { expect_equivalent("sgd", 2, 32, false); }
TEST(DataParallelTrain, TwoRanksEqualOneRankAdamW) { expect_equivalent("adamw", 2, 32, false); }
TEST(DataParallelTrain, TwoRanksEqualOneRankWithSyncBatchNorm) { expect_equivalent("sgd", 2, 32, true); }
TEST(DataParallelTrain, ThreeRanksEqualOneRankSgd) { expect_equivalent("sgd", 3, 33, false); }
// SINGD, IKFAC and KFAC: the ranks' curvature statistics (H_K, H_C; Σaᵀa, Σgᵀg) are averaged before every
// factor update; with BatchNorm under sync_batchnorm or without BatchNorm.
TEST(DataParallelTrain, TwoRanksEqualOneRankSingdDense) { expect_equivalent("singd-dense", 2, 32, true); }
TEST(DataParallelTrain, TwoRanksEqualOneRankSingdHierarchical) { expect_equivalent("singd-hierarchical", 2, 32, false); }
TEST(DataParallelTrain, TwoRanksEqualOneRankIkfac) { expect_equivalent("ikfac", 2, 32, false); }
TEST(DataParallelTrain, TwoRanksEqualOneRankKfac) { expect_equivalent("kfac", 2, 32, true); }

TEST(DataParallelTrain, ResumesOnAnotherRankCountAndBitwiseOnTheSame) {
  if (!mpi_built()) GTEST_SKIP() << "built without MPI";
  TempDir dir;
  const std::string cfg = write_config(dir / "c.json", config("sgd", 32, false));
  ASSERT_EQ(run(2, {"train", cfg, "--out", dir / "full"}, dir).exit_code, 0);
  for (const auto& [name, second] : std::vector<std::pair<std::string, int>>{{"same", 2}, {"other", 1}}) {
    const RunResult first = run(2, {"train", cfg, "--out", dir / name, "--stop-after-epoch", "1"}, dir);
    ASSERT_EQ(first.exit_code, 0) << first.output;
    const RunResult rest = run(second, {"train", "--resume", dir / name}, dir);
    ASSERT_EQ(rest.exit_code, 0) << rest.output;
  }
  EXPECT_EQ(read_file(dir / "same/final.safetensors"), read_file(dir / "full/final.safetensors"));
  expect_close(dir / "other/final.safetensors", dir / "full/final.safetensors", 1e-5);
  const auto prov = nlohmann::json::parse(read_file(dir / "other/provenance.json"));
  EXPECT_EQ(prov["resumes"][0]["distributed"]["ranks"], 1);
}

// distributed.shard_factor_work: the factor updates (SINGD/IKFAC) and inversions (KFAC, T_inv = 2) of each
// layer run on their owning rank and are broadcast; the final weights and the checkpoint (optimizer state
// with K, C, m_K, m_C or A, G and their inverses) are bitwise those of the same launch without sharding.
// The test model has two curvature layers, so with 3 ranks one rank owns none.
void expect_sharding_changes_nothing(nlohmann::json cfg, int ranks) {
  if (!mpi_built()) GTEST_SKIP() << "built without MPI";
  TempDir dir;
  for (const bool shard : {false, true}) {
    const std::string name = shard ? "on" : "off";
    cfg["distributed"]["shard_factor_work"] = shard;
    const RunResult r = run(ranks, {"train", write_config(dir / (name + ".json"), cfg), "--out", dir / name}, dir);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  expect_close(dir / "on/final.safetensors", dir / "off/final.safetensors", 0.0);
  expect_close(dir / "on/checkpoints/last.safetensors", dir / "off/checkpoints/last.safetensors", 0.0);
}

TEST(DataParallelTrain, ShardedFactorWorkEqualsUnshardedSingdDense) {
  expect_sharding_changes_nothing(config("singd-dense", 32, true), 2);
}
TEST(DataParallelTrain, ShardedFactorWorkEqualsUnshardedSingdHierarchicalBfloat16) {
  nlohmann::json cfg = config("singd-hierarchical", 33, false);
  cfg["optimizer"]["dtype_K"] = cfg["optimizer"]["dtype_C"] = "bfloat16";
  expect_sharding_changes_nothing(cfg, 3);
}
TEST(DataParallelTrain, ShardedFactorWorkEqualsUnshardedIkfac) { expect_sharding_changes_nothing(config("ikfac", 33, false), 3); }
TEST(DataParallelTrain, ShardedFactorWorkEqualsUnshardedKfac) { expect_sharding_changes_nothing(config("kfac", 32, true), 2); }
TEST(DataParallelTrain, ShardedFactorWorkEqualsUnshardedKfacThreeRanks) {
  expect_sharding_changes_nothing(config("kfac", 33, false), 3);
}
// One process: sharding has no other rank to share with and changes nothing.
TEST(DataParallelTrain, ShardedFactorWorkOnOneProcessEqualsUnsharded) {
  expect_sharding_changes_nothing(config("singd-dense", 32, false), 1);
}

// A sharded run stopped after epoch 1 and resumed (same rank count) ends bitwise as the uninterrupted one.
TEST(DataParallelTrain, ShardedFactorWorkResumesBitwise) {
  if (!mpi_built()) GTEST_SKIP() << "built without MPI";
  TempDir dir;
  nlohmann::json cfg_json = config("kfac", 32, false);
  cfg_json["distributed"]["shard_factor_work"] = true;
  const std::string cfg = write_config(dir / "c.json", cfg_json);
  ASSERT_EQ(run(2, {"train", cfg, "--out", dir / "full"}, dir).exit_code, 0);
  const RunResult first = run(2, {"train", cfg, "--out", dir / "part", "--stop-after-epoch", "1"}, dir);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const RunResult rest = run(2, {"train", "--resume", dir / "part"}, dir);
  ASSERT_EQ(rest.exit_code, 0) << rest.output;
  EXPECT_EQ(read_file(dir / "part/final.safetensors"), read_file(dir / "full/final.safetensors"));
  expect_close(dir / "part/checkpoints/last.safetensors", dir / "full/checkpoints/last.safetensors", 0.0);
}

// One error, exit code 2, naming the key, from every bad launch.
void expect_refused(int ranks, const nlohmann::json& cfg_json, const std::string& key) {
  TempDir dir;
  const std::string cfg = write_config(dir / "c.json", cfg_json);
  const RunResult r = run(ranks, {"train", cfg, "--out", dir / "run"}, dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  const size_t at = r.output.find("config error: " + key);
  EXPECT_NE(at, std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("config error", at + 1), std::string::npos) << "more than one error:\n" << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "run"));
}

TEST(DataParallelTrain, BadLaunchesExitWithTwoNamingTheKey) {
  if (!mpi_built()) GTEST_SKIP() << "built without MPI";
  expect_refused(3, config("sgd", 32, false), "train.batch_size");
  nlohmann::json few_tests = config("sgd", 30, false);
  few_tests["data"]["test_subset"] = 2;
  expect_refused(3, few_tests, "data.test_subset");
  nlohmann::json lone_image = config("kfac", 32, false);  // a last batch of 1 image leaves rank 1 no statistics
  lone_image["data"]["train_subset"] = 321;
  lone_image["data"]["drop_last"] = false;
  expect_refused(2, lone_image, "data.drop_last");
  nlohmann::json bad_key = config("sgd", 32, false);
  bad_key["distributed"]["buckets"] = 3;
  expect_refused(2, bad_key, "distributed.buckets");
}

// The pid of the natgrad process that mpirun `launcher` started as `rank` (from its environment), or 0.
pid_t rank_pid(pid_t launcher, int rank) {
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string stat = read_file(e.path() / "stat");
    const size_t close = stat.rfind(')');
    if (close == std::string::npos || std::atoi(stat.c_str() + stat.find(' ', close + 2) + 1) != launcher) continue;
    const std::string env = read_file(e.path() / "environ");
    if (env.find(std::string("OMPI_COMM_WORLD_RANK=") + std::to_string(rank) + '\0') != std::string::npos)
      return std::atoi(e.path().filename().c_str());
  }
  return 0;
}

// Starts a long 2-rank run, waits until it trains, sends `signal` to rank 1 and returns how the job ended
// and after how many seconds.
std::pair<RunResult, double> disturb_rank_one(int signal, const TempDir& dir) {
  nlohmann::json cfg = config("sgd", 32, false);
  cfg["train"]["epochs"] = 10000;
  cfg["distributed"]["timeout_s"] = 5;
  const std::string log = dir / "log";
  const pid_t launcher = spawn(2, {"train", write_config(dir / "c.json", cfg), "--out", dir / "run"}, log);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!std::filesystem::exists(dir / "run/checkpoints/last.safetensors") && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const pid_t victim = rank_pid(launcher, 1);
  EXPECT_GT(victim, 0) << "rank 1 not found";
  if (victim > 0) kill(victim, signal);
  const auto t0 = std::chrono::steady_clock::now();
  RunResult r = app::testing::wait_for(launcher, log);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  kill(-launcher, SIGKILL);  // whatever is left of the job's process group
  return {r, seconds};
}

TEST(DataParallelTrain, AKilledRankEndsTheJobNamingIt) {
  if (!mpi_built()) GTEST_SKIP() << "built without MPI";
  TempDir dir;
  const auto [r, seconds] = disturb_rank_one(SIGKILL, dir);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_LT(seconds, 30.0);
  EXPECT_NE(r.output.find("rank 1"), std::string::npos) << r.output;
}

// A rank that stops responding (SIGSTOP) without dying: the others give up after distributed.timeout_s,
// naming the stopped rank as the one that did not reach the collective.
TEST(DataParallelTrain, AHangingRankEndsTheJobAfterTheTimeout) {
  if (!mpi_built()) GTEST_SKIP() << "built without MPI";
  TempDir dir;
  const auto [r, seconds] = disturb_rank_one(SIGSTOP, dir);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_LT(seconds, 30.0);
  EXPECT_NE(r.output.find("rank 0 of 2 failed: rank 0: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("did not complete within 5 s (distributed.timeout_s): rank(s) 1 did not reach it"),
            std::string::npos) << r.output;
}

TEST(DataParallelTrain, OtherCommandsRefuseSeveralRanks) {
  if (!mpi_built()) GTEST_SKIP() << "built without MPI";
  TempDir dir;
  const RunResult r = run(2, {"validate", write_config(dir / "c.json", config("sgd", 32, false))}, dir);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("natgrad validate: runs as one process"), std::string::npos) << r.output;
}

TEST(DataParallelTrain, ARankLaunchedWithoutMpiInTheBuildIsRefused) {
  if (mpi_built()) GTEST_SKIP() << "this build has MPI (the check runs in a build without it)";
  TempDir dir;
  const std::string cfg = write_config(dir / "c.json", config("sgd", 32, false));
  setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
  const RunResult r = run(1, {"train", cfg, "--out", dir / "run"}, dir);
  unsetenv("OMPI_COMM_WORLD_SIZE");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("built without MPI"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace ng::dist
