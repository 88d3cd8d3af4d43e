// tests/data/cifar10_test.cpp — the CIFAR-10 binary reader: layout, first-N, validation split, and
// every refusal (missing file, partial record, bad label, bad meta) with file name and byte offset.
#include <gtest/gtest.h>

#include <algorithm>

#include "data/cifar10.h"
#include "data_test_util.h"

namespace ng::data::test {
namespace {

// Options for a fake dataset of `records` records per batch file.
Cifar10Options fake_options(const TempDir& dir, int64_t records) {
  Cifar10Options o;
  o.root = dir.str();
  o.records_per_file = records;
  return o;
}

TEST(Cifar10, ReadsRecordsInFileOrderAsPlanarImages) {
  TempDir dir;
  write_fake_cifar(dir.path(), 3);
  const Cifar10 c = load_cifar10(fake_options(dir, 3));
  ASSERT_EQ(c.train.size(), 15);
  ASSERT_EQ(c.test.size(), 3);
  EXPECT_EQ(c.validation.size(), 0);
  EXPECT_EQ(c.train.channels, 3);
  EXPECT_EQ(c.train.height, 32);
  EXPECT_EQ(c.train.width, 32);
  ASSERT_EQ(c.train.class_names.size(), 10u);
  EXPECT_EQ(c.train.class_names[0], "airplane");
  EXPECT_EQ(c.train.class_names[9], "truck");
  for (int f = 0; f < 5; ++f)
    for (int r = 0; r < 3; ++r) {
      const int64_t i = f * 3 + r;
      EXPECT_EQ(c.train.labels[i], fake_label(f, r));
      for (int k : {0, 1023, 1024, 2048, 3071}) EXPECT_EQ(c.train.image(i)[k], fake_pixel(f, r, k));
    }
  EXPECT_EQ(c.test.labels[2], fake_label(5, 2));
  EXPECT_EQ(c.test.image(2)[3071], fake_pixel(5, 2, 3071));
}

TEST(Cifar10, FirstNRecordsSpanFilesInOrder) {
  TempDir dir;
  write_fake_cifar(dir.path(), 3);
  Cifar10Options o = fake_options(dir, 3);
  o.max_train = 7;
  o.max_test = 2;
  const Cifar10 c = load_cifar10(o);
  ASSERT_EQ(c.train.size(), 7);
  ASSERT_EQ(c.test.size(), 2);
  EXPECT_EQ(c.train.labels[6], fake_label(2, 0));  // 3 + 3 + first record of data_batch_3
  EXPECT_EQ(c.train.image(6)[5], fake_pixel(2, 0, 5));
}

TEST(Cifar10, MissingBatchFileIsNamedWithFetchHint) {
  TempDir dir;
  write_fake_cifar(dir.path(), 1);
  fs::remove(dir.path() / kCifarBatchDir / "data_batch_3.bin");
  Cifar10Options o = fake_options(dir, 1);
  o.max_train = 1;  // even a first-N run checks that every file exists
  const std::string msg = error_of([&] { load_cifar10(o); });
  EXPECT_NE(msg.find("missing file"), std::string::npos) << msg;
  EXPECT_NE(msg.find("data_batch_3.bin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("natgrad data fetch cifar10"), std::string::npos) << msg;
}

TEST(Cifar10, MissingFolderIsAnError) {
  TempDir dir;
  const std::string msg = error_of([&] { load_cifar10(fake_options(dir, 1)); });
  EXPECT_NE(msg.find(kCifarBatchDir), std::string::npos) << msg;
}

TEST(Cifar10, PartialRecordReportsFileAndByteOffset) {
  TempDir dir;
  write_fake_cifar(dir.path(), 3);
  write_bytes(dir.path() / kCifarBatchDir / "data_batch_2.bin", fake_batch(1, 3) + "12345");
  const std::string msg = error_of([&] { load_cifar10(fake_options(dir, 3)); });
  EXPECT_NE(msg.find("data_batch_2.bin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("9224 bytes"), std::string::npos) << msg;
  EXPECT_NE(msg.find("byte offset 9219"), std::string::npos) << msg;  // 3 * 3073
}

TEST(Cifar10, BatchFileWithOtherThanTheExpectedRecordCountIsNamed) {
  TempDir dir;
  write_fake_cifar(dir.path(), 3);
  for (const std::string& bytes : {std::string(), fake_batch(0, 2), fake_batch(0, 4)}) {
    write_bytes(dir.path() / kCifarBatchDir / "data_batch_1.bin", bytes);
    const std::string msg = error_of([&] { load_cifar10(fake_options(dir, 3)); });
    EXPECT_NE(msg.find("data_batch_1.bin: holds " + std::to_string(bytes.size() / kCifarRecordBytes) +
                       " records"), std::string::npos) << msg;
    EXPECT_NE(msg.find("expected exactly 3"), std::string::npos) << msg;
  }
  write_bytes(dir.path() / kCifarBatchDir / "data_batch_1.bin", fake_batch(0, 3));
  write_bytes(dir.path() / kCifarBatchDir / "test_batch.bin", fake_batch(5, 1));
  const std::string msg = error_of([&] { check_cifar10_files(dir.str(), 3); });
  EXPECT_NE(msg.find("test_batch.bin: holds 1 records"), std::string::npos) << msg;
}

TEST(Cifar10, LabelOutsideZeroToNineReportsRecordAndByteOffset) {
  TempDir dir;
  write_fake_cifar(dir.path(), 3);
  std::string bytes = fake_batch(3, 3);
  bytes[2 * kCifarRecordBytes] = 10;
  write_bytes(dir.path() / kCifarBatchDir / "data_batch_4.bin", bytes);
  const std::string msg = error_of([&] { load_cifar10(fake_options(dir, 3)); });
  EXPECT_NE(msg.find("data_batch_4.bin"), std::string::npos) << msg;
  EXPECT_NE(msg.find("record 2 at byte offset 6146"), std::string::npos) << msg;
  EXPECT_NE(msg.find("label 10"), std::string::npos) << msg;
}

TEST(Cifar10, BadLabelInTestBatchIsFound) {
  TempDir dir;
  write_fake_cifar(dir.path(), 2);
  std::string bytes = fake_batch(5, 2);
  bytes[kCifarRecordBytes] = static_cast<char>(255);
  write_bytes(dir.path() / kCifarBatchDir / "test_batch.bin", bytes);
  const std::string msg = error_of([&] { load_cifar10(fake_options(dir, 2)); });
  EXPECT_NE(msg.find("test_batch.bin: record 1 at byte offset 3073 has label 255"), std::string::npos) << msg;
}

TEST(Cifar10, MetaFileMustExistAndListTenClasses) {
  TempDir dir;
  write_fake_cifar(dir.path(), 1);
  const fs::path meta = dir.path() / kCifarBatchDir / "batches.meta.txt";
  write_bytes(meta, "airplane\nautomobile\n\n");
  std::string msg = error_of([&] { load_cifar10(fake_options(dir, 1)); });
  EXPECT_NE(msg.find("batches.meta.txt lists 2 class names, expected 10"), std::string::npos) << msg;
  fs::remove(meta);
  msg = error_of([&] { load_cifar10(fake_options(dir, 1)); });
  EXPECT_NE(msg.find("missing file"), std::string::npos) << msg;
  EXPECT_NE(msg.find("batches.meta.txt"), std::string::npos) << msg;
}

TEST(Cifar10, ValidationSplitIsSeededDisjointAndComplete) {
  TempDir dir;
  write_fake_cifar(dir.path(), 4);  // 20 training records, labels identify (file, record) pairs
  Cifar10Options o = fake_options(dir, 4);
  o.validation_size = 6;
  o.validation_seed = 11;
  const Cifar10 a = load_cifar10(o), b = load_cifar10(o);
  ASSERT_EQ(a.train.size(), 14);
  ASSERT_EQ(a.validation.size(), 6);
  EXPECT_EQ(a.validation.pixels, b.validation.pixels);
  EXPECT_EQ(a.train.labels, b.train.labels);

  // Pixel byte 0 identifies the record; together the splits hold each record exactly once.
  std::vector<int> seen;
  for (const ImageDataset* ds : {&a.train, &a.validation})
    for (int64_t i = 0; i < ds->size(); ++i) seen.push_back(ds->image(i)[0]);
  std::vector<int> all;
  for (int f = 0; f < 5; ++f)
    for (int r = 0; r < 4; ++r) all.push_back(fake_pixel(f, r, 0));
  std::sort(seen.begin(), seen.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(seen, all);

  o.validation_seed = 12;
  EXPECT_NE(load_cifar10(o).validation.pixels, a.validation.pixels);
}

TEST(Cifar10, ValidationSizeMustLeaveTrainingRecords) {
  TempDir dir;
  write_fake_cifar(dir.path(), 1);
  Cifar10Options o = fake_options(dir, 1);
  o.validation_size = 5;
  const std::string msg = error_of([&] { load_cifar10(o); });
  EXPECT_NE(msg.find("validation_size 5"), std::string::npos) << msg;
}

TEST(Cifar10, RealDataFirstRecordsMatchTheFiles) {
  if (!have_real_cifar()) GTEST_SKIP() << "no CIFAR-10 copy at " << real_cifar_root();
  Cifar10Options o;
  o.root = real_cifar_root();
  o.max_train = 2;
  o.max_test = 2;
  const Cifar10 c = load_cifar10(o);
  ASSERT_EQ(c.train.size(), 2);
  EXPECT_EQ(c.train.labels, (std::vector<int64_t>{6, 9}));  // frog, truck
  EXPECT_EQ(c.test.labels, (std::vector<int64_t>{3, 8}));   // cat, ship
  EXPECT_EQ(c.train.class_names[6], "frog");
  std::ifstream f(fs::path(o.root) / kCifarBatchDir / "data_batch_1.bin", std::ios::binary);
  std::string rec(2 * kCifarRecordBytes, '\0');
  f.read(rec.data(), static_cast<std::streamsize>(rec.size()));
  EXPECT_TRUE(std::equal(c.train.image(1), c.train.image(1) + kCifarImageBytes,
                         reinterpret_cast<const uint8_t*>(rec.data()) + kCifarRecordBytes + 1));
}

}  // namespace
}  // namespace ng::data::test
