#!/usr/bin/env python3
"""scripts/make_golden_singd.py — golden trajectories of the reference SINGD/IKFAC (`pip install singd`)
and of an independent float64 KFAC, for natgrad's optimizer tests (issue 4, point 9).

What it is: the reference side of tests/optim/singd_golden_test.cpp and tests/optim/kfac_test.cpp. For each
configuration it trains a small float32 network with singd.optim.optimizer.SINGD for a few steps and records,
per step t and per preconditioned layer L (module names as in named_modules()):

  <cfg>.<t>.<L>.a / .g      the processed matrices the reference hands to its statistics (docs/singd.md §3.2:
                            a = A_rows/√R_a, g = G_rows·√n_loss), captured by wrapping singd's
                            process_input / process_grad_output; only on steps with t mod T = 0
  <cfg>.<t>.<L>.gW / .gb    the weight and bias gradients used by that step
  <cfg>.<t>.<L>.H_K / .H_C  the accumulated statistics before step() (dense), on update steps
  <cfg>.<t>.<L>.K / .C / .m_K / .m_C   the factors after step() (dense; m only when α1 ≠ 0)
  <cfg>.<t>.<L>.W / .b      the parameters after step()
  <cfg>.init.<param>        the initial parameters; <cfg>.<t>.x / .y the batch of step t (closed-loop tests)

Configurations (metadata "configs", JSON: model, steps, per group the layers and the hyper-parameters):
dense (T=1), T=3, diagonal, hierarchical15_15 on a wide MLP (all five blocks used), tril/triu Toeplitz,
IKFAC, normalize_lr_cov, a scheduled lr_cov (β1·0.5ᵗ), two groups with different structures, and a
conv→relu→pool→linear net in expand mode with loss_average batch / batch+sequence / None and in reduce mode.
Block-diagonal is not a reference configuration: natgrad fixes the reference's quirk Q1 (docs/singd.md §8), so its
test compares natgrad's block-diagonal with the reference's dense run where one block covers each factor.

KFAC (kfac.* keys): a float64 re-implementation of docs/singd.md §4's baseline written here from the formulas, run on
the MLP: A ← (1−β1)A + β1·aᵀa, G ← (1−β1)G + β1·gᵀg from A = G = I on steps t mod T = 0, inverses
(A + λI)⁻¹, (G + λI)⁻¹ refreshed every T_inv steps (Cholesky), N = G⁻¹ Gm A⁻¹, then heavy-ball SGD with
weight decay after preconditioning. The captured a, g are those of the reference's SINGD (same conventions).

Deterministic: fixed seeds, one thread. Regenerate with
    python3 scripts/make_golden_singd.py
(pip torch safetensors singd); bump FORMAT_VERSION when the key layout changes.
"""
import json
import os

import torch
import torch.nn as nn
import singd.optim.optimizer as singd_optimizer
from safetensors.torch import save_file
from singd.optim.optimizer import SINGD

FORMAT_VERSION = "1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "singd_golden.safetensors")

BASE = dict(lr=0.05, momentum=0.9, damping=0.05, alpha1=0.5, weight_decay=0.01, lr_cov=0.2, T=1,
            loss_average="batch", kfac_approx="expand", structures=["dense", "dense"], kfac_like=False,
            normalize_lr_cov=False)


def mlp():
    return nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))


def wide():
    return nn.Sequential(nn.Linear(40, 35), nn.ReLU(), nn.Linear(35, 10))


def conv():
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(27, 4))


MODELS = {"mlp": (mlp, (8, 6), 3), "wide": (wide, (8, 40), 10), "conv": (conv, (4, 2, 6, 6), 4)}

# name: (model, steps, [group overrides]) — one group holds every layer unless two are given
# (then group i holds layer i).
CONFIGS = {
    "dense": ("mlp", 5, [{}]),
    "dense_T3": ("mlp", 7, [dict(T=3)]),
    "diagonal": ("mlp", 5, [dict(structures=["diagonal", "diagonal"])]),
    "hierarchical": ("wide", 5, [dict(structures=["hierarchical15_15", "hierarchical15_15"])]),
    "triltoeplitz": ("mlp", 5, [dict(structures=["triltoeplitz", "triltoeplitz"])]),
    "triutoeplitz": ("mlp", 5, [dict(structures=["triutoeplitz", "triutoeplitz"])]),
    "ikfac": ("mlp", 5, [dict(kfac_like=True)]),
    "normalize": ("mlp", 5, [dict(normalize_lr_cov=True, lr_cov=0.5, damping=1.0)]),
    "lr_cov_schedule": ("mlp", 5, [dict(lr_cov_halving=True)]),
    "two_groups": ("mlp", 5, [dict(structures=["dense", "diagonal"]),
                              dict(structures=["triltoeplitz", "hierarchical15_15"], lr=0.02, T=2)]),
    "conv_expand_batch": ("conv", 5, [{}]),
    "conv_expand_batch_sequence": ("conv", 5, [dict(loss_average="batch+sequence")]),
    "conv_expand_none": ("conv", 5, [dict(loss_average=None)]),
    "conv_reduce_batch": ("conv", 5, [dict(kfac_approx="reduce")]),
}

KFAC = dict(lr=0.05, momentum=0.9, damping=0.1, weight_decay=0.01, lr_cov=0.2, T=1, T_inv=2, steps=5)


def layers_of(model):
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def group_hypers(over):
    h = dict(BASE)
    h.update(over)
    return h


def torch_group(h):
    g = {k: v for k, v in h.items() if k != "lr_cov_halving"}
    if h.get("lr_cov_halving"):
        base = h["lr_cov"]
        g["lr_cov"] = lambda t, base=base: base * 0.5 ** t
    g["structures"] = tuple(h["structures"])
    return g


def batch(model_name, t, gen):
    _, shape, classes = MODELS[model_name]
    x = 1.5 * torch.randn(*shape, generator=gen)
    y = torch.randint(0, classes, (shape[0],), generator=gen)
    return x, y


def run_config(name, spec, out):
    model_name, steps, overrides = spec
    torch.manual_seed(sum(map(ord, name)))
    model = MODELS[model_name][0]()
    layers = layers_of(model)
    hypers = [group_hypers(o) for o in overrides]
    if len(hypers) == 1:
        groups = [dict(params=[p for _, m in layers for p in m.parameters()], **torch_group(hypers[0]))]
        members = [[n for n, _ in layers]]
    else:
        groups = [dict(params=list(m.parameters()), **torch_group(h)) for (_, m), h in zip(layers, hypers)]
        members = [[n] for n, _ in layers]
    opt = SINGD(model, params=groups)
    names = {m: n for n, m in layers}
    captured = {}

    def wrap(fn, key):
        def wrapped(x, module, *args):
            r = fn(x, module, *args)
            captured[(names[module], key)] = r.detach().clone()
            return r
        return wrapped

    orig_in, orig_out = singd_optimizer.process_input, singd_optimizer.process_grad_output
    singd_optimizer.process_input = wrap(orig_in, "a")
    singd_optimizer.process_grad_output = wrap(orig_out, "g")
    try:
        for pn, p in model.named_parameters():
            out[f"{name}.init.{pn}"] = p.detach().clone()
        gen = torch.Generator().manual_seed(7)
        reduction = "sum" if hypers[0]["loss_average"] is None else "mean"
        for t in range(steps):
            x, y = batch(model_name, t, gen)
            out[f"{name}.{t}.x"], out[f"{name}.{t}.y"] = x, y
            captured.clear()
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y, reduction=reduction)
            loss.backward()
            for ln, m in layers:
                pre = f"{name}.{t}.{ln}"
                out[pre + ".gW"], out[pre + ".gb"] = m.weight.grad.clone(), m.bias.grad.clone()
                if (ln, "a") in captured:
                    out[pre + ".a"], out[pre + ".g"] = captured[(ln, "a")], captured[(ln, "g")]
                if ln in opt.H_Ks:
                    out[pre + ".H_K"], out[pre + ".H_C"] = opt.H_Ks[ln].to_dense().clone(), opt.H_Cs[ln].to_dense().clone()
            opt.step()
            for ln, m in layers:
                pre = f"{name}.{t}.{ln}"
                out[pre + ".K"], out[pre + ".C"] = opt.Ks[ln].to_dense().clone(), opt.Cs[ln].to_dense().clone()
                if ln in opt.m_Ks:
                    out[pre + ".m_K"], out[pre + ".m_C"] = opt.m_Ks[ln].to_dense().clone(), opt.m_Cs[ln].to_dense().clone()
                out[pre + ".W"], out[pre + ".b"] = m.weight.detach().clone(), m.bias.detach().clone()
    finally:
        singd_optimizer.process_input, singd_optimizer.process_grad_output = orig_in, orig_out
    return {"model": model_name, "steps": steps, "layers": [n for n, _ in layers],
            "groups": [dict(layers=mem, **h) for mem, h in zip(members, hypers)]}


def run_kfac(out, dense_cfg="dense"):
    """Independent float64 KFAC on the inputs of the `dense` configuration's captures and gradients.

    The gradients depend on the parameters, so this is an open-loop reference: the C++ test feeds the same
    captured a, g and gradients (those of the SINGD run) and compares natgrad's KFAC with this run."""
    h = KFAC
    layers = [n for n in ["0", "2"]]
    state = {}
    for ln in layers:
        W = out[f"{dense_cfg}.init.{ln}.weight"].double()
        b = out[f"{dense_cfg}.init.{ln}.bias"].double()
        di, do = W.shape[1] + 1, W.shape[0]
        state[ln] = dict(W=W.clone(), b=b.clone(), A=torch.eye(di, dtype=torch.float64),
                         G=torch.eye(do, dtype=torch.float64), bufW=None, bufb=None)
    for t in range(h["steps"]):
        for ln in layers:
            s = state[ln]
            pre = f"{dense_cfg}.{t}.{ln}"
            if t % h["T"] == 0:
                a, g = out[pre + ".a"].double(), out[pre + ".g"].double()
                s["A"] = (1 - h["lr_cov"]) * s["A"] + h["lr_cov"] * a.T @ a
                s["G"] = (1 - h["lr_cov"]) * s["G"] + h["lr_cov"] * g.T @ g
            if t % h["T_inv"] == 0:
                s["Ainv"] = torch.cholesky_inverse(torch.linalg.cholesky(s["A"] + h["damping"] * torch.eye(len(s["A"]), dtype=torch.float64)))
                s["Ginv"] = torch.cholesky_inverse(torch.linalg.cholesky(s["G"] + h["damping"] * torch.eye(len(s["G"]), dtype=torch.float64)))
            Gm = torch.cat([out[pre + ".gW"].double(), out[pre + ".gb"].double().unsqueeze(1)], dim=1)
            N = s["Ginv"] @ Gm @ s["Ainv"]
            for key, nat in (("W", N[:, :-1]), ("b", N[:, -1])):
                step = nat + h["weight_decay"] * s[key]
                buf = s["buf" + key]
                buf = step.clone() if buf is None else h["momentum"] * buf + step
                s["buf" + key] = buf
                s[key] = s[key] - h["lr"] * buf
            kp = f"kfac.{t}.{ln}"
            out[kp + ".A"], out[kp + ".G"] = s["A"].clone(), s["G"].clone()
            out[kp + ".A_inv"], out[kp + ".G_inv"] = s["Ainv"].clone(), s["Ginv"].clone()
            out[kp + ".W"], out[kp + ".b"] = s["W"].clone(), s["b"].clone()


def main():
    torch.set_num_threads(1)
    out, configs = {}, {}
    for name, spec in CONFIGS.items():
        configs[name] = run_config(name, spec, out)
    run_kfac(out)
    meta = {"format_version": FORMAT_VERSION, "configs": json.dumps(configs), "kfac": json.dumps(KFAC),
            "regenerate": "python3 scripts/make_golden_singd.py", "torch": torch.__version__}
    save_file({k: v.contiguous() for k, v in out.items()}, OUT, metadata=meta)
    print("wrote", OUT, len(out), "tensors,", os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
