// tests/apps/compare_test.cpp — `natgrad compare` (configs × seeds → comparison.md/.csv, report.html),
// `natgrad report` rebuilding the same files from the runs, and the CLI's usage handling.
#include <sstream>

#include "tests/apps/app_test_util.h"

namespace ng::app::testing {
namespace {

using nlohmann::json;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

json one_epoch(const std::string& name, const json& optimizer) {
  json j = tiny_config();
  j["name"] = name;
  j["optimizer"] = optimizer;
  j.erase("schedules");
  j["train"]["epochs"] = 2;
  j["data"]["train_subset"] = 128;
  j["data"]["test_subset"] = 64;
  j["checkpoint"]["interval_steps"] = 0;
  return j;
}

TEST(Compare, RunsEveryConfigForEverySeedAndWritesTheComparison) {
  TempDir dir;
  const std::string a = write_config(dir / "sgd.json", one_epoch("sgd-test", {{"type", "sgd"}, {"lr", 0.05}, {"momentum", 0.9}}));
  const std::string b = write_config(dir / "adamw.json", one_epoch("adamw-test", {{"type", "adamw"}, {"lr", 0.002}}));
  const std::string out = dir / "cmp";
  RunResult r = run_natgrad({"compare", a, b, "--seeds", "2", "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* run : {"/sgd-test/seed-3", "/sgd-test/seed-4", "/adamw-test/seed-3", "/adamw-test/seed-4"})
    EXPECT_TRUE(fs::exists(out + run + "/summary.json")) << run;

  const std::string md = read_file(out + "/comparison.md");
  const auto md_lines = lines_of(md);
  ASSERT_EQ(md_lines.size(), 4u) << md;  // header, separator, two configs
  EXPECT_EQ(md_lines[0].rfind("| config | optimizer | runs | final test acc (%) | best test acc (%) | time to 15.0% (s)", 0), 0u)
      << md;
  EXPECT_EQ(md_lines[2].rfind("| sgd-test | sgd | 2 | ", 0), 0u) << md;
  EXPECT_EQ(md_lines[3].rfind("| adamw-test | adamw | 2 | ", 0), 0u) << md;
  EXPECT_NE(md_lines[2].find(" ± "), std::string::npos) << md;

  const auto csv = lines_of(read_file(out + "/comparison.csv"));
  ASSERT_EQ(csv.size(), 3u);
  EXPECT_EQ(csv[0].rfind("config,optimizer,runs,completed,final_acc_mean,final_acc_std,best_acc_mean", 0), 0u);
  EXPECT_EQ(csv[1].rfind("sgd-test,sgd,2,2,", 0), 0u) << csv[1];
  EXPECT_EQ(csv[2].rfind("adamw-test,adamw,2,2,", 0), 0u) << csv[2];
  // The mean final accuracy is the mean of the two runs' summaries.
  double sum = 0.0;
  for (const char* seed : {"/sgd-test/seed-3", "/sgd-test/seed-4"})
    sum += json::parse(read_file(out + seed + "/summary.json"))["final_test_accuracy"].get<double>();
  const std::string mean_field = csv[1].substr(std::string("sgd-test,sgd,2,2,").size());
  EXPECT_NEAR(std::stod(mean_field), sum / 2.0, 1e-6);

  const std::string html = read_file(out + "/report.html");
  for (const char* text : {"Test accuracy vs epoch", "Test accuracy vs wall time", "Train loss vs epoch",
                           "Train loss vs wall time", "Train loss per step", "Accuracy against cost",
                           "Final test accuracy vs training time", "Final test accuracy vs optimizer-state memory",
                           "lr per step", "Lines: mean over a config's seeds; bands", "data-toggle=\"sgd-test\"",
                           "data-key=\"adamw-test\"", "<polygon", "<table>", "Curvature diagnostics per layer"})
    EXPECT_NE(html.find(text), std::string::npos) << text;
  // One self-contained file: nothing is fetched (no src/href attributes, stylesheets, imports or requests).
  for (const char* fetch : {"src=", "href=", "<link", "@import", "url(", "fetch(", "XMLHttpRequest"})
    EXPECT_EQ(html.find(fetch), std::string::npos) << fetch;

  // Running the same command again reuses the finished runs.
  r = run_natgrad({"compare", a, b, "--seeds", "2", "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("done already"), std::string::npos) << r.output;

  // `report` rebuilds the same comparison from the runs (naming them in the command's order).
  const std::string csv_before = read_file(out + "/comparison.csv");
  fs::remove(out + "/comparison.md");
  fs::remove(out + "/comparison.csv");
  fs::remove(out + "/report.html");
  r = run_natgrad({"report", out + "/sgd-test", out + "/adamw-test", "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_file(out + "/comparison.md"), md);
  EXPECT_EQ(read_file(out + "/comparison.csv"), csv_before);
  EXPECT_TRUE(fs::exists(out + "/report.html"));
  // A whole comparison folder: groups in folder order.
  r = run_natgrad({"report", out});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(lines_of(read_file(out + "/comparison.md"))[2].rfind("| adamw-test | adamw | 2 | ", 0), 0u);

  // Several run directories into another folder.
  r = run_natgrad({"report", out + "/sgd-test/seed-3", out + "/adamw-test", "--out", dir / "rep"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto md2 = lines_of(read_file(dir / "rep/comparison.md"));
  ASSERT_EQ(md2.size(), 4u);
  EXPECT_EQ(md2[2].rfind("| sgd-test | sgd | 1 | ", 0), 0u);
  EXPECT_EQ(md2[3].rfind("| adamw-test | adamw | 2 | ", 0), 0u);
}

TEST(Compare, TwoConfigsWithOneNameAreRejected) {
  TempDir dir;
  const std::string a = write_config(dir / "a.json", one_epoch("same", {{"type", "sgd"}}));
  const std::string b = write_config(dir / "b.json", one_epoch("same", {{"type", "adamw"}}));
  const RunResult r = run_natgrad({"compare", a, b, "--out", dir / "cmp"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("name 'same' is used by another config"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "cmp"));
}

TEST(Report, MalformedRecordsLeaveGapsNotErrors) {
  // A run directory whose metrics and curvature lines have fields of the wrong type, or are not JSON.
  TempDir dir;
  const std::string run = dir / "run";
  fs::create_directories(run);
  write_file(run + "/config.json", R"({"name": "odd", "seed": 1, "optimizer": {"type": "singd"}})");
  write_file(run + "/metrics.jsonl",
             "{\"kind\": \"train\", \"step\": \"two\", \"loss\": 1.0}\n"
             "{\"kind\": \"train\", \"step\": 4, \"loss\": 0.9, \"lr\": 0.1, \"scheduled\": {\"damping\": \"x\"}}\n"
             "{\"kind\": 3}\nnot json\n"
             "{\"kind\": \"event\", \"event\": 7}\n"
             "{\"kind\": \"event\", \"event\": \"skipped_step\", \"step\": 4, \"reason\": 1}\n"
             "{\"kind\": \"epoch\", \"epoch\": 1, \"test_accuracy\": \"high\"}\n");
  write_file(run + "/curvature.jsonl",
             "{\"step\": \"a\", \"layer\": 5, \"avgtr_H_K\": 2.0}\n"
             "{\"step\": 2, \"layer\": 0, \"avgtr_H_K\": \"big\"}\n"
             "{\"step\": 4, \"layer\": \"0\", \"avgtr_H_K\": 1.5}\n");
  const RunResult r = run_natgrad({"report", run, "--out", dir / "out"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string html = read_file(dir / "out/report.html");
  for (const char* text : {"One run of config <b>odd</b>", "Train loss per step", "avgtr(H_K) (SINGD/IKFAC) per layer",
                           "step 4 skipped (? in '?')", "data-report-ok"})
    EXPECT_NE(html.find(text), std::string::npos) << text;
  EXPECT_NE(html.find("lr per step"), std::string::npos);
  EXPECT_EQ(html.find("damping per step"), std::string::npos);  // no numeric value: no empty plot
}

TEST(Cli, UsageErrorsExitWithCode2AndHelpWithCode0) {
  RunResult r = run_natgrad({});
  EXPECT_EQ(r.exit_code, 2);
  r = run_natgrad({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("unknown command 'frobnicate'"), std::string::npos);
  for (const char* cmd : {"train", "compare", "report", "eval", "validate", "data"}) {
    r = run_natgrad({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.output.find("usage: natgrad"), std::string::npos) << cmd << ": " << r.output;
  }
  r = run_natgrad({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"train ", "compare ", "report ", "eval ", "validate ", "data "})
    EXPECT_NE(r.output.find(cmd), std::string::npos) << cmd;
  r = run_natgrad({"train"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("no CONFIG given"), std::string::npos);
  r = run_natgrad({"train", "x.json", "--frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("unknown option '--frobnicate'"), std::string::npos);
  r = run_natgrad({"eval", "w.safetensors"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--config CONFIG is required"), std::string::npos);
  r = run_natgrad({"compare", "a.json", "--seeds", "zero"});
  EXPECT_EQ(r.exit_code, 2);
  r = run_natgrad({"report", "a", "b"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("several RUN_DIRs need --out DIR"), std::string::npos);
}

TEST(Cli, RuntimeFailuresExitWithCode1) {
  TempDir dir;
  RunResult r = run_natgrad({"report", dir.path()});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("holds no run directory"), std::string::npos) << r.output;
  write_file(dir / "w.safetensors", "not a safetensors file");
  r = run_natgrad({"eval", dir / "w.safetensors", "--config", write_config(dir / "c.json", tiny_config())});
  EXPECT_EQ(r.exit_code, 1) << r.output;
}

TEST(Cli, ResumeOfAFolderWithoutARunIsAUsageError) {
  TempDir dir;
  const RunResult r = run_natgrad({"train", "--resume", dir / "nothing"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("not a run directory"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace ng::app::testing
