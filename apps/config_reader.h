// apps/config_reader.h — strict, path-aware reading of JSON configs.
//
// A ConfigNode wraps one JSON object and its path ("optimizer.fallback"). Each accessor reads one key,
// checks its type and range, and remembers that the key is known; finish() then rejects every key that
// was never read. So an unknown key, a wrong type or an out-of-range value is one ConfigError naming the
// JSON path and what was expected — the config is the single source of truth and nothing is ignored.
// A node may also be given a `resolved` JSON object: every accessor then writes the value it returns (the
// given one or the default) under the same key, so reading a config also produces its complete, resolved
// form (what a run directory records as config.json).
#pragma once
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace ng::app {

class ConfigError : public Error {
 public:
  using Error::Error;
};

class ConfigNode {
 public:
  ConfigNode(const nlohmann::json& j, std::string path, nlohmann::json* resolved = nullptr);

  const std::string& path() const { return path_; }
  std::string key_path(const std::string& key) const;  // "optimizer.lr"
  bool has(const std::string& key) const;
  std::vector<std::string> keys() const;  // the keys the config holds here

  double number(const std::string& key, double def, double lo, double hi);
  double number(const std::string& key, double lo, double hi);  // required
  int64_t integer(const std::string& key, int64_t def, int64_t lo, int64_t hi);
  bool boolean(const std::string& key, bool def);
  std::string choice(const std::string& key, const std::string& def, const std::vector<std::string>& options);
  std::string choice(const std::string& key, const std::vector<std::string>& options);  // required
  std::string string(const std::string& key, const std::string& def);
  std::vector<double> numbers(const std::string& key, const std::vector<double>& def, size_t size, double lo,
                              double hi);
  std::vector<int64_t> integers(const std::string& key, const std::vector<int64_t>& def, int64_t lo, int64_t hi);
  // A nested object; an absent key gives an empty object (all defaults).
  ConfigNode object(const std::string& key);
  // A list of objects (e.g. model.layers).
  std::vector<ConfigNode> objects(const std::string& key);
  // Marks a key as known without reading it (the caller reads it through raw() and records what it
  // made of it with resolve()).
  const nlohmann::json* raw(const std::string& key);
  void resolve(const std::string& key, const nlohmann::json& value);
  // A ConfigError for `key` saying what was expected and what the config holds.
  [[noreturn]] void fail(const std::string& key, const std::string& expected, const nlohmann::json& got) const;
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

  // Throws for every key that no accessor asked for.
  void finish() const;

 private:
  const nlohmann::json* get(const std::string& key);
  template <class V>
  V record(const std::string& key, V value) {
    resolve(key, value);
    return value;
  }

  const nlohmann::json& j_;
  std::string path_;
  std::set<std::string> known_;
  nlohmann::json* out_ = nullptr;  // the resolved form (may be null)
};

// Parses a file; a missing file or a JSON syntax error is a ConfigError naming the file.
nlohmann::json read_json_file(const std::string& path);

// Applies one `--set a.b.c=value` override (value parsed as JSON, else taken as a string). The path's
// parent objects must exist or are created; the result is validated later like any config.
void apply_override(nlohmann::json& config, const std::string& assignment);

}  // namespace ng::app
