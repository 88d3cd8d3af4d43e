// tests/optim/singd_properties_test.cpp — implementation-independent properties of SINGD (docs/singd.md §10, properties
// (a)–(d)) and the optimizer's contracts around it: fallback rule, resume, non-finite handling, memory,
// diagnostics, bfloat16 factors.
//
// The problems are synthetic and consistent: per step, inputs X [N, d_in] and per-sample output gradients
// Ĝ [N, d_out] of a mean-reduced loss (ĝ_n = ∇ℓ_n/N); a layer then captures a = [X | 1]/√N, g = Ĝ·√N
// ("batch", docs/singd.md §3.2) and has the gradient Gm = Ĝᵀ[X | 1]. Everything runs in float64 unless stated.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "optim/diagnostics.h"
#include "optim/first_order.h"
#include "optim/singd.h"
#include "tests/optim/fake_layer.h"

namespace ng::optim {
namespace {

using testing::FakeLayer;

constexpr int64_t kIn = 5, kOut = 4, kN = 12;

struct Batch {
  Tensor X, Ghat;  // [n, kIn], [n, kOut]
  Batch rows(int64_t b, int64_t e) const { return {X.slice(0, b, e).contiguous(), Ghat.slice(0, b, e).contiguous()}; }
};

Batch draw(Generator& gen, DType dt = DType::f64) {
  return {Tensor::normal({kN, kIn}, 0.0, 1.0, gen, dt), Tensor::normal({kN, kOut}, 0.0, 0.3 / kN, gen, dt)};
}

Tensor with_ones(const Tensor& X) {
  Tensor a = Tensor::ones({X.size(0), X.size(1) + 1}, X.dtype());
  a.slice(1, 0, X.size(1)).copy_(X);
  return a;
}

Tensor scaled(const Tensor& t, double s) {
  auto v = t.to_vector<double>();
  for (double& x : v) x *= s;
  return Tensor::from_vector(v, t.shape(), t.dtype());
}

Tensor grad_matrix(const Batch& b) {  // Ĝᵀ [X | 1], computed in double
  const auto A = with_ones(b.X).to_vector<double>(), G = b.Ghat.to_vector<double>();
  const int64_t n = b.X.size(0), di = kIn + 1;
  std::vector<double> out(static_cast<size_t>(kOut * di), 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t o = 0; o < kOut; ++o)
      for (int64_t i = 0; i < di; ++i) out[o * di + i] += G[r * kOut + o] * A[r * di + i];
  return Tensor::from_vector(out, {kOut, di}, b.X.dtype());
}

// One layer (plus an optional extra parameter trained by the fallback rule) under SINGD.
struct Rig {
  FakeLayer layer;
  Tensor extra;  // e.g. a BatchNorm weight: no curvature layer
  std::unique_ptr<SINGD> opt;
  Rig(const SingdHyper& h, DType dt = DType::f64, double init_grad_scale = 1.0)
      : layer(kIn, kOut, true, dt), extra(Tensor::ones({3}, dt).set_requires_grad(true)) {
    Generator g(11);
    layer.weight().copy_(Tensor::normal({kOut, kIn}, 0.0, 0.5, g, dt));
    layer.bias()->copy_(Tensor::normal({kOut}, 0.0, 0.5, g, dt));
    std::vector<ParamRef> params = {{"fc.weight", &layer.weight()}, {"fc.bias", layer.bias()}, {"bn.weight", &extra}};
    opt = std::make_unique<SINGD>(std::vector<std::pair<std::string, CurvatureLayer*>>{{"fc", &layer}},
                                  std::vector<SINGD::Group>{{params, h}}, init_grad_scale);
  }
  // A step on batch b: captures with (a·√c, g/√c) and gradients multiplied by `scale`.
  StepReport step(const Batch& b, double c = 1.0, double scale = 1.0) {
    layer.capture(scaled(with_ones(b.X), std::sqrt(c) / std::sqrt(double(kN))), scaled(b.Ghat, scale * std::sqrt(double(kN)) / std::sqrt(c)));
    layer.set_grad_matrix(scaled(grad_matrix(b), scale));
    extra.set_grad(scaled(Tensor::full({3}, 0.2, extra.dtype()), scale));
    return opt->step();
  }
  std::vector<double> snapshot() const {
    std::vector<double> v = const_cast<FakeLayer&>(layer).weight().to_vector<double>();
    for (const Tensor* t : {static_cast<const Tensor*>(const_cast<FakeLayer&>(layer).bias()), &extra})
      for (double x : t->to_vector<double>()) v.push_back(x);
    for (const StructuredMatrix* m : {&opt->K(0), &opt->C(0), opt->m_K(0), opt->m_C(0)})
      if (m)
        for (double x : m->values().to_vector<double>()) v.push_back(x);
    return v;
  }
};

SingdHyper base_hyper(const char* structure = "dense") {
  SingdHyper h;
  h.lr = 0.1;
  h.momentum = 0.9;
  h.damping = 0.05;
  h.alpha1 = 0.5;
  h.weight_decay = 0.01;
  h.lr_cov = 0.2;
  h.T = 1;
  h.structure_K = h.structure_C = StructureSpec::parse(structure);
  return h;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0.0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

// V7 (a): moving a scalar between H_K and H_C leaves SINGD unchanged, for every structure; IKFAC changes.
TEST(SingdProperties, ScaleExchangeInvarianceOfSingdButNotIkfac) {
  for (const char* s : {"dense", "diagonal", "block2diagonal", "hierarchical2_2", "triltoeplitz", "triutoeplitz"}) {
    Rig a(base_hyper(s)), b(base_hyper(s));
    Generator g(1);
    for (int t = 0; t < 4; ++t) {
      const Batch batch = draw(g);
      a.step(batch);
      b.step(batch, 7.0);
    }
    EXPECT_LT(max_abs_diff(a.snapshot(), b.snapshot()), 1e-10) << s;
  }
  SingdHyper h = base_hyper();
  h.kfac_like = true;
  Rig a(h), b(h);
  Generator g(1);
  for (int t = 0; t < 3; ++t) {
    const Batch batch = draw(g);
    a.step(batch);
    b.step(batch, 7.0);
  }
  EXPECT_GT(max_abs_diff(a.snapshot(), b.snapshot()), 1e-4);
}

// V7 (b): M micro-batches whose losses are scaled by micro/total equal the full batch ("batch").
TEST(SingdProperties, GradientAccumulationEqualsFullBatch) {
  for (const char* s : {"dense", "hierarchical2_2", "triltoeplitz"}) {
    Rig full(base_hyper(s)), micro(base_hyper(s));
    Generator g(2);
    const int64_t M = 3, n = kN / M;
    for (int t = 0; t < 4; ++t) {
      const Batch batch = draw(g);
      full.step(batch);
      for (int64_t m = 0; m < M; ++m) {  // ĝ of the scaled micro loss equals the full batch's ĝ
        const Batch part = batch.rows(m * n, (m + 1) * n);
        micro.layer.capture(scaled(with_ones(part.X), 1.0 / std::sqrt(double(n))), scaled(part.Ghat, std::sqrt(double(n))));
        micro.opt->accumulate();
      }
      micro.layer.set_grad_matrix(grad_matrix(batch));
      micro.extra.set_grad(Tensor::full({3}, 0.2, DType::f64));
      micro.opt->step();
    }
    EXPECT_LT(max_abs_diff(full.snapshot(), micro.snapshot()), 1e-10) << s;
  }
}

// V7 (c): a constant loss scale s (gradients and g scaled by s) with init_grad_scale = s reproduces the run.
TEST(SingdProperties, ConstantGradScaleWithInitScaleReproducesUnscaledRun) {
  const double s = 1024.0;
  Rig plain(base_hyper()), amp(base_hyper(), DType::f64, s);
  amp.opt->set_grad_scale(s);
  Generator g(3);
  for (int t = 0; t < 4; ++t) {
    const Batch batch = draw(g);
    plain.step(batch);
    amp.step(batch, 1.0, s);
  }
  EXPECT_LT(max_abs_diff(plain.snapshot(), amp.snapshot()), 1e-10);
}

// V7 (d): a step with non-finite gradients changes neither parameters nor factors; t advances; the layer is named.
TEST(SingdProperties, NonFiniteStepIsSkippedAndStateLeftUntouched) {
  Rig r(base_hyper());
  Generator g(4);
  r.step(draw(g));
  const auto before = r.snapshot();
  const size_t bytes = r.opt->state_bytes();
  Batch bad = draw(g);
  bad.Ghat.view({-1}).slice(0, 2, 3).fill_(std::numeric_limits<double>::infinity());
  const StepReport rep = r.step(bad);
  EXPECT_TRUE(rep.skipped);
  EXPECT_EQ(rep.where, "fc.weight");
  EXPECT_EQ(rep.layer, "fc");
  EXPECT_EQ(r.snapshot(), before);
  EXPECT_EQ(r.opt->steps(), 2);
  EXPECT_EQ(r.opt->state_bytes(), bytes);
  EXPECT_EQ(r.opt->H_K(0), nullptr);  // the statistics of the skipped step are discarded
  EXPECT_FALSE(r.step(draw(g)).skipped);  // and the next step runs normally
}

// Non-finite factors (finite gradients) are caught too, naming the layer.
TEST(SingdProperties, NonFiniteFactorsSkipTheStepNamingTheLayer) {
  SingdHyper h = base_hyper();
  h.dtype_K = h.dtype_C = DType::f32;  // β1·K·m̃ overflows float32
  h.lr_cov = 1e39;
  Rig r(h);
  Generator g(5);
  const auto before = r.snapshot();
  const StepReport rep = r.step(draw(g));
  EXPECT_TRUE(rep.skipped);
  EXPECT_EQ(rep.where, "fc");
  EXPECT_EQ(rep.layer, "fc");
  EXPECT_EQ(r.snapshot(), before);
}

// Global clipping works with SINGD: a clipped run equals a run whose gradients were multiplied by the

// Layers of several sizes, structures and groups are updated together in batches: how they are batched
// (one layer per batch, or all in one) changes no bit, and when two layers of a batch get non-finite
// factors the step names the first of them, as the one-at-a-time update does.
TEST(SingdProperties, BatchedFactorUpdatesDoNotDependOnTheBatching) {
  struct Net {
    std::vector<std::unique_ptr<FakeLayer>> layers;
    std::unique_ptr<SINGD> opt;
    Net(size_t batch_bytes, double lr_cov_1) {
      const std::vector<std::pair<int64_t, int64_t>> sizes = {{5, 4}, {7, 3}, {4, 6}, {9, 5}};
      std::vector<std::pair<std::string, CurvatureLayer*>> named;
      std::vector<ParamRef> p0, p1;
      Generator g(21);
      for (size_t l = 0; l < sizes.size(); ++l) {
        layers.push_back(std::make_unique<FakeLayer>(sizes[l].first, sizes[l].second, true, DType::f64));
        FakeLayer& L = *layers.back();
        L.weight().copy_(Tensor::normal(L.weight().shape(), 0.0, 0.5, g, DType::f64));
        const std::string name = "l" + std::to_string(l);
        named.push_back({name, &L});
        auto& group = l % 2 ? p1 : p0;
        group.push_back({name + ".weight", &L.weight()});
        group.push_back({name + ".bias", L.bias()});
      }
      SingdHyper h0 = base_hyper(), h1 = base_hyper("hierarchical2_2");
      h0.normalize_lr_cov = true;
      h1.dtype_K = h1.dtype_C = DType::f32;
      h1.lr_cov = lr_cov_1;
      opt = std::make_unique<SINGD>(named, std::vector<SINGD::Group>{{p0, h0}, {p1, h1}});
      opt->set_update_batch_bytes(batch_bytes);
    }
    StepReport step(Generator& g) {
      for (auto& L : layers) {
        const int64_t di = L->d_i(), dout = L->d_o();
        L->capture(Tensor::normal({kN, di}, 0.0, 0.4, g, DType::f64), Tensor::normal({kN, dout}, 0.0, 0.1, g, DType::f64));
        L->set_grad_matrix(Tensor::normal({dout, di}, 0.0, 0.05, g, DType::f64));
      }
      return opt->step();
    }
    std::vector<double> snapshot() const {
      std::vector<double> v;
      for (size_t l = 0; l < layers.size(); ++l)
        for (const Tensor& t : {layers[l]->weight(), *layers[l]->bias(), opt->K(l).values(), opt->C(l).values()})
          for (double x : t.to_vector<double>()) v.push_back(x);
      return v;
    }
  };
  Net one_at_a_time(0, 0.2), all_together(size_t{1} << 30, 0.2);
  Generator ga(22), gb(22);
  for (int t = 0; t < 3; ++t) {
    EXPECT_FALSE(one_at_a_time.step(ga).skipped);
    EXPECT_FALSE(all_together.step(gb).skipped);
  }
  EXPECT_EQ(one_at_a_time.snapshot(), all_together.snapshot());
  // β1·K·m̃ overflows float32 in l1 and l3 (group 1): l1 is named either way.
  for (size_t bytes : {size_t{0}, size_t{1} << 30}) {
    Net bad(bytes, 1e39);
    Generator g(23);
    const StepReport rep = bad.step(g);
    EXPECT_TRUE(rep.skipped) << bytes;
    EXPECT_EQ(rep.layer, "l1") << bytes;
  }
}
// clip factor beforehand (the statistics, which come from the captures, are unaffected).
TEST(SingdProperties, GradientClippingScalesThePreconditionedGradient) {
  Rig clipped(base_hyper("triltoeplitz")), by_hand(base_hyper("triltoeplitz")), plain(base_hyper("triltoeplitz"));
  clipped.opt->set_grad_clip(0.05);
  Generator g(12);
  for (int t = 0; t < 3; ++t) {
    const Batch batch = draw(g);
    const StepReport r = clipped.step(batch);
    ASSERT_LT(r.clip_factor, 1.0);
    plain.step(batch);
    by_hand.layer.capture(scaled(with_ones(batch.X), 1.0 / std::sqrt(double(kN))), scaled(batch.Ghat, std::sqrt(double(kN))));
    by_hand.layer.set_grad_matrix(scaled(grad_matrix(batch), r.clip_factor));
    by_hand.extra.set_grad(scaled(Tensor::full({3}, 0.2, DType::f64), r.clip_factor));
    by_hand.opt->step();
  }
  EXPECT_LT(max_abs_diff(clipped.snapshot(), by_hand.snapshot()), 1e-12);
  EXPECT_GT(max_abs_diff(clipped.snapshot(), plain.snapshot()), 1e-6);  // clipping did change the run
}

// Schedules drive SINGD's β1 and λ like any other number.
TEST(SingdProperties, SchedulesDriveLrCovAndDamping) {
  Rig r(base_hyper());
  r.opt->set_schedule("lr_cov", step_schedule(1, 0.5));
  r.opt->set_schedule("damping", multistep_schedule({2}, 10.0));
  Generator g(13);
  for (int t = 0; t < 3; ++t) r.step(draw(g));
  EXPECT_DOUBLE_EQ(r.opt->hyper(0, "lr_cov"), 0.2 * 0.25);
  EXPECT_DOUBLE_EQ(r.opt->hyper(0, "damping"), 0.05 * 10.0);
  r.opt->set_schedule("lr", constant_schedule());
  EXPECT_DOUBLE_EQ(r.opt->hyper(0, "fallback.lr"), 0.01);  // "lr" also drives the fallback rule's lr
}

// Parameters of no curvature layer follow the fallback rule exactly as the first-order optimizer would.
TEST(SingdProperties, FallbackRuleMatchesTheFirstOrderOptimizer) {
  for (auto kind : {FallbackRule::Kind::sgd, FallbackRule::Kind::adamw}) {
    SingdHyper h = base_hyper();
    h.fallback.kind = kind;
    h.fallback.sgd = SgdHyper{0.3, 0.8, 0.0, 0.02, false};
    h.fallback.adamw = AdamWHyper{0.01, 0.9, 0.99, 1e-8, 0.1};
    Rig r(h);
    Tensor ref = Tensor::ones({3}, DType::f64).set_requires_grad(true);
    std::unique_ptr<Optimizer> first;
    if (kind == FallbackRule::Kind::sgd) first = std::make_unique<SGD>(std::vector<ParamRef>{{"p", &ref}}, h.fallback.sgd);
    else first = std::make_unique<AdamW>(std::vector<ParamRef>{{"p", &ref}}, h.fallback.adamw);
    Generator g(6);
    for (int t = 0; t < 3; ++t) {
      r.step(draw(g));
      ref.set_grad(Tensor::full({3}, 0.2, DType::f64));
      first->step();
    }
    EXPECT_EQ(r.extra.to_vector<double>(), ref.to_vector<double>());
  }
}

TEST(SingdProperties, ResumeFromSavedStateIsBitExact) {
  const auto dir = std::filesystem::temp_directory_path() / "natgrad_singd_resume";
  std::filesystem::create_directories(dir);
  SingdHyper h = base_hyper("hierarchical2_2");
  h.T = 2;
  Rig a(h, DType::f32), b(h, DType::f32);
  std::vector<Batch> batches;
  Generator g(7);
  for (int t = 0; t < 6; ++t) batches.push_back(draw(g, DType::f32));
  for (int t = 0; t < 6; ++t) a.step(batches[t]);
  for (int t = 0; t < 3; ++t) b.step(batches[t]);
  const std::string path = (dir / "singd.safetensors").string();
  b.opt->save_state(path);
  Rig c(h, DType::f32);
  c.layer.weight().copy_(b.layer.weight());
  c.layer.bias()->copy_(*b.layer.bias());
  c.extra.copy_(b.extra);
  c.opt->load_state(path);
  ASSERT_TRUE(c.layer.request().has_value() == (3 % 2 == 0));  // captures armed for the restored step
  for (int t = 3; t < 6; ++t) c.step(batches[t]);
  EXPECT_EQ(a.snapshot(), c.snapshot());
  // A state of another structure is rejected.
  Rig d(base_hyper("dense"), DType::f32);
  EXPECT_THROW(d.opt->load_state(path), Error);
}

// Optimizer-state memory per layer follows the per-structure formulas (docs/singd.md §9), incl. momentum buffers.
TEST(SingdProperties, StateMemoryMatchesStructureFormulas) {
  for (const char* s : {"dense", "diagonal", "block2diagonal", "hierarchical2_1", "triltoeplitz"}) {
    for (DType dt : {DType::f32, DType::bf16}) {
      SingdHyper h = base_hyper(s);
      h.dtype_K = h.dtype_C = dt;
      Rig r(h, DType::f32);
      Generator g(8);
      r.step(draw(g, DType::f32));
      const auto spec = StructureSpec::parse(s);
      const size_t factors = 2 * (spec.num_values(kIn + 1) + spec.num_values(kOut)) * dtype_size(dt);  // K, C, m_K, m_C
      const size_t buffers = (kOut * kIn + kOut) * 4;                                                   // momentum of W, b
      const auto mem = r.opt->state_memory();
      ASSERT_EQ(mem.size(), 2u);
      EXPECT_EQ(mem[0].layer, "fc");
      EXPECT_EQ(mem[0].bytes, factors + buffers) << s;
      EXPECT_EQ(mem[1].layer, "bn");
      EXPECT_EQ(mem[1].bytes, 0u);  // the fallback SGD has no momentum here
      EXPECT_EQ(r.opt->state_bytes(), factors + buffers);
    }
  }
}

TEST(SingdProperties, DiagnosticsCarryCurvatureRecords) {
  Rig r(base_hyper());
  r.opt->set_diagnostics_interval(2);
  Generator g(9);
  r.step(draw(g));
  const auto recs = r.opt->take_diagnostics();
  ASSERT_EQ(recs.size(), 2u);
  const DiagnosticRecord& fc = recs[0];
  EXPECT_EQ(fc.layer, "fc");
  EXPECT_NEAR(fc.get("K_fro"), r.opt->K(0).frobenius_norm(), 1e-12);
  EXPECT_NEAR(fc.get("m_K_inf"), r.opt->m_K(0)->inf_norm(), 1e-12);
  EXPECT_GT(fc.get("avgtr_H_K"), 0.0);
  EXPECT_GT(fc.get("avgtr_H_C"), 0.0);
  EXPECT_GE(fc.get("cond_KKt"), 1.0);
  EXPECT_GT(fc.get("update_norm"), 0.0);
  EXPECT_NEAR(fc.get("update_grad_ratio"), fc.get("update_norm") / fc.get("grad_norm"), 1e-12);
  // K is close to diagonal here: check the estimate against the exact value of a diagonal K.
  auto D = StructuredMatrix::from_values(StructureSpec::parse("diagonal"), 3, Tensor::from_vector(std::vector<double>{1, 2, 4}, {3}, DType::f64));
  auto Kd = StructuredMatrix::from_values(StructureSpec::parse("dense"), 3, D->to_dense().flatten());
  r.step(draw(g));
  EXPECT_TRUE(r.opt->take_diagnostics().empty());  // every 2 steps
  EXPECT_NEAR(gram_condition_estimate(*Kd), 16.0, 1e-6);
}

// bf16 factors: every factor is stored in bf16, the run stays close to the float32 run.
TEST(SingdProperties, Bfloat16FactorsTrackTheFloat32Run) {
  for (const char* s : {"dense", "diagonal", "hierarchical2_2", "triutoeplitz"}) {
    SingdHyper h32 = base_hyper(s), h16 = base_hyper(s);
    h16.dtype_K = h16.dtype_C = DType::bf16;
    Rig a(h32, DType::f32), b(h16, DType::f32);
    Generator g(10);
    for (int t = 0; t < 5; ++t) {
      const Batch batch = draw(g, DType::f32);
      a.step(batch);
      b.step(batch);
    }
    EXPECT_EQ(b.opt->K(0).dtype(), DType::bf16);
    EXPECT_EQ(b.opt->m_C(0)->dtype(), DType::bf16);
    const auto wa = a.layer.weight().to_vector<double>(), wb = b.layer.weight().to_vector<double>();
    double scale = 0;
    for (double x : wa) scale = std::max(scale, std::abs(x));
    EXPECT_LT(max_abs_diff(wa, wb) / scale, 2e-2) << s;
  }
}

}  // namespace
}  // namespace ng::optim
