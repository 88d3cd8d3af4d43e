// apps/model_config.cpp — parsing, shape checking and building of the "model" block.
#include "apps/model_config.h"

#include "layers/avgpool2d.h"
#include "layers/batchnorm2d.h"
#include "layers/conv2d.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/maxpool2d.h"
#include "layers/relu.h"
#include "layers/sequential.h"

namespace ng::app {

namespace {

constexpr int64_t kMaxSize = 1 << 20;
constexpr uint64_t kInitStream = 1, kDropoutStream = 1000;  // Generator(seed).derive(...) streams

LayerSpec parse_layer(ConfigNode n) {
  LayerSpec l;
  l.path = n.path();
  l.type = n.choice("type", {"conv2d", "linear", "batchnorm2d", "relu", "maxpool2d", "avgpool2d", "flatten",
                             "dropout"});
  auto required = [&](const char* key) {
    if (!n.has(key)) n.fail(key, "required key is missing");
    return n.integer(key, 0, 1, kMaxSize);
  };
  if (l.type == "conv2d") {
    l.in = required("in_channels");
    l.out = required("out_channels");
    l.kernel = n.integer("kernel_size", 3, 1, 64);
    l.stride = n.integer("stride", 1, 1, 64);
    l.padding = n.integer("padding", 0, 0, 64);
    l.bias = n.boolean("bias", true);
  } else if (l.type == "linear") {
    l.in = required("in_features");
    l.out = required("out_features");
    l.bias = n.boolean("bias", true);
  } else if (l.type == "batchnorm2d") {
    l.in = required("num_features");
    l.eps = n.number("eps", 1e-5, 1e-12, 1.0);
    l.momentum = n.number("momentum", 0.1, 0.0, 1.0);
  } else if (l.type == "maxpool2d" || l.type == "avgpool2d") {
    l.kernel = n.integer("kernel_size", 2, 1, 64);
    l.stride = n.integer("stride", l.kernel, 1, 64);
    l.padding = n.integer("padding", 0, 0, 32);
    if (2 * l.padding > l.kernel) n.fail("padding", "must be at most half of kernel_size (" + std::to_string(l.kernel) + ")");
  } else if (l.type == "dropout") {
    l.p = n.number("p", 0.5, 0.0, 0.99);
  }
  n.finish();
  return l;
}

struct Geometry {
  bool flat = false;
  int64_t c = 0, h = 0, w = 0;  // image form
  int64_t f = 0;                // flat form
  std::string describe() const {
    return flat ? std::to_string(f) + " features"
                : std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w) + " images";
  }
};

[[noreturn]] void shape_error(const LayerSpec& l, const std::string& key, const std::string& what) {
  throw ConfigError(l.path + (key.empty() ? "" : "." + key) + ": " + what);
}

int64_t pooled(int64_t size, int64_t kernel, int64_t stride, int64_t padding) {
  return (size + 2 * padding - kernel) / stride + 1;
}

void step_geometry(const LayerSpec& l, Geometry& g) {
  auto need_images = [&] {
    if (g.flat) shape_error(l, "", l.type + " needs images (N, C, H, W) but receives " + g.describe());
  };
  auto spatial = [&](const char* what) {
    if (g.h + 2 * l.padding < l.kernel || g.w + 2 * l.padding < l.kernel)
      shape_error(l, "kernel_size", "a " + std::to_string(l.kernel) + "x" + std::to_string(l.kernel) + " " + what +
                                        " does not fit the " + g.describe() + " it receives");
    g.h = pooled(g.h, l.kernel, l.stride, l.padding);
    g.w = pooled(g.w, l.kernel, l.stride, l.padding);
  };
  if (l.type == "conv2d") {
    need_images();
    if (l.in != g.c)
      shape_error(l, "in_channels", "expected " + std::to_string(g.c) + " (the layer receives " + g.describe() +
                                        "), got " + std::to_string(l.in));
    spatial("kernel");
    g.c = l.out;
  } else if (l.type == "batchnorm2d") {
    need_images();
    if (l.in != g.c)
      shape_error(l, "num_features", "expected " + std::to_string(g.c) + " (the layer receives " + g.describe() +
                                         "), got " + std::to_string(l.in));
  } else if (l.type == "maxpool2d" || l.type == "avgpool2d") {
    need_images();
    spatial("pooling window");
  } else if (l.type == "flatten") {
    if (!g.flat) g = Geometry{true, 0, 0, 0, g.c * g.h * g.w};
  } else if (l.type == "linear") {
    if (!g.flat) shape_error(l, "", "linear needs flat features but receives " + g.describe() + " (add a flatten before it)");
    if (l.in != g.f)
      shape_error(l, "in_features", "expected " + std::to_string(g.f) + " (the layer receives " + g.describe() +
                                        "), got " + std::to_string(l.in));
    g.f = l.out;
  }
}

}  // namespace

ModelSpec parse_model(ConfigNode n) {
  ModelSpec m;
  m.type = n.choice("type", {"vgg", "sequential"});
  if (m.type == "vgg") {
    m.vgg.depth = static_cast<int>(n.integer("depth", 16, 11, 19));
    if (m.vgg.depth != 11 && m.vgg.depth != 13 && m.vgg.depth != 16 && m.vgg.depth != 19)
      n.fail("depth", "expected 11, 13, 16 or 19, got " + std::to_string(m.vgg.depth));
    m.vgg.width = n.number("width", 1.0, 1.0 / 64, 4.0);
    m.vgg.batch_norm = n.boolean("batch_norm", true);
    m.vgg.num_classes = n.integer("num_classes", 10, 2, kMaxSize);
  } else {
    if (!n.has("layers")) n.fail("layers", "required key is missing");
    for (auto& l : n.objects("layers")) m.layers.push_back(parse_layer(l));
    if (m.layers.empty()) n.fail("layers", "expected at least one layer");
  }
  n.finish();
  return m;
}

void check_model(const ModelSpec& spec, const InputGeometry& in) {
  if (spec.type == "vgg") {
    if (in.height != 32 || in.width != 32)
      throw ConfigError("model.type: the VGG CIFAR head needs 32x32 images, the data has " + std::to_string(in.height) +
                        "x" + std::to_string(in.width));
    if (in.channels != 3)
      throw ConfigError("model.type: VGG expects 3-channel images, the data has " + std::to_string(in.channels));
    if (spec.vgg.num_classes != in.classes)
      throw ConfigError("model.num_classes: expected " + std::to_string(in.classes) + " (the classes of the data), got " +
                        std::to_string(spec.vgg.num_classes));
    for (int64_t v : vgg_cfg(spec.vgg.depth))
      if (v != kVGGPool && static_cast<int64_t>(static_cast<double>(v) * spec.vgg.width) < 1)
        throw ConfigError("model.width: " + std::to_string(spec.vgg.width) + " leaves no channels in a " +
                          std::to_string(v) + "-channel layer");
    return;
  }
  Geometry g{false, in.channels, in.height, in.width, 0};
  for (const auto& l : spec.layers) step_geometry(l, g);
  if (!g.flat || g.f != in.classes)
    throw ConfigError("model.layers: the last layer gives " + g.describe() + ", expected " +
                      std::to_string(in.classes) + " features (one score per class)");
}

std::shared_ptr<Module> build_model(const ModelSpec& spec, uint64_t seed) {
  Generator gen = Generator(seed).derive(kInitStream);
  if (spec.type == "vgg") return std::make_shared<VGG>(spec.vgg, gen);
  auto seq = std::make_shared<Sequential>();
  for (size_t i = 0; i < spec.layers.size(); ++i) {
    const LayerSpec& l = spec.layers[i];
    Pool2dOptions pool;
    pool.kernel = {l.kernel, l.kernel};
    pool.stride = {l.stride, l.stride};
    pool.padding = {l.padding, l.padding};
    if (l.type == "conv2d") {
      Conv2dOptions o;
      o.stride = {l.stride, l.stride};
      o.padding = {l.padding, l.padding};
      seq->add(std::make_shared<Conv2d>(l.in, l.out, std::array<int64_t, 2>{l.kernel, l.kernel}, gen, o, l.bias));
    } else if (l.type == "linear") {
      seq->add(std::make_shared<Linear>(l.in, l.out, gen, l.bias));
    } else if (l.type == "batchnorm2d") {
      BatchNorm2dOptions o;
      o.eps = l.eps;
      o.momentum = l.momentum;
      seq->add(std::make_shared<BatchNorm2d>(l.in, o));
    } else if (l.type == "relu") {
      seq->add(std::make_shared<ReLU>());
    } else if (l.type == "maxpool2d") {
      seq->add(std::make_shared<MaxPool2d>(pool));
    } else if (l.type == "avgpool2d") {
      seq->add(std::make_shared<AvgPool2d>(pool));
    } else if (l.type == "flatten") {
      seq->add(std::make_shared<Flatten>());
    } else {  // dropout
      seq->add(std::make_shared<Dropout>(l.p, Generator(seed).derive(kDropoutStream + i)));
    }
  }
  return seq;
}

std::vector<std::pair<std::string, Generator*>> dropout_generators(Module& model) {
  std::vector<std::pair<std::string, Generator*>> out;
  for (auto& [name, m] : model.named_modules())
    if (auto* d = dynamic_cast<Dropout*>(m)) out.emplace_back(name, &d->generator());
  return out;
}

void set_precision(Module& model, DType precision) {
  model.set_compute_dtype(precision == DType::f32 ? std::nullopt : std::optional<DType>(precision));
}

}  // namespace ng::app
