// data/loader.cpp — epoch order, batch assembly and the bounded prefetch workers.
#include "data/loader.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "core/error.h"
#include "core/generator.h"
#include "data/random.h"

namespace ng::data {
namespace {

constexpr uint64_t kShuffleStream = 0;  // Generator(seed).derive(0): shuffling (1 is augmentation)

}  // namespace

Loader::Loader(std::shared_ptr<const ImageDataset> dataset, LoaderOptions opts)
    : ds_(std::move(dataset)),
      opts_(std::move(opts)),
      transform_(opts_.transform, ds_ ? ds_->channels : 0, ds_ ? ds_->height : 0, ds_ ? ds_->width : 0) {
  NG_CHECK(ds_ && ds_->size() > 0, "Loader: the dataset is empty");
  NG_CHECK(opts_.batch_size >= 1, "Loader: batch_size must be >= 1, got ", opts_.batch_size);
  NG_CHECK(opts_.workers >= 0, "Loader: workers must be >= 0, got ", opts_.workers);
  NG_CHECK(opts_.prefetch >= 1, "Loader: prefetch must be >= 1, got ", opts_.prefetch);
  NG_CHECK(opts_.shard_count >= 1 && opts_.shard_rank >= 0 && opts_.shard_rank < opts_.shard_count,
           "Loader: shard ", opts_.shard_rank, " of ", opts_.shard_count, " does not exist");
  NG_CHECK(!opts_.drop_last || ds_->size() >= opts_.batch_size, "Loader: drop_last with batch_size ",
           opts_.batch_size, " leaves no batch of a dataset of ", ds_->size(), " images");
}

Loader::~Loader() { stop(); }

int64_t Loader::steps_per_epoch() const {
  const int64_t n = ds_->size(), b = opts_.batch_size;
  return opts_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> Loader::epoch_order(int64_t epoch) const {
  if (opts_.shuffle)
    return seeded_permutation(ds_->size(), Generator(opts_.seed).derive(kShuffleStream).derive(epoch));
  std::vector<int64_t> order(static_cast<size_t>(ds_->size()));
  std::iota(order.begin(), order.end(), int64_t{0});
  return order;
}

Batch Loader::build(int64_t step) const {
  const int64_t b = opts_.batch_size, first = step * b;
  const int64_t global = std::min(b, ds_->size() - first);
  const int64_t lo = first + global * opts_.shard_rank / opts_.shard_count;
  const int64_t count = first + global * (opts_.shard_rank + 1) / opts_.shard_count - lo;
  Batch batch;
  batch.epoch = epoch_;
  batch.step = step;
  batch.global_size = global;
  batch.indices.assign(order_.begin() + lo, order_.begin() + lo + count);
  batch.images = Tensor::empty({count, ds_->channels, ds_->height, ds_->width}, opts_.transform.dtype);
  batch.labels = Tensor::empty({count}, DType::i64);
  auto* out = static_cast<uint8_t*>(batch.images.raw_data());
  const size_t sample_bytes = static_cast<size_t>(transform_.out_elements()) * dtype_size(opts_.transform.dtype);
  int64_t* labels = batch.labels.data<int64_t>();
  for (int64_t i = 0; i < count; ++i) {
    const int64_t idx = batch.indices[i];
    const SampleAugment a = transform_.draw(augment_key(opts_.seed, epoch_, idx));
    transform_.apply(ds_->image(idx), a, out + i * sample_bytes);
    labels[i] = ds_->labels[idx];
  }
  return batch;
}

void Loader::worker_loop() {
  const int64_t end = steps_per_epoch();
  std::unique_lock<std::mutex> lock(m_);
  for (;;) {
    space_.wait(lock, [&] { return stopping_ || next_claim_ >= end || next_claim_ < next_take_ + opts_.prefetch; });
    if (stopping_ || next_claim_ >= end) return;
    const int64_t step = next_claim_++;
    lock.unlock();
    Built built;
    try {
      built.batch = build(step);
    } catch (...) {
      built.error = std::current_exception();
    }
    lock.lock();
    done_.emplace(step, std::move(built));
    ready_.notify_all();
  }
}

void Loader::start(int64_t epoch, int64_t step) {
  NG_CHECK(epoch >= 0, "Loader::start: epoch must be >= 0, got ", epoch);
  NG_CHECK(step >= 0 && step <= steps_per_epoch(), "Loader::start: step ", step, " outside [0, ",
           steps_per_epoch(), "] for epoch ", epoch);
  stop();
  epoch_ = epoch;
  order_ = epoch_order(epoch);
  next_claim_ = next_take_ = step;
  stopping_ = false;
  started_ = true;
  wait_seconds_ = 0;
  for (int w = 0; w < opts_.workers; ++w) threads_.emplace_back([this] { worker_loop(); });
}

std::optional<Batch> Loader::next() {
  NG_CHECK(started_, "Loader::next: call start(epoch, step) before next()");
  if (next_take_ >= steps_per_epoch()) return std::nullopt;
  const auto t0 = std::chrono::steady_clock::now();
  auto waited = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  if (opts_.workers == 0) {  // the consumer builds the batch itself, so all of it is waiting
    Batch b = build(next_take_++);
    wait_seconds_ += waited();
    return b;
  }
  std::unique_lock<std::mutex> lock(m_);
  if (done_.count(next_take_) == 0) {
    ready_.wait(lock, [&] { return done_.count(next_take_) > 0; });
    wait_seconds_ += waited();
  }
  auto node = done_.extract(next_take_);
  ++next_take_;
  space_.notify_all();
  lock.unlock();
  if (node.mapped().error) std::rethrow_exception(node.mapped().error);
  return std::move(node.mapped().batch);
}

int64_t Loader::buffered() const {
  std::lock_guard<std::mutex> lock(m_);
  return static_cast<int64_t>(done_.size());
}

void Loader::stop() {
  {
    std::lock_guard<std::mutex> lock(m_);
    stopping_ = true;
  }
  started_ = false;
  space_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  done_.clear();
}

}  // namespace ng::data
