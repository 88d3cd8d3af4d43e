// tests/layers/state_io_test.cpp — weights I/O: round trip between two differently seeded models, loading
// the PyTorch-written VGG-11-BN state strictly (names, dtypes and layouts agree with PyTorch), and every
// strict-load error (missing key, unexpected key, shape mismatch, dtype mismatch, broken file), each
// naming the key and what was expected versus found.
#include "layers/state_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "layers/batchnorm2d.h"
#include "layers/conv2d.h"
#include "layers/linear.h"
#include "layers/sequential.h"
#include "layers/vgg.h"

namespace ng {
namespace {

namespace fs = std::filesystem;

class StateIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("natgrad_state_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static std::shared_ptr<Sequential> small_net(uint64_t seed) {
    Generator gen(seed);
    return std::make_shared<Sequential>(std::vector<std::shared_ptr<Module>>{
        std::make_shared<Conv2d>(2, 3, std::array<int64_t, 2>{3, 3}, gen, Conv2dOptions{.padding = {1, 1}}),
        std::make_shared<BatchNorm2d>(3), std::make_shared<Linear>(4, 2, gen)});
  }

  // load_state must fail and the message must contain every piece of `expected`.
  static void expect_load_error(Module& m, const std::string& file, const std::vector<std::string>& expected) {
    try {
      load_state(m, file);
      ADD_FAILURE() << "loading " << file << " should have failed";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(file), std::string::npos) << msg;
      for (const auto& piece : expected) EXPECT_NE(msg.find(piece), std::string::npos) << msg;
    }
  }

  fs::path dir_;
};

TEST_F(StateIoTest, RoundTripRestoresEveryTensorInPlace) {
  auto a = small_net(1), b = small_net(2);
  dynamic_cast<BatchNorm2d&>((*a)[1]).num_batches_tracked().fill_(17);
  dynamic_cast<BatchNorm2d&>((*a)[1]).running_var().fill_(0.5);
  save_state(*a, path("a.safetensors"), {{"format", "pt"}});

  Tensor* weight_before = b->named_parameters()[0].second;
  const Tensor weight_impl = *weight_before;
  load_state(*b, path("a.safetensors"));
  const auto sa = state_tensors(*a), sb = state_tensors(*b);
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i].first, sb[i].first);
    EXPECT_EQ(sa[i].second.to_vector<double>(), sb[i].second.to_vector<double>()) << sa[i].first;
  }
  // Same tensor objects (an optimizer's pointers stay valid), still trainable leaves.
  EXPECT_TRUE(b->named_parameters()[0].second->same(weight_impl));
  EXPECT_TRUE(weight_before->requires_grad());
  EXPECT_EQ(load_safetensors(path("a.safetensors")).metadata.at("format"), "pt");
}

TEST_F(StateIoTest, LoadsThePyTorchVggStateStrictlyAndSavesItBackIdentically) {
  const std::string fixture =
      std::string(NATGRAD_SOURCE_DIR) + "/tests/fixtures/layers_vgg11bn_w025_state.safetensors";
  ASSERT_TRUE(fs::exists(fixture)) << fixture << " (written by scripts/make_golden_layers.py)";
  Generator gen(0);
  VGG vgg({.depth = 11, .batch_norm = true, .width = 0.25, .num_classes = 10}, gen);
  load_state(vgg, fixture);
  const SafetensorsFile torch_file = load_safetensors(fixture);
  for (const auto& [name, t] : state_tensors(vgg)) {
    const Tensor* src = torch_file.find(name);
    ASSERT_NE(src, nullptr) << name;
    EXPECT_EQ(t.to_vector<double>(), src->to_vector<double>()) << name;
  }
  save_state(vgg, path("vgg.safetensors"));
  std::ifstream x(fixture, std::ios::binary), y(path("vgg.safetensors"), std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(x), {}), std::string(std::istreambuf_iterator<char>(y), {}));
}

TEST_F(StateIoTest, MissingKeyIsNamed) {
  auto net = small_net(1);
  NamedTensors state = state_tensors(*net);
  state.erase(state.begin() + 3);  // "1.bias"
  save_safetensors(path("missing.safetensors"), state);
  expect_load_error(*net, path("missing.safetensors"), {"missing key '1.bias'", "float32[3]"});
}

TEST_F(StateIoTest, UnexpectedKeyIsNamed) {
  auto net = small_net(1);
  NamedTensors state = state_tensors(*net);
  state.emplace_back("2.extra", Tensor::zeros({5}));
  save_safetensors(path("extra.safetensors"), state);
  expect_load_error(*net, path("extra.safetensors"), {"unexpected key '2.extra'", "float32[5]"});
}

TEST_F(StateIoTest, ShapeMismatchNamesKeyExpectedAndFound) {
  auto net = small_net(1);
  NamedTensors state = state_tensors(*net);
  for (auto& [name, t] : state)
    if (name == "2.weight") t = Tensor::zeros({2, 5});
  save_safetensors(path("shape.safetensors"), state);
  expect_load_error(*net, path("shape.safetensors"),
                    {"shape mismatch for '2.weight'", "expected [2, 4]", "found [2, 5]"});
}

TEST_F(StateIoTest, DtypeMismatchNamesKeyExpectedAndFound) {
  auto net = small_net(1);
  NamedTensors state = state_tensors(*net);
  for (auto& [name, t] : state)
    if (name == "1.num_batches_tracked") t = Tensor::zeros({}, DType::f32);
  save_safetensors(path("dtype.safetensors"), state);
  expect_load_error(*net, path("dtype.safetensors"),
                    {"dtype mismatch for '1.num_batches_tracked'", "expected int64", "found float32"});
}

TEST_F(StateIoTest, FailedLoadChangesNothing) {
  auto net = small_net(1), other = small_net(2);
  NamedTensors state = state_tensors(*other);
  state.pop_back();  // the last key is missing, all others are valid
  save_safetensors(path("partial.safetensors"), state);
  const std::vector<double> before = net->named_parameters()[0].second->to_vector<double>();
  EXPECT_THROW(load_state(*net, path("partial.safetensors")), Error);
  EXPECT_EQ(net->named_parameters()[0].second->to_vector<double>(), before);
}

TEST_F(StateIoTest, BrokenFilesReportTheFile) {
  auto net = small_net(1);
  expect_load_error(*net, path("absent.safetensors"), {"file not found"});
  save_state(*net, path("ok.safetensors"));
  fs::resize_file(path("ok.safetensors"), fs::file_size(path("ok.safetensors")) - 4);
  expect_load_error(*net, path("ok.safetensors"), {"truncated"});
}

}  // namespace
}  // namespace ng
