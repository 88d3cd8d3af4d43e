// tests/data/data_test_util.h — helpers shared by the data tests: scratch folders, fake CIFAR-10
// batch files, and the location of the real CIFAR-10 copy in ../shared/data.
#pragma once
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/error.h"
#include "data/cifar10.h"

namespace ng::data::test {

namespace fs = std::filesystem;

// A fresh folder under the system temp folder, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("natgrad_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

inline void write_bytes(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Pixel byte k of fake record r in file f: distinct enough to catch any mix-up of records or planes.
inline uint8_t fake_pixel(int f, int r, int k) { return static_cast<uint8_t>(f * 31 + r * 7 + k * 13); }
inline uint8_t fake_label(int f, int r) { return static_cast<uint8_t>((f * 3 + r) % 10); }

// `records` fake 3073-byte records of batch file number f (0..5).
inline std::string fake_batch(int f, int records) {
  std::string s;
  for (int r = 0; r < records; ++r) {
    s += static_cast<char>(fake_label(f, r));
    for (int k = 0; k < kCifarImageBytes; ++k) s += static_cast<char>(fake_pixel(f, r, k));
  }
  return s;
}

inline const char* kFakeMeta = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";

// root/cifar-10-batches-bin/ with `records` fake records in each of the six files.
inline void write_fake_cifar(const fs::path& root, int records) {
  const auto& files = cifar10_batch_files();
  for (int f = 0; f < 6; ++f) write_bytes(root / kCifarBatchDir / files[f], fake_batch(f, records));
  write_bytes(root / kCifarBatchDir / "batches.meta.txt", kFakeMeta);
}

// The real CIFAR-10 copy beside the repository (see ../shared/data/README.md).
inline std::string real_cifar_root() { return NATGRAD_SOURCE_DIR "/../shared/data"; }
inline bool have_real_cifar() { return fs::is_directory(fs::path(real_cifar_root()) / kCifarBatchDir); }

// Runs fn and returns the ng::Error message it throws; fails the test if it throws nothing.
template <class F>
std::string error_of(F&& fn) {
  try {
    fn();
  } catch (const ng::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an ng::Error";
  return {};
}

}  // namespace ng::data::test
