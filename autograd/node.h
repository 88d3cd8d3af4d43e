// autograd/node.h — a backward node of the define-by-run graph, and the per-tensor autograd state.
//
// Every differentiable op creates exactly one named Node subclass (Conv2dBackward, ReluBackward, ...)
// that holds the tensors it saved as named fields. An op has one output; its node maps the gradient
// of that output to one gradient per input (an undefined Tensor where an input needs none).
// `next` holds, per input, the node that receives that gradient: the input's grad_fn, or an
// AccumulateGrad node for a leaf that requires grad, or null.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ng {

class Node {
 public:
  virtual ~Node() = default;
  virtual const char* name() const = 0;
  // Gradients w.r.t. each input, in input order (size == next.size()).
  virtual std::vector<Tensor> backward(const Tensor& grad_output) = 0;
  // Frees saved tensors once the node has run (graph release). Nodes override it to reset fields.
  virtual void release() {}

  std::vector<std::shared_ptr<Node>> next;
  uint64_t sequence = 0;  // creation order; later nodes run first among ready ones
  bool released = false;  // set by the engine after release(); a second backward then fails clearly
};

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;          // null for leaves
  std::shared_ptr<Node> accumulator;      // leaf's AccumulateGrad node, created on first use
  // Called after a backward pass added this leaf's gradient into .grad (data-parallel training starts
  // the gradient all-reduce of a finished bucket from it, dist/grad_reducer.h); empty: none.
  std::function<void()> grad_accumulated_hook;
};

// Sets (or, with an empty function, clears) the hook of a leaf that requires grad.
void set_grad_accumulated_hook(const Tensor& leaf, std::function<void()> hook);

// Leaf sink: adds the incoming gradient into the leaf's .grad (`+=` accumulation).
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(std::weak_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  const char* name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> backward(const Tensor& grad_output) override;

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

// True if any input requires grad (and grad mode is on): the op must record a node.
bool any_requires_grad(std::initializer_list<const Tensor*> inputs);

// Connects `node` to `inputs` (fills node->next, assigns a sequence number) and makes it the
// grad_fn of `output`. Call only when any_requires_grad(inputs).
void record(const std::shared_ptr<Node>& node, std::initializer_list<const Tensor*> inputs,
            Tensor& output);

// Runs the backward pass from `roots` with the given seed gradients (engine.cpp).
void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads,
                  bool retain_graph);

}  // namespace ng
