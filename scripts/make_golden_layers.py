#!/usr/bin/env python3
"""scripts/make_golden_layers.py — writes the PyTorch golden fixtures for natgrad's layers.

What it is: the reference side of tests/golden/layers_golden_test.cpp (issue 2, points 9 and 10). It
builds two small PyTorch models on the CPU, runs ONE train-mode forward + backward pass on a fixed
batch and stores everything natgrad must reproduce, as float32 safetensors files under tests/fixtures/:

  layers_vgg11bn_w025_state.safetensors   safetensors.torch.save_file(model.state_dict()) of the VGG
                                          *before* the step (initial weights and buffers). The golden
                                          test loads its weights from here, and the interop tests load
                                          it strictly and compare natgrad's own save of it byte for byte.
  layers_vgg11bn_w025_golden.safetensors  input, target, logits, loss, every parameter gradient and
                                          the BatchNorm buffers after the step (the weights live in the
                                          state file above, so they are stored once).
  layers_stack_golden.safetensors         conv(groups=2, dilation=2) -> bn -> relu -> maxpool -> flatten
                                          -> linear: its state before the step plus the same outputs.

Golden-file keys (each golden file's __metadata__ holds one entry, "natgrad_golden": sorted JSON with
format, format_version, generator, regenerate, torch_version and a model description):
  input            float32 [N, C, H, W]      target      int64 [N]
  logits           float32 [N, classes]      loss        float32 [] (cross-entropy, mean reduction)
  grad.<name>      float32, one per parameter, <name> as in PyTorch's named_parameters()
  after.<name>     BatchNorm buffers (running_mean, running_var, num_batches_tracked) after the step
  eval_logits      logits of the same batch in eval mode, using the running statistics after the step
  state.<key>      (stack file only) the state_dict before the step

What it simplifies: the models are the VGG of issue 2 point 7 (torchvision-style cfg, conv3x3 pad 1 +
BatchNorm + ReLU, MaxPool2d(2, 2), flatten, CIFAR head Linear(last_channels, classes)) written out here
instead of imported, so the key names are exactly natgrad's (`features.N.*`, `classifier.*`).
Weights are PyTorch's default initialisation drawn with a fixed seed; then BatchNorm's affine
parameters and running statistics are moved off their defaults (γ=1, β=0, μ=0, σ²=1, count 0) with the
same seeded generator, so that a natgrad bug that ignores γ/β or the old running statistics (the momentum
update r ← (1-m) r + m·stat) cannot pass unnoticed.

Deterministic: one CPU thread, deterministic algorithms, fixed seeds. Regenerate with
    python3 scripts/make_golden_layers.py
(needs `pip install torch safetensors`); bump FORMAT_VERSION when the key layout changes.
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

FORMAT_VERSION = "1"
SCRIPT = "scripts/make_golden_layers.py"
REGENERATE = "python3 scripts/make_golden_layers.py"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")

# VGG-11 ("A" in Simonyan & Zisserman 2015, Table 1); 'M' = MaxPool2d(2, 2).
VGG11_CFG = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]


class VGG(nn.Module):
    """features = [Conv3x3(pad 1) -> BN -> ReLU | MaxPool]*, classifier = Linear(last_channels, classes)."""

    def __init__(self, cfg, width, classes):
        super().__init__()
        layers, c = [], 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                out = int(v * width)
                layers += [nn.Conv2d(c, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
                c = out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def make_stack():
    # x [4, 4, 8, 8] -> conv (8 + 2·2 - 2·(3-1) = 8) -> [4, 6, 8, 8] -> pool -> [4, 6, 4, 4] -> 96 -> 5
    return nn.Sequential(
        nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.MaxPool2d(2, 2),
        nn.Flatten(),
        nn.Linear(6 * 4 * 4, 5),
    )


def perturb_batchnorm(model, gen):
    """Moves every BatchNorm's γ, β, running statistics and count off their defaults."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)    # γ in [0.5, 1.5)
                m.bias.copy_(torch.rand(c, generator=gen) - 0.5)      # β in [-0.5, 0.5)
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
                m.num_batches_tracked.fill_(3)


def train_step(model, x, target):
    """One train-mode forward + backward; returns the golden tensors (without the initial state)."""
    model.train()
    model.zero_grad(set_to_none=True)
    logits = model(x)
    loss = F.cross_entropy(logits, target, reduction="mean")
    loss.backward()
    out = {"input": x, "target": target, "logits": logits.detach(), "loss": loss.detach()}
    for name, p in model.named_parameters():
        out["grad." + name] = p.grad
    for name, b in model.named_buffers():
        out["after." + name] = b
    model.eval()
    with torch.no_grad():
        out["eval_logits"] = model(x)
    return out


def metadata(model_desc):
    # One metadata entry holding sorted JSON: safetensors writes its metadata map in hash order, so
    # several entries would make regenerated files differ byte-wise even when every tensor is equal.
    info = {
        "format": "natgrad-golden-layers",
        "format_version": FORMAT_VERSION,
        "generator": SCRIPT,
        "regenerate": REGENERATE,
        "torch_version": torch.__version__,
        "model": model_desc,
    }
    return {"natgrad_golden": json.dumps(info, sort_keys=True)}


def save(tensors, name, meta):
    path = os.path.join(FIXTURES, name)
    save_file({k: v.detach().contiguous() for k, v in tensors.items()}, path, metadata=meta)
    print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path)} bytes)")


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(FIXTURES, exist_ok=True)

    # (a) VGG-11-BN, width 0.25, CIFAR-10 head; batch of 4 CIFAR-shaped images.
    torch.manual_seed(20240611)
    gen = torch.Generator().manual_seed(11)
    vgg = VGG(VGG11_CFG, 0.25, 10)
    perturb_batchnorm(vgg, gen)
    # (c) the interop file: exactly what a PyTorch user writes.
    state_path = os.path.join(FIXTURES, "layers_vgg11bn_w025_state.safetensors")
    save_file(vgg.state_dict(), state_path)
    print(f"wrote {os.path.relpath(state_path, ROOT)} ({os.path.getsize(state_path)} bytes)")
    x = torch.randn(4, 3, 32, 32, generator=gen)
    target = torch.randint(0, 10, (4,), generator=gen)
    desc = "VGG-11-BN width 0.25, 10 classes; weights in layers_vgg11bn_w025_state.safetensors"
    save(train_step(vgg, x, target), "layers_vgg11bn_w025_golden.safetensors", metadata(desc))

    # (b) conv(groups, dilation) -> bn -> relu -> pool -> linear.
    torch.manual_seed(7)
    gen = torch.Generator().manual_seed(12)
    stack = make_stack()
    perturb_batchnorm(stack, gen)
    state = {"state." + k: v.clone() for k, v in stack.state_dict().items()}
    x = torch.randn(4, 4, 8, 8, generator=gen)
    target = torch.randint(0, 5, (4,), generator=gen)
    desc = ("Sequential(Conv2d(4, 6, 3, padding=2, dilation=2, groups=2), BatchNorm2d(6), ReLU, "
            "MaxPool2d(2, 2), Flatten, Linear(96, 5)); weights under state.*")
    save({**state, **train_step(stack, x, target)}, "layers_stack_golden.safetensors", metadata(desc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
