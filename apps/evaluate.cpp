// apps/evaluate.cpp — evaluation passes and non-finite tracing.
#include "apps/evaluate.h"

#include <chrono>
#include <cmath>

#include "apps/model_config.h"
#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "layers/sequential.h"
#include "layers/vgg.h"
#include "optim/rules.h"

namespace ng::app {

Tensor logits_f32(Module& model, const Tensor& images) {
  Tensor y = model.forward(images);
  return y.dtype() == DType::f32 ? y : to_dtype(y, DType::f32);
}

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  const std::vector<float> z = logits.to(Device::cpu()).to_vector<float>();
  const std::vector<int64_t> y = labels.to(Device::cpu()).to_vector<int64_t>();
  const int64_t n = logits.size(0), c = logits.size(1);
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t best = 0;
    for (int64_t k = 1; k < c; ++k)
      if (z[static_cast<size_t>(i * c + k)] > z[static_cast<size_t>(i * c + best)]) best = k;
    correct += best == y[static_cast<size_t>(i)];
  }
  return correct;
}

EvalResult evaluate(Module& model, data::Loader& loader, Device device, dist::Communicator* comm) {
  const auto t0 = std::chrono::steady_clock::now();
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  EvalResult r;
  double loss_sum = 0.0;
  int64_t correct = 0;
  loader.start(0, 0);
  while (auto b = loader.next()) {
    if (b->images.size(0) == 0) continue;  // this rank's share of a small last batch
    const Tensor x = b->images.to(device), y = b->labels.to(device);
    const Tensor z = logits_f32(model, x);
    loss_sum += cross_entropy(z, y, Reduction::sum).item();
    correct += count_correct(z, y);
    r.count += x.size(0);
  }
  model.train(was_training);
  if (comm != nullptr) {
    const std::vector<double> all = comm->all_reduce_sum({loss_sum, static_cast<double>(correct), static_cast<double>(r.count)});
    loss_sum = all[0];
    correct = static_cast<int64_t>(all[1]);
    r.count = static_cast<int64_t>(all[2]);
  }
  if (r.count > 0) {
    r.loss = loss_sum / static_cast<double>(r.count);
    r.accuracy = static_cast<double>(correct) / static_cast<double>(r.count);
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

namespace {

// Whether every element is finite (a float32/bfloat16 sum of squares in float64 is finite exactly then).
bool finite(const Tensor& t) { return std::isfinite(optim::sum_squares(t.to(Device::cpu()))); }

// Runs x through m (in its current mode), leaf by leaf where the structure is known; returns the first leaf with a non-finite
// output ("" if none).
std::string trace(Module& m, const std::string& name, Tensor& x) {
  if (auto* seq = dynamic_cast<Sequential*>(&m)) {
    for (const auto& [child, sub] : seq->children()) {
      const std::string r = trace(*sub, name.empty() ? child : name + "." + child, x);
      if (!r.empty()) return r;
    }
    return "";
  }
  if (auto* vgg = dynamic_cast<VGG*>(&m)) {
    const std::string prefix = name.empty() ? "" : name + ".";
    const std::string r = trace(vgg->features(), prefix + "features", x);
    if (!r.empty()) return r;
    x = flatten(x, 1);
    return trace(vgg->classifier(), prefix + "classifier", x);
  }
  x = m.forward(x);
  return finite(x) ? "" : (name.empty() ? m.type_name() : name);
}

}  // namespace

std::string locate_non_finite(Module& model, const Tensor& images) {
  for (const auto& [name, t] : model.state())
    if (is_floating(t->dtype()) && !finite(*t)) return name;
  // The diagnostic pass must not change the run: buffers (BatchNorm statistics) and the Dropout
  // generators are put back afterwards.
  std::vector<Tensor> buffers;
  for (const auto& [name, t] : model.named_buffers()) buffers.push_back(t->clone());
  std::vector<uint64_t> offsets;
  const auto gens = dropout_generators(model);
  for (const auto& [name, g] : gens) offsets.push_back(g->offset());
  NoGradGuard no_grad;
  Tensor x = images;
  const std::string where = trace(model, "", x);
  size_t i = 0;
  for (const auto& [name, t] : model.named_buffers()) t->copy_(buffers[i++]);
  for (size_t k = 0; k < gens.size(); ++k) gens[k].second->set_offset(offsets[k]);
  return where;
}

}  // namespace ng::app
