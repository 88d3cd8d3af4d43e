// examples/eval_cli_weights/main.cpp — loads the weights a `natgrad train` run saved (RUN_DIR/final.safetensors,
// PyTorch state_dict names) into a VGG built from the run's resolved config (RUN_DIR/config.json) and reports
// the test accuracy on CIFAR-10. Handles runs of "model": {"type": "vgg", ...} without a validation split;
// the test images are normalised as the run did ("dataset": statistics of the run's training images).
//   usage: eval_cli_weights RUN_DIR DATA_DIR [TEST_IMAGES=10000]   (DATA_DIR contains cifar-10-batches-bin/)
#include <algorithm>
#include <cstdio>
#include <exception>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <natgrad/autograd/grad_mode.h>
#include <natgrad/data/cifar10.h>
#include <natgrad/data/loader.h>
#include <natgrad/layers/state_io.h>
#include <natgrad/layers/vgg.h>

// The VGG of the run's "model" block with the run's final weights, in eval mode.
std::unique_ptr<ng::VGG> load_model(const std::string& run, const nlohmann::json& m) {
  if (m.at("type") != "vgg") throw std::runtime_error(run + "/config.json: model.type must be \"vgg\"");
  ng::VGGConfig vgg;
  vgg.depth = m.at("depth");
  vgg.width = m.at("width");
  vgg.batch_norm = m.at("batch_norm");
  vgg.num_classes = m.at("num_classes");
  ng::Generator gen(0);  // the initial values are overwritten by the loaded weights
  auto model = std::make_unique<ng::VGG>(vgg, gen);
  ng::load_state(*model, run + "/final.safetensors");  // strict: every key, shape and dtype must match
  model->eval();
  return model;
}

// The CIFAR-10 test images, normalised as the run's "data" block says.
std::unique_ptr<ng::data::Loader> test_loader(const nlohmann::json& data, const std::string& root, int64_t max_test) {
  const int64_t train_subset = data.value("train_subset", int64_t{0});
  ng::data::Cifar10 cifar = ng::data::load_cifar10(
      {.root = root, .max_train = train_subset > 0 ? train_subset : -1, .max_test = max_test});
  ng::data::LoaderOptions opts;
  opts.batch_size = 500;
  opts.shuffle = false;
  const nlohmann::json& norm = data.at("normalize");
  if (norm.at("mode") == "dataset") {
    opts.transform.normalise_with(ng::data::compute_channel_stats(cifar.train));
  } else if (norm.at("mode") == "fixed") {
    opts.transform.mean = norm.at("mean").get<std::vector<double>>();
    opts.transform.stddev = norm.at("std").get<std::vector<double>>();
  }
  return std::make_unique<ng::data::Loader>(std::make_shared<const ng::data::ImageDataset>(std::move(cifar.test)),
                                            opts);
}

int main(int argc, char** argv) try {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: %s RUN_DIR DATA_DIR [TEST_IMAGES=10000]\n", argv[0]);
    return 2;
  }
  const std::string run = argv[1];
  std::ifstream config_file(run + "/config.json");
  if (!config_file) throw std::runtime_error(run + "/config.json: cannot open (is RUN_DIR a natgrad run?)");
  const nlohmann::json config = nlohmann::json::parse(config_file);
  const nlohmann::json& data = config.at("data");
  if (data.value("dataset", "cifar10") != "cifar10" || data.value("validation_size", 0) > 0)
    throw std::runtime_error(run + "/config.json: only CIFAR-10 runs without a validation split are handled");
  const auto model = load_model(run, config.at("model"));
  const auto test = test_loader(data, argv[2], argc > 3 ? std::stoll(argv[3]) : -1);

  ng::NoGradGuard no_grad;
  int64_t correct = 0, total = 0;
  test->start(0);
  while (auto batch = test->next()) {
    const auto logits = (*model)(batch->images).to_vector<float>();
    const auto labels = batch->labels.to_vector<int64_t>();
    const size_t classes = logits.size() / labels.size();
    for (size_t i = 0; i < labels.size(); ++i) {
      const float* row = logits.data() + i * classes;
      correct += std::max_element(row, row + classes) - row == labels[i];
    }
    total += static_cast<int64_t>(labels.size());
  }
  std::printf("%s: test accuracy %.4f on %lld images\n", run.c_str(), double(correct) / double(total),
              static_cast<long long>(total));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "eval_cli_weights: %s\n", e.what());
  return 1;
}
