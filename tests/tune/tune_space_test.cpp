// tests/tune/tune_space_test.cpp — the tune space parser (every kind, conditions, errors naming the key)
// and the settings drawn from it: seeded, reproducible, low-discrepancy quasi-random points and grids
// (apps/tune_space.h).
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "apps/config_reader.h"
#include "apps/tune_space.h"
#include "core/generator.h"

namespace ng::app {
namespace {

using nlohmann::json;

json space_with(const json& params) {
  return {{"base", {{"name", "b"}, {"optimizer", {{"type", "sgd"}, {"lr", 0.1}}}}}, {"budget", 4}, {"params", params}};
}

// The ConfigError message of parsing `space` ("" when it parses).
std::string error_of(const json& space) {
  try {
    parse_tune_space(space, "space.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(TuneSpace, ParsesEveryKindAndCondition) {
  const TuneSpace s = parse_tune_space(
      space_with({{"optimizer.lr", {{"log_uniform", {1e-3, 1.0}}}},
                  {"optimizer.momentum", {{"uniform", {0.8, 0.99}}, {"steps", 3}}},
                  {"optimizer.T", {{"int", {1, 4}}, {"when", {{"optimizer.type", {"kfac", "singd"}}}}}},
                  {"optimizer.nesterov", {{"choice", {true, false}}, {"when", {{"optimizer.type", "sgd"}}}}}}),
      "space.json");
  ASSERT_EQ(s.params.size(), 4u);  // key order
  EXPECT_EQ(s.params[0].key, "optimizer.T");
  EXPECT_EQ(s.params[0].kind, "int");
  EXPECT_EQ(s.params[0].when_key, "optimizer.type");
  EXPECT_EQ(s.params[0].when_values, (std::vector<json>{"kfac", "singd"}));
  EXPECT_EQ(s.params[1].kind, "log_uniform");
  EXPECT_EQ(s.params[1].lo, 1e-3);
  EXPECT_EQ(s.params[2].kind, "uniform");
  EXPECT_EQ(s.params[2].steps, 3);
  EXPECT_EQ(s.params[3].kind, "choice");
  EXPECT_EQ(s.params[3].when_values, (std::vector<json>{"sgd"}));
  EXPECT_EQ(s.strategy, "quasi_random");
  EXPECT_EQ(s.budget, 4.0);
  EXPECT_FALSE(s.halving.enabled);
}

TEST(TuneSpace, BaseFromAFileRelativeToTheSpaceWithSetApplied) {
  const std::string dir = ::testing::TempDir() + "/tune-space-" + std::to_string(getpid());
  std::filesystem::create_directories(dir + "/configs");
  std::ofstream(dir + "/configs/base.json") << R"({"name": "b", "optimizer": {"type": "sgd", "lr": 0.1}})";
  json space = space_with({{"optimizer.lr", {{"uniform", {0.1, 0.2}}}}});
  space["base"] = "configs/base.json";
  space["set"] = {"data.validation_size=500", "optimizer.momentum=0.9"};
  space["halving"] = {{"min_epochs", 2}, {"eta", 4}};
  const TuneSpace s = parse_tune_space(space, dir + "/space.json");
  EXPECT_EQ(s.base["data"]["validation_size"], 500);
  EXPECT_EQ(s.base["optimizer"]["momentum"], 0.9);
  EXPECT_EQ(s.base["optimizer"]["lr"], 0.1);
  EXPECT_TRUE(s.halving.enabled);
  EXPECT_EQ(s.halving.min_epochs, 2);
  EXPECT_EQ(s.halving.eta, 4.0);
  std::filesystem::remove_all(dir);
}

TEST(TuneSpace, ErrorsNameTheKey) {
  auto p = [](const json& spec) { return space_with({{"optimizer.lr", spec}}); };
  const std::vector<std::pair<json, std::string>> cases = {
      {p({{"uniform", {0.5, 0.5}}}), "params.optimizer.lr.uniform"},       // empty range
      {p({{"uniform", {0.5, 0.1}}}), "params.optimizer.lr.uniform"},
      {p({{"log_uniform", {0.0, 1.0}}}), "params.optimizer.lr.log_uniform"},
      {p({{"int", {3, 2}}}), "params.optimizer.lr.int"},
      {p({{"int", {1.5, 2}}}), "params.optimizer.lr.int"},
      {p({{"choice", json::array()}}), "params.optimizer.lr.choice"},
      {p({{"uniformm", {0.1, 0.2}}}), "params.optimizer.lr"},
      {p({{"uniform", {0.1, 0.2}}, {"choice", {1}}}), "params.optimizer.lr.uniform"},
      {p({{"choice", {1, 2}}, {"steps", 3}}), "params.optimizer.lr.steps"},
      {p({{"uniform", {0.1, 0.2}}, {"when", "kfac"}}), "params.optimizer.lr.when"},
      {p({{"uniform", {0.1, 0.2}}, {"extra", 1}}), "params.optimizer.lr.extra"},
      {space_with({{"train.epochs", {{"int", {1, 3}}}}}), "params.train.epochs"},
      {space_with(json::object()), "params"},
  };
  for (const auto& [space, key] : cases) {
    const std::string e = error_of(space);
    EXPECT_EQ(e.rfind(key + ":", 0), 0u) << space.dump() << " -> " << e;
  }
  json s = space_with({{"optimizer.lr", {{"uniform", {0.1, 0.2}}}}});
  s["budget"] = -1;
  EXPECT_EQ(error_of(s).rfind("budget:", 0), 0u) << error_of(s);
  s["strategy"] = "grid";
  EXPECT_EQ(error_of(s).rfind("budget:", 0), 0u) << error_of(s);  // a grid has no budget
  s.erase("budget");
  EXPECT_EQ(error_of(s).rfind("params.optimizer.lr.steps:", 0), 0u) << error_of(s);
  s.erase("base");
  EXPECT_EQ(error_of(s).rfind("base:", 0), 0u) << error_of(s);
  json t = space_with({{"optimizer.lr", {{"uniform", {0.1, 0.2}}}}});
  t["halving"] = {{"eta", 1.0}};
  EXPECT_EQ(error_of(t).rfind("halving.eta:", 0), 0u) << error_of(t);
  t["halving"] = {{"min_epoch", 1}};
  EXPECT_EQ(error_of(t).rfind("halving.min_epoch:", 0), 0u) << error_of(t);
  t.erase("halving");
  t["stratgy"] = "grid";
  EXPECT_EQ(error_of(t).rfind("stratgy:", 0), 0u) << error_of(t);
}

TEST(TuneSpace, ValuesMapTheUnitIntervalOntoTheRange) {
  TuneParam lu{"k", "log_uniform", {}, 1e-4, 1.0};
  EXPECT_DOUBLE_EQ(lu.value_at(0.0).get<double>(), 1e-4);
  EXPECT_DOUBLE_EQ(lu.value_at(0.5).get<double>(), 0.01);  // the geometric middle
  EXPECT_DOUBLE_EQ(lu.value_at(0.75).get<double>(), 0.1);
  EXPECT_LE(lu.value_at(0.999999).get<double>(), 1.0);
  TuneParam u{"k", "uniform", {}, -1.0, 1.0};
  EXPECT_DOUBLE_EQ(u.value_at(0.25).get<double>(), -0.5);
  EXPECT_DOUBLE_EQ(u.value_at(1.0 / 3.0).get<double>(), -0.333);  // 3 significant digits
  TuneParam i{"k", "int", {}, 2, 5};
  std::vector<int> hits(4, 0);
  for (int k = 0; k < 400; ++k) {
    const json v = i.value_at((k + 0.5) / 400.0);
    ASSERT_TRUE(v.is_number_integer());
    ++hits[v.get<int64_t>() - 2];
  }
  EXPECT_EQ(hits, (std::vector<int>{100, 100, 100, 100}));
  TuneParam c{"k", "choice", {"a", 2, true}};
  EXPECT_EQ(c.value_at(0.0), "a");
  EXPECT_EQ(c.value_at(0.5), 2);
  EXPECT_EQ(c.value_at(0.99), true);
  TuneParam g{"k", "log_uniform", {}, 1e-3, 1e-1, 3};
  EXPECT_EQ(g.grid_values(), (std::vector<json>{1e-3, 1e-2, 1e-1}));
  EXPECT_EQ(i.grid_values(), (std::vector<json>{2, 3, 4, 5}));
}

// L2-star discrepancy of points in [0,1)^2 (Warnock's formula).
double l2_star_discrepancy(const std::vector<std::vector<double>>& pts) {
  const double n = static_cast<double>(pts.size());
  double a = 0.0, b = 0.0;
  for (const auto& p : pts) a += (1 - p[0] * p[0]) * (1 - p[1] * p[1]);
  for (const auto& p : pts)
    for (const auto& q : pts) b += (1 - std::max(p[0], q[0])) * (1 - std::max(p[1], q[1]));
  return std::sqrt(1.0 / 9.0 - a / (2 * n) + b / (n * n));
}

TEST(TuneSampler, HaltonIsSeededReproducibleAndStratified) {
  for (uint64_t seed : {0u, 7u, 12345u}) {
    std::vector<std::vector<double>> pts;
    for (uint64_t i = 0; i < 81; ++i) {
      pts.push_back(halton_point(i, 3, seed));
      EXPECT_EQ(pts.back(), halton_point(i, 3, seed));
      for (double u : pts.back()) EXPECT_TRUE(u >= 0.0 && u < 1.0) << u;
    }
    // The first 2^6 points put exactly one coordinate 0 in each interval [k/64, (k+1)/64), and the first
    // 3^4 one coordinate 1 in each [k/81, (k+1)/81) — for every seed (the shift is a rotation mod 1).
    std::set<int> strata0, strata1;
    for (size_t i = 0; i < 64; ++i) strata0.insert(static_cast<int>(pts[i][0] * 64));
    for (size_t i = 0; i < 81; ++i) strata1.insert(static_cast<int>(pts[i][1] * 81));
    EXPECT_EQ(strata0.size(), 64u);
    EXPECT_EQ(strata1.size(), 81u);
  }
  EXPECT_NE(halton_point(3, 2, 0), halton_point(3, 2, 1));
}

TEST(TuneSampler, HaltonHasLowerDiscrepancyThanPseudoRandomPoints) {
  const size_t n = 64;
  double random_mean = 0.0;
  const int sets = 20;
  for (int s = 0; s < sets; ++s) {
    Generator g(100 + s);
    std::vector<std::vector<double>> pts;
    for (size_t i = 0; i < n; ++i) pts.push_back({g.next_uniform(), g.next_uniform()});
    random_mean += l2_star_discrepancy(pts) / sets;
  }
  for (uint64_t seed : {1u, 2u, 3u}) {
    std::vector<std::vector<double>> pts;
    for (size_t i = 0; i < n; ++i) pts.push_back(halton_point(i, 2, seed));
    EXPECT_LT(l2_star_discrepancy(pts), 0.5 * random_mean) << "seed " << seed;
  }
}

TEST(TuneSampler, SettingsHonourConditionsAndAreReproducible) {
  json space = space_with({{"optimizer.type", {{"choice", {"sgd", "kfac"}}}},
                           {"optimizer.damping", {{"log_uniform", {1e-4, 1e-1}}, {"when", {{"optimizer.type", "kfac"}}}}},
                           {"optimizer.lr", {{"log_uniform", {1e-3, 1.0}}}}});
  space["seed"] = 9;
  const TuneSpace s = parse_tune_space(space, "space.json");
  const auto a = sample_settings(s, 16), b = sample_settings(s, 16);
  EXPECT_EQ(a, b);
  int kfac = 0;
  for (const auto& setting : a) {
    const bool is_kfac = setting["optimizer.type"] == "kfac";
    kfac += is_kfac;
    EXPECT_EQ(setting.contains("optimizer.damping"), is_kfac) << setting.dump();
    const double lr = setting["optimizer.lr"];
    EXPECT_TRUE(lr >= 1e-3 && lr <= 1.0);
  }
  EXPECT_EQ(kfac, 8);  // van der Corput in base 2: exactly half of 16
  space["seed"] = 10;
  EXPECT_NE(sample_settings(parse_tune_space(space, "space.json"), 16), a);
  const json applied = apply_setting(s.base, a[0]);
  EXPECT_EQ(applied["optimizer"]["lr"], a[0]["optimizer.lr"]);
  EXPECT_EQ(value_at_path(applied, "optimizer.type"), a[0]["optimizer.type"]);
  EXPECT_TRUE(value_at_path(applied, "optimizer.nothing").is_null());
}

TEST(TuneSampler, GridTakesEveryCombinationOnceLastKeyFastest) {
  json space = space_with({{"optimizer.type", {{"choice", {"kfac", "sgd"}}}},
                           {"optimizer.damping", {{"log_uniform", {1e-3, 1e-1}}, {"steps", 3},
                                                  {"when", {{"optimizer.type", "kfac"}}}}},
                           {"optimizer.lr", {{"choice", {0.1, 0.2}}}}});
  space.erase("budget");
  space["strategy"] = "grid";
  const auto g = grid_settings(parse_tune_space(space, "space.json"));
  // Keys in order damping, lr, type (the last fastest). kfac: 3 dampings × 2 lrs; sgd: the damping does
  // not apply, so its 2 settings appear once each (not once per damping).
  const std::vector<json> want = {
      {{"optimizer.damping", 1e-3}, {"optimizer.lr", 0.1}, {"optimizer.type", "kfac"}},
      {{"optimizer.lr", 0.1}, {"optimizer.type", "sgd"}},
      {{"optimizer.damping", 1e-3}, {"optimizer.lr", 0.2}, {"optimizer.type", "kfac"}},
      {{"optimizer.lr", 0.2}, {"optimizer.type", "sgd"}},
      {{"optimizer.damping", 1e-2}, {"optimizer.lr", 0.1}, {"optimizer.type", "kfac"}},
      {{"optimizer.damping", 1e-2}, {"optimizer.lr", 0.2}, {"optimizer.type", "kfac"}},
      {{"optimizer.damping", 1e-1}, {"optimizer.lr", 0.1}, {"optimizer.type", "kfac"}},
      {{"optimizer.damping", 1e-1}, {"optimizer.lr", 0.2}, {"optimizer.type", "kfac"}}};
  EXPECT_EQ(g, want);
}

}  // namespace
}  // namespace ng::app
