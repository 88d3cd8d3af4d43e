// apps/tune_space.h — the search space of `natgrad tune` (format in configs/README.md, "tune") and the
// settings drawn from it.
//
// A space names a base config (a file, relative to the space file, or an inline object), overrides
// applied to it (`set`), and `params`: config key paths (the paths of `--set`) with a kind each —
//   {"choice": [v1, v2, ...]}       one of the listed JSON values
//   {"uniform": [lo, hi]}           a real number, uniform on [lo, hi]
//   {"log_uniform": [lo, hi]}       a real number, uniform in log on [lo, hi] (0 < lo)
//   {"int": [lo, hi]}               an integer in lo..hi
// optionally {"when": {"optimizer.type": "kfac" | [values]}}: the key is only set where the config (base
// with the unconditional params applied) holds one of those values at that path; and "steps": the number
// of grid points of a uniform or log_uniform key (grid strategy only).
// Settings come from a grid (every combination, the last key varying fastest) or from a scrambled Halton
// sequence: point i, dimension d is the radical inverse of i in the d-th prime base, shifted by a seeded
// uniform offset modulo 1 (a Cranley–Patterson rotation, Cranley & Patterson 1976), which keeps the
// sequence's low discrepancy while making each seed's set different.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ng::app {

struct TuneParam {
  std::string key;                   // config key path, e.g. "optimizer.lr"
  std::string kind;                  // choice, uniform, log_uniform, int
  std::vector<nlohmann::json> values;  // choice
  double lo = 0.0, hi = 0.0;         // uniform, log_uniform, int
  int64_t steps = 0;                 // grid points of uniform/log_uniform (0: not given)
  std::string when_key = {};         // condition (empty: none)
  std::vector<nlohmann::json> when_values = {};

  // The value at u in [0, 1) (real values rounded to 3 significant digits, kept in [lo, hi]).
  nlohmann::json value_at(double u) const;
  // Every grid value of this key.
  std::vector<nlohmann::json> grid_values() const;
};

struct HalvingSpec {
  bool enabled = false;
  int64_t min_epochs = 1;
  double eta = 3.0;
};

struct TuneSpace {
  nlohmann::json base;           // the base config with `set` applied
  std::string strategy;          // "grid" or "quasi_random"
  uint64_t seed = 0;
  double budget = 0.0;           // full-length trials (quasi_random)
  HalvingSpec halving;
  std::vector<TuneParam> params;  // in key order
};

// Reads a space (the JSON of a space file at `path`; a relative base path is relative to its folder).
// Every error is a ConfigError naming the key in the space.
TuneSpace parse_tune_space(const nlohmann::json& j, const std::string& path);

// One setting: key path -> value, only the keys whose condition holds, in key order.
using TuneSetting = nlohmann::json;

// Point `index` of the seeded, scrambled Halton sequence in `dims` dimensions (each coordinate in [0, 1)).
std::vector<double> halton_point(uint64_t index, size_t dims, uint64_t seed);

// `count` settings from the quasi-random sequence.
std::vector<TuneSetting> sample_settings(const TuneSpace& space, int64_t count);
// Every grid setting (combinations that differ only in keys whose condition fails appear once).
std::vector<TuneSetting> grid_settings(const TuneSpace& space);

// The base config with a setting applied.
nlohmann::json apply_setting(const nlohmann::json& base, const TuneSetting& setting);

// The JSON value at a dotted key path, or null.
nlohmann::json value_at_path(const nlohmann::json& config, const std::string& path);

}  // namespace ng::app
