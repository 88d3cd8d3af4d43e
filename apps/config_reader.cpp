// apps/config_reader.cpp — strict JSON config access with path-naming errors.
#include "apps/config_reader.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/json_input.h"

namespace ng::app {

namespace {
std::string type_of(const nlohmann::json& j) {
  if (j.is_boolean()) return "a boolean";
  if (j.is_number_integer() || j.is_number_unsigned()) return "an integer";
  if (j.is_number()) return "a number";
  if (j.is_string()) return "a string";
  if (j.is_array()) return "an array";
  if (j.is_object()) return "an object";
  return "null";
}

const nlohmann::json& empty_object() {
  static const nlohmann::json e = nlohmann::json::object();
  return e;
}
}  // namespace

ConfigNode::ConfigNode(const nlohmann::json& j, std::string path, nlohmann::json* resolved)
    : j_(j), path_(std::move(path)), out_(resolved) {
  if (!j_.is_object())
    throw ConfigError((path_.empty() ? std::string("config") : path_) + ": expected an object, got " + type_of(j_));
  if (out_ && !out_->is_object()) *out_ = nlohmann::json::object();
}

void ConfigNode::resolve(const std::string& key, const nlohmann::json& value) {
  known_.insert(key);
  if (out_) (*out_)[key] = value;
}

std::string ConfigNode::key_path(const std::string& key) const {
  const std::string k = text_excerpt(key, kExcerptChars / 2);
  return path_.empty() ? k : path_ + "." + k;
}

bool ConfigNode::has(const std::string& key) const { return j_.contains(key); }

std::vector<std::string> ConfigNode::keys() const {
  std::vector<std::string> out;
  for (auto it = j_.begin(); it != j_.end(); ++it) out.push_back(it.key());
  return out;
}

const nlohmann::json* ConfigNode::get(const std::string& key) {
  known_.insert(key);
  auto it = j_.find(key);
  return it == j_.end() ? nullptr : &*it;
}

void ConfigNode::fail(const std::string& key, const std::string& expected, const nlohmann::json& got) const {
  std::ostringstream os;
  os << key_path(key) << ": expected " << expected << ", got " << json_excerpt(got) << " (" << type_of(got) << ")";
  throw ConfigError(os.str());
}

void ConfigNode::fail(const std::string& key, const std::string& message) const {
  throw ConfigError(key_path(key) + ": " + message);
}

double ConfigNode::number(const std::string& key, double def, double lo, double hi) {
  const nlohmann::json* v = get(key);
  if (!v) return record(key, def);
  std::ostringstream expected;
  expected << "a number in [" << lo << ", " << hi << "]";
  if (!v->is_number()) fail(key, expected.str(), *v);
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < lo || x > hi) fail(key, expected.str(), *v);
  return record(key, x);
}

double ConfigNode::number(const std::string& key, double lo, double hi) {
  if (!has(key)) throw ConfigError(key_path(key) + ": required key is missing");
  return number(key, 0.0, lo, hi);
}

int64_t ConfigNode::integer(const std::string& key, int64_t def, int64_t lo, int64_t hi) {
  const nlohmann::json* v = get(key);
  if (!v) return record(key, def);
  std::ostringstream expected;
  expected << "an integer in [" << lo << ", " << hi << "]";
  if (!v->is_number_integer() && !v->is_number_unsigned()) fail(key, expected.str(), *v);
  const int64_t x = v->get<int64_t>();
  if (x < lo || x > hi) fail(key, expected.str(), *v);
  return record(key, x);
}

bool ConfigNode::boolean(const std::string& key, bool def) {
  const nlohmann::json* v = get(key);
  if (!v) return record(key, def);
  if (!v->is_boolean()) fail(key, "true or false", *v);
  return record(key, v->get<bool>());
}

std::string ConfigNode::choice(const std::string& key, const std::string& def,
                               const std::vector<std::string>& options) {
  const nlohmann::json* v = get(key);
  if (!v) return record(key, def);
  std::string expected = "one of";
  for (size_t i = 0; i < options.size(); ++i) expected += (i ? ", \"" : " \"") + options[i] + "\"";
  if (!v->is_string()) fail(key, expected, *v);
  const std::string s = v->get<std::string>();
  for (const auto& o : options)
    if (o == s) return record(key, s);
  fail(key, expected, *v);
}

std::string ConfigNode::choice(const std::string& key, const std::vector<std::string>& options) {
  if (!has(key)) throw ConfigError(key_path(key) + ": required key is missing");
  return choice(key, "", options);
}

std::string ConfigNode::string(const std::string& key, const std::string& def) {
  const nlohmann::json* v = get(key);
  if (!v || v->is_null()) return record(key, def);
  if (!v->is_string()) fail(key, "a string", *v);
  return record(key, v->get<std::string>());
}

std::vector<double> ConfigNode::numbers(const std::string& key, const std::vector<double>& def, size_t size,
                                        double lo, double hi) {
  const nlohmann::json* v = get(key);
  if (!v) return record(key, def);
  std::ostringstream expected;
  expected << "an array of " << size << " numbers in [" << lo << ", " << hi << "]";
  if (!v->is_array() || v->size() != size) fail(key, expected.str(), *v);
  std::vector<double> out;
  for (const auto& e : *v) {
    if (!e.is_number() || e.get<double>() < lo || e.get<double>() > hi) fail(key, expected.str(), *v);
    out.push_back(e.get<double>());
  }
  return record(key, out);
}

std::vector<int64_t> ConfigNode::integers(const std::string& key, const std::vector<int64_t>& def, int64_t lo,
                                          int64_t hi) {
  const nlohmann::json* v = get(key);
  if (!v) return record(key, def);
  std::ostringstream expected;
  expected << "an array of integers in [" << lo << ", " << hi << "]";
  if (!v->is_array()) fail(key, expected.str(), *v);
  std::vector<int64_t> out;
  for (const auto& e : *v) {
    if (!e.is_number_integer() || e.get<int64_t>() < lo || e.get<int64_t>() > hi) fail(key, expected.str(), *v);
    out.push_back(e.get<int64_t>());
  }
  return record(key, out);
}

ConfigNode ConfigNode::object(const std::string& key) {
  const nlohmann::json* v = get(key);
  nlohmann::json* sub = out_ ? &((*out_)[key] = nlohmann::json::object()) : nullptr;
  if (!v) return ConfigNode(empty_object(), key_path(key), sub);
  if (!v->is_object()) fail(key, "an object", *v);
  return ConfigNode(*v, key_path(key), sub);
}

std::vector<ConfigNode> ConfigNode::objects(const std::string& key) {
  const nlohmann::json* v = get(key);
  std::vector<ConfigNode> out;
  if (!v) return out;
  if (!v->is_array()) fail(key, "an array of objects", *v);
  nlohmann::json* arr = nullptr;
  if (out_) {  // sized first: the children keep pointers to the elements
    arr = &((*out_)[key] = nlohmann::json::array());
    for (size_t i = 0; i < v->size(); ++i) arr->push_back(nlohmann::json::object());
  }
  for (size_t i = 0; i < v->size(); ++i) {
    const std::string p = key_path(key) + "[" + std::to_string(i) + "]";
    out.emplace_back((*v)[i], p, arr ? &(*arr)[i] : nullptr);
  }
  return out;
}

const nlohmann::json* ConfigNode::raw(const std::string& key) { return get(key); }

void ConfigNode::finish() const {
  for (auto it = j_.begin(); it != j_.end(); ++it) {
    if (known_.count(it.key())) continue;
    std::string known;
    for (const auto& k : known_) known += (known.empty() ? "" : ", ") + k;
    throw ConfigError(key_path(it.key()) + ": unknown key (known keys here: " + known + ")");
  }
}

nlohmann::json read_json_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw ConfigError(path + ": is a folder, expected a JSON config file");
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open config file");
  try {
    return parse_json_strict(in);
  } catch (const JsonSyntaxError& e) {
    throw ConfigError(path + ": invalid JSON: " + e.what());
  } catch (const JsonLimitError& e) {
    throw ConfigError(path + ": " + e.what());
  }
}

void apply_override(nlohmann::json& config, const std::string& assignment) {
  const std::string shown = "--set " + text_excerpt(assignment);
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) throw ConfigError(shown + ": expected path.to.key=value");
  const std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  if (std::count(path.begin(), path.end(), '.') >= kMaxJsonDepth)
    throw ConfigError(shown + ": key path deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  nlohmann::json value;
  try {
    value = parse_json_strict(text);
  } catch (const JsonSyntaxError&) {
    value = text;
  } catch (const JsonLimitError& e) {
    throw ConfigError(shown + ": " + e.what());
  }
  nlohmann::json* node = &config;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (key.empty()) throw ConfigError(shown + ": empty key in path '" + text_excerpt(path) + "'");
    if (!node->is_object()) throw ConfigError(shown + ": '" + text_excerpt(key) + "' is inside a non-object");
    if (dot == std::string::npos) {
      (*node)[key] = value;
      return;
    }
    node = &(*node)[key];
    if (node->is_null()) *node = nlohmann::json::object();
    start = dot + 1;
  }
}

}  // namespace ng::app
