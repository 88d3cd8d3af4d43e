// data/cifar10.h — reader for CIFAR-10 in the official binary layout (Krizhevsky 2009).
//
// `<root>/cifar-10-batches-bin/` holds data_batch_1..5.bin (training), test_batch.bin and
// batches.meta.txt (class names, one per line, blank lines skipped). Each .bin file is a headerless
// run of 3073-byte records: one label byte (0..9), then 1024 R, 1024 G, 1024 B bytes (32x32 planes,
// row-major) — already the planar CHW layout of ImageDataset, so a record copies straight in.
// The reader refuses bad data loudly: a missing file, a size that is not a whole number of records, a
// file that does not hold exactly 10,000 records (the official batch size; a shorter file would silently
// train on less data), or a label outside 0..9 is an ng::Error naming the file (and the byte offset).
//
// Library use: load_cifar10() returns datasets it owns (no global state; safe to call from several
// threads); the error for a missing file names the fetch command.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "data/dataset.h"

namespace ng::data {

inline constexpr int64_t kCifarRecordBytes = 3073;
inline constexpr int64_t kCifarImageBytes = 3072;
inline constexpr int64_t kCifarBatchRecords = 10000;  // records in every official batch file
inline constexpr const char* kCifarBatchDir = "cifar-10-batches-bin";
inline constexpr const char* kCifarFetchHint =
    "download it with `natgrad data fetch cifar10 --dir DIR` and point NATGRAD_DATA at DIR";

struct Cifar10Options {
  std::string root;             // the folder that contains cifar-10-batches-bin/
  int64_t max_train = -1;       // use only the first N training records (-1: all 50,000)
  int64_t max_test = -1;        // use only the first N test records (-1: all 10,000)
  int64_t validation_size = 0;  // records held out of the (possibly truncated) training set
  uint64_t validation_seed = 0;
  int64_t records_per_file = kCifarBatchRecords;  // what every batch file must hold (tests use small fakes)
};

struct Cifar10 {
  ImageDataset train;
  ImageDataset validation;  // empty unless validation_size > 0
  ImageDataset test;
};

// Reads only the records it needs (first-N runs touch a few kilobytes). The validation split is
// split_validation(train, validation_size, Generator(validation_seed)) (data/dataset.h): a seeded
// uniform sample; both splits keep the file order of their records.
Cifar10 load_cifar10(const Cifar10Options& opts);

// Checks that `<root>/cifar-10-batches-bin/` holds the six batch files, each exactly records_per_file
// whole records (sizes only; labels are checked when read), and batches.meta.txt with ten class names;
// an ng::Error naming the file otherwise.
void check_cifar10_files(const std::string& root, int64_t records_per_file = kCifarBatchRecords);

// The six batch file names, training first.
const std::array<const char*, 6>& cifar10_batch_files();

}  // namespace ng::data
