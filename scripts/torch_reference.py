#!/usr/bin/env python3
"""scripts/torch_reference.py — PyTorch replica of a natgrad run config, for the README's reference numbers.

Reads a natgrad config (VGG model, CIFAR-10, "sgd" or "adamw" optimizer, an "lr" schedule) and trains the
same recipe with PyTorch on the CPU: same architecture and PyTorch-default initialisation, per-channel
normalisation computed on the training set, random crop with padding (zero or reflect) and horizontal flip,
label smoothing, SGD (Nesterov, momentum, weight decay, optionally none on 1-D parameters) or AdamW, and the
schedule as natgrad defines it (optim/schedule.h: multiplier of the configured value per optimizer step;
warm-up then cosine, one-cycle = torch's OneCycleLR without momentum cycling, step, multistep, constant).
Only the random draws (initial weights, shuffling, augmentation) differ from natgrad's.

Prints one line per epoch and writes a summary JSON in the shape of natgrad's summary.json (final and best
test accuracy, mean epoch seconds, time to the target accuracy, optimizer-state bytes), so `natgrad compare`
and this script give comparable rows.

usage: python3 scripts/torch_reference.py CONFIG.json [--seed N] [--threads N] [--out summary.json]
needs: torch, numpy; CIFAR-10 binary batches ($NATGRAD_DATA or ../shared/data next to the repository).
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn

VGG_CFG = {11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
           13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
           16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
           19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]}


class VGG(nn.Module):
    """natgrad's layers/vgg.h: features (conv3x3 [+BN] + ReLU, max-pool) and a Linear CIFAR head."""

    def __init__(self, depth, width, batch_norm, num_classes):
        super().__init__()
        layers, c = [], 3
        for v in VGG_CFG[depth]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            o = int(v * width)
            layers.append(nn.Conv2d(c, o, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(o))
            layers.append(nn.ReLU())
            c = o
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def data_root(cfg):
    root = cfg.get("data", {}).get("root") or os.environ.get("NATGRAD_DATA")
    if not root:
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        root = next(r for r in (os.path.join(repo, "..", "shared", "data"), os.path.join(repo, "data"))
                    if os.path.isdir(os.path.join(r, "cifar-10-batches-bin")))
    return os.path.join(root, "cifar-10-batches-bin")


def load(root, files, limit):
    raw = np.concatenate([np.fromfile(os.path.join(root, f), dtype=np.uint8).reshape(-1, 3073) for f in files])
    if limit:
        raw = raw[:limit]
    return raw[:, 1:].reshape(-1, 3, 32, 32), raw[:, 0].astype(np.int64)


def schedule_factor(s, total, spe):
    """natgrad's schedule multiplier f(t) for the config block `s` (optim/schedule.h)."""
    if s is None:
        return lambda t: 1.0
    kind = s["type"]
    if kind == "one_cycle":
        p, div, fdiv = s.get("pct_start", 0.3), s.get("div_factor", 25.0), s.get("final_div_factor", 1e4)
        up = p * total - 1
        def one_cycle(t):
            lo, hi, end = 1 / div, 1.0, 1 / (div * fdiv)
            t = min(t, total - 1)
            if t <= up:
                return hi + (lo - hi) * (1 + math.cos(math.pi * t / up)) / 2
            return end + (hi - end) * (1 + math.cos(math.pi * (t - up) / (total - 1 - up))) / 2
        return one_cycle
    warm = round(s.get("warmup_epochs", 0.0) * spe)
    f0 = s.get("warmup_start_factor", 0.1)
    rest = max(1, total - warm)
    if kind == "constant":
        inner = lambda t: 1.0
    elif kind == "step":
        step, g = max(1, round(s.get("step_epochs", 1.0) * spe)), s.get("gamma", 0.1)
        inner = lambda t: g ** (t // step)
    elif kind == "multistep":
        ms, g = [max(0, round(e * spe) - warm) for e in s["milestones_epochs"]], s.get("gamma", 0.1)
        inner = lambda t: g ** sum(m <= t for m in ms)
    else:  # cosine
        fe = s.get("final_factor", 0.0)
        inner = lambda t: fe + (1 - fe) * (1 + math.cos(math.pi * min(t, rest) / rest)) / 2
    return lambda t: (f0 + (1 - f0) * t / warm) * inner(0) if t < warm else inner(t - warm)


def augment(x, rng, pad, mode, flip):
    """Random crop of the padded batch and horizontal flip, vectorised (uint8 NCHW in, uint8 out)."""
    n, _, h, w = x.shape
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="reflect" if mode == "reflect" else "constant")
    dy = rng.integers(0, 2 * pad + 1, n) if pad else np.zeros(n, np.int64)
    dx = rng.integers(0, 2 * pad + 1, n) if pad else np.zeros(n, np.int64)
    rows = dy[:, None] + np.arange(h)[None]
    cols = dx[:, None] + np.arange(w)[None]
    if flip:
        f = rng.random(n) < 0.5
        cols = np.where(f[:, None], cols[:, ::-1], cols)
    return x[np.arange(n)[:, None, None, None], np.arange(3)[None, :, None, None], rows[:, None, :, None],
             cols[:, None, None, :]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    cfg = json.load(open(a.config))
    seed = cfg.get("seed", 0) if a.seed is None else a.seed
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    torch.set_num_threads(a.threads or cfg.get("threads", 0) or os.cpu_count())
    data, train, opt_cfg = cfg.get("data", {}), cfg.get("train", {}), cfg["optimizer"]
    root = data_root(cfg)
    xtr, ytr = load(root, [f"data_batch_{i}.bin" for i in range(1, 6)], data.get("train_subset", 0))
    xte, yte = load(root, ["test_batch.bin"], data.get("test_subset", 0))
    planes = xtr.transpose(1, 0, 2, 3).reshape(3, -1).astype(np.float64)
    mean = torch.tensor(planes.mean(1) / 255, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(planes.std(1) / 255, dtype=torch.float32).view(1, 3, 1, 1)
    norm = lambda x: (torch.from_numpy(np.ascontiguousarray(x)).float() / 255 - mean) / std
    m = cfg["model"]
    model = VGG(m.get("depth", 16), m.get("width", 1.0), m.get("batch_norm", True), m.get("num_classes", 10))

    kind = opt_cfg["type"]
    decay_all = opt_cfg.get("weight_decay_bias_and_norm", True)
    wd = opt_cfg.get("weight_decay", 0.0 if kind == "sgd" else 0.01)
    groups = [{"params": [p for p in model.parameters() if p.dim() > 1 or decay_all], "weight_decay": wd}]
    if not decay_all:
        groups.append({"params": [p for p in model.parameters() if p.dim() <= 1], "weight_decay": 0.0})
    if kind == "sgd":
        opt = torch.optim.SGD(groups, lr=opt_cfg.get("lr", 0.01), momentum=opt_cfg.get("momentum", 0.0),
                              dampening=opt_cfg.get("dampening", 0.0), nesterov=opt_cfg.get("nesterov", False))
    elif kind == "adamw":
        opt = torch.optim.AdamW(groups, lr=opt_cfg.get("lr", 1e-3),
                                betas=(opt_cfg.get("beta1", 0.9), opt_cfg.get("beta2", 0.999)), eps=opt_cfg.get("eps", 1e-8))
    else:
        raise SystemExit(f"{a.config}: optimizer '{kind}' has no PyTorch reference here (sgd and adamw only)")

    epochs, batch = train.get("epochs", 10), train.get("batch_size", 128)
    spe = len(xtr) // batch if data.get("drop_last", True) else math.ceil(len(xtr) / batch)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, schedule_factor(cfg.get("schedules", {}).get("lr"), epochs * spe, spe))
    loss_fn = nn.CrossEntropyLoss(label_smoothing=train.get("label_smoothing", 0.0))
    aug = data.get("augmentation", {})
    on = aug.get("enabled", True)
    pad, mode, flip = (aug.get("crop_padding", 4), aug.get("pad_mode", "zero"), aug.get("horizontal_flip", True)) if on else (0, "zero", False)
    xte_t, yte_t = norm(xte), torch.from_numpy(yte)

    target = cfg.get("eval", {}).get("target_accuracy")
    best, final, epoch_times, time_to_target = 0.0, 0.0, [], None
    start = time.time()
    for epoch in range(epochs):
        t0 = time.time()
        model.train()
        order = rng.permutation(len(xtr)) if data.get("shuffle", True) else np.arange(len(xtr))
        seen = correct = 0
        loss_sum = 0.0
        for s in range(spe):
            idx = order[s * batch:(s + 1) * batch]
            xb, yb = norm(augment(xtr[idx], rng, pad, mode, flip)), torch.from_numpy(ytr[idx])
            out = model(xb)
            loss = loss_fn(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            seen += len(idx)
            correct += (out.argmax(1) == yb).sum().item()
            loss_sum += loss.item() * len(idx)
        epoch_times.append(time.time() - t0)
        model.eval()
        eb = cfg.get("eval", {}).get("batch_size", 1000)
        with torch.no_grad():
            final = sum((model(xte_t[i:i + eb]).argmax(1) == yte_t[i:i + eb]).sum().item()
                        for i in range(0, len(yte), eb)) / len(yte)
        best = max(best, final)
        if target is not None and time_to_target is None and final >= target:
            time_to_target = time.time() - start  # training and evaluation time, as natgrad counts it
        print(f"epoch {epoch + 1}/{epochs}  train loss {loss_sum / seen:.4f}  train acc {100 * correct / seen:.2f}%  "
              f"test acc {100 * final:.2f}%  ({epoch_times[-1]:.1f}s)", flush=True)
    summary = {"name": cfg.get("name", os.path.splitext(os.path.basename(a.config))[0]) + "-pytorch",
               "optimizer": kind, "seed": seed, "status": "completed", "epochs": epochs,
               "final_test_accuracy": final, "best_test_accuracy": best,
               "mean_epoch_seconds": sum(epoch_times) / len(epoch_times), "target_accuracy": target,
               "time_to_target_seconds": time_to_target,
               "optimizer_state_bytes": sum(t.numel() * t.element_size() for st in opt.state.values()
                                            for t in st.values() if torch.is_tensor(t)),
               "torch_version": torch.__version__, "threads": torch.get_num_threads()}
    print(json.dumps(summary))
    if a.out:
        json.dump(summary, open(a.out, "w"), indent=2)


if __name__ == "__main__":
    main()
