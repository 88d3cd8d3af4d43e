// apps/data_config.h — the config's "data" block: which images, which split, which augmentation, and the
// loaders built from it (data/ does the work; this file only maps config keys onto its options).
//
// Datasets: "cifar10" (the official binary batches under ROOT/cifar-10-batches-bin/, ROOT found by
// data/data_root.h when "root" is unset) and "image_folder" (ROOT/train/<class>/… and ROOT/test/<class>/…).
// Normalisation is per channel: "dataset" computes μ, σ on the training split, "fixed" takes them from the
// config (0–1 scale, as torchvision's Normalize), "none" only scales to [0, 1]. Augmentation (training split
// only) is random crop with padding, horizontal flip and cutout, each switchable; evaluation batches are
// never augmented. Everything random is a pure function of the run seed, the epoch and the sample.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "apps/config_reader.h"
#include "apps/model_config.h"
#include "data/dataset.h"
#include "data/loader.h"

namespace ng::app {

struct DataSpec {
  std::string dataset = "cifar10";
  std::string root;  // as configured; "" = look it up
  int64_t train_subset = 0, test_subset = 0;  // first N records; 0 = all
  int64_t validation_size = 0;
  bool shuffle = true, drop_last = true;
  int64_t workers = 1, prefetch = 4;
  std::string normalize = "dataset";  // "dataset", "fixed" or "none"
  std::vector<double> mean, stddev;   // "fixed" (0–1 scale)
  bool augment = true;
  int64_t crop_padding = 4, cutout = 0;
  data::PadMode pad_mode = data::PadMode::zero;
  bool flip = true;
};

DataSpec parse_data(ConfigNode node);

// The data root the run will read, with every file it needs present; a ConfigError naming "data.root"
// (and the missing file, and how to fetch CIFAR-10) otherwise.
std::string resolve_data_root(const DataSpec& spec);
struct DataFacts {
  InputGeometry geometry;
  int64_t train_records = 0;  // the training split a run trains on (after train_subset and validation_size)
  int64_t test_records = 0;   // the test split (after test_subset)
};
// Geometry, classes and training-split size without decoding CIFAR-10 (known) or with it (image folders:
// an unreadable folder or image is a ConfigError naming data.root).
DataFacts data_facts(const DataSpec& spec);

struct Datasets {
  std::string root;
  std::shared_ptr<const data::ImageDataset> train, validation, test;  // validation may be empty
};
Datasets load_datasets(const DataSpec& spec, uint64_t seed);

// Loader options for training (shuffled, augmented) and evaluation (in order, not augmented, all records).
data::LoaderOptions train_loader_options(const DataSpec& spec, const Datasets& ds, int64_t batch_size,
                                         uint64_t seed, DType dtype);
data::LoaderOptions eval_loader_options(const DataSpec& spec, const Datasets& ds, int64_t batch_size, DType dtype);

}  // namespace ng::app
