// data/cifar10.cpp — CIFAR-10 binary batches -> ImageDataset, with validation of every byte it reads.
#include "data/cifar10.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/generator.h"

namespace ng::data {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> read_class_names(const fs::path& meta) {
  std::ifstream f(meta);
  NG_CHECK(f.good(), "cifar10: missing file ", meta.string(), "; ", kCifarFetchHint);
  std::vector<std::string> names;
  std::string line;
  while (std::getline(f, line)) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  NG_CHECK(names.size() == 10, "cifar10: ", meta.string(), " lists ", names.size(),
           " class names, expected 10 (one per line)");
  return names;
}

// Checks that `file` exists and holds exactly `expected` whole records.
void check_records(const fs::path& file, int64_t expected) {
  std::error_code ec;
  NG_CHECK(fs::is_regular_file(file, ec), "cifar10: missing file ", file.string(), "; ", kCifarFetchHint);
  const int64_t bytes = static_cast<int64_t>(fs::file_size(file));
  const int64_t tail = bytes % kCifarRecordBytes;
  NG_CHECK(tail == 0, "cifar10: ", file.string(), ": size ", bytes, " bytes is not a whole number of ",
           kCifarRecordBytes, "-byte records; the record at byte offset ", bytes - tail,
           " is truncated (", tail, " of ", kCifarRecordBytes, " bytes)");
  NG_CHECK(bytes == expected * kCifarRecordBytes, "cifar10: ", file.string(), ": holds ", bytes / kCifarRecordBytes,
           " records (", bytes, " bytes), expected exactly ", expected, " (", expected * kCifarRecordBytes,
           " bytes); the file is cut short or not a CIFAR-10 batch; ", kCifarFetchHint);
}

// Appends the first n records of `file` to ds, checking each label.
void read_records(const fs::path& file, int64_t n, ImageDataset& ds) {
  std::vector<uint8_t> buf(static_cast<size_t>(n * kCifarRecordBytes));
  std::ifstream f(file, std::ios::binary);
  f.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
  NG_CHECK(f.gcount() == static_cast<std::streamsize>(buf.size()), "cifar10: ", file.string(),
           ": read failed at byte offset ", f.gcount(), " of ", buf.size());
  const size_t first = ds.pixels.size();
  ds.pixels.resize(first + static_cast<size_t>(n * kCifarImageBytes));
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t* rec = buf.data() + r * kCifarRecordBytes;
    NG_CHECK(rec[0] <= 9, "cifar10: ", file.string(), ": record ", r, " at byte offset ",
             r * kCifarRecordBytes, " has label ", int(rec[0]), ", expected 0..9");
    ds.labels.push_back(rec[0]);
    std::copy(rec + 1, rec + kCifarRecordBytes, ds.pixels.begin() + first + r * kCifarImageBytes);
  }
}

// Reads up to `limit` records (-1: all) from `files` in order.
ImageDataset read_split(const fs::path& dir, const std::vector<std::string>& files, int64_t limit,
                        int64_t records_per_file, const std::vector<std::string>& names) {
  ImageDataset ds;
  ds.channels = 3;
  ds.height = ds.width = 32;
  ds.class_names = names;
  for (const auto& name : files) {
    const fs::path file = dir / name;
    int64_t n = records_per_file;
    if (limit >= 0) n = std::min(n, limit - ds.size());
    if (n > 0) read_records(file, n, ds);
  }
  return ds;
}

}  // namespace

const std::array<const char*, 6>& cifar10_batch_files() {
  static const std::array<const char*, 6> files = {"data_batch_1.bin", "data_batch_2.bin",
                                                   "data_batch_3.bin", "data_batch_4.bin",
                                                   "data_batch_5.bin", "test_batch.bin"};
  return files;
}

void check_cifar10_files(const std::string& root, int64_t records_per_file) {
  const fs::path dir = fs::path(root) / kCifarBatchDir;
  NG_CHECK(fs::is_directory(dir), "cifar10: no folder ", dir.string(), "; ", kCifarFetchHint);
  for (const char* name : cifar10_batch_files()) check_records(dir / name, records_per_file);
  read_class_names(dir / "batches.meta.txt");
}

Cifar10 load_cifar10(const Cifar10Options& opts) {
  const fs::path dir = fs::path(opts.root) / kCifarBatchDir;
  check_cifar10_files(opts.root, opts.records_per_file);  // every file, even in a first-N run
  const auto& all = cifar10_batch_files();
  const auto names = read_class_names(dir / "batches.meta.txt");

  Cifar10 out;
  out.train = read_split(dir, {all.begin(), all.begin() + 5}, opts.max_train, opts.records_per_file, names);
  out.test = read_split(dir, {all[5]}, opts.max_test, opts.records_per_file, names);

  NG_CHECK(opts.validation_size >= 0 && opts.validation_size < out.train.size(), "cifar10: validation_size ",
           opts.validation_size, " must be in [0, ", out.train.size(), ") (the training records read)");
  auto split = split_validation(out.train, opts.validation_size, Generator(opts.validation_seed));
  out.train = std::move(split.train);
  out.validation = std::move(split.validation);
  return out;
}

}  // namespace ng::data
