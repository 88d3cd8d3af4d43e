// apps/report_style.cpp — family colours, variant shades and dashes, smoothing (see report_style.h).
#include "apps/report_style.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace ng::app {

std::string optimizer_family(const std::string& type) {
  for (const char* f : {"sgd", "adamw", "singd", "ikfac", "kfac"})
    if (type == f) return f;
  return "other";
}

std::string family_colour(const std::string& family) {
  static const std::map<std::string, std::string> colours = {{"sgd", "#4e79a7"},   {"adamw", "#f28e2b"},
                                                             {"singd", "#2e8b3e"}, {"ikfac", "#8e5ea2"},
                                                             {"kfac", "#d62728"},  {"other", "#7f7f7f"}};
  const auto it = colours.find(family);
  return it == colours.end() ? colours.at("other") : it->second;
}

std::string shade(const std::string& hex, double amount) {
  unsigned rgb[3] = {0, 0, 0};
  if (hex.size() != 7 || std::sscanf(hex.c_str(), "#%2x%2x%2x", &rgb[0], &rgb[1], &rgb[2]) != 3) return hex;
  amount = std::clamp(amount, -1.0, 1.0);
  char buf[8];
  int out[3];
  for (int k = 0; k < 3; ++k) {
    const double c = rgb[k];
    out[k] = static_cast<int>(std::lround(amount < 0 ? c * (1 + amount) : c + (255 - c) * amount));
  }
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", out[0], out[1], out[2]);
  return buf;
}

namespace {

// The config name without "bf16" and the separator before it: "singd-dense-bf16" → "singd-dense".
std::string variant_base(const std::string& name) {
  const size_t p = name.find("bf16");
  if (p == std::string::npos) return name;
  const size_t from = p > 0 && (name[p - 1] == '-' || name[p - 1] == '_') ? p - 1 : p;
  return name.substr(0, from) + name.substr(p + 4);
}

}  // namespace

std::vector<LineStyle> config_styles(const std::vector<ConfigId>& configs) {
  // Variant bases per family, in order of first appearance.
  std::map<std::string, std::vector<std::string>> bases;
  for (const auto& c : configs) {
    auto& b = bases[optimizer_family(c.optimizer)];
    if (std::find(b.begin(), b.end(), variant_base(c.name)) == b.end()) b.push_back(variant_base(c.name));
  }
  std::vector<LineStyle> out;
  for (const auto& c : configs) {
    LineStyle s;
    s.family = optimizer_family(c.optimizer);
    const auto& b = bases[s.family];
    const auto k = static_cast<double>(std::find(b.begin(), b.end(), variant_base(c.name)) - b.begin());
    const auto n = static_cast<double>(b.size());
    // Shades from darker (−0.35) to lighter (+0.45) across the family's bases; one base keeps the colour.
    s.colour = n > 1 ? shade(family_colour(s.family), -0.35 + 0.8 * k / (n - 1)) : family_colour(s.family);
    s.dash = c.name.find("bf16") != std::string::npos ? "6,3" : "";
    out.push_back(s);
  }
  return out;
}

std::vector<double> smooth_ema(const std::vector<double>& y, double weight) {
  std::vector<double> out(y.size());
  double s = 0.0, debias = 1.0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (!std::isfinite(y[i])) {
      out[i] = y[i];
      continue;
    }
    s = weight * s + (1.0 - weight) * y[i];
    debias *= weight;
    out[i] = s / (1.0 - debias);
  }
  return out;
}

double smoothing_weight(size_t n) {
  if (n <= 10) return 0.0;
  return std::clamp(1.0 - 20.0 / static_cast<double>(n), 0.5, 0.98);
}

}  // namespace ng::app
