// apps/tune_space.cpp — parsing a tune space and drawing settings from it (see tune_space.h).
#include "apps/tune_space.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "apps/config_reader.h"
#include "core/generator.h"

namespace ng::app {

namespace {

constexpr uint64_t kPrimes[] = {2,  3,  5,  7,  11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53,
                                59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131};
constexpr size_t kMaxParams = sizeof kPrimes / sizeof kPrimes[0];

// The two ends of a "uniform", "log_uniform" or "int" range.
void read_range(ConfigNode& n, const std::string& kind, TuneParam& p) {
  const nlohmann::json* v = n.raw(kind);
  const bool integer = kind == "int";
  const std::string expected = integer ? "[lo, hi], two integers with lo <= hi"
                               : kind == "log_uniform" ? "[lo, hi], two numbers with 0 < lo < hi"
                                                       : "[lo, hi], two numbers with lo < hi";
  if (!v->is_array() || v->size() != 2) n.fail(kind, expected, *v);
  for (const auto& e : *v)
    if (!(integer ? e.is_number_integer() : e.is_number()) || !std::isfinite(e.get<double>())) n.fail(kind, expected, *v);
  p.lo = (*v)[0].get<double>();
  p.hi = (*v)[1].get<double>();
  const bool empty = integer ? p.lo > p.hi : !(p.lo < p.hi);
  if (empty) n.fail(kind, "a non-empty range " + expected, *v);
  if (kind == "log_uniform" && p.lo <= 0) n.fail(kind, expected, *v);
}

void read_condition(ConfigNode& n, TuneParam& p) {
  const nlohmann::json* w = n.raw("when");
  const std::string expected = "an object with one key path and a value or a list of values, e.g. "
                               "{\"optimizer.type\": [\"kfac\", \"singd\"]}";
  if (!w->is_object() || w->size() != 1) n.fail("when", expected, *w);
  p.when_key = w->begin().key();
  const nlohmann::json& vals = w->begin().value();
  if (vals.is_array()) {
    if (vals.empty()) n.fail("when", expected, *w);
    p.when_values.assign(vals.begin(), vals.end());
  } else {
    p.when_values = {vals};
  }
}

TuneParam parse_param(ConfigNode n, const std::string& key) {
  TuneParam p;
  p.key = key;
  if (key == "train.epochs" || key == "threads")
    throw ConfigError(n.path() + ": the tuner sets this key itself (epochs come from the base config and halving)");
  for (const char* kind : {"choice", "uniform", "log_uniform", "int"}) {
    if (!n.has(kind)) continue;
    if (!p.kind.empty()) n.fail(kind, "one kind per key (this one also has \"" + p.kind + "\")");
    p.kind = kind;
  }
  if (p.kind.empty())
    throw ConfigError(n.path() + ": expected one of \"choice\", \"uniform\", \"log_uniform\", \"int\"");
  if (p.kind == "choice") {
    const nlohmann::json* v = n.raw("choice");
    if (!v->is_array() || v->empty()) n.fail("choice", "a non-empty array of values", *v);
    p.values.assign(v->begin(), v->end());
  } else {
    read_range(n, p.kind, p);
  }
  if (n.has("steps")) {
    if (p.kind != "uniform" && p.kind != "log_uniform")
      n.fail("steps", "only for uniform and log_uniform keys (a choice or int grid takes every value)");
    p.steps = n.integer("steps", 0, 2, 1000);
  }
  if (n.has("when")) read_condition(n, p);
  n.finish();
  return p;
}

nlohmann::json base_config(ConfigNode& n, const std::string& path) {
  const nlohmann::json* b = n.raw("base");
  if (!b) n.fail("base", "required key is missing (a config file or an inline config object)");
  nlohmann::json base;
  if (b->is_string()) {
    std::filesystem::path file = b->get<std::string>();
    if (file.is_relative()) file = std::filesystem::path(path).parent_path() / file;
    base = read_json_file(file.string());
  } else if (b->is_object()) {
    base = *b;
  } else {
    n.fail("base", "a config file path or an inline config object", *b);
  }
  return base;
}

// Rounds to 3 significant digits.
double round3(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return std::stod(buf);
}

}  // namespace

nlohmann::json TuneParam::value_at(double u) const {
  if (kind == "choice") {
    const size_t i = std::min(values.size() - 1, static_cast<size_t>(u * static_cast<double>(values.size())));
    return values[i];
  }
  if (kind == "int") {
    const double span = hi - lo + 1.0;
    return static_cast<int64_t>(std::min(hi, lo + std::floor(u * span)));
  }
  const double v = kind == "uniform" ? lo + u * (hi - lo) : std::exp(std::log(lo) + u * (std::log(hi) - std::log(lo)));
  return std::clamp(round3(v), lo, hi);
}

std::vector<nlohmann::json> TuneParam::grid_values() const {
  if (kind == "choice") return values;
  std::vector<nlohmann::json> out;
  if (kind == "int") {
    if (hi - lo >= 10000) throw ConfigError("params." + key + ".int: more than 10000 grid values");
    for (int64_t v = static_cast<int64_t>(lo); v <= static_cast<int64_t>(hi); ++v) out.push_back(v);
    return out;
  }
  for (int64_t i = 0; i < steps; ++i) {
    const double t = static_cast<double>(i) / static_cast<double>(steps - 1);
    const double v = kind == "uniform" ? lo + t * (hi - lo) : std::exp(std::log(lo) + t * (std::log(hi) - std::log(lo)));
    out.push_back(std::clamp(round3(v), lo, hi));
  }
  return out;
}

nlohmann::json value_at_path(const nlohmann::json& config, const std::string& path) {
  const nlohmann::json* node = &config;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object() || !node->contains(key)) return nullptr;
    node = &(*node)[key];
    if (dot == std::string::npos) return *node;
    start = dot + 1;
  }
}

nlohmann::json apply_setting(const nlohmann::json& base, const TuneSetting& setting) {
  nlohmann::json out = base;
  for (auto it = setting.begin(); it != setting.end(); ++it) apply_override(out, it.key() + "=" + it.value().dump());
  return out;
}

TuneSpace parse_tune_space(const nlohmann::json& j, const std::string& path) {
  TuneSpace s;
  ConfigNode n(j, "");
  s.base = base_config(n, path);
  const nlohmann::json* sets = n.raw("set");
  if (sets) {
    if (!sets->is_array()) n.fail("set", "an array of \"path.to.key=value\" strings", *sets);
    for (const auto& e : *sets) {
      if (!e.is_string()) n.fail("set", "an array of \"path.to.key=value\" strings", *sets);
      apply_override(s.base, e.get<std::string>());
    }
  }
  s.strategy = n.choice("strategy", "quasi_random", {"quasi_random", "grid"});
  s.seed = static_cast<uint64_t>(n.integer("seed", 0, 0, int64_t{1} << 53));
  if (s.strategy == "quasi_random") s.budget = n.number("budget", 1.0, 1000.0);
  else if (n.has("budget")) n.fail("budget", "only for strategy \"quasi_random\" (a grid runs every point)");
  if (n.has("halving")) {
    ConfigNode h = n.object("halving");
    s.halving.enabled = true;
    s.halving.min_epochs = h.integer("min_epochs", 1, 1, 100000);
    s.halving.eta = h.number("eta", 3.0, 1.5, 100.0);
    h.finish();
  }
  ConfigNode params = n.object("params");
  for (const auto& key : params.keys()) s.params.push_back(parse_param(params.object(key), key));
  if (s.params.empty()) n.fail("params", "at least one key to tune");
  if (s.params.size() > kMaxParams) n.fail("params", "at most " + std::to_string(kMaxParams) + " keys");
  for (const auto& p : s.params)
    if (s.strategy == "grid" && (p.kind == "uniform" || p.kind == "log_uniform") && p.steps == 0)
      throw ConfigError("params." + p.key + ".steps: required with strategy \"grid\" (the number of grid points)");
  n.finish();
  return s;
}

std::vector<double> halton_point(uint64_t index, size_t dims, uint64_t seed) {
  NG_CHECK(dims <= kMaxParams, "halton_point: at most ", kMaxParams, " dimensions");
  std::vector<double> out(dims);
  for (size_t d = 0; d < dims; ++d) {
    double inverse = 0.0, scale = 1.0;
    for (uint64_t i = index; i > 0; i /= kPrimes[d]) {
      scale /= static_cast<double>(kPrimes[d]);
      inverse += static_cast<double>(i % kPrimes[d]) * scale;
    }
    const double shifted = inverse + Generator::uniform_f64(Generator(seed).derive(d).seed(), 0);
    out[d] = shifted - std::floor(shifted);
  }
  return out;
}

namespace {

// The setting with each key's value, keeping only the keys whose condition holds on `base` with the
// unconditional keys applied.
TuneSetting conditioned(const TuneSpace& space, const std::vector<nlohmann::json>& values) {
  TuneSetting plain = nlohmann::json::object();
  for (size_t k = 0; k < space.params.size(); ++k)
    if (space.params[k].when_key.empty()) plain[space.params[k].key] = values[k];
  const nlohmann::json config = apply_setting(space.base, plain);
  TuneSetting out = plain;
  for (size_t k = 0; k < space.params.size(); ++k) {
    const TuneParam& p = space.params[k];
    if (p.when_key.empty()) continue;
    const nlohmann::json at = value_at_path(config, p.when_key);
    for (const auto& v : p.when_values)
      if (v == at) out[p.key] = values[k];
  }
  return out;
}

}  // namespace

std::vector<TuneSetting> sample_settings(const TuneSpace& space, int64_t count) {
  std::vector<TuneSetting> out;
  for (int64_t i = 0; i < count; ++i) {
    const std::vector<double> u = halton_point(static_cast<uint64_t>(i), space.params.size(), space.seed);
    std::vector<nlohmann::json> values;
    for (size_t k = 0; k < space.params.size(); ++k) values.push_back(space.params[k].value_at(u[k]));
    out.push_back(conditioned(space, values));
  }
  return out;
}

std::vector<TuneSetting> grid_settings(const TuneSpace& space) {
  std::vector<std::vector<nlohmann::json>> axes;
  size_t total = 1;
  for (const auto& p : space.params) {
    axes.push_back(p.grid_values());
    total *= axes.back().size();
    if (total > 10000) throw ConfigError("params: the grid has more than 10000 points");
  }
  std::vector<TuneSetting> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < total; ++i) {
    std::vector<nlohmann::json> values(axes.size());
    size_t rest = i;
    for (size_t k = axes.size(); k-- > 0;) {  // the last key varies fastest
      values[k] = axes[k][rest % axes[k].size()];
      rest /= axes[k].size();
    }
    TuneSetting s = conditioned(space, values);
    if (seen.insert(s.dump()).second) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ng::app
