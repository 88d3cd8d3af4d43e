#!/usr/bin/env python3
"""scripts/make_golden_optim.py — PyTorch golden trajectories for natgrad's SGD, AdamW and schedules.

What it is: the reference side of tests/optim/first_order_golden_test.cpp (issue 4, points 2 and 3). It
runs torch.optim.SGD / torch.optim.AdamW for 20 steps on three float32 parameters split into two
parameter groups (weights; and a bias group with its own hyper-parameters), feeding a fixed, seeded
sequence of gradients (open loop: the gradient of step t does not depend on the parameters, so the test
checks the update rule and its state, not a model). It also records the learning-rate factors of
torch.optim.lr_scheduler schedules for 30 steps.

Output: tests/fixtures/optim_first_order.safetensors
  init.<p>                  float32, the initial parameters p in {w, b, conv}
  grad.<p>                  float32 [20, ...], the gradient fed at each step
  <config>.<p>              float32 [20, ...], the parameters after each step
  sched.<name>              float64 [30], lr(t)/base_lr for t = 0..29 (what the optimizer used at step t)
  __metadata__: format_version, configs (JSON: per config the optimizer and each group's hyper-parameters),
                schedules (JSON: their arguments), regenerate.

Deterministic: fixed seeds, one thread. Regenerate with
    python3 scripts/make_golden_optim.py
(pip torch safetensors); bump FORMAT_VERSION when the key layout changes.
"""
import json
import os

import torch
from safetensors.torch import save_file

FORMAT_VERSION = "1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "optim_first_order.safetensors")
STEPS = 20
SCHED_STEPS = 30

# Group 0: weights; group 1: the bias (own hyper-parameters, e.g. no weight decay).
CONFIGS = {
    "sgd_plain": ("sgd", [dict(lr=0.1), dict(lr=0.1)]),
    "sgd_momentum": ("sgd", [dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=1e-2),
                             dict(lr=0.02, momentum=0.5, weight_decay=0.0)]),
    "sgd_nesterov": ("sgd", [dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
                             dict(lr=0.05, momentum=0.9, nesterov=True)]),
    "adamw": ("adamw", [dict(lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.05),
                        dict(lr=3e-3, betas=(0.8, 0.999), eps=1e-6, weight_decay=0.0)]),
}

SCHEDULES = {
    "step": dict(step_size=7, gamma=0.5),
    "multistep": dict(milestones=[5, 12], gamma=0.3),
    "cosine": dict(T_max=20, final_factor=0.1),
    "warmup_cosine": dict(warmup=5, start_factor=0.1, T_max=20, final_factor=0.0),
    "one_cycle": dict(total_steps=30, pct_start=0.3, div_factor=25.0, final_div_factor=1e4),
}


def make_params(gen):
    return {
        "w": torch.randn(5, 3, generator=gen),
        "b": torch.randn(5, generator=gen),
        "conv": torch.randn(2, 3, 3, 3, generator=gen),
    }


def run(kind, groups, init, grads):
    params = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    pg = [dict(params=[params["w"], params["conv"]], **groups[0]), dict(params=[params["b"]], **groups[1])]
    opt = torch.optim.SGD(pg) if kind == "sgd" else torch.optim.AdamW(pg)
    traj = {k: [] for k in params}
    for t in range(STEPS):
        for k, p in params.items():
            p.grad = grads[k][t].clone()
        opt.step()
        for k, p in params.items():
            traj[k].append(p.detach().clone())
    return {k: torch.stack(v) for k, v in traj.items()}


def schedule_factors(name, a):
    base = 0.1
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base)
    if name == "step":
        s = torch.optim.lr_scheduler.StepLR(opt, a["step_size"], a["gamma"])
    elif name == "multistep":
        s = torch.optim.lr_scheduler.MultiStepLR(opt, a["milestones"], a["gamma"])
    elif name == "cosine":
        s = torch.optim.lr_scheduler.CosineAnnealingLR(opt, a["T_max"], eta_min=a["final_factor"] * base)
    elif name == "warmup_cosine":
        w = torch.optim.lr_scheduler.LinearLR(opt, start_factor=a["start_factor"], end_factor=1.0,
                                              total_iters=a["warmup"])
        c = torch.optim.lr_scheduler.CosineAnnealingLR(opt, a["T_max"], eta_min=a["final_factor"] * base)
        s = torch.optim.lr_scheduler.SequentialLR(opt, [w, c], milestones=[a["warmup"]])
    elif name == "one_cycle":
        s = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=base, total_steps=a["total_steps"],
                                                pct_start=a["pct_start"], div_factor=a["div_factor"],
                                                final_div_factor=a["final_div_factor"], anneal_strategy="cos",
                                                cycle_momentum=False)
    out = []
    for _ in range(SCHED_STEPS):
        out.append(opt.param_groups[0]["lr"] / base)
        opt.step()
        s.step()
    return torch.tensor(out, dtype=torch.float64)


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(1234)
    init = make_params(gen)
    grads = {k: torch.randn(STEPS, *v.shape, generator=gen) for k, v in init.items()}
    tensors = {}
    for k in init:
        tensors[f"init.{k}"] = init[k]
        tensors[f"grad.{k}"] = grads[k]
    for name, (kind, groups) in CONFIGS.items():
        for k, v in run(kind, groups, init, grads).items():
            tensors[f"{name}.{k}"] = v
    for name, a in SCHEDULES.items():
        tensors[f"sched.{name}"] = schedule_factors(name, a)
    meta = {
        "format_version": FORMAT_VERSION,
        "configs": json.dumps({n: {"optimizer": k, "groups": g} for n, (k, g) in CONFIGS.items()}),
        "schedules": json.dumps(SCHEDULES),
        "regenerate": "python3 scripts/make_golden_optim.py",
        "torch": torch.__version__,
    }
    save_file({k: v.contiguous() for k, v in tensors.items()}, OUT, metadata=meta)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
