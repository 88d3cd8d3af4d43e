// tests/apps/tour_lab_test.cpp — docs/tour.md as a lab: runs the tour's commands on its presets
// (configs/tour/*.json: a two-convolution net on 1,024 CIFAR-10 images, 128 steps, diagnostics every 2 steps)
// and checks mechanically the behaviour the tour states: SGD's update/gradient ratio starts at the learning
// rate and ends near zero; second-order optimizers spread the ratio across layers more than SGD and reach a
// lower training loss; IKFAC's avgtr(H_K) falls fast while K grows slowly; SINGD's factors approach the
// coupled fixed point and cond(KKᵀ) grows; KFAC with bfloat16 factors at λ = 1e-5 skips steps where
// float32 KFAC and bfloat16 SINGD do not; a too-large lr_cov shows in the curvature
// diagnostics before the loss goes bad.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "tests/apps/app_test_util.h"

namespace {

using ng::app::testing::cifar_root;
using ng::app::testing::read_jsonl;
using ng::app::testing::run_natgrad;
using ng::app::testing::TempDir;
using nlohmann::json;

struct TourRun {
  int exit_code = -1;
  std::vector<json> metrics, curvature;
};

// `natgrad train configs/tour/NAME.json [--set ...]` into a fresh folder under `dir`.
TourRun train(const TempDir& dir, const std::string& name, const std::vector<std::string>& sets = {}) {
  std::vector<std::string> args = {"train", std::string(NATGRAD_SOURCE_DIR) + "/configs/tour/" + name + ".json",
                                   "--out", dir / name,
                                   "--set", "data.root=" + cifar_root(),
                                   "--set", "log.progress=off"};
  for (const auto& s : sets) args.insert(args.end(), {"--set", s});
  const auto r = run_natgrad(args);
  TourRun out;
  out.exit_code = r.exit_code;
  out.metrics = read_jsonl(dir / name + "/metrics.jsonl");
  out.curvature = read_jsonl(dir / name + "/curvature.jsonl");
  EXPECT_FALSE(out.curvature.empty()) << name << ": no curvature.jsonl; output:\n" << r.output;
  return out;
}

// (step, value) of one diagnostic of one layer, in step order; records without a number are left out.
std::vector<std::pair<int, double>> series(const TourRun& r, const std::string& layer, const std::string& key) {
  std::vector<std::pair<int, double>> out;
  for (const auto& c : r.curvature)
    if (c["layer"] == layer && c.contains(key) && c[key].is_number())
      out.emplace_back(c["step"].get<int>(), c[key].get<double>());
  return out;
}

double max_value(const std::vector<std::pair<int, double>>& s) {
  double m = -INFINITY;
  for (const auto& [step, v] : s) m = std::max(m, v);
  return m;
}

// Mean of the values in the last quarter of the steps (the run's end, less noisy than its last value).
double last_quarter_mean(const std::vector<double>& v) {
  const size_t n = std::max<size_t>(1, v.size() / 4);
  double sum = 0;
  for (size_t i = v.size() - n; i < v.size(); ++i) sum += v[i];
  return sum / static_cast<double>(n);
}

std::vector<double> values(const std::vector<std::pair<int, double>>& s) {
  std::vector<double> out;
  for (const auto& [step, v] : s) out.push_back(v);
  return out;
}

double final_train_loss(const TourRun& r) {
  for (auto it = r.metrics.rbegin(); it != r.metrics.rend(); ++it)
    if ((*it)["kind"] == "epoch") return (*it)["train_loss"].get<double>();
  ADD_FAILURE() << "no epoch line";
  return NAN;
}

int skipped_steps(const TourRun& r) {
  int n = 0;
  for (const auto& m : r.metrics) n += m["kind"] == "event" && m["event"] == "skipped_step";
  return n;
}

// The preconditioned layers of the tour's net: name, d_i (inputs + bias), d_o.
struct LayerDims {
  std::string name;
  double d_i, d_o;
};
const std::vector<LayerDims> kLayers = {{"0", 28, 8}, {"4", 73, 16}, {"9", 65, 10}};

// Median over diagnostics steps (after step 0) of max/min update_grad_ratio across the preconditioned layers.
double median_ratio_spread(const TourRun& r) {
  std::map<int, std::vector<double>> by_step;
  for (const auto& l : kLayers)
    for (const auto& [step, v] : series(r, l.name, "update_grad_ratio"))
      if (step > 0) by_step[step].push_back(v);
  std::vector<double> spread;
  for (const auto& [step, v] : by_step)
    if (v.size() == kLayers.size())
      spread.push_back(*std::max_element(v.begin(), v.end()) / *std::min_element(v.begin(), v.end()));
  EXPECT_FALSE(spread.empty());
  std::sort(spread.begin(), spread.end());
  return spread.empty() ? NAN : spread[spread.size() / 2];
}

// docs/tour.md sections 1, 3 and 5: SGD's ratio follows the schedule; second-order ratios spread across
// layers; lower loss.
TEST(TourLab, SgdFollowsTheScheduleAndSecondOrderRescalesLayers) {
  TempDir dir;
  const TourRun sgd = train(dir, "sgd"), kfac = train(dir, "kfac"), singd = train(dir, "singd-dense");
  ASSERT_EQ(sgd.exit_code, 0);
  ASSERT_EQ(kfac.exit_code, 0);
  ASSERT_EQ(singd.exit_code, 0);
  std::vector<double> first_grad_norms;
  for (const auto& c : sgd.curvature)
    if (c["step"] == 0) first_grad_norms.push_back(c["grad_norm"].get<double>());
  ASSERT_FALSE(first_grad_norms.empty());
  EXPECT_GT(*std::max_element(first_grad_norms.begin(), first_grad_norms.end()) /
                *std::min_element(first_grad_norms.begin(), first_grad_norms.end()),
            10.0)
      << "the layers' gradient norms at step 0 should differ by more than 10x";
  for (const auto& l : kLayers) {
    const auto ratio = series(sgd, l.name, "update_grad_ratio");
    ASSERT_GE(ratio.size(), 60u);
    EXPECT_NEAR(ratio.front().second, 0.005, 0.0002) << "layer " << l.name << ": step 0 ratio = lr·0.1 (warm-up)";
    EXPECT_LT(ratio.back().second, max_value(ratio) / 100) << "layer " << l.name << ": cosine decay to 0";
  }
  const double s_sgd = median_ratio_spread(sgd), s_kfac = median_ratio_spread(kfac),
               s_singd = median_ratio_spread(singd);
  EXPECT_GT(s_kfac, 1.5 * s_sgd);
  EXPECT_GT(s_singd, 1.5 * s_sgd);
  EXPECT_LT(final_train_loss(kfac), final_train_loss(sgd) - 0.1);
  EXPECT_LT(final_train_loss(singd), final_train_loss(sgd) - 0.1);

  // SINGD (section 5): avgtr(H_K)·avgtr(H_C) + λ·avgtr(KᵀK)·avgtr(CᵀC) → 1; cond(KKᵀ) grows from about 1;
  // ‖m_K‖∞ ends well below its peak.
  for (const auto& l : kLayers) {
    const auto hk = series(singd, l.name, "avgtr_H_K"), hc = series(singd, l.name, "avgtr_H_C");
    const auto kf = series(singd, l.name, "K_fro"), cf = series(singd, l.name, "C_fro");
    ASSERT_TRUE(hk.size() == hc.size() && hk.size() == kf.size() && hk.size() == cf.size() && hk.size() > 10);
    std::vector<double> fixed_point;
    for (size_t i = 0; i < hk.size(); ++i)
      fixed_point.push_back(hk[i].second * hc[i].second +
                            1e-3 * (kf[i].second * kf[i].second / l.d_i) * (cf[i].second * cf[i].second / l.d_o));
    EXPECT_LT(fixed_point.front(), 0.5) << "layer " << l.name;
    EXPECT_NEAR(last_quarter_mean(fixed_point), 1.0, 0.1) << "layer " << l.name;
    const auto cond = series(singd, l.name, "cond_KKt");
    EXPECT_LT(cond.front().second, 3.0) << "layer " << l.name;
    EXPECT_GT(cond.back().second, 100 * cond.front().second) << "layer " << l.name;
    const auto m = series(singd, l.name, "m_K_inf");
    EXPECT_LT(last_quarter_mean(values(m)), max_value(m) / 2) << "layer " << l.name;
  }
}

// docs/tour.md section 4: IKFAC's avgtr(H_K) falls within 16 steps while ‖K‖_F barely moves (the
// large-eigenvalue directions converge first); cond(KKᵀ) grows.
TEST(TourLab, IkfacConvergesFastInLargeDirectionsAndSlowlyInSmallOnes) {
  TempDir dir;
  const TourRun r = train(dir, "ikfac");
  ASSERT_EQ(r.exit_code, 0);
  for (const auto& l : kLayers) {
    const auto hk = series(r, l.name, "avgtr_H_K"), kf = series(r, l.name, "K_fro"),
               cond = series(r, l.name, "cond_KKt");
    ASSERT_TRUE(hk.size() > 8 && hk.size() == kf.size() && hk.size() == cond.size());
    ASSERT_EQ(hk[8].first, 16);
    EXPECT_LT(hk[8].second, 0.6 * hk[0].second) << "layer " << l.name;
    EXPECT_LT(kf[8].second, 1.1 * kf[0].second) << "layer " << l.name;
    EXPECT_GT(kf.back().second, 1.3 * kf[0].second) << "layer " << l.name;
    EXPECT_GT(cond.back().second, std::max(50.0, cond.front().second)) << "layer " << l.name;
  }
}

// docs/tour.md sections 3 and 5: at λ = 1e-5 KFAC's bfloat16 factors fail Cholesky (steps skipped), its
// float32 factors and SINGD's bfloat16 factors do not.
TEST(TourLab, Bfloat16KfacSkipsStepsWhereFloat32KfacAndSingdDoNot) {
  TempDir dir;
  const std::vector<std::string> quiet = {"log.diagnostics_interval_steps=32"};
  const TourRun kfac = train(dir, "kfac-bf16", quiet), singd = train(dir, "singd-dense-bf16", quiet);
  const TourRun kfac32 = train(dir, "kfac", {"optimizer.damping=1e-5", "log.diagnostics_interval_steps=32"});
  EXPECT_EQ(kfac.exit_code, 0);
  EXPECT_EQ(singd.exit_code, 0);
  EXPECT_EQ(kfac32.exit_code, 0);
  EXPECT_EQ(skipped_steps(kfac32), 0);
  EXPECT_GT(skipped_steps(kfac), 0);
  for (const auto& m : kfac.metrics) {
    if (m["kind"] == "event" && m["event"] == "skipped_step") {
      EXPECT_NE(m["reason"].get<std::string>().find("not positive definite"), std::string::npos) << m.dump();
    }
  }
  EXPECT_EQ(skipped_steps(singd), 0);
}

// docs/tour.md section 7: IKFAC with lr_cov = 0.03 overshoots in the classifier; cond(KKᵀ) jumps before the
// loss does.
TEST(TourLab, TooLargeLrCovShowsInTheDiagnosticsBeforeTheLoss) {
  TempDir dir;
  const TourRun r =
      train(dir, "ikfac", {"optimizer.lr_cov=0.03", "log.interval_steps=1", "log.diagnostics_interval_steps=1"});
  EXPECT_EQ(r.exit_code, 1) << "the run should end as diverged";
  int diagnostic_step = -1;  // first step at which a layer's cond(KKᵀ) is 100x its step-0 value
  for (const auto& l : kLayers) {
    const auto cond = series(r, l.name, "cond_KKt");
    ASSERT_FALSE(cond.empty());
    for (const auto& [step, v] : cond)
      if (!(v < 100 * cond.front().second)) {
        if (diagnostic_step < 0 || step < diagnostic_step) diagnostic_step = step;
        break;
      }
  }
  // First step whose loss is non-finite or above twice the first step's, or that was skipped. A train line
  // with "step": N holds the loss computed in step N − 1.
  int loss_step = -1;
  double first_loss = NAN;
  for (const auto& m : r.metrics) {
    int step = -1;
    if (m["kind"] == "event" && m["event"] == "skipped_step") step = m["step"].get<int>();
    if (m["kind"] == "train") {
      const int at = m["step"].get<int>() - 1;
      if (std::isnan(first_loss) && m["loss"].is_number()) first_loss = m["loss"].get<double>();
      if (!m["loss"].is_number() || !(m["loss"].get<double>() <= 2 * first_loss)) step = at;
    }
    if (step >= 0) {
      loss_step = step;
      break;
    }
  }
  ASSERT_GE(diagnostic_step, 0) << "no layer's cond(KKᵀ) grew 100x";
  ASSERT_GE(loss_step, 0) << "the loss never went bad";
  EXPECT_LT(diagnostic_step, loss_step);
}

}  // namespace
