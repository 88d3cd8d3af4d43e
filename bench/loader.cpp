// bench/loader.cpp — data-loader throughput on CIFAR-10: images/s with random crop (pad 4, zeros) +
// horizontal flip + normalisation, float32 NCHW batches of 128, for 1 and 2 worker threads.
//
// The consumer only takes batches (a training step would read them), so the number is what the loader
// can deliver, not what a model consumes. Warm-up batches are not timed. Compared with torchvision's
// pipeline by bench/torch_loader.py; scripts/bench_loader.sh runs both and prints the ratio.
//
// Usage: bench_loader [--root DATA_ROOT] [--epochs E] [--workers "1 2"]   (default root: data-root lookup)
#include <chrono>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "data/cifar10.h"
#include "data/data_root.h"
#include "data/loader.h"

using namespace ng::data;

int main(int argc, char** argv) {
  std::string root;
  int epochs = 2;
  std::vector<int> workers = {1, 2};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--root") {
      root = value;
    } else if (flag == "--epochs") {
      epochs = std::stoi(value);
    } else if (flag == "--workers") {
      workers.clear();
      std::istringstream in(value);
      for (int w; in >> w;) workers.push_back(w);
    } else {
      std::fprintf(stderr, "bench_loader: unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  Cifar10Options copts;
  copts.root = find_data_root(root, default_repo_dir());
  copts.max_test = 0;
  auto train = std::make_shared<ImageDataset>(load_cifar10(copts).train);

  for (int w : workers) {
    LoaderOptions o;
    o.batch_size = 128;
    o.workers = w;
    o.prefetch = 2 * w + 2;
    o.seed = 0;
    o.transform.mean = {0.4914, 0.4822, 0.4465};
    o.transform.stddev = {0.2470, 0.2435, 0.2616};
    o.transform.crop_padding = 4;
    o.transform.horizontal_flip = true;
    Loader loader(train, o);
    loader.start(0);
    for (int k = 0; k < 10; ++k) loader.next();  // warm-up: threads running, pages touched
    int64_t images = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int e = 1; e <= epochs; ++e) {
      loader.start(e);
      while (auto b = loader.next()) images += b->images.size(0);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("natgrad loader workers=%d images=%lld seconds=%.3f images_per_s=%.0f\n", w,
                static_cast<long long>(images), s, images / s);
  }
  return 0;
}
