// data/inspect.h — what `natgrad data inspect DIR` reports: images per class and split, and the
// per-channel mean/std (0–255 scale, population std) of the training split — the numbers a config's
// normalisation should use.
//
// For CIFAR-10 it also says whether the six batch files are byte for byte the official ones (the SHA-256
// sums `natgrad data fetch` checks).
//
// DIR is either a CIFAR-10 root (holding cifar-10-batches-bin/; splits train and test) or an image
// folder: with train/ (and optionally val/, test/) subfolders, each one class-per-folder, or itself
// class-per-folder (one split, train).
#pragma once
#include <string>
#include <vector>

#include "data/cifar10.h"
#include "data/dataset.h"

namespace ng::data {

struct SplitCounts {
  std::string name;
  std::vector<int64_t> per_class;  // indexed by label
  int64_t total = 0;
};

struct InspectReport {
  std::string kind;  // "CIFAR-10 binary" or "image folder"
  std::string root;
  std::vector<std::string> class_names;
  std::vector<SplitCounts> splits;
  ChannelStats train_stats;
  std::string checksums;  // CIFAR-10: whether the batch files are the official ones (SHA-256)
};

// `cifar_records_per_file`: what each CIFAR-10 batch file must hold (the official 10,000; tests use fakes).
InspectReport inspect_dataset(const std::string& dir, int64_t cifar_records_per_file = kCifarBatchRecords);
std::string format_report(const InspectReport& r);

}  // namespace ng::data
