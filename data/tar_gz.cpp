// data/tar_gz.cpp — streaming tar.gz extraction (ustar layout: IEEE Std 1003.1-1988 / POSIX.1 `ustar`).
#include "data/tar_gz.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "core/error.h"

namespace ng::data {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kBlock = 512;

// The decompressed tar stream, with the running byte offset for error messages.
class TarStream {
 public:
  explicit TarStream(const std::string& path) : path_(path), gz_(gzopen(path.c_str(), "rb"), gzclose) {
    NG_CHECK(gz_, "extract: cannot open ", path);
  }
  int64_t offset() const { return offset_; }

  // Reads up to n bytes; returns the count (< n only at the end of the stream).
  int64_t read(void* buf, int64_t n) {
    const int r = gzread(gz_.get(), buf, static_cast<unsigned>(n));
    if (r < 0) {
      int code = 0;
      const char* msg = gzerror(gz_.get(), &code);
      NG_FAIL("extract: ", path_, ": corrupt gzip data near tar byte offset ", offset_, " (", msg, ")");
    }
    offset_ += r;
    return r;
  }
  // Reads to the end so zlib verifies the gzip trailer's CRC-32 and length; a short stream is an error.
  void drain() {
    std::vector<char> buf(1 << 16);
    while (read(buf.data(), static_cast<int64_t>(buf.size())) > 0) {
    }
    int code = 0;
    const char* msg = gzerror(gz_.get(), &code);
    NG_CHECK(code == Z_OK || code == Z_STREAM_END, "extract: ", path_, ": gzip stream ends badly after tar byte offset ",
             offset_, " (", msg, ")");
  }
  void read_exact(void* buf, int64_t n, const char* what) {
    const int64_t at = offset_;
    NG_CHECK(read(buf, n) == n, "extract: ", path_, ": archive truncated in ", what, " at tar byte offset ", at);
  }

 private:
  std::string path_;
  int64_t offset_ = 0;
  std::unique_ptr<gzFile_s, int (*)(gzFile)> gz_;
};

uint64_t parse_octal(const char* field, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n && field[i] != '\0' && field[i] != ' '; ++i) {
    if (field[i] < '0' || field[i] > '7') return UINT64_MAX;
    v = v * 8 + static_cast<uint64_t>(field[i] - '0');
  }
  return v;
}

std::string field_string(const char* field, size_t n) { return std::string(field, strnlen(field, n)); }

// Header checksum: the byte sum of the header with the checksum field read as eight spaces.
bool checksum_ok(const std::array<char, kBlock>& h) {
  uint64_t sum = 0;
  for (int64_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
  return parse_octal(&h[148], 8) == sum;
}

bool safe_name(const std::string& name) {
  if (name.empty() || name.front() == '/') return false;
  for (const auto& part : fs::path(name))
    if (part == "..") return false;
  return true;
}

}  // namespace

std::vector<std::string> extract_tar_gz(const std::string& archive, const std::string& dest) {
  TarStream in(archive);
  std::vector<std::string> written;
  std::vector<char> buf(1 << 20);
  std::array<char, kBlock> h{};
  for (;;) {
    const int64_t at = in.offset();
    in.read_exact(h.data(), kBlock, "a header");
    if (std::all_of(h.begin(), h.end(), [](char c) { return c == 0; })) break;  // end-of-archive block
    NG_CHECK(checksum_ok(h), "extract: ", archive, ": tar header at byte offset ", at,
             " has a bad checksum (corrupt archive)");
    std::string name = field_string(&h[0], 100);
    if (std::memcmp(&h[257], "ustar", 5) == 0 && h[345] != 0) name = field_string(&h[345], 155) + "/" + name;
    const uint64_t size = parse_octal(&h[124], 12);
    NG_CHECK(size != UINT64_MAX, "extract: ", archive, ": tar header at byte offset ", at, " has a bad size field");
    const char type = h[156];
    const bool regular = type == '0' || type == '\0';
    if (regular || type == '5') {
      NG_CHECK(safe_name(name), "extract: ", archive, ": refusing entry '", name, "' at byte offset ", at,
               " (absolute or containing ..)");
    }
    if (type == '5') fs::create_directories(fs::path(dest) / name);
    std::ofstream out;
    if (regular) {
      const fs::path target = fs::path(dest) / name;
      fs::create_directories(target.parent_path());
      out.open(target, std::ios::binary | std::ios::trunc);
      NG_CHECK(out.good(), "extract: cannot write ", target.string());
      written.push_back(name);
    }
    // The entry's data, padded to whole blocks (skipped for non-regular entries).
    for (uint64_t left = (size + kBlock - 1) / kBlock * kBlock, data = size; left > 0;) {
      const int64_t n = static_cast<int64_t>(std::min<uint64_t>(left, buf.size()));
      in.read_exact(buf.data(), n, ("the data of '" + name + "'").c_str());
      if (regular) out.write(buf.data(), static_cast<std::streamsize>(std::min<uint64_t>(data, n)));
      data -= std::min<uint64_t>(data, n);
      left -= n;
    }
    if (regular) NG_CHECK(out.good(), "extract: error writing ", (fs::path(dest) / name).string());
  }
  in.drain();
  return written;
}

}  // namespace ng::data
