#!/usr/bin/env python3
"""bench/torch_gpu_train_step.py — PyTorch side of the GPU training-step benchmark (issue 6, point 7).

What it is: the measurement of bench/gpu_train_step.cpp in PyTorch eager mode on CUDA: one step =
forward + cross-entropy (mean) + backward + optimizer step, VGG-16-BN for CIFAR-10 (the model of
scripts/make_golden_layers.py, imported, not copied), batch 128, train mode, fixed random inputs.
After warm-up steps, `steps` steps run back to back with one synchronisation at the end:
images/s = steps·batch / elapsed. Peak memory = torch.cuda.max_memory_allocated() over the run, minus
what was allocated before the model was built (natgrad reports its allocator's peak the same way).

Settings chosen to match natgrad's: float32 without TF32 (torch.backends.{cudnn,cuda.matmul}.allow_tf32
off — natgrad's float32 is exact float32), cuDNN left at PyTorch's defaults otherwise (heuristic
algorithm choice); bfloat16 = mixed precision: a float32 model under torch.autocast(bfloat16) on bf16
images (natgrad: float32 master weights, bf16 conv/linear compute, loss on float32 logits);
SGD(lr=0.01, momentum=0.9, weight_decay=5e-4) and AdamW(lr=1e-3, weight_decay=5e-4), PyTorch's default
(foreach) implementations.

Output, one line per (dtype, optimizer), parsed by scripts/gpu_check.sh:
    torch model=vgg16_bn dtype=float32 optimizer=sgd update=torch batch=128 steps=20 ms_per_step=...
          images_per_s=... peak_mib=... loss=...
Usage: python3 bench/torch_gpu_train_step.py [--dtypes float32,bfloat16] [--optimizers sgd,adamw]
                                             [--batch 128] [--warmup 3] [--steps 20] [--depth 16]
"""
import argparse
import os
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
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def make_optimizer(kind, params):
    if kind == "sgd":
        return torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4)
    if kind == "adamw":
        return torch.optim.AdamW(params, lr=1e-3, weight_decay=5e-4)
    return None


def run(depth, dtype_name, kind, batch, warmup, steps):
    dev = torch.device("cuda")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    torch.manual_seed(0)
    model = VGG(CFGS[depth], 1.0, 10).to(dev).train()  # float32 parameters: master weights under autocast
    mixed = dtype_name != "float32"
    x = torch.randn(batch, 3, 32, 32, device=dev, dtype=DTYPES[dtype_name])
    y = torch.randint(0, 10, (batch,), device=dev)
    opt = make_optimizer(kind, model.parameters())
    tag = f"torch model=vgg{depth}_bn dtype={dtype_name} optimizer={kind}"
    if opt is None:
        print(f"{tag} status=unavailable", flush=True)
        return

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=DTYPES[dtype_name], enabled=mixed):
            loss = F.cross_entropy(model(x), y)  # autocast takes cross-entropy in float32
        loss.backward()
        opt.step()
        return loss

    for _ in range(warmup):
        loss = step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = step()
    torch.cuda.synchronize()
    s = time.perf_counter() - t0
    peak_mib = (torch.cuda.max_memory_allocated() - base) / 2**20
    print(f"{tag} update=torch batch={batch} steps={steps} ms_per_step={1e3 * s / steps:.2f} "
          f"images_per_s={steps * batch / s:.1f} peak_mib={peak_mib:.1f} loss={loss.item():.4f}", flush=True)
    del model, opt, x, y
    torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--optimizers", default="sgd,adamw")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--depth", type=int, default=16, choices=sorted(CFGS))
    a = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("torch_gpu_train_step: torch sees no CUDA device")
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    print(f"# torch {torch.__version__} cuda {torch.version.cuda} cudnn {torch.backends.cudnn.version()} "
          f"device {torch.cuda.get_device_name()}", flush=True)
    for dt in a.dtypes.split(","):
        if dt not in DTYPES:
            sys.exit(f"torch_gpu_train_step: unknown dtype {dt!r}; choose from {', '.join(DTYPES)}")
        for kind in a.optimizers.split(","):
            run(a.depth, dt, kind, a.batch, a.warmup, a.steps)


if __name__ == "__main__":
    main()
