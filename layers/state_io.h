// layers/state_io.h — a Module's weights (parameters + buffers) as a safetensors file with PyTorch's
// state_dict names, dtypes and layouts, so files move between natgrad and PyTorch in both directions
// (safetensors.torch.save_file(model.state_dict()) / load_state_dict(load_file(...)) on the other side).
//
// Loading is strict like load_state_dict(strict=True): every key of the module must be present, no other
// key may be, and shapes and dtypes must match exactly; each error names the key and expected vs found.
// Values are copied into the existing tensors (which keep their device and identity, so an optimizer
// holding parameter pointers stays valid).
#pragma once
#include <map>
#include <string>

#include "core/safetensors.h"
#include "layers/module.h"

namespace ng {

// The module's state as (name, tensor) pairs in state_dict order (tensors shared, not copied).
NamedTensors state_tensors(const Module& m);

// Copies `tensors` into the module's state, strictly; `source` (a file name) prefixes every error.
void load_state_tensors(Module& m, const NamedTensors& tensors, const std::string& source);

void save_state(const Module& m, const std::string& path, const std::map<std::string, std::string>& metadata = {});
void load_state(Module& m, const std::string& path);

}  // namespace ng
