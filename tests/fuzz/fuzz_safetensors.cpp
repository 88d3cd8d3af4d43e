// tests/fuzz/fuzz_safetensors.cpp — libFuzzer target for core/safetensors' reader (load_safetensors).
//
// The first byte picks the input's form: even — the rest is the file itself (seeds in corpus/safetensors);
// odd — a file built from the bytes: a header length (right or chosen), a JSON header of tensor entries
// whose dtypes, shapes and data offsets are drawn around the integer limits, duplicate names, a
// __metadata__ entry, and at one chosen place a value nested tens of thousands deep, then a data buffer.
// Any ng::Error (or other std::exception) is a rejection; a crash, leak or sanitizer report is a finding.
#include <string>

#include "core/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using ng::fuzz::FuzzBytes;

std::string number_or_nested(FuzzBytes& in, bool nest) {
  if (nest) return ng::fuzz::nested_json(ng::fuzz::fuzz_depth(in), in.u8() & 1);
  const uint8_t form = in.u8() % 8;
  if (form == 0) return "-1";
  if (form == 1) return "1.5";
  if (form == 2) return "\"7\"";
  return std::to_string(ng::fuzz::fuzz_size(in));
}

std::string entry(FuzzBytes& in, int nest_field, uint64_t& offset) {
  static const char* kDTypes[] = {"F32", "BF16", "F64", "I64", "U8", "", "f32", "F16"};
  const std::string dtype = kDTypes[in.below(8)];
  std::string shape = "[";
  uint64_t count = 1;
  const int dims = static_cast<int>(in.below(5));
  for (int d = 0; d < dims; ++d) {
    const uint64_t v = in.u8() & 1 ? in.below(5) : ng::fuzz::fuzz_size(in);
    shape += (d ? "," : "") + (nest_field == 1 && d == 0 ? number_or_nested(in, true) : std::to_string(v));
    count *= v;
  }
  shape += "]";
  const uint64_t bytes = count * (dtype == "F64" || dtype == "I64" ? 8 : dtype == "F32" ? 4 : 2);
  std::string offsets;
  if (nest_field == 2 || in.u8() % 4 == 0)
    offsets = "[" + number_or_nested(in, nest_field == 2) + "," + number_or_nested(in, false) + "]";
  else
    offsets = "[" + std::to_string(offset) + "," + std::to_string(offset + bytes) + "]";
  offset += bytes;
  std::string e = "{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets;
  if (nest_field == 3) e += ",\"extra\":" + number_or_nested(in, true);
  return e + "}";
}

std::string built_file(FuzzBytes& in) {
  const int entries = static_cast<int>(in.below(4));
  const int nest_at = static_cast<int>(in.below(entries + 2));  // an entry, the metadata, or nowhere
  const int nest_field = 1 + static_cast<int>(in.below(3));
  std::string header = "{";
  if (nest_at == entries || in.u8() % 3 == 0) {
    header += "\"__metadata__\":{\"k\":";
    header += nest_at == entries ? number_or_nested(in, true) : "\"v\"";
    header += "},";
  }
  uint64_t offset = 0;
  for (int i = 0; i < entries; ++i)
    header += "\"t" + std::to_string(in.below(3)) + "\":" + entry(in, i == nest_at ? nest_field : 0, offset) + ",";
  if (header.back() == ',') header.pop_back();
  header += "}";
  const uint64_t len = in.u8() % 4 == 0 ? ng::fuzz::fuzz_size(in) : header.size();
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>(len >> (8 * i));
  const size_t data = std::min<uint64_t>(in.u8() % 2 ? offset : in.below(4096), 1 << 20);
  return file + header + std::string(data, '\x3f') + in.rest();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzBytes in(data, size);
  const bool built = in.u8() & 1;
  const std::string bytes = built ? built_file(in) : in.rest();
  const std::string path = ng::fuzz::write_scratch(ng::fuzz::scratch_dir() / "in.safetensors", bytes);
  try {
    const ng::SafetensorsFile f = ng::load_safetensors(path);
    for (const auto& [name, t] : f.tensors) (void)t.nbytes();
  } catch (const std::exception&) {
  }
  return 0;
}
