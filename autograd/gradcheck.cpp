// autograd/gradcheck.cpp — central finite differences against backward() in float64.
#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"

namespace ng {

namespace {
// s(x) = Σ f(x) ⊙ R, evaluated without recording a graph.
double projected(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& in,
                 const Tensor& r) {
  NoGradGuard guard;
  const Tensor y = f(in).contiguous();
  const double* py = y.data<double>();
  const double* pr = r.data<double>();
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += py[i] * pr[i];
  return s;
}
}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  for (const Tensor& t : inputs)
    NG_CHECK(!t.defined() || !t.requires_grad() || t.dtype() == DType::f64,
             "gradcheck: inputs that require grad must be float64, got ", t.describe());
  // Analytic gradients of s = Σ y ⊙ R.
  for (const Tensor& t : inputs)
    if (t.defined()) const_cast<Tensor&>(t).zero_grad();
  const Tensor y = f(inputs);
  NG_CHECK(y.dtype() == DType::f64, "gradcheck: f must return float64, got ", y.describe());
  Generator gen(opt.seed);
  const Tensor r = Tensor::uniform(y.shape(), -1.0, 1.0, gen, DType::f64);
  y.backward(r);

  GradcheckResult res;
  std::ostringstream report;
  int mismatches = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    NG_CHECK(x.is_contiguous(), "gradcheck: input ", k, " must be contiguous");
    const Tensor g = x.grad();
    const std::vector<double> analytic = g.defined() ? g.to_vector<double>() : std::vector<double>(x.numel(), 0.0);
    double* px = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double orig = px[i];
      px[i] = orig + opt.eps;
      const double sp = projected(f, inputs, r);
      px[i] = orig - opt.eps;
      const double sm = projected(f, inputs, r);
      px[i] = orig;
      const double numeric = (sp - sm) / (2 * opt.eps);
      const double err = std::abs(numeric - analytic[i]);
      res.max_abs_error = std::max(res.max_abs_error, err);
      if (err > opt.atol + opt.rtol * std::abs(numeric)) {
        res.ok = false;
        if (mismatches++ < 8)
          report << "input " << k << " element " << i << ": analytic " << analytic[i] << ", numeric " << numeric
                 << "\n";
      }
    }
  }
  res.report = report.str();
  return res;
}

}  // namespace ng
