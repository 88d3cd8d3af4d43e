// tests/fuzz/fuzz_cifar10.cpp — libFuzzer target for the CIFAR-10 binary reader (data/cifar10.h).
//
// The input builds a cifar-10-batches-bin folder: for each of the six batch files a size (a few records,
// a few records plus a torn tail, a size at the integer limits, or a whole number of records up to 4 TiB;
// large files are sparse, so that a terabyte costs nothing), label bytes for its first records (any value
// 0..255), and batches.meta.txt (ten names or the input's text); then the training/test record limits
// of Cifar10Options and a validation size. load_cifar10 must read exactly what the files hold or refuse with an error.
// Any std::exception is a rejection; a crash, leak, sanitizer report or out-of-memory is a finding.
#include <filesystem>
#include <fstream>
#include <string>

#include "data/cifar10.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using ng::fuzz::FuzzBytes;
namespace fs = std::filesystem;

constexpr uint64_t kRecord = ng::data::kCifarRecordBytes;

void write_batch(const fs::path& file, FuzzBytes& in) {
  const uint8_t form = in.u8() % 4;
  const uint64_t records = in.below(4);
  uint64_t size = records * kRecord;
  if (form == 1) size += in.below(kRecord);
  if (form == 2) size = std::min<uint64_t>(ng::fuzz::fuzz_size(in), uint64_t{1} << 42);
  if (form == 3) size = std::min<uint64_t>(ng::fuzz::fuzz_size(in), (uint64_t{1} << 42) / kRecord) * kRecord;
  std::string head(std::min<uint64_t>(size, records * kRecord), '\0');
  for (uint64_t r = 0; r < records && r * kRecord < head.size(); ++r)
    head[r * kRecord] = static_cast<char>(in.u8() % 2 ? in.u8() : in.below(10));
  ng::fuzz::write_scratch(file, head);
  fs::resize_file(file, size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzBytes in(data, size);
  const fs::path root = ng::fuzz::scratch_dir() / "root";
  const fs::path dir = root / ng::data::kCifarBatchDir;
  fs::create_directories(dir);
  for (const char* f : ng::data::cifar10_batch_files()) write_batch(dir / f, in);
  ng::data::Cifar10Options o;
  o.root = root.string();
  o.max_train = in.u8() % 2 ? -1 : static_cast<int64_t>(in.below(8));
  o.max_test = in.u8() % 2 ? -1 : static_cast<int64_t>(in.below(8));
  o.validation_size = static_cast<int64_t>(in.below(4)) - 1;
  o.validation_seed = in.u8();
  const bool names = in.u8() % 4 != 0;
  ng::fuzz::write_scratch(dir / "batches.meta.txt",
                          names ? "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n" : in.rest());
  try {
    const ng::data::Cifar10 c = ng::data::load_cifar10(o);
    (void)c.train.size();
  } catch (const std::exception&) {
  }
  return 0;
}
