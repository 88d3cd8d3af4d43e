// tests/dist/units_test.cpp — single-process units of data-parallel training: the single communicator,
// the gradient buckets' layout and their overlap with the backward pass (a recording communicator),
// and the launch checks that need no MPI.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "core/generator.h"
#include "dist/grad_reducer.h"
#include "dist/param_sync.h"

namespace ng::dist {
namespace {

TEST(SingleCommunicator, CollectivesLeaveTensorsAsTheyAre) {
  auto comm = make_single_communicator();
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  Generator g(1);
  Tensor t = Tensor::normal({5}, 0.0, 1.0, g);
  const auto before = t.to_vector<float>();
  comm->all_reduce(t, ReduceOp::avg);
  comm->broadcast(t, 0);
  EXPECT_EQ(t.to_vector<float>(), before);
  EXPECT_EQ(comm->all_gather(t).shape(), (Shape{1, 5}));
  EXPECT_EQ(comm->all_reduce_sum({1.5, 2.0}), (std::vector<double>{1.5, 2.0}));
  EXPECT_EQ(comm->broadcast_string("text", 0), "text");
}

// Pretends to be rank 0 of 2 whose peer contributes zeros; records, per all-reduce, the buffer size and
// how many of `watched` had a gradient when it started.
class RecordingCommunicator final : public Communicator {
 public:
  std::vector<Tensor> watched;
  std::vector<std::pair<int64_t, int>> calls;
  int rank() const override { return 0; }
  int size() const override { return 2; }
  std::string backend() const override { return "recording"; }
  std::unique_ptr<Request> all_reduce_async(Tensor& t, ReduceOp) override {
    int with_grad = 0;
    for (const Tensor& w : watched) with_grad += w.grad().defined();
    calls.emplace_back(t.numel(), with_grad);
    return make_single_communicator()->all_reduce_async(t, ReduceOp::sum);
  }
  void broadcast(Tensor&, int) override {}
  Tensor all_gather(const Tensor& t) override { return t.unsqueeze(0); }
  void barrier() override {}

 protected:
  void abort_job(int) override {}
};

TEST(GradReducer, BucketsFollowReverseParameterOrderAndStartDuringBackward) {
  Generator g(4);
  // Three "layers" x -> w1 -> w2 -> w3; 4-byte floats: w3 (64 B) and w2 (64 B) fill one 128-byte bucket,
  // w1 (400 B, larger than a bucket) gets its own.
  Tensor w1 = Tensor::normal({10, 10}, 0.0, 0.1, g), w2 = Tensor::normal({4, 4}, 0.0, 0.1, g);
  Tensor w3 = Tensor::normal({4, 4}, 0.0, 0.1, g);
  Tensor w0 = Tensor::normal({10, 4}, 0.0, 0.1, g);
  for (Tensor* w : {&w0, &w1, &w2, &w3}) w->set_requires_grad(true);
  RecordingCommunicator comm;
  comm.watched = {w1};
  GradReducer reducer(comm, {w1, w0, w2, w3}, 128);
  ASSERT_EQ(reducer.buckets(), (std::vector<std::vector<size_t>>{{3, 2}, {1}, {0}}));

  const Tensor x = Tensor::normal({3, 10}, 0.0, 1.0, g);
  reducer.begin_step(0.5);
  Tensor loss = sum(matmul(matmul(matmul(matmul(x, w1), w0), w2), w3));
  loss.backward();
  reducer.finish_step();
  ASSERT_EQ(comm.calls.size(), 3u);
  EXPECT_EQ(comm.calls[0], (std::pair<int64_t, int>{32, 0}));  // w3, w2 reduced before w1 had its gradient
  EXPECT_EQ(comm.calls[2].first, 100);

  // Each gradient is weighted by 0.5 (this rank's share); the recording peer adds nothing.
  Tensor expect_w3;
  {
    Tensor v = w3.detach().clone();
    v.set_requires_grad(true);
    sum(matmul(matmul(matmul(matmul(x, w1.detach()), w0.detach()), w2.detach()), v)).backward();
    expect_w3 = v.grad();
  }
  const auto got = w3.grad().to_vector<float>(), want = expect_w3.to_vector<float>();
  for (size_t i = 0; i < got.size(); ++i) EXPECT_FLOAT_EQ(got[i], 0.5f * want[i]);
}

TEST(GradReducer, AParameterWithoutGradientContributesZeros) {
  Generator g(5);
  Tensor used = Tensor::normal({3}, 0.0, 1.0, g), unused = Tensor::normal({2}, 0.0, 1.0, g);
  used.set_requires_grad(true);
  unused.set_requires_grad(true);
  auto comm = make_single_communicator();
  GradReducer reducer(*comm, {used, unused}, 1 << 20);
  reducer.begin_step(1.0);
  sum(used).backward();
  reducer.finish_step();
  EXPECT_EQ(unused.grad().to_vector<float>(), (std::vector<float>{0.0f, 0.0f}));
  EXPECT_EQ(used.grad().to_vector<float>(), (std::vector<float>{1.0f, 1.0f, 1.0f}));
  EXPECT_THROW(reducer.finish_step(), Error);
}

TEST(ParamSync, ChecksumSeesEveryByte) {
  Generator g(6);
  Tensor a = Tensor::normal({8}, 0.0, 1.0, g);
  const uint64_t before = checksum({&a});
  a.data<float>()[7] = std::nextafter(a.data<float>()[7], 10.0f);
  EXPECT_NE(checksum({&a}), before);
}

}  // namespace
}  // namespace ng::dist
