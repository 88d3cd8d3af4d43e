// apps/data_config.cpp — the "data" block: parsing, data-root resolution, datasets and loader options.
#include "apps/data_config.h"

#include <algorithm>
#include <filesystem>

#include "data/cifar10.h"
#include "data/data_root.h"
#include "data/image_folder.h"
#include "data/random.h"

namespace ng::app {

namespace {

namespace fs = std::filesystem;

constexpr uint64_t kValidationStream = 2;  // Generator(seed).derive(...) stream of the validation split

// The first n records (n = 0: all).
data::ImageDataset first(const data::ImageDataset& ds, int64_t n) {
  if (n <= 0 || n >= ds.size()) return ds;
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
  return ds.subset(idx);
}

// Moves a seeded uniform sample of n training records into a validation set; both keep record order.
void split_validation(data::ImageDataset& train, data::ImageDataset& validation, int64_t n, uint64_t seed) {
  if (n <= 0) return;
  if (n >= train.size())
    throw ConfigError("data.validation_size: expected fewer than the " + std::to_string(train.size()) +
                      " training records, got " + std::to_string(n));
  std::vector<int64_t> perm = data::seeded_permutation(train.size(), Generator(seed).derive(kValidationStream));
  std::vector<int64_t> val(perm.begin(), perm.begin() + n), keep(perm.begin() + n, perm.end());
  std::sort(val.begin(), val.end());
  std::sort(keep.begin(), keep.end());
  validation = train.subset(val);
  train = train.subset(keep);
}

std::string configured_root(const DataSpec& s) {
  if (s.root.empty()) return "";
  std::error_code ec;
  if (!fs::is_directory(s.root, ec)) throw ConfigError("data.root: folder '" + s.root + "' does not exist");
  return s.root;
}

}  // namespace

DataSpec parse_data(ConfigNode n) {
  DataSpec s;
  s.dataset = n.choice("dataset", "cifar10", {"cifar10", "image_folder"});
  s.root = n.string("root", "");
  s.train_subset = n.integer("train_subset", 0, 0, 1 << 30);
  s.test_subset = n.integer("test_subset", 0, 0, 1 << 30);
  s.validation_size = n.integer("validation_size", 0, 0, 1 << 30);
  if (s.dataset == "cifar10") {
    const int64_t train = s.train_subset > 0 ? std::min<int64_t>(s.train_subset, 50000) : 50000;
    if (s.validation_size >= train)
      n.fail("validation_size", "expected fewer than the " + std::to_string(train) + " training records, got " +
                                    std::to_string(s.validation_size));
  }
  s.shuffle = n.boolean("shuffle", true);
  s.drop_last = n.boolean("drop_last", true);
  s.workers = n.integer("workers", 1, 0, 64);
  s.prefetch = n.integer("prefetch", 4, 1, 64);
  ConfigNode norm = n.object("normalize");
  s.normalize = norm.choice("mode", "dataset", {"dataset", "fixed", "none"});
  if (s.normalize == "fixed") {
    if (!norm.has("mean") || !norm.has("std")) norm.fail("mode", "\"fixed\" needs \"mean\" and \"std\" (3 numbers each)");
    s.mean = norm.numbers("mean", {}, 3, 0.0, 1.0);
    s.stddev = norm.numbers("std", {}, 3, 1e-6, 1.0);
  } else if (norm.has("mean") || norm.has("std")) {
    norm.fail(norm.has("mean") ? "mean" : "std", "only used with \"mode\": \"fixed\"");
  }
  norm.finish();
  ConfigNode aug = n.object("augmentation");
  s.augment = aug.boolean("enabled", true);
  s.crop_padding = aug.integer("crop_padding", 4, 0, 16);
  s.pad_mode = aug.choice("pad_mode", "zero", {"zero", "reflect"}) == "zero" ? data::PadMode::zero : data::PadMode::reflect;
  s.flip = aug.boolean("horizontal_flip", true);
  s.cutout = aug.integer("cutout", 0, 0, 32);
  aug.finish();
  n.finish();
  return s;
}

std::string resolve_data_root(const DataSpec& s) {
  const std::string configured = configured_root(s);
  if (s.dataset == "image_folder") {
    if (configured.empty()) throw ConfigError("data.root: required for \"dataset\": \"image_folder\"");
    for (const char* split : {"train", "test"})
      if (!fs::is_directory(fs::path(configured) / split))
        throw ConfigError("data.root: '" + configured + "' has no " + split + "/ folder (expected " + split +
                          "/<class>/<image> files)");
    return configured;
  }
  std::string root;
  try {
    root = data::find_data_root(configured, data::default_repo_dir());
  } catch (const Error& e) {
    throw ConfigError(std::string("data.root: ") + e.what());
  }
  for (const char* f : data::cifar10_batch_files()) {
    const fs::path p = fs::path(root) / data::kCifarBatchDir / f;
    if (!fs::is_regular_file(p))
      throw ConfigError("data.root: " + p.string() + " is missing; " + data::kCifarFetchHint);
  }
  try {
    data::check_cifar10_files(root);
  } catch (const Error& e) {
    throw ConfigError(std::string("data.root: ") + e.what());
  }
  return root;
}

DataFacts data_facts(const DataSpec& s) {
  const std::string root = resolve_data_root(s);
  DataFacts f;
  if (s.dataset == "cifar10") {
    f.geometry = InputGeometry{3, 32, 32, 10};
    f.train_records = (s.train_subset > 0 ? std::min<int64_t>(s.train_subset, 50000) : 50000) - s.validation_size;
    f.test_records = s.test_subset > 0 ? std::min<int64_t>(s.test_subset, 10000) : 10000;
    return f;
  }
  data::ImageDataset train, test;
  try {
    train = first(data::load_image_folder((fs::path(root) / "train").string()), s.train_subset);
    test = data::load_image_folder((fs::path(root) / "test").string());
  } catch (const Error& e) {
    throw ConfigError(std::string("data.root: ") + e.what());
  }
  if (test.class_names != train.class_names)
    throw ConfigError("data.root: " + root + "/test has other class folders than " + root + "/train");
  if (s.validation_size >= train.size())
    throw ConfigError("data.validation_size: expected fewer than the " + std::to_string(train.size()) +
                      " training records, got " + std::to_string(s.validation_size));
  f.geometry = InputGeometry{train.channels, train.height, train.width, static_cast<int64_t>(train.class_names.size())};
  f.train_records = train.size() - s.validation_size;
  f.test_records = s.test_subset > 0 ? std::min<int64_t>(s.test_subset, test.size()) : test.size();
  return f;
}

Datasets load_datasets(const DataSpec& s, uint64_t seed) {
  Datasets out;
  out.root = resolve_data_root(s);
  data::ImageDataset train, validation, test;
  if (s.dataset == "cifar10") {
    data::Cifar10Options o;
    o.root = out.root;
    o.max_train = s.train_subset > 0 ? s.train_subset : -1;
    o.max_test = s.test_subset > 0 ? s.test_subset : -1;
    data::Cifar10 c = data::load_cifar10(o);
    train = std::move(c.train);
    test = std::move(c.test);
  } else {
    train = first(data::load_image_folder((fs::path(out.root) / "train").string()), s.train_subset);
    test = first(data::load_image_folder((fs::path(out.root) / "test").string()), s.test_subset);
    if (test.class_names != train.class_names)
      throw ConfigError("data.root: " + out.root + "/test has other class folders than " + out.root + "/train");
  }
  split_validation(train, validation, s.validation_size, seed);
  out.train = std::make_shared<const data::ImageDataset>(std::move(train));
  out.validation = std::make_shared<const data::ImageDataset>(std::move(validation));
  out.test = std::make_shared<const data::ImageDataset>(std::move(test));
  return out;
}

namespace {
data::TransformConfig base_transform(const DataSpec& s, const Datasets& ds, DType dtype) {
  data::TransformConfig t;
  t.dtype = dtype;
  if (s.normalize == "dataset") {
    t.normalise_with(data::compute_channel_stats(*ds.train));
  } else if (s.normalize == "fixed") {
    t.mean = s.mean;
    t.stddev = s.stddev;
  }
  return t;
}
}  // namespace

data::LoaderOptions train_loader_options(const DataSpec& s, const Datasets& ds, int64_t batch_size, uint64_t seed,
                                         DType dtype) {
  data::LoaderOptions o;
  o.batch_size = batch_size;
  o.shuffle = s.shuffle;
  o.drop_last = s.drop_last;
  o.workers = static_cast<int>(s.workers);
  o.prefetch = static_cast<int>(s.prefetch);
  o.seed = seed;
  o.transform = base_transform(s, ds, dtype);
  if (s.augment) {
    o.transform.crop_padding = s.crop_padding;
    o.transform.pad_mode = s.pad_mode;
    o.transform.horizontal_flip = s.flip;
    o.transform.cutout = s.cutout;
  }
  return o;
}

data::LoaderOptions eval_loader_options(const DataSpec& s, const Datasets& ds, int64_t batch_size, DType dtype) {
  data::LoaderOptions o;
  o.batch_size = batch_size;
  o.shuffle = false;
  o.drop_last = false;
  o.workers = static_cast<int>(s.workers);
  o.prefetch = static_cast<int>(s.prefetch);
  o.transform = base_transform(s, ds, dtype);
  return o;
}

}  // namespace ng::app
