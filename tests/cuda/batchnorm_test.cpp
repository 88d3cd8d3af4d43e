// tests/cuda/batchnorm_test.cpp — CUDA batch normalisation against the CPU kernels: training and eval,
// running-statistics updates, affine and non-affine, bf16 activations with float32 parameters and
// statistics (mixed precision), and the backward pass.
#include <gtest/gtest.h>

#include "cuda_test_util.h"
#include "kernels/batchnorm.h"

using namespace ng;
using namespace ng::cuda_test;

namespace {

DType acc_dtype(DType t) { return t == DType::f64 ? DType::f64 : DType::f32; }

// Parameters and buffers of one BatchNorm2d; `pdt` is their dtype (float32 or x's).
struct Params {
  Tensor weight, bias, running_mean, running_var;
  Params on_device(Device d) const { return {on(weight, d), on(bias, d), on(running_mean, d), on(running_var, d)}; }
};

Params make_params(int64_t C, DType pdt, bool affine, Generator& gen) {
  Params p;
  if (affine) {
    p.weight = random({C}, pdt, gen, 0.5, 1.5);
    p.bias = random({C}, pdt, gen, -0.5, 0.5);
  }
  p.running_mean = random({C}, pdt, gen, -0.2, 0.2);
  p.running_var = random({C}, pdt, gen, 0.5, 2.0);
  return p;
}

}  // namespace

TEST(CudaBatchNorm, ForwardAndBackwardMatchCpu) {
  NG_REQUIRE_CUDA();
  Generator gen(71);
  // The second shape gives each channel 16384 elements: several blocks per channel.
  for (const Shape& xs : {Shape{4, 3, 5, 6}, Shape{64, 8, 16, 16}})
    for (DType dt : kFloating)
      for (DType pdt : {DType::f32, dt})
        for (bool affine : {true, false})
          for (bool training : {true, false}) {
            const int64_t C = xs[1];
            const Tensor x = random(xs, dt, gen, -1.0, 3.0);
            const Params p = make_params(C, pdt, affine, gen);
            const Params& cp = p;                 // the CPU kernel updates p's running buffers in place,
            const Params gp = p.on_device(kCuda);  // the CUDA kernel these copies
            const DType acc = acc_dtype(dt);
            const Tensor y = empty_like(x, kCpu), sm = Tensor::empty({C}, acc), si = Tensor::empty({C}, acc);
            const Tensor gy = empty_like(x, kCuda), gsm = Tensor::empty({C}, acc, kCuda), gsi = Tensor::empty({C}, acc, kCuda);
            NG_DISPATCH(kCpu, batch_norm2d_forward, x, cp.weight, cp.bias, cp.running_mean, cp.running_var, training,
                        0.1, 1e-5, y, sm, si);
            NG_DISPATCH(kCuda, batch_norm2d_forward, on(x, kCuda), gp.weight, gp.bias, gp.running_mean,
                        gp.running_var, training, 0.1, 1e-5, gy, gsm, gsi);
            const std::string what = std::string(dtype_name(dt)) + " params " + dtype_name(pdt) + " " + shape_str(xs) +
                                     (affine ? " affine" : "") + (training ? " training" : " eval");
            expect_close(gy, y, "batch_norm2d y " + what);
            expect_close(gsm, sm, tolerance(dt), "batch_norm2d saved mean " + what);
            expect_close(gsi, si, tolerance(dt), "batch_norm2d saved invstd " + what);
            expect_close(gp.running_mean, cp.running_mean, tolerance(dt), "running mean " + what);
            expect_close(gp.running_var, cp.running_var, tolerance(dt), "running var " + what);

            const Tensor dy = random(xs, dt, gen);
            const Tensor dx = empty_like(x, kCpu), gdx = empty_like(x, kCuda);
            const Tensor dw = affine ? Tensor::empty({C}, pdt) : Tensor(), db = affine ? Tensor::empty({C}, pdt) : Tensor();
            const Tensor gdw = on(dw, kCuda), gdb = on(db, kCuda);
            NG_DISPATCH(kCpu, batch_norm2d_backward, dy, x, cp.weight, sm, si, training, dx, dw, db);
            NG_DISPATCH(kCuda, batch_norm2d_backward, on(dy, kCuda), on(x, kCuda), gp.weight, on(sm, kCuda),
                        on(si, kCuda), training, gdx, gdw, gdb);
            expect_close(gdx, dx, "batch_norm2d grad_x " + what);
            if (affine) {
              expect_close(gdw, dw, tolerance(dt), "batch_norm2d grad_weight " + what);
              expect_close(gdb, db, tolerance(dt), "batch_norm2d grad_bias " + what);
            }
          }
}

TEST(CudaBatchNorm, StatisticsAreBitwiseReproducible) {
  NG_REQUIRE_CUDA();
  Generator gen(72);
  const Tensor x = on(random({32, 16, 32, 32}, DType::f32, gen), kCuda);
  const Tensor dy = on(random({32, 16, 32, 32}, DType::f32, gen), kCuda);
  const Tensor w = on(random({16}, DType::f32, gen), kCuda);
  Tensor dx[2], dw[2], db[2], sm, si;
  for (int r = 0; r < 2; ++r) {
    sm = Tensor::empty({16}, DType::f32, kCuda);
    si = Tensor::empty({16}, DType::f32, kCuda);
    const Tensor y = empty_like(x, kCuda);
    NG_DISPATCH(kCuda, batch_norm2d_forward, x, w, Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5, y, sm, si);
    dx[r] = empty_like(x, kCuda);
    dw[r] = Tensor::empty({16}, DType::f32, kCuda);
    db[r] = Tensor::empty({16}, DType::f32, kCuda);
    NG_DISPATCH(kCuda, batch_norm2d_backward, dy, x, w, sm, si, true, dx[r], dw[r], db[r]);
  }
  expect_equal(dx[1], dx[0], "grad_x twice");
  expect_equal(dw[1], dw[0], "grad_weight twice");
  expect_equal(db[1], db[0], "grad_bias twice");
}
