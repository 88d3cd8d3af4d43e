#!/usr/bin/env python3
"""bench/torch_train_step.py — PyTorch side of the training-step benchmark (issue 2, point 11).

What it is: the same measurement as bench/train_step.cpp, in PyTorch on the CPU: one training step =
forward + cross-entropy (mean) + backward + torch.optim.SGD step (η = 0.01, momentum μ = 0.9, weight
decay 5e-4 — the settings of natgrad's optim::SGD in the C++ bench), batch 128, float32, train mode,
2 threads. Steps are timed after warm-up; images/s = batch / median step time; the medians of the
forward (+ loss), backward and optimizer parts are printed too.

The VGG models are the ones of scripts/make_golden_layers.py (imported, not copied): VGG-11-BN at width
0.25 and VGG-16-BN, CIFAR-10 head Linear(last_channels, 10), 3×32×32 inputs.

Output, one line per model (parsed by scripts/bench_train_step.sh):
    torch model=vgg11_bn_w0.25 batch=128 threads=2 steps=20 median_ms=... images_per_s=... forward_ms=...
          backward_ms=... optimizer_ms=... loss=...
Usage: python3 bench/torch_train_step.py [--models vgg11_bn_w0.25,vgg16_bn] [--threads 2] [--batch 128]
                                         [--warmup 2] [--steps N]
"""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
from make_golden_layers import VGG  # noqa: E402

CFGS = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}
# name -> (depth, width, default timed steps)
MODELS = {"vgg11_bn_w0.25": (11, 0.25, 20), "vgg16_bn": (16, 1.0, 5)}


def bench(name, batch, warmup, steps, threads):
    depth, width, default_steps = MODELS[name]
    steps = steps or default_steps
    torch.manual_seed(0)
    model = VGG(CFGS[depth], width, 10).train()
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    sgd = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    parts = {"total": [], "forward": [], "backward": [], "optimizer": []}  # seconds per timed step
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        sgd.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        sgd.step()
        t3 = time.perf_counter()
        if i >= warmup:
            for k, v in zip(parts, (t3 - t0, t1 - t0, t2 - t1, t3 - t2)):
                parts[k].append(v)
    med = {k: statistics.median(v) for k, v in parts.items()}
    print(f"torch model={name} batch={batch} threads={threads} steps={steps} "
          f"median_ms={med['total'] * 1e3:.1f} images_per_s={batch / med['total']:.1f} "
          f"forward_ms={med['forward'] * 1e3:.1f} backward_ms={med['backward'] * 1e3:.1f} "
          f"optimizer_ms={med['optimizer'] * 1e3:.1f} loss={loss.item():.4f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=0, help="timed steps (0: per-model default)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    for name in a.models.split(","):
        if name not in MODELS:
            sys.exit(f"torch_train_step: unknown model {name!r}; choose from {', '.join(MODELS)}")
        bench(name, a.batch, a.warmup, a.steps, a.threads)


if __name__ == "__main__":
    main()
