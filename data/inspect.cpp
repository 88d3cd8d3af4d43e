// data/inspect.cpp — counts and channel statistics of a dataset folder, and their text table.
#include "data/inspect.h"

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "data/cifar10.h"
#include "data/fetch.h"
#include "data/image_folder.h"

namespace ng::data {
namespace {

namespace fs = std::filesystem;

SplitCounts count(const std::string& name, const ImageDataset& ds) {
  return {name, ds.class_counts(), ds.size()};
}

}  // namespace

InspectReport inspect_dataset(const std::string& dir, int64_t cifar_records_per_file) {
  NG_CHECK(fs::is_directory(dir), "inspect: ", dir, " is not a folder");
  InspectReport r;
  r.root = dir;
  if (fs::is_directory(fs::path(dir) / kCifarBatchDir)) {
    Cifar10Options opts;
    opts.root = dir;
    opts.records_per_file = cifar_records_per_file;
    const Cifar10 c = load_cifar10(opts);
    r.kind = "CIFAR-10 binary";
    r.class_names = c.train.class_names;
    r.splits = {count("train", c.train), count("test", c.test)};
    r.train_stats = compute_channel_stats(c.train);
    const std::string problem = check_cifar10_checksums((fs::path(dir) / kCifarBatchDir).string());
    r.checksums = problem.empty() ? "all six batch files are the official CIFAR-10 files (SHA-256)"
                                  : "NOT the official CIFAR-10 files: " + problem;
    return r;
  }
  r.kind = "image folder";
  if (!fs::is_directory(fs::path(dir) / "train")) {
    const ImageDataset ds = load_image_folder(dir);
    r.class_names = ds.class_names;
    r.splits = {count("train", ds)};
    r.train_stats = compute_channel_stats(ds);
    return r;
  }
  for (const char* split : {"train", "val", "test"}) {
    const fs::path p = fs::path(dir) / split;
    if (!fs::is_directory(p)) continue;
    const ImageDataset ds = load_image_folder(p.string());
    if (r.splits.empty()) {
      r.class_names = ds.class_names;
      r.train_stats = compute_channel_stats(ds);
    }
    NG_CHECK(ds.class_names == r.class_names, "inspect: ", p.string(),
             " has other class folders than the train split");
    r.splits.push_back(count(split, ds));
  }
  return r;
}

std::string format_report(const InspectReport& r) {
  std::string out = r.kind + " dataset at " + r.root + "\n";
  if (!r.checksums.empty()) out += "checksums: " + r.checksums + "\n";
  out += "\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-16s", "class");
  out += line;
  for (const auto& s : r.splits) {
    std::snprintf(line, sizeof line, "%10s", s.name.c_str());
    out += line;
  }
  out += "\n";
  for (size_t c = 0; c < r.class_names.size(); ++c) {
    std::snprintf(line, sizeof line, "%-16s", r.class_names[c].c_str());
    out += line;
    for (const auto& s : r.splits) {
      std::snprintf(line, sizeof line, "%10lld", static_cast<long long>(s.per_class[c]));
      out += line;
    }
    out += "\n";
  }
  std::snprintf(line, sizeof line, "%-16s", "total");
  out += line;
  for (const auto& s : r.splits) {
    std::snprintf(line, sizeof line, "%10lld", static_cast<long long>(s.total));
    out += line;
  }
  out += "\n\ntraining split, per channel (0-255 scale, population std):\n";
  const char* names[] = {"R", "G", "B"};
  for (size_t c = 0; c < r.train_stats.mean.size(); ++c) {
    std::snprintf(line, sizeof line, "  %s  mean %8.4f  std %8.4f\n",
                  r.train_stats.mean.size() == 3 ? names[c] : std::to_string(c).c_str(), r.train_stats.mean[c],
                  r.train_stats.stddev[c]);
    out += line;
  }
  return out;
}

}  // namespace ng::data
