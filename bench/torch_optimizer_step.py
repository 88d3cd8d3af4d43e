#!/usr/bin/env python3
"""bench/torch_optimizer_step.py — the PyTorch side of bench/optimizer_step.cpp.

Same model (CIFAR VGG with batch norm, torchvision cfg, head Linear(last_channels, 10)), batch, step counts
and thread count; optimizers: torch.optim.SGD and AdamW, and the reference `singd` package's SINGD
(dense, diagonal, hierarchical15_15, triltoeplitz; T = 10) and IKFAC (kfac_like, dense). The reference trains
only Linear/Conv2d, so BatchNorm parameters get a second torch.optim.SGD with the same lr and momentum (what
natgrad's fallback rule does inside one optimizer). KFAC has no reference implementation here (n/a).
"opt" times the optimizer step(s) alone — singd computes its statistics inside backward, so compare whole
steps. Writes {name: {"opt_ms", "step_ms"}} to --json.

    python3 bench/torch_optimizer_step.py --batch 128 --steps 10 --warmup 1 --threads 2 --json out.json
"""
import argparse
import json
import time

import torch
import torch.nn as nn

CFG = {11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
       13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
       16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
       19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]}


class VGG(nn.Module):
    def __init__(self, depth, width):
        super().__init__()
        layers, c = [], 3
        for v in CFG[depth]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                w = int(v * width)
                layers += [nn.Conv2d(c, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU()]
                c = w
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, 10)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def make(name, model):
    """Returns a list of optimizers stepped together."""
    if name == "sgd":
        return [torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)]
    if name == "adamw":
        return [torch.optim.AdamW(model.parameters())]
    if not (name.startswith("singd_") or name == "ikfac"):
        return None
    from singd.optim.optimizer import SINGD
    structure = {"singd_dense": "dense", "singd_diagonal": "diagonal", "singd_block_diagonal": "block30diagonal",
                 "singd_hierarchical": "hierarchical15_15", "singd_tril_toeplitz": "triltoeplitz",
                 "singd_triu_toeplitz": "triutoeplitz", "ikfac": "dense"}[name]
    curv = [p for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) for p in m.parameters()]
    ids = {id(p) for p in curv}
    rest = [p for p in model.parameters() if id(p) not in ids]
    singd = SINGD(model, params=curv, lr=1e-3, momentum=0.9, damping=1e-3, lr_cov=1e-2, T=10,
                  structures=(structure, structure), kfac_like=name == "ikfac", warn_unsupported=False)
    return [singd, torch.optim.SGD(rest, lr=1e-3, momentum=0.9)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--depth", type=int, default=16)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default="")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    names = ["sgd", "adamw", "singd_dense", "singd_diagonal", "singd_block_diagonal", "singd_hierarchical",
             "singd_tril_toeplitz", "singd_triu_toeplitz", "ikfac"]
    if a.only:
        names = [n for n in names if n in a.only.split(",")]
    out = {}
    print(f"PyTorch {torch.__version__}: VGG-{a.depth}-BN width {a.width}, batch {a.batch}, {a.threads} threads")
    print(f"{'optimizer':22s} {'opt ms':>12s} {'step ms':>12s}")
    for name in names:
        torch.manual_seed(0)
        model = VGG(a.depth, a.width)
        opts = make(name, model)
        x = torch.randn(a.batch, 3, 32, 32)
        y = torch.arange(a.batch) % 10
        opt_ms = step_ms = 0.0
        for s in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            for o in opts:
                o.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            t1 = time.perf_counter()
            for o in opts:
                o.step()
            t2 = time.perf_counter()
            if s >= a.warmup:
                opt_ms += (t2 - t1) * 1e3 / a.steps
                step_ms += (t2 - t0) * 1e3 / a.steps
        out[name] = {"opt_ms": opt_ms, "step_ms": step_ms}
        print(f"{name:22s} {opt_ms:12.1f} {step_ms:12.1f}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f)


if __name__ == "__main__":
    main()
