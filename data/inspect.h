// data/inspect.h — what `natgrad data inspect DIR` reports: images per class and split, and the
// per-channel mean/std (0–255 scale, population std) of the training split — the numbers a config's
// normalisation should use.
//
// DIR is either a CIFAR-10 root (holding cifar-10-batches-bin/; splits train and test) or an image
// folder: with train/ (and optionally val/, test/) subfolders, each one class-per-folder, or itself
// class-per-folder (one split, train).
#pragma once
#include <string>
#include <vector>

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
};

InspectReport inspect_dataset(const std::string& dir);
std::string format_report(const InspectReport& r);

}  // namespace ng::data
