// tests/optim/structures_test.cpp — the structured matrices of optim/structures against an independent
// dense oracle, plus the projection vectors of docs/singd.md §10.
//
// The oracle describes each structure by its pattern: pattern(i, j) = index of the stored value at position
// (i, j) or −1 for a structural zero. From it follow to_dense (K_ij = v[pattern(i,j)]) and the projection
// rule of docs/singd.md §7.2 for symmetric M: per position M_ij if i = j or the mirror is free, else 2·M_ij; values
// shared by several positions (Toeplitz) take the mean. Every structured operation is compared with the
// same operation done densely in float64 — on the CPU and on CUDA (when a device is present).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/generator.h"
#include "kernels/dispatch.h"
#include "optim/structures/structure.h"
#include "tests/optim/case_on_device.h"

namespace ng::optim {
namespace {

using Dense = std::vector<std::vector<double>>;

Dense zeros(int64_t r, int64_t c) { return Dense(static_cast<size_t>(r), std::vector<double>(static_cast<size_t>(c), 0.0)); }

Dense from_tensor(const Tensor& t) {
  const auto v = t.to_vector<double>();
  Dense m = zeros(t.size(0), t.size(1));
  for (int64_t i = 0; i < t.size(0); ++i)
    for (int64_t j = 0; j < t.size(1); ++j) m[i][j] = v[static_cast<size_t>(i * t.size(1) + j)];
  return m;
}

Tensor to_tensor(const Dense& m, DType dt = DType::f64, Device dev = Device::cpu()) {
  std::vector<double> v;
  for (const auto& r : m) v.insert(v.end(), r.begin(), r.end());
  return Tensor::from_vector(v, {static_cast<int64_t>(m.size()), static_cast<int64_t>(m[0].size())}, dt, dev);
}

Dense matmul(const Dense& a, const Dense& b) {
  Dense c = zeros(static_cast<int64_t>(a.size()), static_cast<int64_t>(b[0].size()));
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t k = 0; k < b.size(); ++k)
      for (size_t j = 0; j < b[0].size(); ++j) c[i][j] += a[i][k] * b[k][j];
  return c;
}

Dense transpose(const Dense& a) {
  Dense t = zeros(static_cast<int64_t>(a[0].size()), static_cast<int64_t>(a.size()));
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < a[0].size(); ++j) t[j][i] = a[i][j];
  return t;
}

Dense random_dense(int64_t r, int64_t c, Generator& g) { return from_tensor(Tensor::normal({r, c}, 0.0, 1.0, g, DType::f64)); }

// pattern(i, j): index into the values, or -1 (structural zero).
std::vector<std::vector<int64_t>> pattern(const StructureSpec& s, int64_t d) {
  std::vector<std::vector<int64_t>> p(static_cast<size_t>(d), std::vector<int64_t>(static_cast<size_t>(d), -1));
  switch (s.kind) {
    case StructureKind::dense:
      for (int64_t i = 0; i < d; ++i)
        for (int64_t j = 0; j < d; ++j) p[i][j] = i * d + j;
      break;
    case StructureKind::diagonal:
      for (int64_t i = 0; i < d; ++i) p[i][i] = i;
      break;
    case StructureKind::block_diagonal: {
      int64_t off = 0;
      for (int64_t st = 0; st < d; st += s.block_size) {
        const int64_t n = std::min(s.block_size, d - st);
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < n; ++j) p[st + i][st + j] = off + i * n + j;
        off += n * n;
      }
      break;
    }
    case StructureKind::hierarchical: {
      int64_t k1 = d, dd = 0, k2 = 0;
      if (d > s.k1 && d <= s.k1 + s.k2) k1 = s.k1, k2 = d - s.k1;
      if (d > s.k1 + s.k2) k1 = s.k1, dd = d - s.k1 - s.k2, k2 = s.k2;
      int64_t off = 0;
      for (int64_t i = 0; i < k1; ++i)
        for (int64_t j = 0; j < k1; ++j) p[i][j] = off++;
      for (int64_t i = 0; i < k1; ++i)
        for (int64_t j = k1; j < d; ++j) p[i][j] = off++;
      for (int64_t i = 0; i < dd; ++i) p[k1 + i][k1 + i] = off++;
      for (int64_t i = 0; i < k2; ++i)
        for (int64_t j = 0; j < dd; ++j) p[k1 + dd + i][k1 + j] = off++;
      for (int64_t i = 0; i < k2; ++i)
        for (int64_t j = 0; j < k2; ++j) p[k1 + dd + i][k1 + dd + j] = off++;
      break;
    }
    case StructureKind::tril_toeplitz:
    case StructureKind::triu_toeplitz:
      for (int64_t i = 0; i < d; ++i)
        for (int64_t j = 0; j < d; ++j) {
          const int64_t k = s.kind == StructureKind::tril_toeplitz ? i - j : j - i;
          if (k >= 0) p[i][j] = k;
        }
      break;
  }
  return p;
}

Dense oracle_dense(const StructureSpec& s, int64_t d, const std::vector<double>& v) {
  const auto p = pattern(s, d);
  Dense m = zeros(d, d);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j)
      if (p[i][j] >= 0) m[i][j] = v[static_cast<size_t>(p[i][j])];
  return m;
}

// Π(M) of docs/singd.md §7.2 for symmetric M.
std::vector<double> oracle_project(const StructureSpec& s, int64_t d, const Dense& M) {
  const auto p = pattern(s, d);
  std::vector<double> sum(static_cast<size_t>(s.num_values(d)), 0.0), count(sum.size(), 0.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) {
      if (p[i][j] < 0) continue;
      const bool mirror_free = i == j || p[j][i] >= 0;
      sum[static_cast<size_t>(p[i][j])] += mirror_free ? M[i][j] : 2.0 * M[i][j];
      count[static_cast<size_t>(p[i][j])] += 1.0;
    }
  for (size_t q = 0; q < sum.size(); ++q) sum[q] /= count[q];
  return sum;
}

void expect_near(const Dense& a, const Dense& b, double tol, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < a[i].size(); ++j)
      EXPECT_NEAR(a[i][j], b[i][j], tol * (1.0 + std::abs(b[i][j]))) << what << " at (" << i << ", " << j << ")";
}

void expect_near(const std::vector<double>& a, const std::vector<double>& b, double tol, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol * (1.0 + std::abs(b[i]))) << what << " at " << i;
}

struct Case {
  const char* name;
  int64_t d;
};

// Structures and sizes that exercise every branch: partial last blocks, an exact block split, hierarchical
// with all five parts, without the middle part, and equal to dense; both Toeplitz kinds.
const std::vector<Case> kCases = {
    {"dense", 5},         {"diagonal", 6},          {"block3diagonal", 7},       {"block4diagonal", 8},
    {"hierarchical2_3", 9}, {"hierarchical2_3", 4}, {"hierarchical2_3", 2},      {"hierarchical15_15", 40},
    {"triltoeplitz", 6},  {"triutoeplitz", 6},      {"tril_toeplitz", 1},
    {"triltoeplitz", 150}, {"triutoeplitz", 131},  // several 64-blocks, the last one partial
};

StructuredPtr random_structured(const StructureSpec& s, int64_t d, Generator& g, DType dt = DType::f64,
                                Device dev = Device::cpu()) {
  return StructuredMatrix::from_values(s, d, Tensor::normal({s.num_values(d)}, 0.0, 1.0, g, dt).to(dev));
}

// The operations below run on the CPU and, when a device is present, on CUDA (skipped otherwise), against
// the same float64 oracle.
class StructuresOn : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dev_ = Device::parse(GetParam());
    if (dev_.is_cuda() && !kernels::cuda_available()) GTEST_SKIP() << "no CUDA device available";
  }
  Device dev_ = Device::cpu();
};

TEST(Structures, ToDenseMatchesPatternAndMemoryIsCompact) {
  Generator g(1);
  for (const auto& c : kCases) {
    const auto s = StructureSpec::parse(c.name);
    auto K = random_structured(s, c.d, g);
    expect_near(from_tensor(K->to_dense()), oracle_dense(s, c.d, K->values().to_vector<double>()), 0, c.name);
    EXPECT_EQ(K->nbytes(), static_cast<size_t>(s.num_values(c.d)) * 8) << c.name;
  }
}

TEST(Structures, ParameterCountsFollowSpecTable) {
  const auto h = StructureSpec::parse("hierarchical15_15");
  EXPECT_EQ(h.num_values(10), 100);
  EXPECT_EQ(h.num_values(20), 225 + 15 * 5 + 25);
  EXPECT_EQ(h.num_values(100), 31 * 100 - 255);
  const auto b = StructureSpec::parse("block_diagonal");
  EXPECT_EQ(b.block_size, 30);
  EXPECT_EQ(b.num_values(65), 2 * 900 + 25);
  EXPECT_EQ(StructureSpec::parse("hierarchical").k1, 15);
  EXPECT_EQ(StructureSpec::parse("triltoeplitz").num_values(50), 50);
  EXPECT_EQ(StructureSpec::parse("dense").num_values(7), 49);
  EXPECT_EQ(StructureSpec::parse("diagonal").num_values(7), 7);
  EXPECT_THROW(StructureSpec::parse("banded"), Error);
}

TEST_P(StructuresOn, DenseProductsMatchDenseAlgebraOnBothSidesAndTransposes) {
  Generator g(2);
  for (const auto& c : kCases) {
    const auto s = StructureSpec::parse(c.name);
    auto K = random_structured(s, c.d, g, DType::f64, dev_);
    const Dense Kd = from_tensor(K->to_dense()), Kt = transpose(Kd);
    const Dense Zl = random_dense(c.d, 3, g), Zr = random_dense(4, c.d, g);
    expect_near(from_tensor(K->mul_dense(to_tensor(Zl, DType::f64, dev_), Side::left, false)), matmul(Kd, Zl), 1e-12, c.name);
    expect_near(from_tensor(K->mul_dense(to_tensor(Zl, DType::f64, dev_), Side::left, true)), matmul(Kt, Zl), 1e-12, c.name);
    expect_near(from_tensor(K->mul_dense(to_tensor(Zr, DType::f64, dev_), Side::right, false)), matmul(Zr, Kd), 1e-12, c.name);
    expect_near(from_tensor(K->mul_dense(to_tensor(Zr, DType::f64, dev_), Side::right, true)), matmul(Zr, Kt), 1e-12, c.name);
  }
}

// K Kᵀ·Z and Z·K Kᵀ (the preconditioner's products; diagonal and hierarchical have their own one-pass
// kernels, the others compose two mul_dense products).
TEST_P(StructuresOn, GramProductsMatchDenseAlgebraOnBothSides) {
  Generator g(12);
  for (const auto& c : kCases) {
    const auto s = StructureSpec::parse(c.name);
    auto K = random_structured(s, c.d, g, DType::f64, dev_);
    const Dense Kd = from_tensor(K->to_dense()), KKt = matmul(Kd, transpose(Kd));
    const Dense Zl = random_dense(c.d, 5, g), Zr = random_dense(3, c.d, g);
    expect_near(from_tensor(K->mul_gram_dense(to_tensor(Zl, DType::f64, dev_), Side::left)), matmul(KKt, Zl), 1e-12,
                c.name);
    expect_near(from_tensor(K->mul_gram_dense(to_tensor(Zr, DType::f64, dev_), Side::right)), matmul(Zr, KKt), 1e-12,
                c.name);
  }
}

TEST_P(StructuresOn, ProductStaysInClassAndEqualsDenseProduct) {
  Generator g(3);
  for (const auto& c : kCases) {
    const auto s = StructureSpec::parse(c.name);
    auto K = random_structured(s, c.d, g, DType::f64, dev_), M = random_structured(s, c.d, g, DType::f64, dev_);
    auto P = K->product(*M);
    EXPECT_EQ(P->spec(), s);
    expect_near(from_tensor(P->to_dense()), matmul(from_tensor(K->to_dense()), from_tensor(M->to_dense())), 1e-12,
                c.name);
  }
}

TEST_P(StructuresOn, ProjectionsMatchTheGeneralRule) {
  Generator g(4);
  for (const auto& c : kCases) {
    const auto s = StructureSpec::parse(c.name);
    auto K = random_structured(s, c.d, g, DType::f64, dev_);
    const Dense Kd = from_tensor(K->to_dense());
    const Dense X = random_dense(5, c.d, g);  // rows
    const Dense KtXtXK = matmul(transpose(matmul(X, Kd)), matmul(X, Kd));
    expect_near(K->inner_from_rows(to_tensor(X, DType::f64, dev_))->values().to_vector<double>(), oracle_project(s, c.d, KtXtXK), 1e-12,
                std::string(c.name) + " inner_from_rows");
    expect_near(K->self_inner()->values().to_vector<double>(), oracle_project(s, c.d, matmul(transpose(Kd), Kd)),
                1e-12, std::string(c.name) + " self_inner");
  }
}

// On the CPU inner_from_rows sums Π over blocks of rows; with several blocks (the last one partial) it is
// still Π(KᵀXᵀXK).
TEST(Structures, InnerFromRowsOverSeveralRowBlocksMatchesTheGeneralRule) {
  Generator g(13);
  for (const auto& c : std::vector<Case>{{"hierarchical15_15", 40}, {"diagonal", 6}, {"block4diagonal", 8}, {"triltoeplitz", 150}}) {
    const auto s = StructureSpec::parse(c.name);
    auto K = random_structured(s, c.d, g);
    const Tensor X = Tensor::normal({1, c.d}, 0.0, 1.0, g, DType::f64);
    const int64_t tile = K->rows_per_tile(X), R = 2 * tile + 7;
    ASSERT_LT(tile, 200000) << c.name;
    const Dense Xd = random_dense(R, c.d, g), Kd = from_tensor(K->to_dense()), XK = matmul(Xd, Kd);
    expect_near(K->inner_from_rows(to_tensor(Xd, DType::f64))->values().to_vector<double>(),
                oracle_project(s, c.d, matmul(transpose(XK), XK)), 1e-9, c.name);
  }
}

// Float32 statistics of a hierarchical K that centres the rows, as a trained K does: X's last column is
// the constant bias column (in block e), every other column has mean 100, and K's bias row holds −100 in
// the columns c, so Y_c = X_c − 100 is small against its two terms. Π still matches the float64 rule to
// float32 accuracy; an expansion of colsum(Y_c²) in terms of XᵀX would lose about four digits here.
TEST(Structures, HierarchicalStatisticsStayAccurateWhenKCentresTheRows) {
  const auto s = StructureSpec::parse("hierarchical15_15");
  const int64_t d = 40, dd = 10, R = 1000;
  Generator g(21);
  Dense X = random_dense(R, d, g);
  for (auto& row : X) {
    for (double& x : row) x = static_cast<float>(x + 100.0);
    row[d - 1] = 1.0;
  }
  std::vector<double> v = StructuredMatrix::identity(s, d, DType::f64)->values().to_vector<double>();
  const int64_t D = 15 * 15 + 15 * (d - 15) + dd;  // D's offset: after A, B and c (docs/singd.md §7.6)
  for (int64_t j = 0; j < dd; ++j) v[static_cast<size_t>(D + 14 * dd + j)] = -100.0;
  auto K = StructuredMatrix::from_values(s, d, Tensor::from_vector(v, {s.num_values(d)}, DType::f32));
  const Dense XK = matmul(X, from_tensor(K->to_dense().to(DType::f64)));
  Dense abs_XK = XK;
  for (auto& row : abs_XK)
    for (double& x : row) x = std::abs(x);
  const std::vector<double> want = oracle_project(s, d, matmul(transpose(XK), XK));
  const std::vector<double> scale = oracle_project(s, d, matmul(transpose(abs_XK), abs_XK));  // Σ_r |Y_ri||Y_rj|
  const std::vector<double> got = K->inner_from_rows(to_tensor(X, DType::f32))->values().to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t q = 0; q < got.size(); ++q) EXPECT_NEAR(got[q], want[q], 1e-5 * scale[q]) << q;
  const size_t c = 15 * 15 + 15 * (d - 15);  // c = colsum(Y_c²) ≈ R: its scale is itself
  EXPECT_LT(want[c], 2.0 * R);
}

TEST_P(StructuresOn, TracesDiagonalShiftNormsAndCombinations) {
  Generator g(5);
  for (const auto& c : kCases) {
    const auto s = StructureSpec::parse(c.name);
    auto K = random_structured(s, c.d, g, DType::f64, dev_), M = random_structured(s, c.d, g, DType::f64, dev_);
    Dense Kd = from_tensor(K->to_dense());
    double tr = 0.0, fro = 0.0;
    for (int64_t i = 0; i < c.d; ++i) tr += Kd[i][i];
    for (const auto& r : Kd)
      for (double v : r) fro += v * v;
    EXPECT_NEAR(K->avgtr(), tr / static_cast<double>(c.d), 1e-12) << c.name;
    EXPECT_NEAR(K->frobenius_norm(), std::sqrt(fro), 1e-12) << c.name;
    double inf = 0.0;
    for (double v : K->values().to_vector<double>()) inf = std::max(inf, std::abs(v));
    EXPECT_EQ(K->inf_norm(), inf);
    K->diag_add(0.5);
    for (int64_t i = 0; i < c.d; ++i) Kd[i][i] += 0.5;
    expect_near(from_tensor(K->to_dense()), Kd, 1e-15, std::string(c.name) + " diag_add");
    // K ← 2K − 3M + I (I from identity()), in place.
    auto I = StructuredMatrix::identity(s, c.d, DType::f64, dev_);
    const Dense Md = from_tensor(M->to_dense());
    K->assign_combination({{2.0, K.get()}, {-3.0, M.get()}, {1.0, I.get()}});
    for (int64_t i = 0; i < c.d; ++i)
      for (int64_t j = 0; j < c.d; ++j) Kd[i][j] = 2.0 * Kd[i][j] - 3.0 * Md[i][j] + (i == j ? 1.0 : 0.0);
    expect_near(from_tensor(K->to_dense()), Kd, 1e-14, std::string(c.name) + " combination");
    EXPECT_TRUE(K->all_finite());
    EXPECT_EQ(K->values().device(), dev_) << c.name;
  }
}

// The batched forms over every case at once (all structures, mixed dtypes) give what each matrix gives
// alone.
TEST_P(StructuresOn, BatchedScalarsShiftsAndCombinationsMatchOneAtATime) {
  Generator g(6);
  std::vector<StructuredPtr> Ks, Ms, outs, Ks_alone;
  std::vector<const StructuredMatrix*> ks;
  std::vector<StructuredMatrix*> shifted;
  std::vector<double> shifts;
  std::vector<std::pair<StructuredMatrix*, StructuredMatrix::Terms>> jobs;
  size_t i = 0;
  for (const auto& c : kCases) {
    const auto s = StructureSpec::parse(c.name);
    const DType dt = i++ % 2 ? DType::f32 : DType::f64;
    Ks.push_back(random_structured(s, c.d, g, dt, dev_));
    Ms.push_back(random_structured(s, c.d, g, dt, dev_));
    Ks_alone.push_back(Ks.back()->clone());
    outs.push_back(Ks.back()->zeros_like());
    ks.push_back(Ks.back().get());
  }
  const std::vector<double> tr = StructuredMatrix::avgtr_all(ks), inf = StructuredMatrix::inf_norm_all(ks);
  for (size_t k = 0; k < Ks.size(); ++k) {
    EXPECT_EQ(tr[k], Ks_alone[k]->avgtr()) << kCases[k].name;
    EXPECT_EQ(inf[k], Ks_alone[k]->inf_norm()) << kCases[k].name;
    shifted.push_back(Ks[k].get());
    shifts.push_back(0.25 + static_cast<double>(k));
    Ks_alone[k]->diag_add(shifts.back());
    jobs.push_back({outs[k].get(), {{1.5, Ks[k].get()}, {-0.5 * static_cast<double>(k), Ms[k].get()}}});
  }
  StructuredMatrix::diag_add_all(shifted, shifts);
  StructuredMatrix::assign_combinations(jobs);
  for (size_t k = 0; k < Ks.size(); ++k) {
    EXPECT_EQ(Ks[k]->values().to_vector<double>(), Ks_alone[k]->values().to_vector<double>()) << kCases[k].name;
    auto want = Ks_alone[k]->zeros_like();
    want->assign_combination({{1.5, Ks_alone[k].get()}, {-0.5 * static_cast<double>(k), Ms[k].get()}});
    EXPECT_EQ(outs[k]->values().to_vector<double>(), want->values().to_vector<double>()) << kCases[k].name;
  }
  EXPECT_TRUE(StructuredMatrix::avgtr_all({}).empty());
}

INSTANTIATE_TEST_SUITE_P(Devices, StructuresOn, testing::kDevices,
                         [](const auto& info) { return std::string(info.param) == "cpu" ? "Cpu" : "Cuda"; });

TEST(Structures, NonFiniteValuesAreDetected) {
  auto K = StructuredMatrix::identity(StructureSpec::parse("hierarchical2_3"), 9, DType::f32);
  EXPECT_TRUE(K->all_finite());
  Tensor v = K->values();
  v.slice(0, 7, 8).fill_(std::nan(""));
  EXPECT_FALSE(K->all_finite());
}

TEST(Structures, MismatchedOperandsAreRejectedWithShapes) {
  auto K = StructuredMatrix::identity(StructureSpec::parse("dense"), 4, DType::f32);
  auto M = StructuredMatrix::identity(StructureSpec::parse("diagonal"), 4, DType::f32);
  EXPECT_THROW(K->product(*M), Error);
  EXPECT_THROW(K->mul_dense(Tensor::zeros({3, 2}), Side::left, false), Error);
  EXPECT_THROW(K->mul_dense(Tensor::zeros({4, 2}, DType::f64), Side::left, false), Error);
  EXPECT_THROW(K->mul_gram_dense(Tensor::zeros({3, 2}), Side::right), Error);
  EXPECT_THROW(StructuredMatrix::from_values(StructureSpec::parse("dense"), 4, Tensor::zeros({15})), Error);
}

// bf16: the result of every product is the float32 result of the (exactly widened) operands, rounded once.
TEST(Structures, Bfloat16ProductsRoundOncePerElement) {
  Generator g(6);
  for (const auto& c : kCases) {
    const auto s = StructureSpec::parse(c.name);
    auto K16 = random_structured(s, c.d, g, DType::bf16);
    auto K32 = StructuredMatrix::from_values(s, c.d, K16->values().to(DType::f32));
    const Tensor Z16 = Tensor::normal({c.d, 3}, 0.0, 1.0, g, DType::bf16);
    const Tensor want = K32->mul_dense(Z16.to(DType::f32), Side::left, true).to(DType::bf16);
    EXPECT_EQ(K16->mul_dense(Z16, Side::left, true).to_vector<float>(), want.to_vector<float>()) << c.name;
    const Tensor X16 = Tensor::normal({4, c.d}, 0.0, 1.0, g, DType::bf16);
    const Tensor Y16 = K32->mul_dense(X16.to(DType::f32), Side::right, false).to(DType::bf16);
    auto I32 = StructuredMatrix::identity(s, c.d, DType::f32);
    const auto h_want = I32->inner_from_rows(Y16.to(DType::f32))->values().to(DType::bf16).to_vector<float>();
    EXPECT_EQ(K16->inner_from_rows(X16)->values().to_vector<float>(), h_want) << c.name;
    EXPECT_EQ(K16->product(*K16)->values().to_vector<float>(),
              K32->product(*K32)->values().to(DType::bf16).to_vector<float>())
        << c.name;
    EXPECT_EQ(K16->mul_gram_dense(X16, Side::right).to_vector<float>(),
              K32->mul_gram_dense(X16.to(DType::f32), Side::right).to(DType::bf16).to_vector<float>())
        << c.name;
  }
}

// ---- projection vectors of docs/singd.md §10 ----------------------------------------------------------

// Rows X with XᵀX = M + I (Cholesky), so Π(M) = inner_from_rows(X) with K = I, minus Π(I) = I.
StructuredPtr project_via_rows(const StructureSpec& s, const Dense& M) {
  const int64_t d = static_cast<int64_t>(M.size());
  Dense L = zeros(d, d);
  for (int64_t j = 0; j < d; ++j) {
    double diag = M[j][j] + 1.0;
    for (int64_t k = 0; k < j; ++k) diag -= L[j][k] * L[j][k];
    L[j][j] = std::sqrt(diag);
    for (int64_t i = j + 1; i < d; ++i) {
      double v = M[i][j];
      for (int64_t k = 0; k < j; ++k) v -= L[i][k] * L[j][k];
      L[i][j] = v / L[j][j];
    }
  }
  auto P = StructuredMatrix::identity(s, d, DType::f64)->inner_from_rows(to_tensor(transpose(L)));
  P->diag_add(-1.0);
  return P;
}

const Dense kSpecM = {{4, 1, 2, 3}, {1, 5, 6, 7}, {2, 6, 8, 9}, {3, 7, 9, 10}};

TEST(StructuresSpecVectors, ToeplitzProjectionCoefficients) {
  for (const char* name : {"triltoeplitz", "triutoeplitz"})
    expect_near(project_via_rows(StructureSpec::parse(name), kSpecM)->values().to_vector<double>(),
                {6.75, 32.0 / 3.0, 9.0, 6.0}, 1e-12, name);
}

TEST(StructuresSpecVectors, HierarchicalOneOneProjection) {
  // K1 = K2 = 1, d = 4: A = 4, B = (2, 4, 6), c = (5, 8), D = (14, 18), E = 10 — stored as A, B, c, D, E.
  expect_near(project_via_rows(StructureSpec::parse("hierarchical1_1"), kSpecM)->values().to_vector<double>(),
              {4, 2, 4, 6, 5, 8, 14, 18, 10}, 1e-12, "hierarchical1_1");
}

TEST(StructuresSpecVectors, Block30DiagonalCopiesBlocksWithoutFactorTwo) {
  Generator g(7);
  const Dense X = random_dense(40, 35, g);
  const Dense M = matmul(transpose(X), X);
  auto P = project_via_rows(StructureSpec::parse("block30diagonal"), M);
  const auto v = P->values().to_vector<double>();
  ASSERT_EQ(v.size(), 900u + 25u);
  for (int64_t i = 0; i < 30; ++i)
    for (int64_t j = 0; j < 30; ++j) EXPECT_NEAR(v[static_cast<size_t>(i * 30 + j)], M[i][j], 1e-9);
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t j = 0; j < 5; ++j) EXPECT_NEAR(v[static_cast<size_t>(900 + i * 5 + j)], M[30 + i][30 + j], 1e-9);
}

TEST(StructuresSpecVectors, HierarchicalAndBlockEqualDenseWhenOneBlockCoversTheMatrix) {
  Generator g(8);
  const int64_t d = 12;
  const Tensor v = Tensor::normal({d * d}, 0.0, 1.0, g, DType::f64);
  const Tensor X = Tensor::normal({6, d}, 0.0, 1.0, g, DType::f64);
  auto D = StructuredMatrix::from_values(StructureSpec::parse("dense"), d, v);
  for (const char* name : {"hierarchical15_15", "block30diagonal"}) {
    auto S = StructuredMatrix::from_values(StructureSpec::parse(name), d, v);
    EXPECT_EQ(S->inner_from_rows(X)->values().to_vector<double>(), D->inner_from_rows(X)->values().to_vector<double>());
    EXPECT_EQ(S->self_inner()->values().to_vector<double>(), D->self_inner()->values().to_vector<double>());
  }
}

}  // namespace
}  // namespace ng::optim
