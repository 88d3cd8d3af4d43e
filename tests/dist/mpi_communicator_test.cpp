// tests/dist/mpi_communicator_test.cpp — the MPI communicator's collectives, gradient averaging and the
// cross-rank checks, run by every rank under `mpirun -np 2` and `-np 3` (ctest dist_mpi_np2/np3).
// Every rank draws each rank's data from Generator(seed).derive(rank), so each can compute the
// expected result on its own.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "autograd/ops.h"
#include "core/generator.h"
#include "dist/grad_reducer.h"
#include "dist/mpi_communicator.h"
#include "dist/param_sync.h"
#include "dist/weighted_sum.h"
#include "layers/conv2d.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/relu.h"
#include "layers/sequential.h"
#include "tests/dist/mpi_test_env.h"

namespace ng::dist {
namespace {

using testing::g_comm;

Tensor rank_data(uint64_t seed, int rank, const Shape& shape, DType dtype = DType::f32) {
  Generator g = Generator(seed).derive(static_cast<uint64_t>(rank));
  return Tensor::normal(shape, 0.0, 1.0, g, dtype);
}

TEST(MpiCommunicator, RankAndSizeMatchTheLauncher) {
  EXPECT_EQ(g_comm->size(), launched_ranks());
  EXPECT_GE(g_comm->rank(), 0);
  EXPECT_LT(g_comm->rank(), g_comm->size());
  EXPECT_EQ(g_comm->backend(), "mpi");
}

TEST(MpiCommunicator, AllReduceSumAndAverage) {
  const int n = g_comm->size();
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor expect = Tensor::zeros({7, 5}, DType::f64);
    for (int r = 0; r < n; ++r) expect = add(expect, rank_data(11, r, {7, 5}, DType::f64));
    Tensor sum = rank_data(11, g_comm->rank(), {7, 5}, dt);
    Tensor avg = sum.clone();
    g_comm->all_reduce(sum, ReduceOp::sum);
    g_comm->all_reduce(avg, ReduceOp::avg);
    const auto e = expect.to_vector<double>(), s = sum.to_vector<double>(), a = avg.to_vector<double>();
    for (size_t i = 0; i < e.size(); ++i) {
      EXPECT_NEAR(s[i], e[i], 1e-5);
      EXPECT_NEAR(a[i], e[i] / n, 1e-5);
    }
  }
  Tensor ints = Tensor::from_vector(std::vector<int64_t>{g_comm->rank() + 1, 1}, {2});
  g_comm->all_reduce(ints, ReduceOp::sum);
  EXPECT_EQ(ints.to_vector<int64_t>(), (std::vector<int64_t>{int64_t{n} * (n + 1) / 2, n}));
}

// Rank r weighs its tensors by (r + 1) / Σ(r + 1); float32, bfloat16 and float64 tensors in one call, each
// written back in its own dtype.
TEST(MpiCommunicator, AllReduceWeightedSumsEachRanksShare) {
  const int n = g_comm->size();
  const double total = n * (n + 1) / 2.0;
  const std::vector<std::pair<Shape, DType>> specs = {
      {{3, 4}, DType::f32}, {{5}, DType::bf16}, {{2, 2}, DType::f64}, {{6}, DType::f32}};
  std::vector<Tensor> mine;
  for (size_t k = 0; k < specs.size(); ++k) mine.push_back(rank_data(20 + k, g_comm->rank(), specs[k].first, specs[k].second));
  all_reduce_weighted(*g_comm, mine, (g_comm->rank() + 1) / total);
  for (size_t k = 0; k < specs.size(); ++k) {
    ASSERT_EQ(mine[k].dtype(), specs[k].second);
    ASSERT_EQ(mine[k].shape(), specs[k].first);
    Tensor expect = Tensor::zeros(specs[k].first, DType::f64);
    for (int r = 0; r < n; ++r)
      expect = add(expect, mul(rank_data(20 + k, r, specs[k].first, specs[k].second).to(DType::f64), (r + 1) / total));
    const double tol = specs[k].second == DType::bf16 ? 1e-2 : specs[k].second == DType::f32 ? 1e-6 : 1e-14;
    const auto e = expect.to_vector<double>(), got = mine[k].to_vector<double>();
    for (size_t i = 0; i < e.size(); ++i) EXPECT_NEAR(got[i], e[i], tol * (1.0 + std::fabs(e[i]))) << k << "," << i;
  }
}

TEST(MpiCommunicator, AsyncAllReducesCompleteInAnyWaitOrder) {
  Tensor a = Tensor::full({1000}, g_comm->rank() + 1.0), b = Tensor::full({3}, 2.0);
  auto ra = g_comm->all_reduce_async(a, ReduceOp::sum);
  auto rb = g_comm->all_reduce_async(b, ReduceOp::avg);
  rb->wait();
  ra->wait();
  const int n = g_comm->size();
  EXPECT_EQ(a.to_vector<float>()[999], static_cast<float>(n * (n + 1) / 2));
  EXPECT_EQ(b.to_vector<float>()[0], 2.0f);
}

TEST(MpiCommunicator, BroadcastFromEveryRootAndAllGather) {
  for (int root = 0; root < g_comm->size(); ++root) {
    Tensor t = rank_data(5, g_comm->rank(), {4, 3});
    g_comm->broadcast(t, root);
    EXPECT_EQ(t.to_vector<float>(), rank_data(5, root, {4, 3}).to_vector<float>());
  }
  const Tensor all = g_comm->all_gather(rank_data(6, g_comm->rank(), {2, 2}));
  ASSERT_EQ(all.shape(), (Shape{g_comm->size(), 2, 2}));
  for (int r = 0; r < g_comm->size(); ++r)
    EXPECT_EQ(all.select(0, r).contiguous().to_vector<float>(), rank_data(6, r, {2, 2}).to_vector<float>());
  EXPECT_EQ(g_comm->broadcast_string(g_comm->rank() == 0 ? "from rank 0" : "", 0), "from rank 0");
  g_comm->barrier();
}

// A small conv net; every rank computes the gradient of its own slice of one global batch, the reducer
// averages them, and the result must equal the gradient of the whole batch computed on one rank.
TEST(GradReducer, AveragedGradientEqualsTheGlobalBatchGradient) {
  auto net = std::make_shared<Sequential>();
  Generator init(3);
  net->add(std::make_shared<Conv2d>(3, 4, std::array<int64_t, 2>{3, 3}, init));
  net->add(std::make_shared<ReLU>());
  net->add(std::make_shared<Flatten>());
  net->add(std::make_shared<Linear>(4 * 4 * 4, 5, init));
  std::vector<Tensor> params;
  for (Tensor* p : net->parameters()) params.push_back(*p);
  const int n = g_comm->size(), per = 2;
  Generator data(9);
  const Tensor x = Tensor::normal({per * n, 3, 6, 6}, 0.0, 1.0, data);
  const Tensor y = Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 0}, {6}).slice(0, 0, per * n).contiguous();

  cross_entropy(net->forward(x), y, Reduction::mean).backward();
  std::vector<std::vector<float>> full;
  for (const Tensor& p : params) full.push_back(p.grad().to_vector<float>());
  net->zero_grad();

  GradReducer reducer(*g_comm, params, 200);  // small buckets: several per model
  EXPECT_GT(reducer.buckets().size(), 2u);
  const int64_t lo = g_comm->rank() * per;
  reducer.begin_step(1.0 / n);
  cross_entropy(net->forward(x.slice(0, lo, lo + per)), y.slice(0, lo, lo + per), Reduction::mean).backward();
  reducer.finish_step();
  for (size_t k = 0; k < params.size(); ++k) {
    const auto g = params[k].grad().to_vector<float>();
    for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], full[k][i], 1e-6 + 1e-5 * std::fabs(full[k][i]));
  }
  std::vector<Tensor*> grads;
  std::vector<Tensor> grad_copies;
  for (const Tensor& p : params) grad_copies.push_back(p.grad());
  for (Tensor& g : grad_copies) grads.push_back(&g);
  EXPECT_NO_THROW(check_identical(*g_comm, grads, "averaged gradients"));
}

// The last rank starts its backward pass 0.3 s late: every other rank's finish_step() waits for it, and
// wait_seconds() counts that wait (and only finish_step's: the late rank's own sleep is not in it).
TEST(GradReducer, WaitSecondsCountTheWaitForALateRank) {
  Generator init(4);
  auto net = std::make_shared<Linear>(6, 3, init);
  std::vector<Tensor> params;
  for (Tensor* p : net->parameters()) params.push_back(*p);
  GradReducer reducer(*g_comm, params, 1 << 20);
  EXPECT_EQ(reducer.wait_seconds(), 0.0);
  const bool late = g_comm->rank() == g_comm->size() - 1;
  reducer.begin_step(1.0 / g_comm->size());
  if (late) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  sum(net->forward(rank_data(5, g_comm->rank(), {2, 6}))).backward();
  reducer.finish_step();
  const std::vector<double> waited = g_comm->all_reduce_sum(
      {late ? 0.0 : reducer.wait_seconds(), late ? reducer.wait_seconds() : 0.0});
  EXPECT_GE(waited[0] / (g_comm->size() - 1), 0.25);  // the punctual ranks' mean wait
  EXPECT_LT(waited[1], 0.25);                         // the late rank found the others waiting
}

TEST(ParamSync, BroadcastMakesStateIdenticalAndTheCheckNamesDifferingRanks) {
  Tensor a = rank_data(21, g_comm->rank(), {10}), b = rank_data(22, g_comm->rank(), {3, 3});
  std::vector<Tensor*> state{&a, &b};
  if (g_comm->size() > 1) {
    EXPECT_THROW(check_identical(*g_comm, state, "parameters"), Error);
  }
  broadcast_tensors(*g_comm, state);
  EXPECT_NO_THROW(check_identical(*g_comm, state, "parameters"));
  if (g_comm->rank() == g_comm->size() - 1) a.data<float>()[3] += 1.0f;
  try {
    check_identical(*g_comm, state, "parameters");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank(s) " + std::to_string(g_comm->size() - 1)), std::string::npos) << e.what();
  }
}

// The last rank never joins a collective: the others get dist::Timeout naming themselves, the operation
// and the last rank (with 3 ranks, ranks 0 and 1 both time out and answer each other's diagnosis, so only
// the last rank is named). The last rank joins afterwards, so the job ends cleanly.
TEST(MpiCommunicator, AWaitEndsAtTheTimeoutNamingTheRankThatDidNotReachIt) {
  MpiCommunicator quick(0.5);
  const int last = quick.size() - 1;
  if (quick.rank() != last) {
    try {
      quick.barrier();
      ADD_FAILURE() << "the barrier completed without rank " << last;
    } catch (const Timeout& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("rank " + std::to_string(quick.rank()) + ": barrier (collective #1) did not complete within"),
                std::string::npos) << what;
      EXPECT_NE(what.find(": rank(s) " + std::to_string(last) + " did not reach it"), std::string::npos) << what;
      EXPECT_EQ(what.find("another collective"), std::string::npos) << what;
    }
  }
  g_comm->barrier();
  if (quick.rank() == last) quick.barrier();
  g_comm->barrier();
}

// Each root's tensors of several dtypes (bfloat16 included) reach every rank bitwise, in one broadcast
// per dtype.
TEST(MpiCommunicator, BroadcastPackedCopiesTheRootsTensorsOfEveryDtype) {
  for (int root = 0; root < g_comm->size(); ++root) {
    std::vector<Tensor> mine = {rank_data(31, g_comm->rank(), {3, 4}), rank_data(32, g_comm->rank(), {7}, DType::bf16),
                                rank_data(33, g_comm->rank(), {2, 2}, DType::f64), rank_data(34, g_comm->rank(), {5})};
    broadcast_packed(*g_comm, mine, root);
    const std::vector<Tensor> expected = {rank_data(31, root, {3, 4}), rank_data(32, root, {7}, DType::bf16),
                                          rank_data(33, root, {2, 2}, DType::f64), rank_data(34, root, {5})};
    for (size_t i = 0; i < mine.size(); ++i) {
      EXPECT_EQ(mine[i].dtype(), expected[i].dtype());
      EXPECT_EQ(mine[i].to_vector<double>(), expected[i].to_vector<double>()) << "tensor " << i << ", root " << root;
    }
  }
}

}  // namespace
}  // namespace ng::dist
