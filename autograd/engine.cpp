// autograd/engine.cpp — graph recording and the backward pass.
//
// run_backward: (1) walk the graph from the roots and count, per node, how many edges point at it;
// (2) process nodes whose count reached zero, latest-created first, summing the gradients that arrive
// for each node before calling its backward(); (3) release each node's saved tensors after it ran
// unless retain_graph. Gradients reaching a leaf go to its AccumulateGrad node (`+=` into .grad).
#include <atomic>
#include <queue>
#include <unordered_map>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"

namespace ng {

namespace {
std::atomic<uint64_t> g_sequence{0};

AutogradMeta& meta(TensorImpl* impl) {
  if (!impl->autograd) impl->autograd = std::make_unique<AutogradMeta>();
  return *impl->autograd;
}

// The node that receives the gradient of `t`: its grad_fn, its leaf accumulator, or null.
std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.impl()->autograd) return nullptr;
  AutogradMeta& m = *t.impl()->autograd;
  if (m.grad_fn) return m.grad_fn;
  if (!m.requires_grad) return nullptr;
  // The accumulator must not keep the leaf alive: it holds a weak reference.
  if (!m.accumulator) m.accumulator = std::make_shared<AccumulateGrad>(t.impl_ptr());
  return m.accumulator;
}

Tensor accumulate(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  NoGradGuard guard;
  return add(a, b);
}
}  // namespace

bool any_requires_grad(std::initializer_list<const Tensor*> inputs) {
  if (!grad_enabled()) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

void record(const std::shared_ptr<Node>& node, std::initializer_list<const Tensor*> inputs, Tensor& output) {
  node->next.clear();
  for (const Tensor* t : inputs) node->next.push_back(t ? gradient_edge(*t) : nullptr);
  node->sequence = g_sequence.fetch_add(1);
  AutogradMeta& m = meta(output.impl());
  m.requires_grad = true;
  m.grad_fn = node;
}

std::vector<Tensor> AccumulateGrad::backward(const Tensor& grad_output) {
  if (auto leaf = leaf_.lock()) {
    Tensor owner(leaf);
    // The first gradient is stored as is unless someone else (a capture callback, another node's
    // output) shares its storage; then .grad gets its own copy so later in-place edits stay private.
    const Tensor& prev = owner.grad();
    if (prev.defined())
      owner.set_grad(accumulate(prev, grad_output));
    else
      owner.set_grad(grad_output.storage().use_count() > 1 ? grad_output.clone() : grad_output);
    if (leaf->autograd && leaf->autograd->grad_accumulated_hook) leaf->autograd->grad_accumulated_hook();
  }
  return {};
}

void set_grad_accumulated_hook(const Tensor& leaf, std::function<void()> hook) {
  NG_CHECK(leaf.defined() && leaf.requires_grad() && leaf.is_leaf(), "set_grad_accumulated_hook: ",
           leaf.defined() ? leaf.describe() : std::string("an undefined tensor"), " is not a leaf that requires grad");
  meta(leaf.impl()).grad_accumulated_hook = std::move(hook);
}

namespace {

// (1) For every node reachable from the roots, the number of edges that lead into it.
std::unordered_map<Node*, int> dependency_counts(const std::vector<std::shared_ptr<Node>>& root_nodes) {
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack;
  for (const auto& n : root_nodes)
    if (deps.emplace(n.get(), 0).second) stack.push_back(n.get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const auto& nx : n->next) {
      if (!nx) continue;
      auto [it, inserted] = deps.emplace(nx.get(), 0);
      ++it->second;
      if (inserted) stack.push_back(nx.get());
    }
  }
  return deps;
}

// One node's backward on its summed output gradient g; frees the node's saved tensors unless retained.
std::vector<Tensor> backward_node(Node& n, const Tensor& g, bool retain_graph) {
  if (!g.defined()) return {};
  NG_CHECK(!n.released, "backward: trying to backward through ", n.name(),
           " a second time; its saved tensors were freed (pass retain_graph=true the first time)");
  std::vector<Tensor> in_grads = n.backward(g);
  NG_CHECK(in_grads.size() == n.next.size() || in_grads.empty(), n.name(), ": returned ", in_grads.size(),
           " gradients for ", n.next.size(), " inputs");
  // Leaf accumulators live across graphs; every other node frees its saved tensors.
  if (!retain_graph && !dynamic_cast<AccumulateGrad*>(&n)) {
    n.release();
    n.released = true;
  }
  return in_grads;
}

}  // namespace

void run_backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  NG_CHECK(roots.size() == grads.size(), "backward: ", roots.size(), " roots but ", grads.size(), " gradients");
  std::vector<std::shared_ptr<Node>> root_nodes;
  for (const Tensor& r : roots) {
    auto n = gradient_edge(r);
    NG_CHECK(n, "backward: tensor ", r.describe(), " does not require grad and has no grad_fn");
    root_nodes.push_back(n);
  }
  std::unordered_map<Node*, int> deps = dependency_counts(root_nodes);
  // (2) process in dependency order, newest node first among the ready ones.
  auto later = [](const std::shared_ptr<Node>& a, const std::shared_ptr<Node>& b) { return a->sequence < b->sequence; };
  std::priority_queue<std::shared_ptr<Node>, std::vector<std::shared_ptr<Node>>, decltype(later)> ready(later);
  std::unordered_map<Node*, Tensor> pending;
  for (size_t i = 0; i < roots.size(); ++i) {
    Node* n = root_nodes[i].get();
    pending[n] = accumulate(pending[n], grads[i]);
  }
  for (const auto& n : root_nodes)
    if (deps[n.get()] == 0) {
      deps[n.get()] = -1;  // queued
      ready.push(n);
    }
  while (!ready.empty()) {
    std::shared_ptr<Node> n = ready.top();
    ready.pop();
    Tensor g = std::move(pending[n.get()]);
    pending.erase(n.get());
    const std::vector<Tensor> in_grads = backward_node(*n, g, retain_graph);
    for (size_t i = 0; i < n->next.size(); ++i) {
      const auto& nx = n->next[i];
      if (!nx) continue;
      if (i < in_grads.size() && in_grads[i].defined()) pending[nx.get()] = accumulate(pending[nx.get()], in_grads[i]);
      if (--deps[nx.get()] == 0) ready.push(nx);
    }
  }
}

}  // namespace ng
