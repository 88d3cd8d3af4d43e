// tests/fuzz/fuzz_util.h — helpers shared by the libFuzzer targets of tests/fuzz/: typed values read from
// the fuzz bytes (structure-aware targets build their input from them), deeply nested JSON text, and a
// per-process scratch folder for readers that take paths.
#pragma once
#include <stdlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace ng::fuzz {

// Consumes the fuzz input front to back; past its end every value reads as zero / empty.
class FuzzBytes {
 public:
  FuzzBytes(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  bool empty() const { return n_ == 0; }
  uint8_t u8() {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  uint32_t u32() { return static_cast<uint32_t>(u16()) | static_cast<uint32_t>(u16()) << 16; }
  uint64_t u64() { return static_cast<uint64_t>(u32()) | static_cast<uint64_t>(u32()) << 32; }
  // A value in [0, n) (n > 0).
  uint32_t below(uint32_t n) { return u32() % n; }
  // A string of up to `max` bytes, its length taken from the input.
  std::string str(size_t max) {
    size_t len = std::min<size_t>(u8() % (max + 1), n_);
    std::string s(reinterpret_cast<const char*>(p_), len);
    p_ += len;
    n_ -= len;
    return s;
  }
  // Everything not consumed yet.
  std::string rest() {
    std::string s(reinterpret_cast<const char*>(p_), n_);
    p_ += n_;
    n_ = 0;
    return s;
  }

 private:
  uint16_t u16() { return static_cast<uint16_t>(u8() | u8() << 8); }
  const uint8_t* p_;
  size_t n_;
};

// `depth` nested JSON arrays ("[[[]]]") or objects ({"a":{"a":{}}}) — what plain mutation cannot reach.
inline std::string nested_json(size_t depth, bool objects) {
  std::string s;
  s.reserve(depth * (objects ? 6 : 2));
  for (size_t i = 0; i < depth; ++i) s += objects ? "{\"a\":" : "[";
  s += objects ? "{}" : "[]";
  for (size_t i = 0; i < depth; ++i) s += objects ? "}" : "]";
  return s;
}

// Depths that cross the interesting limits (a few levels, recursion limits, the stack) chosen by the input.
inline size_t fuzz_depth(FuzzBytes& in) {
  constexpr size_t kDepths[] = {1, 2, 100, 1000, 10000, 70000, 200000};
  return kDepths[in.below(sizeof kDepths / sizeof kDepths[0])] + in.u8();
}

// Integers around the limits of the readers' types.
inline uint64_t fuzz_size(FuzzBytes& in) {
  constexpr uint64_t kSizes[] = {0, 1, 2, 3, 8, 255, 3073, 10000, 65536, uint64_t{1} << 31, uint64_t{1} << 32,
                                 (uint64_t{1} << 53) + 1, uint64_t{1} << 62, INT64_MAX, UINT64_MAX};
  const uint8_t pick = in.u8();
  return pick < sizeof kSizes / sizeof kSizes[0] ? kSizes[pick] : in.u64();
}

// A folder under the temp dir, made once per process and removed at exit; targets overwrite its files.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "natgrad-fuzz-XXXXXX").string();
    std::filesystem::path d = mkdtemp(tmpl.data());
    static struct Remover {
      std::filesystem::path p;
      ~Remover() {
        std::error_code ec;
        std::filesystem::remove_all(p, ec);
      }
    } remover{d};
    return d;
  }();
  return dir;
}

inline std::string write_scratch(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return path.string();
}

}  // namespace ng::fuzz
