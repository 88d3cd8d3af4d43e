// apps/model_config.h — the config's "model" block: parsed, shape-checked against the data, and built.
//
// Two types (the small factory keyed by "type" of architecture practice 11):
//   {"type": "vgg", "depth": 11|13|16|19, "width": 0.25, "batch_norm": true, "num_classes": 10}
//   {"type": "sequential", "layers": [{"type": "conv2d", ...}, {"type": "relu"}, ...]}
// Sequential entries are conv2d, linear, batchnorm2d, relu, maxpool2d, avgpool2d, flatten and dropout; the
// model is a torch.nn.Sequential look-alike, so parameter names are "0.weight", "3.running_mean", ….
// check_model() walks the layers with the input geometry (channels × height × width) and reports the
// first layer whose input does not fit, naming its JSON path — before any tensor is allocated.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "apps/config_reader.h"
#include "layers/module.h"
#include "layers/vgg.h"

namespace ng::app {

struct LayerSpec {
  std::string path;  // "model.layers[3]" (for errors)
  std::string type;
  int64_t in = 0, out = 0;                            // conv2d channels, linear features, batchnorm2d features
  int64_t kernel = 0, stride = 0, padding = 0;        // conv2d, maxpool2d, avgpool2d (stride 0: = kernel)
  bool bias = true;                                   // conv2d, linear
  double eps = 1e-5, momentum = 0.1;                  // batchnorm2d
  double p = 0.5;                                     // dropout
};

struct ModelSpec {
  std::string type;  // "vgg" or "sequential"
  VGGConfig vgg;
  std::vector<LayerSpec> layers;
};

ModelSpec parse_model(ConfigNode node);

// The images a model receives and the classes it must score.
struct InputGeometry {
  int64_t channels = 3, height = 32, width = 32, classes = 10;
};
void check_model(const ModelSpec& spec, const InputGeometry& in);

// Built with PyTorch's default initialisation drawn from Generator(seed); dropout layers own generators
// derived from the seed (their offsets are part of a checkpoint, see dropout_generators()).
std::shared_ptr<Module> build_model(const ModelSpec& spec, uint64_t seed);

// The config's `precision`: float32 computes in float32; bfloat16 is mixed precision — Conv2d and Linear
// compute in bf16 while parameters (the master weights), gradients, optimizer state and batch-norm
// statistics stay float32 (Module::set_compute_dtype).
void set_precision(Module& model, DType precision);

// The generators of the model's Dropout layers, by module name.
std::vector<std::pair<std::string, Generator*>> dropout_generators(Module& model);

}  // namespace ng::app
