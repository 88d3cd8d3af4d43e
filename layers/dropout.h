// layers/dropout.h — inverted dropout (Srivastava et al. 2014; PyTorch's nn.Dropout): in training, each
// element is zeroed with probability p and survivors are scaled by 1/(1 − p); identity in eval mode.
//
// The layer owns its Generator, seeded explicitly by the caller (e.g. Dropout(0.5, gen.derive(3))), so a
// run is reproducible; generator() exposes it for checkpoints.
#pragma once
#include "layers/module.h"

namespace ng {

class Dropout : public Module {
 public:
  Dropout(double p, Generator gen);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  double p() const { return p_; }
  Generator& generator() { return gen_; }

 private:
  double p_;
  Generator gen_;
};

}  // namespace ng
