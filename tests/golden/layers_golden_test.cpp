// tests/golden/layers_golden_test.cpp — natgrad's layers reproduce PyTorch's golden fixtures, and weights
// move between natgrad and PyTorch as safetensors (issue 2, points 9 and 10).
//
// The fixtures in tests/fixtures/ come from scripts/make_golden_layers.py (PyTorch, CPU, float32, fixed
// seeds; `python3 scripts/make_golden_layers.py` regenerates them). Each test builds the same model with
// natgrad's layers, loads PyTorch's initial weights and buffers (strictly, through layers/state_io.h), runs
// one train-mode forward + cross-entropy (mean) + backward and compares logits, loss, every parameter
// gradient, the BatchNorm buffers after the step and eval-mode logits with the stored ones. No Python at
// test time.
//
// Closeness (float32, per tensor): the norm-wise relative error ‖x − x_ref‖₂ / ‖x_ref‖₂ ≤ 1e-5, and
// elementwise |x − x_ref| ≤ 1e-5·|x_ref| + atol with atol = 1e-5·max|x_ref| (a small absolute floor for
// entries near zero, where two float32 summation orders legitimately differ relative to the entry but not
// to the tensor's scale). int64 buffers must match exactly. One exception: the bias b of a Conv2d that feeds a
// train-mode BatchNorm2d has exact gradient 0 (BN subtracts the batch mean, so y = BN(Wx + b) does not
// depend on b); both frameworks return float32 roundoff there (~1e-8), so for those biases the check is
// |∂L/∂b| ≤ 1e-5·max|∂L/∂W|_ref for natgrad's and PyTorch's value alike.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "core/safetensors.h"
#include "layers/batchnorm2d.h"
#include "layers/conv2d.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/maxpool2d.h"
#include "layers/relu.h"
#include "layers/sequential.h"
#include "layers/state_io.h"
#include "layers/vgg.h"

namespace ng {
namespace {

namespace fs = std::filesystem;

const std::string kFixtures = std::string(NATGRAD_SOURCE_DIR) + "/tests/fixtures/";
const std::string kVggState = kFixtures + "layers_vgg11bn_w025_state.safetensors";
const std::string kVggGolden = kFixtures + "layers_vgg11bn_w025_golden.safetensors";
const std::string kStackGolden = kFixtures + "layers_stack_golden.safetensors";
constexpr double kRelTol = 1e-5;

// Loads a golden file and checks its format stamp, so a stale fixture fails with the regeneration hint.
SafetensorsFile load_golden(const std::string& path) {
  SafetensorsFile f = load_safetensors(path);
  auto it = f.metadata.find("natgrad_golden");
  EXPECT_NE(it, f.metadata.end()) << path << " has no natgrad_golden metadata";
  if (it != f.metadata.end()) {
    auto info = nlohmann::json::parse(it->second);
    EXPECT_EQ(info.at("format").get<std::string>(), "natgrad-golden-layers") << path;
    EXPECT_EQ(info.at("format_version").get<std::string>(), "1")
        << path << " has another format version; regenerate with " << info.at("regenerate");
  }
  return f;
}

const Tensor& golden(const SafetensorsFile& f, const std::string& name) {
  const Tensor* t = f.find(name);
  if (!t) throw Error("golden fixture lacks '" + name + "'; regenerate with scripts/make_golden_layers.py");
  return *t;
}

// The closeness rule of the header comment.
void expect_close(const std::string& what, const Tensor& got, const Tensor& ref) {
  ASSERT_TRUE(got.defined()) << what << " is undefined";
  ASSERT_EQ(got.shape(), ref.shape()) << what;
  if (ref.dtype() == DType::i64) {
    ASSERT_EQ(got.dtype(), DType::i64) << what;
    EXPECT_EQ(got.to_vector<int64_t>(), ref.to_vector<int64_t>()) << what;
    return;
  }
  ASSERT_EQ(got.dtype(), DType::f32) << what;
  const auto x = got.to_vector<double>();
  const auto r = ref.to_vector<double>();
  double diff2 = 0, ref2 = 0, ref_max = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    diff2 += (x[i] - r[i]) * (x[i] - r[i]);
    ref2 += r[i] * r[i];
    ref_max = std::max(ref_max, std::abs(r[i]));
  }
  ASSERT_GT(ref2, 0.0) << what << ": the reference is all zeros, which would test nothing";
  EXPECT_LE(std::sqrt(diff2 / ref2), kRelTol) << what << ": norm-wise relative error";
  const double atol = kRelTol * ref_max;
  int64_t bad = 0, first_bad = -1;
  for (size_t i = 0; i < r.size(); ++i) {
    if (!(std::abs(x[i] - r[i]) <= kRelTol * std::abs(r[i]) + atol)) {
      if (bad++ == 0) first_bad = static_cast<int64_t>(i);
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << r.size() << " elements off; first at " << first_bad
                    << ": " << (first_bad >= 0 ? x[first_bad] : 0) << " vs "
                    << (first_bad >= 0 ? r[first_bad] : 0);
}

// Biases of each Conv2d directly followed by a BatchNorm2d in a container (bias name -> weight name).
std::map<std::string, std::string> shift_invariant_biases(Module& model) {
  std::map<std::string, std::string> out;
  for (const auto& [name, m] : model.named_modules()) {
    const auto& ch = m->children();
    for (size_t i = 0; i + 1 < ch.size(); ++i) {
      if (dynamic_cast<Conv2d*>(ch[i].second.get()) && dynamic_cast<BatchNorm2d*>(ch[i + 1].second.get())) {
        const std::string conv = name.empty() ? ch[i].first : name + "." + ch[i].first;
        out[conv + ".bias"] = conv + ".weight";
      }
    }
  }
  return out;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

// A gradient whose exact value is 0: natgrad's and PyTorch's roundoff must both be tiny at `scale`.
void expect_roundoff_zero(const std::string& what, const Tensor& got, const Tensor& ref, double scale) {
  ASSERT_TRUE(got.defined()) << what << " is undefined";
  ASSERT_EQ(got.shape(), ref.shape()) << what;
  EXPECT_LE(max_abs(got), kRelTol * scale) << what << " (exactly 0 in exact arithmetic)";
  EXPECT_LE(max_abs(ref), kRelTol * scale) << what << " in the fixture";
}

// One train-mode step of `model` on the golden batch, compared with every stored output.
// `n_conv_bn` is the number of Conv2d -> BatchNorm2d pairs the model is known to have.
void check_train_step(Module& model, const SafetensorsFile& g, size_t n_conv_bn) {
  const auto zero_grad_biases = shift_invariant_biases(model);
  ASSERT_EQ(zero_grad_biases.size(), n_conv_bn);
  model.train();
  model.zero_grad();
  Tensor logits = model(golden(g, "input"));
  Tensor loss = cross_entropy(logits, golden(g, "target"), Reduction::mean);
  loss.backward();
  expect_close("logits", logits, golden(g, "logits"));
  expect_close("loss", loss.reshape({}), golden(g, "loss"));

  int64_t n_grads = 0;
  for (const auto& [name, p] : model.named_parameters()) {
    const Tensor& ref = golden(g, "grad." + name);
    auto zero = zero_grad_biases.find(name);
    if (zero != zero_grad_biases.end()) {
      expect_roundoff_zero("grad of " + name, p->grad(), ref, max_abs(golden(g, "grad." + zero->second)));
    } else {
      expect_close("grad of " + name, p->grad(), ref);
    }
    ++n_grads;
  }
  int64_t n_after = 0;
  for (const auto& [name, b] : model.named_buffers()) {
    expect_close(name + " after the step", *b, golden(g, "after." + name));
    ++n_after;
  }
  // The fixture holds exactly these gradients and buffers (no parameter of the PyTorch model is unchecked).
  int64_t stored_grads = 0, stored_after = 0;
  for (const auto& [name, t] : g.tensors) {
    stored_grads += name.rfind("grad.", 0) == 0;
    stored_after += name.rfind("after.", 0) == 0;
  }
  EXPECT_EQ(n_grads, stored_grads);
  EXPECT_EQ(n_after, stored_after);

  model.eval();
  NoGradGuard no_grad;
  expect_close("eval logits", model(golden(g, "input")), golden(g, "eval_logits"));
}

std::shared_ptr<VGG> make_vgg11_w025(uint64_t seed) {
  Generator gen(seed);
  VGGConfig cfg;
  cfg.depth = 11;
  cfg.batch_norm = true;
  cfg.width = 0.25;
  cfg.num_classes = 10;
  return std::make_shared<VGG>(cfg, gen);
}

// The stack of make_stack() in the script: conv(groups 2, dilation 2) -> bn -> relu -> pool -> linear.
std::shared_ptr<Sequential> make_stack() {
  Generator gen(1);
  Conv2dOptions conv;
  conv.padding = {2, 2};
  conv.dilation = {2, 2};
  conv.groups = 2;
  Pool2dOptions pool;
  pool.kernel = {2, 2};
  auto seq = std::make_shared<Sequential>();
  seq->add(std::make_shared<Conv2d>(4, 6, std::array<int64_t, 2>{3, 3}, gen, conv))
      .add(std::make_shared<BatchNorm2d>(6))
      .add(std::make_shared<ReLU>())
      .add(std::make_shared<MaxPool2d>(pool))
      .add(std::make_shared<Flatten>())
      .add(std::make_shared<Linear>(96, 5, gen));
  return seq;
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path out_dir() {
  fs::path d = fs::path(NATGRAD_BINARY_DIR) / "interop";
  fs::create_directories(d);
  return d;
}

// ---- golden: forward + backward against PyTorch ---------------------------------------------------

TEST(LayersGolden, Vgg11BnWidthQuarterTrainStepMatchesPyTorch) {
  auto vgg = make_vgg11_w025(0);
  EXPECT_EQ(vgg->num_parameters(), 579786);
  load_state(*vgg, kVggState);
  check_train_step(*vgg, load_golden(kVggGolden), 8);
}

TEST(LayersGolden, GroupedDilatedConvStackTrainStepMatchesPyTorch) {
  const SafetensorsFile g = load_golden(kStackGolden);
  NamedTensors state;
  for (const auto& [name, t] : g.tensors)
    if (name.rfind("state.", 0) == 0) state.emplace_back(name.substr(6), t);
  auto stack = make_stack();
  load_state_tensors(*stack, state, kStackGolden);
  check_train_step(*stack, g, 1);
}

// ---- interop: torch-saved files in, natgrad-saved files out ---------------------------------------

TEST(LayersInterop, LoadsTorchSavedVggStateStrictlyAndUnchanged) {
  auto vgg = make_vgg11_w025(0);
  load_state(*vgg, kVggState);
  const SafetensorsFile f = load_safetensors(kVggState);
  const auto state = vgg->state();
  ASSERT_EQ(state.size(), f.tensors.size());
  for (const auto& [name, t] : state) {
    const Tensor* ref = f.find(name);
    ASSERT_NE(ref, nullptr) << name;
    ASSERT_EQ(t->dtype(), ref->dtype()) << name;
    ASSERT_EQ(t->shape(), ref->shape()) << name;
    if (t->dtype() == DType::i64) {
      EXPECT_EQ(t->to_vector<int64_t>(), ref->to_vector<int64_t>()) << name;
    } else {
      EXPECT_EQ(t->to_vector<float>(), ref->to_vector<float>()) << name;
    }
  }
  for (const auto& [name, p] : vgg->named_parameters()) EXPECT_TRUE(p->requires_grad()) << name;
}

TEST(LayersInterop, NatgradSaveOfTorchStateIsByteIdenticalToTorchFile) {
  auto vgg = make_vgg11_w025(0);
  load_state(*vgg, kVggState);
  const std::string path = (out_dir() / "vgg11bn_w025_resaved.safetensors").string();
  save_state(*vgg, path);
  const std::string ours = read_bytes(path), theirs = read_bytes(kVggState);
  EXPECT_EQ(ours.size(), theirs.size());
  EXPECT_TRUE(ours == theirs) << path << " differs from " << kVggState;
}

// Writes natgrad's own initialisation for scripts/check_interop.py (torch load_state_dict(strict=True))
// and checks it loads back into natgrad exactly.
TEST(LayersInterop, NatgradInitialisedVggRoundTripsThroughSafetensors) {
  auto a = make_vgg11_w025(42);
  const std::string path = (out_dir() / "vgg11bn_w025_natgrad_init.safetensors").string();
  save_state(*a, path);
  auto b = make_vgg11_w025(43);
  load_state(*b, path);
  const auto sa = a->state(), sb = b->state();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    ASSERT_EQ(sa[i].first, sb[i].first);
    if (sa[i].second->dtype() == DType::i64)
      EXPECT_EQ(sa[i].second->to_vector<int64_t>(), sb[i].second->to_vector<int64_t>()) << sa[i].first;
    else
      EXPECT_EQ(sa[i].second->to_vector<float>(), sb[i].second->to_vector<float>()) << sa[i].first;
  }
}

// Runs `fn`, expecting an ng::Error whose message contains every one of `parts`.
template <class F>
void expect_error_mentions(F&& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "expected an ng::Error";
  } catch (const Error& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(LayersInterop, TorchFileIntoWiderVggNamesTheMismatchedKey) {
  Generator gen(0);
  VGGConfig cfg;
  cfg.depth = 11;
  cfg.width = 0.5;
  VGG wide(cfg, gen);
  expect_error_mentions([&] { load_state(wide, kVggState); }, {"features.0.weight", "shape"});
}

TEST(LayersInterop, TorchFileIntoDeeperVggNamesTheMissingKey) {
  Generator gen(0);
  VGGConfig cfg;
  cfg.depth = 13;
  cfg.width = 0.25;
  VGG deeper(cfg, gen);
  expect_error_mentions([&] { load_state(deeper, kVggState); }, {"missing key"});
}

TEST(LayersInterop, TruncatedTorchFileIsRejectedWithItsName) {
  const std::string bytes = read_bytes(kVggState);
  const std::string path = (out_dir() / "vgg11bn_w025_truncated.safetensors").string();
  {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  auto vgg = make_vgg11_w025(0);
  expect_error_mentions([&] { load_state(*vgg, path); }, {"vgg11bn_w025_truncated.safetensors"});
}

}  // namespace
}  // namespace ng
