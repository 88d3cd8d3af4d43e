// examples/cifar_singd/main.cpp — a small CNN defined in C++, trained on CIFAR-10 with SINGD: hierarchical
// K and C factors stored in bfloat16 for the Conv2d/Linear layers, and SGD (the optimizer's fallback rule)
// for the BatchNorm parameters. Prints the test accuracy after every epoch.
//   usage: cifar_singd DATA_DIR [EPOCHS=2] [TRAIN_IMAGES=5000] [TEST_IMAGES=1000]
//   (DATA_DIR contains cifar-10-batches-bin/)
#include <algorithm>
#include <array>
#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include <natgrad/autograd/grad_mode.h>
#include <natgrad/autograd/ops.h>
#include <natgrad/data/cifar10.h>
#include <natgrad/data/loader.h>
#include <natgrad/layers/batchnorm2d.h>
#include <natgrad/layers/conv2d.h>
#include <natgrad/layers/flatten.h>
#include <natgrad/layers/linear.h>
#include <natgrad/layers/maxpool2d.h>
#include <natgrad/layers/relu.h>
#include <natgrad/layers/sequential.h>
#include <natgrad/optim/singd.h>

// conv(3→16) BN ReLU pool, conv(16→32) BN ReLU pool, linear(32·8·8 → 10).
std::shared_ptr<ng::Sequential> small_cnn(ng::Generator& gen) {
  auto net = std::make_shared<ng::Sequential>();
  const ng::Conv2dOptions same{.padding = {1, 1}};
  for (auto [in, out] : {std::pair<int64_t, int64_t>{3, 16}, {16, 32}}) {
    net->add(std::make_shared<ng::Conv2d>(in, out, std::array<int64_t, 2>{3, 3}, gen, same));
    net->add(std::make_shared<ng::BatchNorm2d>(out));
    net->add(std::make_shared<ng::ReLU>());
    net->add(std::make_shared<ng::MaxPool2d>(ng::Pool2dOptions{}));
  }
  net->add(std::make_shared<ng::Flatten>());
  net->add(std::make_shared<ng::Linear>(32 * 8 * 8, 10, gen));
  return net;
}

double test_accuracy(ng::Module& model, ng::data::Loader& test) {
  ng::NoGradGuard no_grad;
  model.eval();
  int64_t correct = 0, total = 0;
  test.start(0);
  while (auto batch = test.next()) {
    const auto logits = model(batch->images).to_vector<float>();
    const auto labels = batch->labels.to_vector<int64_t>();
    for (size_t i = 0; i < labels.size(); ++i) {
      const float* row = logits.data() + i * 10;
      correct += std::max_element(row, row + 10) - row == labels[i];
    }
    total += static_cast<int64_t>(labels.size());
  }
  model.train();
  return static_cast<double>(correct) / static_cast<double>(total);
}

int main(int argc, char** argv) try {
  if (argc < 2 || argc > 5) {
    std::fprintf(stderr, "usage: %s DATA_DIR [EPOCHS=2] [TRAIN_IMAGES=5000] [TEST_IMAGES=1000]\n", argv[0]);
    return 2;
  }
  const int64_t epochs = argc > 2 ? std::stoll(argv[2]) : 2;
  ng::data::Cifar10 cifar = ng::data::load_cifar10(
      {.root = argv[1], .max_train = argc > 3 ? std::stoll(argv[3]) : 5000,
       .max_test = argc > 4 ? std::stoll(argv[4]) : 1000});

  ng::data::LoaderOptions train_opts;
  train_opts.batch_size = 64;
  train_opts.seed = 1;
  train_opts.transform.normalise_with(ng::data::compute_channel_stats(cifar.train));
  train_opts.transform.horizontal_flip = true;
  ng::data::LoaderOptions test_opts = train_opts;
  test_opts.shuffle = test_opts.transform.horizontal_flip = false;
  ng::data::Loader train(std::make_shared<const ng::data::ImageDataset>(std::move(cifar.train)), train_opts);
  ng::data::Loader test(std::make_shared<const ng::data::ImageDataset>(std::move(cifar.test)), test_opts);

  ng::Generator gen(0);
  auto model = small_cnn(gen);
  ng::optim::SingdHyper hyper;  // one group: every parameter
  hyper.lr = 0.005;
  hyper.weight_decay = 5e-4;
  hyper.structure_K = hyper.structure_C = ng::optim::StructureSpec::parse("hierarchical");
  hyper.dtype_K = hyper.dtype_C = ng::DType::bf16;
  hyper.fallback.kind = ng::optim::FallbackRule::Kind::sgd;  // BatchNorm weights and biases
  hyper.fallback.sgd = {.lr = 0.05, .momentum = 0.9};
  ng::optim::SINGD opt(*model, {{ng::optim::parameters_of(*model), hyper}});

  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    train.start(epoch);
    while (auto batch = train.next()) {
      ng::cross_entropy((*model)(batch->images), batch->labels).backward();
      opt.step();  // also takes the curvature captures of this step and requests the next ones
      opt.zero_grad();
    }
    std::printf("epoch %lld: test accuracy %.4f\n", static_cast<long long>(epoch + 1), test_accuracy(*model, test));
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "cifar_singd: %s\n", e.what());
  return 1;
}
