// tests/apps/recovery_test.cpp — a run survives kills and failed writes: a checkpoint or final-weights
// write that fails (file size limit, a rename that cannot happen) is one error naming the file, leaves
// the previous checkpoint intact and the run resumable; a resume removes the temporary files of writes
// that a kill interrupted; a run directory killed while being made is reused by --out and refused by
// --resume with a clear message; and the soak: 20+ SIGKILLs at seeded random moments of a run that
// checkpoints every step, each followed by a resume, end in final weights byte-identical to an
// uninterrupted run's and no temporary files.
#include <signal.h>
#include <sys/resource.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "core/generator.h"
#include "tests/apps/app_test_util.h"

namespace ng::app::testing {
namespace {

using nlohmann::json;

// tiny_config() on 128 images: 2 epochs of 4 batches, a checkpoint after every step.
json every_step_config() {
  json j = tiny_config();
  j["data"]["train_subset"] = 128;
  j["train"]["epochs"] = 2;
  j["checkpoint"]["interval_steps"] = 1;
  return j;
}

// Files in `dir` (recursively) whose names mark an unfinished write.
std::vector<std::string> temporaries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp") != std::string::npos) out.push_back(e.path().string());
  return out;
}

// Kills the run started by `args` once its metrics hold step `step`; the run must not have finished.
void kill_at_step(const std::vector<std::string>& args, const std::string& run_dir, int step, const std::string& log) {
  const pid_t pid = spawn_natgrad(args, log);
  const std::string mark = "\"step\":" + std::to_string(step) + ",";
  bool seen = false;
  for (int i = 0; i < 120000 && !seen; ++i) {  // (the line may be half-written: look for its text)
    seen = read_file(run_dir + "/metrics.jsonl").find(mark) != std::string::npos;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(seen && WIFSIGNALED(status)) << read_file(log);
}

// In the child: files may grow to `bytes` at most; a write past that fails with EFBIG (SIGXFSZ ignored).
std::function<void()> file_size_limit(rlim_t bytes) {
  return [bytes] {
    signal(SIGXFSZ, SIG_IGN);
    const rlimit lim{bytes, bytes};
    setrlimit(RLIMIT_FSIZE, &lim);
  };
}

class Recovery : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    config_ = *dir_ / "every_step.json";
    reference_ = cached_run(every_step_config(), config_);
    ASSERT_FALSE(reference_.empty());
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string final_weights() { return read_file(reference_ + "/final.safetensors"); }

  static TempDir* dir_;
  static std::string config_, reference_;
};
TempDir* Recovery::dir_ = nullptr;
std::string Recovery::config_, Recovery::reference_;

TEST_F(Recovery, FailedCheckpointWriteKeepsThePreviousOneAndTheRunResumes) {
  TempDir t;
  const std::string run = t / "run", last = run + "/checkpoints/last.safetensors";
  kill_at_step({"train", config_, "--out", run}, run, 3, t / "log");
  ASSERT_TRUE(fs::exists(last));
  const std::string before = read_file(last);
  // Checkpoints no longer fit; the JSON and JSONL files (a few kB) still do.
  const RunResult r = run_natgrad({"train", "--resume", run}, file_size_limit(before.size() / 2));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("error: save_safetensors: cannot write " + last + ": write failed"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("File too large"), std::string::npos) << r.output;
  EXPECT_EQ(read_file(last), before);
  EXPECT_EQ(temporaries(run), std::vector<std::string>{});

  const RunResult resumed = run_natgrad({"train", "--resume", run});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(read_file(run + "/final.safetensors"), final_weights());
  EXPECT_EQ(metrics_without_timing(run), metrics_without_timing(reference_));
}

TEST_F(Recovery, FailedFinalWeightsWriteIsOneErrorAndAResumeWritesThem) {
  TempDir t;
  const std::string run = t / "run", final_path = run + "/final.safetensors";
  fs::create_directories(final_path + "/blocker");  // a non-empty folder: the rename onto it fails
  RunResult r = run_natgrad({"train", config_, "--out", run});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("error: save_safetensors: cannot write " + final_path + ": rename"), std::string::npos)
      << r.output;
  EXPECT_EQ(temporaries(run), std::vector<std::string>{});
  fs::remove_all(final_path);
  r = run_natgrad({"train", "--resume", run});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(final_path), final_weights());
}

TEST_F(Recovery, ResumeRemovesTheTemporariesOfKilledWrites) {
  TempDir t;
  const std::string run = t / "run";
  fs::copy(reference_, run, fs::copy_options::recursive);
  const std::vector<std::string> stale = {run + "/checkpoints/last.safetensors.tmp.a1B2c3",
                                          run + "/checkpoints/best.safetensors.tmp.zzzzzz",
                                          run + "/final.safetensors.tmp.Q9q9Q9", run + "/provenance.json.tmp",
                                          run + "/summary.json.tmp"};
  for (const auto& f : stale) write_file(f, "partial");
  write_file(run + "/checkpoints/notes.tmp.keep", "not natgrad's");  // not a temporary natgrad makes
  const RunResult r = run_natgrad({"train", "--resume", run});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(temporaries(run), std::vector<std::string>{run + "/checkpoints/notes.tmp.keep"});
  EXPECT_EQ(read_file(run + "/final.safetensors"), final_weights());
}

TEST_F(Recovery, ARunDirectoryKilledWhileBeingMadeIsReusedByOutAndRefusedByResume) {
  TempDir t;
  const std::string run = t / "run";
  fs::create_directories(run);
  fs::copy_file(reference_ + "/config.json", run + "/config.json");  // provenance.json not written yet
  RunResult r = run_natgrad({"train", "--resume", run});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--resume " + run + ": the run never started (no provenance.json"), std::string::npos)
      << r.output;
  r = run_natgrad({"train", config_, "--out", run});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(run + "/final.safetensors"), final_weights());
}

// Waits until `run`'s checkpoint folder holds a temporary file (a checkpoint write in progress) for the
// `nth` time, the process ends, or `limit` passes.
void wait_for_checkpoint_write(const std::string& run, int nth, pid_t pid, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  auto running = [pid] {
    siginfo_t info{};
    return waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
  };
  bool inside = false;
  while (std::chrono::steady_clock::now() < end && running()) {
    const bool now = fs::exists(run + "/checkpoints") && !temporaries(run + "/checkpoints").empty();
    if (now && !inside && --nth == 0) return;
    inside = now;
  }
}

// Each start of the run (or its resume) is killed at a seeded random moment: half of the time a moment
// drawn uniformly from [0, a quarter of an uninterrupted run's wall time], so that kills land anywhere
// from start-up to the end, half of the time inside the 1st, 2nd or 3rd checkpoint write it makes. A run
// that finishes between kills is checked and the next one starts, until 20 kills; the last is resumed to
// its end.
TEST_F(Recovery, SoakOfTwentyKillsAtRandomMomentsEndsInTheUninterruptedWeights) {
  TempDir t;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run_natgrad({"train", config_, "--out", t / "timing"}).exit_code, 0);
  const auto run_time = std::chrono::steady_clock::now() - t0;

  Generator gen(20261207);
  int kills = 0, kills_in_write = 0, rounds = 0;
  std::string history;  // one line per start: how it started and how it ended (printed on a failure)
  auto finish_round = [&](const std::string& run) {
    EXPECT_TRUE(read_file(run + "/final.safetensors") == final_weights())
        << run << ": final weights differ from the uninterrupted run's\n" << history << read_file(t / "log");
    EXPECT_EQ(temporaries(run), std::vector<std::string>{}) << run << "\n" << history;
    ++rounds;
  };
  std::string run = t / "run0";
  auto start = [&] {  // a run killed before provenance.json existed is started again (run_dir.h)
    return spawn_natgrad(fs::exists(run + "/provenance.json") ? std::vector<std::string>{"train", "--resume", run}
                                                               : std::vector<std::string>{"train", config_, "--out", run},
                         t / "log");
  };
  while (kills < 20) {
    history += run + (fs::exists(run + "/provenance.json") ? ": --resume, " : ": --out, ");
    const pid_t pid = start();
    if (gen.next_uniform() < 0.5f) {
      const auto wait = std::chrono::duration_cast<std::chrono::microseconds>(run_time * gen.next_uniform() / 4);
      history += "kill after " + std::to_string(wait.count()) + " µs";
      std::this_thread::sleep_for(wait);
    } else {
      const int nth = 1 + static_cast<int>(gen.next_u32() % 3);
      history += "kill inside checkpoint write " + std::to_string(nth);
      wait_for_checkpoint_write(run, nth, pid, std::chrono::duration_cast<std::chrono::milliseconds>(run_time));
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
      ++kills;
      const bool in_write = fs::exists(run) && !temporaries(run).empty();
      kills_in_write += in_write;
      history += in_write ? ": killed, temporaries left\n" : ": killed\n";
      continue;
    }
    history += ": finished\n";
    ASSERT_EQ(WEXITSTATUS(status), 0) << history << read_file(t / "log");
    finish_round(run);
    run = t / ("run" + std::to_string(rounds));
  }
  int status = 0;
  waitpid(start(), &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << history << read_file(t / "log");
  finish_round(run);
  std::cout << "soak: " << kills << " kills (" << kills_in_write << " inside a checkpoint write), " << rounds
            << " runs finished\n";
  EXPECT_GT(kills_in_write, 0) << "no kill landed inside a checkpoint write\n" << history;
}

}  // namespace
}  // namespace ng::app::testing
