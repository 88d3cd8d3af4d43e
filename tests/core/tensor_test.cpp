// tests/core/tensor_test.cpp — Tensor factories, views, conversions and bf16 rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/tensor.h"

using namespace ng;

TEST(Tensor, FactoriesFillAndReadBack) {
  Tensor z = Tensor::zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_TRUE(z.is_contiguous());
  for (float v : z.to_vector<float>()) EXPECT_EQ(v, 0.f);
  Tensor f = Tensor::full({4}, 2.5, DType::f64);
  for (double v : f.to_vector<double>()) EXPECT_EQ(v, 2.5);
  Tensor e = Tensor::eye(3);
  EXPECT_EQ(e.to_vector<float>(), (std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(Tensor::scalar(7.0).item(), 7.0);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = Tensor::from_vector(std::vector<double>{0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor tt = t.transpose(0, 1);
  EXPECT_EQ(tt.shape(), (Shape{3, 2}));
  EXPECT_FALSE(tt.is_contiguous());
  EXPECT_EQ(tt.storage(), t.storage());
  EXPECT_EQ(tt.contiguous().to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(t.reshape({3, 2}).storage(), t.storage());
  EXPECT_EQ(t.reshape({-1}).shape(), (Shape{6}));
  EXPECT_EQ(t.slice(1, 1, 3).contiguous().to_vector<float>(), (std::vector<float>{1, 2, 4, 5}));
  EXPECT_EQ(t.slice(1, 0, 3, 2).contiguous().to_vector<float>(), (std::vector<float>{0, 2, 3, 5}));
  EXPECT_EQ(t.select(0, 1).to_vector<float>(), (std::vector<float>{3, 4, 5}));
  EXPECT_EQ(t.unsqueeze(0).shape(), (Shape{1, 2, 3}));
  EXPECT_EQ(t.unsqueeze(0).squeeze(0).shape(), (Shape{2, 3}));
  EXPECT_EQ(t.flatten().shape(), (Shape{6}));
  Tensor row = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3});
  EXPECT_EQ(row.expand({2, 3}).contiguous().to_vector<float>(), (std::vector<float>{1, 2, 3, 1, 2, 3}));
  // Writing through a view is visible in the base.
  t.slice(1, 0, 1).fill_(9.0);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{9, 1, 2, 9, 4, 5}));
}

TEST(Tensor, ViewOfTransposedNeedsReshape) {
  Tensor t = Tensor::zeros({2, 3}).transpose(0, 1);
  EXPECT_THROW(t.view({6}), Error);
  Tensor r = t.reshape({6});
  EXPECT_TRUE(r.is_contiguous());
  EXPECT_NE(r.storage(), t.storage());
}

TEST(Tensor, ErrorsNameOpAndShapes) {
  Tensor t = Tensor::zeros({2, 3});
  try {
    t.view({4, 2});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("view"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos);
  }
  EXPECT_THROW(t.transpose(0, 2), Error);
  EXPECT_THROW(t.expand({3, 3}), Error);
  EXPECT_THROW(t.data<double>(), Error);
  EXPECT_THROW(t.item(), Error);
}

TEST(Tensor, DtypeConversionRoundsBf16ToNearestEven) {
  // 1 + 2^-8 is exactly halfway between two bf16 values (1 and 1 + 2^-7): ties go to the even one, 1.
  // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties go to even, 1 + 2^-6.
  Tensor t = Tensor::from_vector(std::vector<double>{1.0 + 1.0 / 256, 1.0 + 3.0 / 256, 1.0 + 1.0 / 512, -2.75},
                                 {4}, DType::bf16);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1.0f, 1.0f + 1.0f / 64, 1.0f, -2.75f}));
  EXPECT_TRUE(std::isnan(static_cast<float>(bf16(std::nanf("")))));
  EXPECT_EQ(static_cast<float>(bf16(INFINITY)), INFINITY);
  Tensor i = Tensor::from_vector(std::vector<int64_t>{3, -4}, {2});
  EXPECT_EQ(i.to(DType::f32).to_vector<float>(), (std::vector<float>{3, -4}));
}

TEST(Tensor, RandomDrawsAreSeededAndCounterBased) {
  Generator g1(42), g2(42), g3(43);
  Tensor a = Tensor::uniform({1000}, -1, 1, g1);
  Tensor b = Tensor::uniform({1000}, -1, 1, g2);
  Tensor c = Tensor::uniform({1000}, -1, 1, g3);
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  EXPECT_NE(a.to_vector<float>(), c.to_vector<float>());
  EXPECT_EQ(g1.offset(), 1000u);
  // Two draws of 500 equal one draw of 1000: element i only depends on its counter.
  Generator g4(42);
  Tensor d1 = Tensor::uniform({500}, -1, 1, g4), d2 = Tensor::uniform({500}, -1, 1, g4);
  std::vector<float> joined = d1.to_vector<float>();
  for (float v : d2.to_vector<float>()) joined.push_back(v);
  EXPECT_EQ(joined, a.to_vector<float>());
  double mean = 0, var = 0;
  Generator gn(7);
  const auto n = Tensor::normal({20000}, 0, 1, gn, DType::f64).to_vector<double>();
  for (double v : n) mean += v;
  mean /= n.size();
  for (double v : n) var += (v - mean) * (v - mean);
  var /= n.size();
  EXPECT_NEAR(mean, 0.0, 0.03);
  EXPECT_NEAR(var, 1.0, 0.05);
  for (float v : a.to_vector<float>()) {
    EXPECT_GE(v, -1.f);
    EXPECT_LT(v, 1.f);
  }
}

TEST(Tensor, PhiloxMatchesKnownAnswer) {
  // Known-answer test of Philox-4x32-10 (Random123 kat_vectors: ctr = 0, key = 0).
  const auto x = Generator::philox(0, 0);
  EXPECT_EQ(x[0], 0x6627e8d5u);
  EXPECT_EQ(x[1], 0xe169c58du);
  EXPECT_EQ(x[2], 0xbc57ac4cu);
  EXPECT_EQ(x[3], 0x9b00dbd8u);
}

TEST(Tensor, CudaTensorsFailClearlyWithoutCuda) {
#ifndef NATGRAD_WITH_CUDA
  try {
    Tensor::zeros({2}, DType::f32, Device::cuda());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("natgrad was built without CUDA"), std::string::npos);
  }
#else
  GTEST_SKIP() << "CUDA build: covered by tests/cuda";
#endif
}
