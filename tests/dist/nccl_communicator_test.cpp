// tests/dist/nccl_communicator_test.cpp — the NCCL communicator on one rank (ctest CudaDistNccl_np1, which
// scripts/gpu_check.sh runs with the other CUDA tests): its collectives on CUDA tensors, an asynchronous
// all-reduce, and bucketed gradient averaging on the GPU. Skipped without NCCL in the build, without a
// CUDA device, or with several ranks (one GPU per rank: the machines here have at most one).
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "core/generator.h"
#include "dist/grad_reducer.h"
#include "kernels/memory.h"
#include "tests/dist/mpi_test_env.h"

namespace ng::dist {
namespace {

using testing::g_comm;

bool nccl_usable() {
#ifdef NATGRAD_WITH_NCCL
  return g_comm->size() == 1 && kernels::cuda::device_count() > 0;
#else
  return false;
#endif
}

TEST(CudaNcclCommunicator, CollectivesOnOneRankKeepTheirTensors) {
  if (!nccl_usable()) GTEST_SKIP() << "needs NCCL in the build, a CUDA device and one rank";
  auto comm = make_communicator("nccl", 60.0);
  EXPECT_EQ(comm->backend(), "nccl");
  Generator g(1);
  const Tensor host = Tensor::normal({1000}, 0.0, 1.0, g);
  Tensor t = host.to(Device::cuda(0));
  auto req = comm->all_reduce_async(t, ReduceOp::sum);
  req->wait();
  comm->all_reduce(t, ReduceOp::avg);
  comm->broadcast(t, 0);
  EXPECT_EQ(t.to(Device::cpu()).to_vector<float>(), host.to_vector<float>());
  const Tensor all = comm->all_gather(t);
  EXPECT_EQ(all.shape(), (Shape{1, 1000}));
  EXPECT_EQ(all.to(Device::cpu()).select(0, 0).contiguous().to_vector<float>(), host.to_vector<float>());
  comm->barrier();
}

TEST(CudaNcclCommunicator, GradientBucketsOnTheGpu) {
  if (!nccl_usable()) GTEST_SKIP() << "needs NCCL in the build, a CUDA device and one rank";
  auto comm = make_communicator("nccl", 60.0);
  Generator g(2);
  Tensor w = Tensor::normal({64, 8}, 0.0, 0.1, g).to(Device::cuda(0)), v = Tensor::normal({8, 3}, 0.0, 0.1, g).to(Device::cuda(0));
  w.set_requires_grad(true);
  v.set_requires_grad(true);
  const Tensor x = Tensor::normal({5, 64}, 0.0, 1.0, g).to(Device::cuda(0));
  sum(matmul(matmul(x, w), v)).backward();
  const auto gw = w.grad().to(Device::cpu()).to_vector<float>();
  w.zero_grad();
  v.zero_grad();
  GradReducer reducer(*comm, {w, v}, 128);
  reducer.begin_step(0.5);
  sum(matmul(matmul(x, w), v)).backward();
  reducer.finish_step();
  const auto got = w.grad().to(Device::cpu()).to_vector<float>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_FLOAT_EQ(got[i], 0.5f * gw[i]);
}

}  // namespace
}  // namespace ng::dist
