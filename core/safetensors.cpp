// core/safetensors.cpp — safetensors writer (atomic, byte-compatible with the python package) and a
// validating reader. Format and layout rules: see core/safetensors.h.
#include "core/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/json_input.h"

namespace ng {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian bytes; natgrad copies raw memory");

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the python package refuses larger headers too

// `rank` orders tensors in the file: the python package sorts by its Dtype enum, largest first.
struct DTypeInfo {
  DType dtype;
  const char* name;
  int rank;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::i64, "I64", 3}, {DType::f64, "F64", 2}, {DType::f32, "F32", 1}, {DType::bf16, "BF16", 0}};

const DTypeInfo& info_of(DType t) {
  for (const auto& d : kDTypes)
    if (d.dtype == t) return d;
  NG_FAIL("safetensors: unsupported dtype ", dtype_name(t));
}

const DTypeInfo* info_from_name(const std::string& s) {
  for (const auto& d : kDTypes)
    if (s == d.name) return &d;
  return nullptr;
}

std::string errno_text() { return std::strerror(errno); }

// ---- writing ----------------------------------------------------------------------------------

struct OutEntry {
  std::string name;
  Tensor cpu;  // contiguous CPU copy (or the tensor itself when it already is one)
  int rank;
};

std::string header_json(const std::vector<OutEntry>& order,
                        const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    h["__metadata__"] = std::move(m);
  }
  uint64_t offset = 0;
  for (const auto& e : order) {
    uint64_t bytes = e.cpu.nbytes();
    nlohmann::ordered_json entry = nlohmann::ordered_json::object();
    entry["dtype"] = info_of(e.cpu.dtype()).name;
    entry["shape"] = nlohmann::ordered_json::array();
    for (int64_t d : e.cpu.shape()) entry["shape"].push_back(d);
    entry["data_offsets"] = nlohmann::ordered_json::array({offset, offset + bytes});
    h[e.name] = std::move(entry);
    offset += bytes;
  }
  std::string s;
  try {
    s = h.dump();
  } catch (const nlohmann::json::exception& ex) {  // invalid UTF-8 in a name or metadata string
    NG_FAIL("save_safetensors: names and metadata must be valid UTF-8: ", ex.what());
  }
  s.append((8 - s.size() % 8) % 8, ' ');
  return s;
}

constexpr const char* kTempSuffix = ".tmp.";  // mkstemp replaces the six X of "<path>.tmp.XXXXXX"

// The temporary file of one write: closed and removed by the destructor unless commit() renamed it.
class TempFile {
 public:
  explicit TempFile(const std::string& target) : target_(target), path_(target + kTempSuffix + "XXXXXX") {
    fd_ = ::mkstemp(path_.data());
    check(fd_ >= 0, "cannot create a temporary file next to it");
    ::fchmod(fd_, 0644);
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  // Writes all n bytes (a short write is continued where it stopped).
  void write(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w == 0) errno = ENOSPC;  // no progress: treat as a full device
      check(w > 0, "write failed");
      p += w;
      n -= static_cast<size_t>(w);
    }
  }

  // fsync, close, rename over the target, fsync the directory.
  void commit() {
    check(::fsync(fd_) == 0, "fsync failed");
    const int fd = fd_;
    fd_ = -1;
    check(::close(fd) == 0, "close failed");
    check(::rename(path_.c_str(), target_.c_str()) == 0, "rename of the temporary file over it failed");
    committed_ = true;
    const std::string dir = std::filesystem::path(target_).parent_path().string();
    const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {  // best effort: some file systems cannot sync directories
      ::fsync(dfd);
      ::close(dfd);
    }
  }

 private:
  // An error naming the target, the step that failed and errno's reason.
  void check(bool ok, const char* what) const {
    NG_CHECK(ok, "save_safetensors: cannot write ", target_, ": ", what, " (", path_, "): ", errno_text());
  }

  std::string target_, path_;
  int fd_ = -1;
  bool committed_ = false;
};

// ---- reading ----------------------------------------------------------------------------------

struct InEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

uint64_t read_u64_le(const unsigned char* b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

// Parses one tensor entry of the header; `where` prefixes every error.
InEntry parse_entry(const std::string& where, const std::string& name, const nlohmann::json& e) {
  const std::string at = where + ": tensor '" + text_excerpt(name) + "'";
  NG_CHECK(e.is_object(), at, ": expected an object {dtype, shape, data_offsets}, got ", json_excerpt(e));
  for (const auto& [k, v] : e.items()) {
    (void)v;
    NG_CHECK(k == "dtype" || k == "shape" || k == "data_offsets", at, ": unexpected field '", text_excerpt(k),
             "' (expected dtype, shape, data_offsets)");
  }
  NG_CHECK(e.contains("dtype") && e["dtype"].is_string(), at, ": expected a string field 'dtype'");
  NG_CHECK(e.contains("shape") && e["shape"].is_array(), at, ": expected an array field 'shape'");
  NG_CHECK(e.contains("data_offsets") && e["data_offsets"].is_array() && e["data_offsets"].size() == 2 &&
               e["data_offsets"][0].is_number_unsigned() && e["data_offsets"][1].is_number_unsigned(),
           at, ": expected 'data_offsets' = [begin, end] (non-negative integers), got ",
           json_excerpt(e.value("data_offsets", nlohmann::json())));

  InEntry out;
  out.name = name;
  const std::string dt = e["dtype"].get<std::string>();
  const DTypeInfo* info = info_from_name(dt);
  NG_CHECK(info, at, ": unknown dtype '", text_excerpt(dt), "' (natgrad reads F32, BF16, F64, I64)");
  out.dtype = info->dtype;

  uint64_t count = 1;
  for (const auto& d : e["shape"]) {
    NG_CHECK(d.is_number_unsigned(), at, ": shape entries must be non-negative integers, got ",
             json_excerpt(e["shape"]));
    uint64_t v = d.get<uint64_t>();
    NG_CHECK(v <= static_cast<uint64_t>(INT64_MAX) && !__builtin_mul_overflow(count, v, &count), at,
             ": shape ", json_excerpt(e["shape"]), " overflows");
    out.shape.push_back(static_cast<int64_t>(v));
  }
  out.begin = e["data_offsets"][0].get<uint64_t>();
  out.end = e["data_offsets"][1].get<uint64_t>();
  NG_CHECK(out.begin <= out.end, at, ": data_offsets [", out.begin, ", ", out.end,
           "] must satisfy begin <= end");
  uint64_t bytes = 0;
  NG_CHECK(!__builtin_mul_overflow(count, static_cast<uint64_t>(dtype_size(out.dtype)), &bytes), at,
           ": shape ", json_excerpt(e["shape"]), " overflows");
  NG_CHECK(out.end - out.begin == bytes, at, ": data_offsets [", out.begin, ", ", out.end, "] span ",
           out.end - out.begin, " bytes, but dtype ", dt, " and shape ", shape_str(out.shape), " need ",
           bytes);
  return out;
}

// Parses the JSON header into entries and metadata (parse_json_strict: no duplicate keys, bounded depth).
std::vector<InEntry> parse_header(const std::string& where, const std::string& text,
                                  std::map<std::string, std::string>& metadata) {
  nlohmann::json h;
  try {
    h = parse_json_strict(text);
  } catch (const Error& ex) {
    NG_FAIL(where, ": bad JSON header: ", ex.what());
  }
  NG_CHECK(h.is_object(), where, ": the JSON header must be an object, got ", h.type_name());

  std::vector<InEntry> entries;
  for (const auto& [name, e] : h.items()) {
    if (name == "__metadata__") {
      NG_CHECK(e.is_object(), where, ": __metadata__ must be an object of strings, got ", json_excerpt(e));
      for (const auto& [k, v] : e.items()) {
        NG_CHECK(v.is_string(), where, ": __metadata__['", text_excerpt(k), "'] must be a string, got ", json_excerpt(v));
        metadata[k] = v.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(where, name, e));
  }
  return entries;
}

// Every data byte belongs to exactly one tensor (the format forbids overlaps and holes).
void check_coverage(const std::string& where, std::vector<InEntry>& entries, uint64_t data_size) {
  for (const auto& e : entries)
    NG_CHECK(e.end <= data_size, where, ": truncated: tensor '", text_excerpt(e.name), "' has data_offsets [", e.begin,
             ", ", e.end, "] but the data buffer holds only ", data_size, " bytes");
  std::sort(entries.begin(), entries.end(), [](const InEntry& a, const InEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const InEntry* prev = nullptr;
  for (const auto& e : entries) {
    NG_CHECK(e.begin >= covered, where, ": data ranges overlap: tensor '", text_excerpt(e.name), "' [", e.begin, ", ",
             e.end, ") starts inside tensor '", prev ? text_excerpt(prev->name) : "", "' [", prev ? prev->begin : 0,
             ", ", covered, ")");
    NG_CHECK(e.begin == covered, where, ": bytes [", covered, ", ", e.begin,
             ") of the data buffer belong to no tensor (expected tensor '", text_excerpt(e.name), "' to start at ",
             covered, ")");
    covered = e.end;
    prev = &e;
  }
  NG_CHECK(covered == data_size, where, ": the data buffer has ", data_size, " bytes but the tensors use ",
           covered, " (trailing bytes)");
}

}  // namespace

const Tensor* SafetensorsFile::find(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

const char* safetensors_dtype_name(DType t) { return info_of(t).name; }

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::vector<OutEntry> order;
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) {
    NG_CHECK(!name.empty() && name != "__metadata__", "save_safetensors: ", path,
             ": invalid tensor name '", name, "'");
    NG_CHECK(names.insert(name).second, "save_safetensors: ", path, ": tensor name '", name,
             "' given twice");
    NG_CHECK(t.defined(), "save_safetensors: ", path, ": tensor '", name, "' is undefined");
    Tensor cpu = t.to(Device::cpu()).contiguous();
    order.push_back({name, cpu, info_of(cpu.dtype()).rank});
  }
  std::sort(order.begin(), order.end(), [](const OutEntry& a, const OutEntry& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.name < b.name;
  });
  const std::string header = header_json(order, metadata);

  TempFile file(path);
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(header.size() >> (8 * i));
  file.write(len, 8);
  file.write(header.data(), header.size());
  for (const auto& e : order)
    if (e.cpu.numel() > 0) file.write(e.cpu.raw_data(), e.cpu.nbytes());
  file.commit();
}

int remove_stale_temporaries(const std::string& path) {
  const std::filesystem::path target(path);
  const std::string prefix = target.filename().string() + kTempSuffix;
  std::error_code ec;
  int removed = 0;
  for (const auto& e : std::filesystem::directory_iterator(
           target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() == prefix.size() + 6 && name.compare(0, prefix.size(), prefix) == 0 &&
        std::filesystem::remove(e.path(), ec))
      ++removed;
  }
  return removed;
}

SafetensorsFile load_safetensors(const std::string& path) {
  const std::string where = "load_safetensors: " + path;
  std::error_code ec;
  NG_CHECK(std::filesystem::exists(path, ec), where, ": file not found");
  NG_CHECK(std::filesystem::is_regular_file(path, ec), where, ": not a regular file");
  const uint64_t file_size = std::filesystem::file_size(path, ec);
  NG_CHECK(!ec, where, ": cannot read the size: ", ec.message());
  std::ifstream in(path, std::ios::binary);
  NG_CHECK(in, where, ": cannot open: ", errno_text());

  NG_CHECK(file_size >= 8, where, ": truncated: ", file_size,
           " bytes, expected at least 8 (the header length)");
  unsigned char len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  const uint64_t n = read_u64_le(len);
  NG_CHECK(n <= kMaxHeaderBytes, where, ": header length ", n, " exceeds the limit of ", kMaxHeaderBytes,
           " bytes (not a safetensors file?)");
  NG_CHECK(n <= file_size - 8, where, ": truncated: header length ", n, " runs past the end of the ",
           file_size, "-byte file");
  std::string text(n, '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  NG_CHECK(in, where, ": read of the header failed");

  SafetensorsFile out;
  std::vector<InEntry> entries = parse_header(where, text, out.metadata);
  const uint64_t data_start = 8 + n;
  check_coverage(where, entries, file_size - data_start);

  for (const auto& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) {
      in.seekg(static_cast<std::streamoff>(data_start + e.begin));
      in.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(e.end - e.begin));
      NG_CHECK(in, where, ": read of tensor '", e.name, "' failed");
    }
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

}  // namespace ng
