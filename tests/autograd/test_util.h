// tests/autograd/test_util.h — helpers shared by the autograd tests: fresh random inputs drawn from an
// explicit Generator, element-wise value comparison, ng::Error message checks, float64 gradcheck
// assertions and bitwise tensor equality. One copy here instead of one per test file.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "core/error.h"
#include "core/tensor.h"

namespace ng::test {

// Uniform in [−scale, scale] at `dtype`, not requiring grad.
inline Tensor random_tensor(const Shape& shape, Generator& gen, DType dtype = DType::f64, double scale = 1.0) {
  return Tensor::uniform(shape, -scale, scale, gen, dtype);
}

// The same draw as random_tensor, as a leaf that requires grad.
inline Tensor random_leaf(const Shape& shape, Generator& gen, DType dtype = DType::f64, double scale = 1.0) {
  Tensor t = random_tensor(shape, gen, dtype, scale);
  t.set_requires_grad(true);
  return t;
}

// |got_i − want_i| <= tol for every element.
inline void expect_values(const Tensor& t, const std::vector<double>& want, double tol = 1e-12) {
  const std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

// got_i == want_i up to EXPECT_DOUBLE_EQ's 4 ULPs, for ops that only move values around.
inline void expect_values_double_eq(const Tensor& t, const std::vector<double>& want) {
  const std::vector<double> got = t.to_vector<double>();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_DOUBLE_EQ(got[i], want[i]) << "element " << i;
}

// EXPECT_THROW of ng::Error whose message contains `what`.
inline void expect_error(const std::function<void()>& f, const std::string& what) {
  EXPECT_THROW(
      {
        try {
          f();
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
}

// The message of the ng::Error that f throws; a test failure (and "(no error)") if it throws none.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an ng::Error";
  return "(no error)";
}

// float64 central-difference gradcheck of f at `in` (leaves that require grad).
inline void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                             const std::vector<Tensor>& in) {
  const GradcheckResult r = gradcheck(f, in);
  EXPECT_TRUE(r.ok) << r.report;
}

// The one-input form: marks x as requiring grad and gradchecks f at x.
inline void expect_gradcheck(const std::function<Tensor(const Tensor&)>& f, Tensor x) {
  x.set_requires_grad(true);
  expect_gradcheck([&](const std::vector<Tensor>& in) { return f(in[0]); }, {x});
}

// Same shape, dtype and bytes.
inline bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::equal(static_cast<const char*>(a.raw_data()), static_cast<const char*>(a.raw_data()) + a.nbytes(),
                    static_cast<const char*>(b.raw_data()));
}

}  // namespace ng::test
