#!/usr/bin/env python3
"""bench/torch_conv_layers.py — PyTorch CPU reference timings for the VGG conv layers on CIFAR-10.

Prints, per conv layer of VGG-16 (or VGG-11) at the given width, batch 128, float32, 3x3 stride 1 pad 1,
the best-of-reps milliseconds (the least noisy statistic on a shared machine) of: forward,
backward-input, backward-weight(+bias), in the same table format as bench_conv_layers
(bench/conv_layers.cpp), so the two can be compared line by line.
Backward parts are timed separately through aten.convolution_backward with an output mask.

  python3 bench/torch_conv_layers.py [--arch vgg16|vgg11] [--width 1.0] [--batch 128] [--threads 2] [--reps 5]
                                     [--clock wall|cpu]
"""
import argparse
import time

import torch
import torch.nn.functional as F

CFG = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def conv_layers(arch, width):
    """(C_in, C_out, H) of each conv layer (H = W; the image is 32x32 and each "M" halves it)."""
    layers, c_in, h = [], 3, 32
    for v in CFG[arch]:
        if v == "M":
            h //= 2
        else:
            c_out = max(1, int(v * width))
            layers.append((c_in, c_out, h))
            c_in = c_out
    return layers


def best_ms(fn, reps, clock):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t = clock()
        fn()
        times.append((clock() - t) * 1e3)
    return min(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="vgg16", choices=sorted(CFG))
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                   help="cpu: process CPU time summed over threads (robust on a shared machine; use --threads 1)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    clock = time.process_time if a.clock == "cpu" else time.perf_counter
    g = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__} threads={a.threads} {a.arch} width={a.width} batch={a.batch} clock={a.clock}")
    print(f"{'layer':>5} {'C_in':>5} {'C_out':>5} {'H':>3} {'fwd_ms':>9} {'bwd_in_ms':>9} {'bwd_w_ms':>9} {'total':>9}")
    totals = [0.0, 0.0, 0.0]
    for i, (c_in, c_out, h) in enumerate(conv_layers(a.arch, a.width)):
        x = torch.randn(a.batch, c_in, h, h, generator=g)
        w = torch.randn(c_out, c_in, 3, 3, generator=g) * 0.1
        b = torch.randn(c_out, generator=g)
        gy = torch.randn(a.batch, c_out, h, h, generator=g)
        args = ([c_out], [1, 1], [1, 1], [1, 1], False, [0, 0], 1)
        fwd = best_ms(lambda: F.conv2d(x, w, b, padding=1), a.reps, clock)
        bwd_in = best_ms(lambda: torch.ops.aten.convolution_backward(gy, x, w, *args, [True, False, False]),
                           a.reps, clock)
        bwd_w = best_ms(lambda: torch.ops.aten.convolution_backward(gy, x, w, *args, [False, True, True]),
                          a.reps, clock)
        for j, t in enumerate((fwd, bwd_in, bwd_w)):
            totals[j] += t
        print(f"{i:>5} {c_in:>5} {c_out:>5} {h:>3} {fwd:9.2f} {bwd_in:9.2f} {bwd_w:9.2f} {fwd + bwd_in + bwd_w:9.2f}")
    print(f"{'sum':>5} {'':>5} {'':>5} {'':>3} {totals[0]:9.2f} {totals[1]:9.2f} {totals[2]:9.2f} {sum(totals):9.2f}")


if __name__ == "__main__":
    main()
