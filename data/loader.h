// data/loader.h — batches of an ImageDataset: seeded per-epoch shuffle, augmentation, prefetch threads.
//
// Batch `step` of `epoch` is a pure function of (dataset, options, epoch, step): the epoch's order is
// a Fisher–Yates permutation drawn from Generator(seed).derive(0).derive(epoch), and each sample's
// augmentation comes from augment_key(seed, epoch, index) (data/transforms.h). Worker threads only
// decide *when* a batch is built, never *what* is in it, so 1 and 4 workers give bitwise-equal batches,
// and start(epoch, step) resumes exactly where an interrupted run stopped.
//
// Data-parallel sharding (shard_count > 1): every rank's loader walks the same global order with the
// global batch_size and keeps only its fixed slice of each batch — of a batch of m images, rank r takes
// positions [m·r/R, m·(r+1)/R) — so the images (and their augmentations) a step sees are the same for
// every rank count. A slice may be empty (a last batch smaller than the number of ranks).
//
// Workers claim steps in order and may run at most `prefetch` steps ahead of the consumer (a bounded
// queue, counting batches being built); next() hands batches out in step order. stop(), start() and
// the destructor shut the workers down cleanly at any point of an epoch. An exception thrown while
// building a batch is rethrown by the next() that would have returned it.
//
// Library use. Ownership: the loader shares the dataset (std::shared_ptr<const>) and owns its worker
// threads. Threads: start(), next() and stop() belong to one consumer thread; the workers are internal.
// Errors (ng::Error): the constructor refuses an empty dataset, batch_size < 1, workers < 0, prefetch < 1,
// a shard outside [0, shard_count) and drop_last with fewer images than a batch; start() an epoch or step out of range; next() before
// start(); and next() rethrows what failed while building its batch.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"
#include "data/transforms.h"

namespace ng::data {

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true;
  bool drop_last = false;  // drop the final batch when it would be smaller than batch_size
  int workers = 1;         // threads building batches; 0 builds them on the caller's thread in next()
  int prefetch = 4;        // batches a worker may build ahead of the consumer (>= 1)
  uint64_t seed = 0;
  TransformConfig transform;
  int64_t shard_rank = 0;   // this rank's slice of every batch ...
  int64_t shard_count = 1;  // ... of this many
};

struct Batch {
  Tensor images;  // [B, C, H, W] in transform.dtype
  Tensor labels;  // [B] int64
  std::vector<int64_t> indices;  // dataset positions of the B samples
  int64_t global_size = 0;       // images of the whole batch over all shards (B with one shard)
  int64_t epoch = 0;
  int64_t step = 0;
};

class Loader {
 public:
  Loader(std::shared_ptr<const ImageDataset> dataset, LoaderOptions opts);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  int64_t steps_per_epoch() const;
  // Begins `epoch` at batch `step` (0 <= step <= steps_per_epoch()); ends any epoch in flight.
  void start(int64_t epoch, int64_t step = 0);
  // The next batch of the started epoch, or nullopt once the epoch is exhausted.
  std::optional<Batch> next();
  // Stops and joins the workers (idempotent); batches already built are discarded.
  void stop();

  // Batches built and waiting for next() (never more than prefetch).
  int64_t buffered() const;
  // Seconds next() spent waiting for a batch since start() — the time the model waited on data
  // (with workers == 0, all of the batch building).
  double wait_seconds() const { return wait_seconds_; }

  // The order in which `epoch` visits the dataset (identity when shuffle is off).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

 private:
  Batch build(int64_t step) const;
  void worker_loop();

  std::shared_ptr<const ImageDataset> ds_;
  LoaderOptions opts_;
  Transform transform_;

  // Fixed while an epoch runs (written by start() with no workers alive).
  int64_t epoch_ = 0;
  std::vector<int64_t> order_;

  struct Built {
    Batch batch;
    std::exception_ptr error;
  };
  mutable std::mutex m_;
  std::condition_variable space_;  // a worker may claim another step, or stop
  std::condition_variable ready_;  // a batch was finished
  int64_t next_claim_ = 0;         // next step a worker builds
  int64_t next_take_ = 0;          // next step next() returns
  bool stopping_ = false;
  bool started_ = false;
  double wait_seconds_ = 0;  // written by the consumer thread only
  std::map<int64_t, Built> done_;
  std::vector<std::thread> threads_;
};

}  // namespace ng::data
