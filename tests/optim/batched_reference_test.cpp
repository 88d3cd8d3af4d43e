// tests/optim/batched_reference_test.cpp — the batched factor updates (optim/batched/factor_updates.h)
// against the one-layer reference (optim/reference/singd_layer.h, kfac_layer.h): for every structure and
// factor dtype (float32, bfloat16), on the CPU and on CUDA (skipped without a device), a batch of layers of
// different sizes and settings (SINGD, IKFAC, with and without Riemannian momentum and lr_cov
// normalisation; KFAC with and without statistics and inversion) from fresh seeded random factors gives
// the reference's new factors, momenta, traces and verdicts bit for bit, naming the first differing layer.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/generator.h"
#include "optim/batched/factor_updates.h"
#include "tests/optim/case_on_device.h"

namespace ng::optim {
namespace {

using testing::CaseOnDevice;

bool same_bits(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) return a.defined() == b.defined();
  const Tensor x = a.to(Device::cpu()).contiguous(), y = b.to(Device::cpu()).contiguous();
  return x.shape() == y.shape() && x.dtype() == y.dtype() && std::memcmp(x.raw_data(), y.raw_data(), x.nbytes()) == 0;
}

bool same_bits(const StructuredPtr& a, const StructuredPtr& b) {
  if (!a || !b) return !a && !b;
  return same_bits(a->values(), b->values());
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// I + scale·noise in the structure (its stored values perturbed).
StructuredPtr random_near(double identity, const StructureSpec& spec, int64_t d, DType dt, Device dev, double scale,
                          Generator& g) {
  StructuredPtr base = StructuredMatrix::zeros(spec, d, DType::f32);
  base->diag_add(identity);
  const Tensor noise = Tensor::normal({spec.num_values(d)}, 0.0, scale, g, DType::f32);
  StructuredPtr m = StructuredMatrix::zeros(spec, d, DType::f32);
  m->assign_combination({{1.0, base.get()}, {1.0, StructuredMatrix::from_values(spec, d, noise).get()}});
  return StructuredMatrix::from_values(spec, d, m->values().to(dt).to(dev));
}

// One layer's inputs (owned) and its update.
struct SingdCase {
  StructuredPtr K, C, m_K, m_C, H_K, H_C;
  SingdFactorUpdate update;
};

std::vector<SingdCase> singd_cases(const StructureSpec& spec, DType dt, Device dev, uint64_t seed) {
  Generator g(seed);
  const std::vector<int64_t> d_i = {7, 33, 1, 20}, d_o = {5, 4, 9, 31};
  std::vector<SingdCase> cases(d_i.size());
  for (size_t l = 0; l < cases.size(); ++l) {
    SingdCase& c = cases[l];
    c.K = random_near(1.0, spec, d_i[l], dt, dev, 0.1, g);
    c.C = random_near(1.0, spec, d_o[l], dt, dev, 0.1, g);
    c.H_K = random_near(2.0, spec, d_i[l], dt, dev, 0.5, g);
    c.H_C = random_near(0.5, spec, d_o[l], dt, dev, 0.5, g);
    const bool momentum = l != 1;
    if (momentum) {
      c.m_K = random_near(0.0, spec, d_i[l], dt, dev, 0.2, g);
      c.m_C = random_near(0.0, spec, d_o[l], dt, dev, 0.2, g);
    }
    SingdFactorUpdate& x = c.update;
    x.K = c.K.get(), x.C = c.C.get(), x.m_K = c.m_K.get(), x.m_C = c.m_C.get(), x.H_K = c.H_K.get(), x.H_C = c.H_C.get();
    x.hyper.u = 0.5 + 0.25 * static_cast<double>(l);
    x.hyper.damping = 1e-3 * static_cast<double>(l + 1);
    x.hyper.lr_cov = 0.3;  // large enough that ‖m̃‖∞ > 1 normalises
    x.hyper.alpha1 = momentum ? 0.5 : 0.0;
    x.hyper.kfac_like = l == 1;
    x.hyper.normalize_lr_cov = l % 2 == 0;
  }
  return cases;
}

class BatchedSingd : public CaseOnDevice {};

TEST_P(BatchedSingd, EqualsTheOneLayerReferenceBitwise) {
  const StructureSpec spec = StructureSpec::parse(test_case().substr(0, test_case().rfind('_')));
  const DType dt = test_case().ends_with("bf16") ? DType::bf16 : DType::f32;
  std::vector<SingdCase> ref = singd_cases(spec, dt, device(), 20261207), batched = singd_cases(spec, dt, device(), 20261207);
  for (SingdCase& c : ref) singd_update_factors(c.update);
  std::vector<SingdFactorUpdate*> batch;
  for (SingdCase& c : batched) batch.push_back(&c.update);
  singd_update_factors_batched(batch);
  for (size_t l = 0; l < ref.size(); ++l) {
    const SingdFactorUpdate &r = ref[l].update, &b = batched[l].update;
    EXPECT_TRUE(same_bits(r.K_new, b.K_new)) << "layer " << l << ": K";
    EXPECT_TRUE(same_bits(r.C_new, b.C_new)) << "layer " << l << ": C";
    EXPECT_TRUE(same_bits(r.m_K_new, b.m_K_new)) << "layer " << l << ": m_K";
    EXPECT_TRUE(same_bits(r.m_C_new, b.m_C_new)) << "layer " << l << ": m_C";
    EXPECT_TRUE(same_bits(r.avgtr_H_K, b.avgtr_H_K) && same_bits(r.avgtr_H_C, b.avgtr_H_C)) << "layer " << l;
    EXPECT_EQ(r.finite, b.finite) << "layer " << l;
    EXPECT_TRUE(r.finite) << "layer " << l;
    EXPECT_EQ(r.m_K_new != nullptr, r.hyper.alpha1 != 0.0) << "layer " << l << ": momentum kept iff α1 ≠ 0";
  }
}

TEST_P(BatchedSingd, ReportsTheSameNonFiniteLayer) {
  const StructureSpec spec = StructureSpec::parse(test_case().substr(0, test_case().rfind('_')));
  const DType dt = test_case().ends_with("bf16") ? DType::bf16 : DType::f32;
  std::vector<SingdCase> ref = singd_cases(spec, dt, device(), 7), batched = singd_cases(spec, dt, device(), 7);
  for (std::vector<SingdCase>* cases : {&ref, &batched}) {  // an infinite statistic in layer 2
    SingdCase& c = (*cases)[2];
    c.H_C->diag_add(std::numeric_limits<double>::infinity());
    c.update.H_C = c.H_C.get();
  }
  for (SingdCase& c : ref) singd_update_factors(c.update);
  std::vector<SingdFactorUpdate*> batch;
  for (SingdCase& c : batched) batch.push_back(&c.update);
  singd_update_factors_batched(batch);
  for (size_t l = 0; l < ref.size(); ++l) {
    EXPECT_EQ(ref[l].update.finite, l != 2) << "layer " << l;
    EXPECT_EQ(batched[l].update.finite, ref[l].update.finite) << "layer " << l;
  }
}

std::vector<const char*> singd_case_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const char* s : {"dense", "diagonal", "block3diagonal", "hierarchical3_4", "tril_toeplitz", "triu_toeplitz"})
      for (const char* dt : {"f32", "bf16"}) out.push_back(std::string(s) + "_" + dt);
    return out;
  }();
  std::vector<const char*> out;
  for (const auto& n : names) out.push_back(n.c_str());
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllStructures, BatchedSingd,
                         ::testing::Combine(::testing::ValuesIn(singd_case_names()), testing::kDevices),
                         testing::case_on_device_name);

// ---- KFAC --------------------------------------------------------------------------------------------

Tensor random_spd(int64_t d, DType dt, Device dev, Generator& g) {  // X Xᵀ/d + 0.1·I
  const Tensor X = Tensor::normal({d, d}, 0.0, 1.0, g, DType::f64);
  std::vector<double> x = X.to_vector<double>(), m(static_cast<size_t>(d * d), 0.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) {
      double s = i == j ? 0.1 : 0.0;
      for (int64_t k = 0; k < d; ++k) s += x[i * d + k] * x[j * d + k] / static_cast<double>(d);
      m[static_cast<size_t>(i * d + j)] = s;
    }
  return Tensor::from_vector(m, {d, d}, dt, dev);
}

struct KfacCase {
  Tensor A, G, sum_aa, sum_gg;
  KfacFactorUpdate update;
};

std::vector<KfacCase> kfac_cases(DType dt, Device dev, uint64_t seed) {
  Generator g(seed);
  const std::vector<int64_t> d_i = {6, 17, 3}, d_o = {4, 2, 11};
  std::vector<KfacCase> cases(d_i.size());
  for (size_t l = 0; l < cases.size(); ++l) {
    KfacCase& c = cases[l];
    c.A = random_spd(d_i[l], dt, dev, g), c.G = random_spd(d_o[l], dt, dev, g);
    c.sum_aa = random_spd(d_i[l], dt, dev, g), c.sum_gg = random_spd(d_o[l], dt, dev, g);
    KfacFactorUpdate& x = c.update;
    x.A = &c.A, x.G = &c.G;
    if (l != 1) x.sum_aa = &c.sum_aa, x.sum_gg = &c.sum_gg;  // layer 1: an inversion without statistics
    x.theta = 0.05 * static_cast<double>(l + 1);
    x.damping = 1e-3;
    x.invert = l != 2;  // layer 2: statistics without an inversion
  }
  return cases;
}

class BatchedKfac : public CaseOnDevice {};

TEST_P(BatchedKfac, EqualsTheOneLayerReferenceBitwise) {
  const DType dt = test_case() == "bf16" ? DType::bf16 : DType::f32;
  std::vector<KfacCase> ref = kfac_cases(dt, device(), 99), batched = kfac_cases(dt, device(), 99);
  for (KfacCase& c : ref) kfac_update_factors(c.update);
  std::vector<KfacFactorUpdate*> batch;
  for (KfacCase& c : batched) batch.push_back(&c.update);
  kfac_update_factors_batched(batch);
  for (size_t l = 0; l < ref.size(); ++l) {
    const KfacFactorUpdate &r = ref[l].update, &b = batched[l].update;
    EXPECT_EQ(r.A_new.defined(), l != 1) << "layer " << l;
    EXPECT_EQ(r.A_inv_new.defined(), l != 2) << "layer " << l;
    EXPECT_TRUE(same_bits(r.A_new, b.A_new) && same_bits(r.G_new, b.G_new)) << "layer " << l << ": A, G";
    EXPECT_TRUE(same_bits(r.A_inv_new, b.A_inv_new) && same_bits(r.G_inv_new, b.G_inv_new)) << "layer " << l << ": inverses";
    EXPECT_EQ(r.failed, nullptr) << "layer " << l;
    EXPECT_EQ(b.failed, nullptr) << "layer " << l;
  }
}

TEST_P(BatchedKfac, NamesTheSameFailingFactor) {
  const DType dt = test_case() == "bf16" ? DType::bf16 : DType::f32;
  std::vector<KfacCase> ref = kfac_cases(dt, device(), 5), batched = kfac_cases(dt, device(), 5);
  for (std::vector<KfacCase>* cases : {&ref, &batched}) {  // layer 1's G made indefinite: −I
    KfacCase& c = (*cases)[1];
    const int64_t d = c.G.size(0);
    std::vector<double> minus_identity(static_cast<size_t>(d * d), 0.0);
    for (int64_t i = 0; i < d; ++i) minus_identity[static_cast<size_t>(i * d + i)] = -1.0;
    c.G = Tensor::from_vector(minus_identity, {d, d}, dt, device());
    c.update.G = &c.G;
  }
  for (KfacCase& c : ref) kfac_update_factors(c.update);
  std::vector<KfacFactorUpdate*> batch;
  for (KfacCase& c : batched) batch.push_back(&c.update);
  kfac_update_factors_batched(batch);
  ASSERT_NE(ref[1].update.failed, nullptr);
  EXPECT_STREQ(ref[1].update.failed, "G");
  ASSERT_NE(batched[1].update.failed, nullptr);
  EXPECT_STREQ(batched[1].update.failed, "G");
  EXPECT_EQ(batched[0].update.failed, nullptr);
  EXPECT_TRUE(same_bits(ref[0].update.A_inv_new, batched[0].update.A_inv_new));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, BatchedKfac, ::testing::Combine(::testing::Values("f32", "bf16"), testing::kDevices),
                         testing::case_on_device_name);

}  // namespace
}  // namespace ng::optim
