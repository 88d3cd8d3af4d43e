// core/safetensors.h — reading and writing the safetensors file format (Hugging Face, format v1).
//
// Layout: an 8-byte little-endian header length n, n bytes of JSON
//   {"__metadata__": {str: str}, name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
// padded with spaces to a multiple of 8, then the byte buffer that data_offsets index (relative to its
// start). natgrad reads and writes the dtypes it has: F32, BF16, F64, I64.
//
// The writer lays the file out exactly as the python `safetensors` package (Rust core) does, so a state
// saved here is byte-identical to safetensors.torch.save_file of the same tensors: tensors are stored in
// order of decreasing dtype rank (I64, F64, F32, BF16 — the package's enum order), ties by name (bytes);
// `__metadata__` comes first and is omitted when empty. (The package writes metadata keys in hash order, so
// files with two or more metadata keys can differ in that order; natgrad sorts them by key.)
// Writing is atomic: a temporary file in the same directory ("<path>.tmp.XXXXXX"), fsync, rename, fsync of
// the directory. A failed write (disk full, file size limit, I/O error, failed fsync, close or rename) is
// an ng::Error naming `path` and the system's reason; the temporary file is removed and whatever `path`
// held before is untouched. Only a process killed mid-write leaves its temporary behind
// (remove_stale_temporaries).
// Loading validates every field and names the file and the expectation in each error; the tensors come back
// in file (data offset) order.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ng {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

struct SafetensorsFile {
  NamedTensors tensors;                         // file order (increasing data offset)
  std::map<std::string, std::string> metadata;  // the "__metadata__" entry (empty if absent)

  // The tensor called `name`, or nullptr.
  const Tensor* find(const std::string& name) const;
};

// Writes `tensors` (any device, any layout; copied to contiguous CPU bytes) and `metadata` to `path`.
// Names must be unique, non-empty and not "__metadata__".
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Removes the temporary files of writes to `path` that were killed before their rename; returns how many.
// Only for a path no other process is writing at the same time.
int remove_stale_temporaries(const std::string& path);

// Reads and validates `path`; every tensor is a fresh contiguous CPU tensor.
SafetensorsFile load_safetensors(const std::string& path);

// The safetensors dtype string of a natgrad dtype ("F32", "BF16", "F64", "I64").
const char* safetensors_dtype_name(DType t);

}  // namespace ng
