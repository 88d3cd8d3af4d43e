// apps/report_style.h — how report.html tells many configs apart, and how it smooths noisy curves.
//
// Colour says the optimizer family (sgd, adamw, singd, ikfac, kfac; anything else is "other"); within a
// family each variant base (the config name with "bf16" taken out, e.g. singd-dense, singd-diagonal) gets
// its own shade of the family colour, and low-precision variants (names with "bf16") are dashed. So
// kfac and kfac-bf16 share a colour and differ in dash, and 15+ configs stay legible.
#pragma once
#include <string>
#include <vector>

namespace ng::app {

struct LineStyle {
  std::string family, colour, dash;  // dash: SVG stroke-dasharray, empty for solid
};

// "sgd", "adamw", "singd", "ikfac", "kfac" or "other".
std::string optimizer_family(const std::string& optimizer_type);
// The base colour of a family.
std::string family_colour(const std::string& family);

struct ConfigId {
  std::string name, optimizer;  // config name, optimizer type
};

// One style per config (same order), as described above.
std::vector<LineStyle> config_styles(const std::vector<ConfigId>& configs);

// `hex` ("#rrggbb") mixed towards black (amount < 0) or white (amount > 0), |amount| <= 1.
std::string shade(const std::string& hex, double amount);

// Exponential moving average with bias correction (as TensorBoard smooths scalars):
// s_i = w·s_{i-1} + (1−w)·y_i, s_0 = 0, reported as s_i / (1 − w^(i+1)) over the finite values seen so
// far; non-finite y_i are passed through and do not enter the average.
std::vector<double> smooth_ema(const std::vector<double>& y, double weight);
// The weight report.html uses for n points: 0 for 10 points or fewer, else 1 − 20/n clamped to
// [0.5, 0.98] (a time constant 1/(1−w) of about a twentieth of the curve).
double smoothing_weight(size_t n);

}  // namespace ng::app
