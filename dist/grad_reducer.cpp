// dist/grad_reducer.cpp — bucket layout, packing, overlapped all-reduce and unpacking (dist/grad_reducer.h).
#include "dist/grad_reducer.h"

#include <chrono>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"

namespace ng::dist {

GradReducer::GradReducer(Communicator& comm, std::vector<Tensor> params, int64_t bucket_bytes)
    : comm_(comm), params_(std::move(params)) {
  NG_CHECK(bucket_bytes > 0, "GradReducer: bucket size must be > 0 bytes, got ", bucket_bytes);
  int64_t filled = 0;
  for (size_t k = params_.size(); k-- > 0;) {
    const int64_t bytes = params_[k].numel() * static_cast<int64_t>(sizeof(float));
    if (buckets_.empty() || filled + bytes > bucket_bytes) {
      buckets_.emplace_back();
      filled = 0;
    }
    buckets_.back().push_back(k);
    filled += bytes;
  }
  for (size_t b = 0; b < buckets_.size(); ++b) {
    int64_t n = 0;
    for (size_t k : buckets_[b]) n += params_[k].numel();
    buffers_.push_back(Tensor::zeros({n}, DType::f32, params_[buckets_[b].front()].device()));
    for (size_t k : buckets_[b]) set_grad_accumulated_hook(params_[k], [this, b] { on_ready(b); });
  }
  ready_.assign(buckets_.size(), 0);
  requests_.resize(buckets_.size());
}

GradReducer::~GradReducer() {
  for (const Tensor& p : params_) set_grad_accumulated_hook(p, {});
}

void GradReducer::begin_step(double weight) {
  NG_CHECK(!armed_, "GradReducer::begin_step: the previous step was not finished");
  armed_ = true;
  weight_ = weight;
  launched_ = 0;
  ready_.assign(buckets_.size(), 0);
}

void GradReducer::on_ready(size_t bucket) {
  if (!armed_) return;  // a backward pass outside a step
  ++ready_[bucket];
  while (launched_ < buckets_.size() && ready_[launched_] == buckets_[launched_].size()) launch(launched_);
  for (size_t b = 0; b < launched_; ++b) requests_[b]->test();  // lets MPI progress the buckets in flight
}

void GradReducer::launch(size_t bucket) {
  NoGradGuard no_grad;
  Tensor& buf = buffers_[bucket];
  int64_t offset = 0;
  for (size_t k : buckets_[bucket]) {
    const Tensor g = params_[k].grad();
    const int64_t n = params_[k].numel();
    Tensor slice = buf.slice(0, offset, offset + n);
    if (g.defined()) slice.copy_(mul(g.reshape({n}), weight_));
    else slice.zero_();
    offset += n;
  }
  requests_[bucket] = comm_.all_reduce_async(buf, ReduceOp::sum);
  ++launched_;
}

void GradReducer::finish_step() {
  NG_CHECK(armed_, "GradReducer::finish_step: begin_step was not called");
  while (launched_ < buckets_.size()) launch(launched_);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto& r : requests_) r->wait();
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  NoGradGuard no_grad;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    int64_t offset = 0;
    for (size_t k : buckets_[b]) {
      Tensor& p = params_[k];
      const int64_t n = p.numel();
      const Tensor sum = buffers_[b].slice(0, offset, offset + n).view(p.shape());
      Tensor g = p.grad();
      if (!g.defined()) p.set_grad(sum.to(p.dtype()).clone());
      else g.copy_(sum);
      offset += n;
    }
    requests_[b].reset();
  }
  armed_ = false;
}

}  // namespace ng::dist
