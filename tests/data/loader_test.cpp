// tests/data/loader_test.cpp — the loader's contract: each epoch visits every sample once in a seeded
// order; batches are a pure function of (seed, epoch, step), bitwise equal for 0, 1 and 4 workers;
// start(epoch, step) resumes exactly; shutdown mid-epoch is clean.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "core/generator.h"
#include "data/loader.h"
#include "data_test_util.h"

namespace ng::data::test {
namespace {

// n random 3x8x8 images with labels i % 10.
std::shared_ptr<ImageDataset> random_dataset(int64_t n) {
  auto ds = std::make_shared<ImageDataset>();
  ds->height = ds->width = 8;
  for (int c = 0; c < 10; ++c) ds->class_names.push_back(std::to_string(c));
  Generator gen(99);
  for (int64_t i = 0; i < n * ds->image_bytes(); ++i) ds->pixels.push_back(static_cast<uint8_t>(gen.next_u32()));
  for (int64_t i = 0; i < n; ++i) ds->labels.push_back(i % 10);
  return ds;
}

LoaderOptions augmenting_options(int workers, DType dtype = DType::f32) {
  LoaderOptions o;
  o.batch_size = 16;
  o.workers = workers;
  o.prefetch = 3;
  o.seed = 1234;
  o.transform.mean = {0.49, 0.48, 0.45};
  o.transform.stddev = {0.25, 0.24, 0.26};
  o.transform.crop_padding = 2;
  o.transform.horizontal_flip = true;
  o.transform.cutout = 3;
  o.transform.dtype = dtype;
  return o;
}

std::vector<Batch> whole_epoch(Loader& loader, int64_t epoch, int64_t step = 0) {
  loader.start(epoch, step);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

void expect_same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t s = 0; s < a.size(); ++s) {
    EXPECT_EQ(a[s].step, b[s].step);
    EXPECT_EQ(a[s].indices, b[s].indices) << "step " << s;
    EXPECT_TRUE(same_bytes(a[s].images, b[s].images)) << "step " << s;
    EXPECT_TRUE(same_bytes(a[s].labels, b[s].labels)) << "step " << s;
  }
}

TEST(Loader, EpochVisitsEverySampleOnceWithAPartialLastBatch) {
  auto ds = random_dataset(50);
  Loader loader(ds, augmenting_options(2));
  EXPECT_EQ(loader.steps_per_epoch(), 4);
  const auto batches = whole_epoch(loader, 0);
  ASSERT_EQ(batches.size(), 4u);
  EXPECT_EQ(batches[3].images.shape(), (Shape{2, 3, 8, 8}));
  std::vector<int64_t> seen;
  for (const auto& b : batches) {
    EXPECT_EQ(b.images.dtype(), DType::f32);
    EXPECT_EQ(b.labels.dtype(), DType::i64);
    const auto labels = b.labels.to_vector<int64_t>();
    for (size_t i = 0; i < b.indices.size(); ++i) EXPECT_EQ(labels[i], ds->labels[b.indices[i]]);
    seen.insert(seen.end(), b.indices.begin(), b.indices.end());
  }
  std::sort(seen.begin(), seen.end());
  for (int64_t i = 0; i < 50; ++i) EXPECT_EQ(seen[i], i);
}

TEST(Loader, DropLastOmitsThePartialBatch) {
  LoaderOptions o = augmenting_options(1);
  o.drop_last = true;
  Loader loader(random_dataset(50), o);
  EXPECT_EQ(loader.steps_per_epoch(), 3);
  const auto batches = whole_epoch(loader, 0);
  ASSERT_EQ(batches.size(), 3u);
  for (const auto& b : batches) EXPECT_EQ(b.images.size(0), 16);
}

TEST(Loader, ShuffleIsSeededAndChangesPerEpoch) {
  auto ds = random_dataset(40);
  Loader a(ds, augmenting_options(1)), b(ds, augmenting_options(1));
  EXPECT_EQ(a.epoch_order(3), b.epoch_order(3));
  EXPECT_NE(a.epoch_order(3), a.epoch_order(4));
  LoaderOptions other = augmenting_options(1);
  other.seed = 1235;
  EXPECT_NE(Loader(ds, other).epoch_order(3), a.epoch_order(3));
  LoaderOptions ordered = augmenting_options(1);
  ordered.shuffle = false;
  const auto order = Loader(ds, ordered).epoch_order(7);
  for (int64_t i = 0; i < 40; ++i) EXPECT_EQ(order[i], i);
}

TEST(Loader, BatchIsTheTransformOfItsSamplesUnderTheirOwnKeys) {
  auto ds = random_dataset(20);
  const LoaderOptions o = augmenting_options(1);
  Loader loader(ds, o);
  loader.start(2);
  const Batch b = *loader.next();
  Transform t(o.transform, 3, 8, 8);
  std::vector<float> want(3 * 8 * 8);
  for (size_t i = 0; i < b.indices.size(); ++i) {
    t.apply(ds->image(b.indices[i]), t.draw(augment_key(o.seed, 2, b.indices[i])), want.data());
    EXPECT_EQ(std::memcmp(b.images.data<float>() + i * want.size(), want.data(), want.size() * sizeof(float)), 0);
  }
}

TEST(Loader, BatchesAreBitwiseEqualForZeroOneAndFourWorkers) {
  auto ds = random_dataset(70);
  for (DType dt : {DType::f32, DType::bf16}) {
    Loader l0(ds, augmenting_options(0, dt)), l1(ds, augmenting_options(1, dt)), l4(ds, augmenting_options(4, dt));
    for (int64_t epoch : {0, 1}) {
      const auto b1 = whole_epoch(l1, epoch);
      expect_same_batches(b1, whole_epoch(l4, epoch));
      expect_same_batches(b1, whole_epoch(l0, epoch));
    }
  }
}

TEST(Loader, AugmentationDiffersAcrossEpochs) {
  auto ds = random_dataset(16);
  LoaderOptions o = augmenting_options(1);
  o.shuffle = false;
  Loader loader(ds, o);
  const auto e0 = whole_epoch(loader, 0), e1 = whole_epoch(loader, 1);
  EXPECT_EQ(e0[0].indices, e1[0].indices);
  EXPECT_FALSE(same_bytes(e0[0].images, e1[0].images));
}

TEST(Loader, ResumeAtStepEqualsUninterruptedIteration) {
  auto ds = random_dataset(100);
  Loader full(ds, augmenting_options(3));
  const auto uninterrupted = whole_epoch(full, 5);
  ASSERT_EQ(uninterrupted.size(), 7u);
  Loader resumed(ds, augmenting_options(2));
  resumed.start(5, 0);
  resumed.next();  // a run that is interrupted after one batch ...
  const auto rest = whole_epoch(resumed, 5, 3);  // ... and resumed from a checkpoint at step 3
  expect_same_batches(std::vector<Batch>(uninterrupted.begin() + 3, uninterrupted.end()), rest);
  EXPECT_TRUE(whole_epoch(resumed, 5, 7).empty());  // resuming at the end yields nothing
}

TEST(Loader, ShutdownMidEpochIsClean) {
  auto ds = random_dataset(200);
  LoaderOptions o = augmenting_options(4);
  o.batch_size = 4;
  o.prefetch = 2;
  {
    Loader loader(ds, o);
    loader.start(0);
    ASSERT_TRUE(loader.next().has_value());
    loader.start(1, 10);  // restarting mid-epoch stops the old workers
    const auto b = loader.next();
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->step, 10);
    EXPECT_EQ(b->epoch, 1);
  }  // destroyed with workers blocked on a full queue
  Loader stopped(ds, o);
  stopped.start(0);
  stopped.stop();
  EXPECT_NE(error_of([&] { stopped.next(); }).find("call start"), std::string::npos);
}

TEST(Loader, PrefetchQueueIsBounded) {
  LoaderOptions o = augmenting_options(4);
  o.batch_size = 2;
  o.prefetch = 3;
  Loader loader(random_dataset(100), o);
  loader.start(0);
  // Workers fill the queue up to the bound and then wait for the consumer.
  for (int k = 0; k < 500 && loader.buffered() < 3; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(loader.buffered(), 3);
  ASSERT_TRUE(loader.next().has_value());
  EXPECT_EQ(loader.wait_seconds(), 0.0);  // the batch was ready: the consumer did not wait
  for (int k = 0; k < 500 && loader.buffered() < 3; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(loader.buffered(), 3);
}

TEST(Loader, MisuseIsReported) {
  auto ds = random_dataset(10);
  Loader loader(ds, augmenting_options(1));
  EXPECT_NE(error_of([&] { loader.next(); }).find("call start"), std::string::npos);
  EXPECT_NE(error_of([&] { loader.start(0, 2); }).find("step 2 outside [0, 1]"), std::string::npos);
  LoaderOptions big = augmenting_options(1);
  big.drop_last = true;
  EXPECT_NE(error_of([&] { Loader(ds, big); }).find("drop_last"), std::string::npos);
  EXPECT_NE(error_of([&] { Loader(std::make_shared<ImageDataset>(), augmenting_options(1)); }).find("empty"),
            std::string::npos);
}

}  // namespace
}  // namespace ng::data::test
