// examples/capture_stats/main.cpp — a custom model (a Module subclass with its own forward) on synthetic
// data, and the curvature statistics its Linear layers capture (layers/curvature.h), printed per layer.
//
// Each step every layer is asked for a capture; after forward + backward it holds a [R_a, d_i] (its inputs
// with a ones column for the bias, ÷ √R_a) and g [R_g, d_o] (output gradients × √N). The Kronecker factors
// KFAC and SINGD approximate are A = aᵀa and G = gᵀg; printed: their average trace tr(·)/d and the share of
// their squared Frobenius norm on the diagonal (1 = a diagonal factor would lose nothing). Plain SGD trains
// the model between the captures.
//   usage: capture_stats [STEPS=5]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <natgrad/autograd/grad_mode.h>
#include <natgrad/autograd/ops.h>
#include <natgrad/layers/linear.h>
#include <natgrad/optim/first_order.h>

// A two-hidden-layer MLP with a skip connection around the second hidden layer.
class SkipMLP : public ng::Module {
 public:
  SkipMLP(int64_t in, int64_t hidden, int64_t classes, ng::Generator& gen)
      : fc1(register_module("fc1", std::make_shared<ng::Linear>(in, hidden, gen))),
        fc2(register_module("fc2", std::make_shared<ng::Linear>(hidden, hidden, gen))),
        head(register_module("head", std::make_shared<ng::Linear>(hidden, classes, gen))) {}
  ng::Tensor forward(const ng::Tensor& x) override {
    const ng::Tensor h = ng::relu((*fc1)(x));
    return (*head)(ng::add(h, ng::relu((*fc2)(h))));
  }
  std::string type_name() const override { return "SkipMLP"; }
  std::shared_ptr<ng::Linear> fc1, fc2, head;
};

struct FactorStats {
  double avg_trace = 0, diag_share = 0;
};
// Average trace and diagonal share of m = xᵀx for a capture x [R, d].
FactorStats factor_stats(const ng::Tensor& x) {
  const int64_t d = x.size(1);
  const std::vector<float> m = ng::matmul(ng::transpose(x, 0, 1), x).to_vector<float>();
  double trace = 0, diag_sq = 0, all_sq = 0;
  for (int64_t i = 0; i < d; ++i) {
    for (int64_t j = 0; j < d; ++j) all_sq += double(m[i * d + j]) * m[i * d + j];
    trace += m[i * d + i];
    diag_sq += double(m[i * d + i]) * m[i * d + i];
  }
  return {trace / static_cast<double>(d), diag_sq / all_sq};
}

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 5;
  if (argc > 2 || steps < 1) {
    std::fprintf(stderr, "usage: %s [STEPS=5]  (STEPS >= 1)\n", argv[0]);
    return 2;
  }
  ng::Generator gen(7);
  SkipMLP model(20, 32, 4, gen);
  // Synthetic task: 256 points in 20 dimensions, labels from a random linear teacher.
  const ng::Tensor x = ng::Tensor::normal({256, 20}, 0.0, 1.0, gen);
  const std::vector<float> scores = ng::matmul(x, ng::Tensor::normal({20, 4}, 0.0, 1.0, gen)).to_vector<float>();
  std::vector<int64_t> labels(256);
  for (int64_t i = 0; i < 256; ++i)
    labels[i] = std::max_element(&scores[i * 4], &scores[i * 4 + 4]) - &scores[i * 4];
  const ng::Tensor y = ng::Tensor::from_vector(labels, {256});

  ng::optim::SgdHyper sgd;
  sgd.lr = 0.1;
  ng::optim::SGD opt(ng::optim::parameters_of(model), sgd);
  const std::vector<std::pair<std::string, ng::Linear*>> layers = {
      {"fc1", model.fc1.get()}, {"fc2", model.fc2.get()}, {"head", model.head.get()}};
  for (auto& [name, layer] : layers) layer->request_capture(ng::CaptureRequest{});  // holds for every step
  for (int step = 0; step < steps; ++step) {
    const ng::Tensor loss = ng::cross_entropy(model(x), y);
    loss.backward();
    std::printf("step %d  loss %.4f\n", step, loss.item());
    ng::NoGradGuard no_grad;
    for (auto& [name, layer] : layers) {
      const ng::CurvatureCapture c = layer->take_capture();
      const FactorStats A = factor_stats(c.a), G = factor_stats(c.g);
      std::printf("  %-4s a %lldx%lld  g %lldx%lld  avgtr(A) %.4f  diag(A) %.3f  avgtr(G) %.4f  diag(G) %.3f\n",
                  name.c_str(), (long long)c.a.size(0), (long long)c.a.size(1), (long long)c.g.size(0),
                  (long long)c.g.size(1), A.avg_trace, A.diag_share, G.avg_trace, G.diag_share);
    }
    opt.step();
    opt.zero_grad();
  }
  return 0;
}
