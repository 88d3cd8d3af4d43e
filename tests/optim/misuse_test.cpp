// tests/optim/misuse_test.cpp — optimizers refuse, with one clear ng::Error, what would otherwise train
// nothing: an empty parameter list, and curvature optimizers with no layer to precondition.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "layers/linear.h"
#include "layers/relu.h"
#include "optim/first_order.h"
#include "optim/kfac.h"
#include "optim/singd.h"
#include "tests/autograd/test_util.h"

namespace ng::optim {
namespace {

using test::error_of;

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST(OptimizerMisuse, AnEmptyParameterListIsAnError) {
  ReLU parameterless;  // e.g. parameters_of() a model whose layers were never added
  for (const std::string& e :
       {error_of([&] { SGD(parameters_of(parameterless), SgdHyper{}); }),
        error_of([&] { AdamW(parameters_of(parameterless), AdamWHyper{}); }),
        error_of([&] { SINGD(parameterless, {{parameters_of(parameterless), SingdHyper{}}}); }),
        error_of([&] { KFAC(parameterless, {{parameters_of(parameterless), KfacHyper{}}}); })})
    EXPECT_NE(e.find(": the parameter list is empty (expected at least one parameter"), std::string::npos) << e;
  EXPECT_TRUE(starts_with(error_of([] { SGD({}, SgdHyper{}); }), "sgd: the parameter list is empty"));
}

TEST(OptimizerMisuse, ACurvatureOptimizerNeedsALayerToPrecondition) {
  Generator gen(21);
  Linear model(3, 4, gen), other(3, 4, gen);
  // The parameters of another model: nothing of `model` would be preconditioned.
  EXPECT_EQ(error_of([&] { SINGD(model, {{parameters_of(other), SingdHyper{}}}); }),
            "singd: no layer to precondition: none of the 1 Linear/Conv2d layers given has its weight among the "
            "parameters (are the parameters those of another model?); a model without such layers needs a "
            "first-order optimizer (SGD, AdamW)");
  // No Linear/Conv2d layer at all.
  const std::string e = error_of([&] { KFAC({}, {{parameters_of(model), KfacHyper{}}}); });
  EXPECT_TRUE(starts_with(e, "kfac: no layer to precondition: none of the 0 Linear/Conv2d layers given has its "
                             "weight among the parameters; a model")) << e;
  // The same model's parameters are accepted.
  EXPECT_NO_THROW(SINGD(model, {{parameters_of(model), SingdHyper{}}}));
}

}  // namespace
}  // namespace ng::optim
