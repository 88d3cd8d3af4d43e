#!/usr/bin/env python3
"""bench/torch_loader.py — torchvision's CIFAR-10 pipeline, for comparison with bench/loader.cpp.

Measures images/s of torch.utils.data.DataLoader (batch 128, shuffle, 1 and 2 worker processes) over a
dataset that behaves exactly like torchvision.datasets.CIFAR10 with the transforms
RandomCrop(32, padding=4) + RandomHorizontalFlip() + ToTensor() + Normalize(mean, std).

torchvision's CIFAR10 class reads the *python pickle* release, but natgrad's data is the *binary*
release (../shared/data/cifar-10-batches-bin). So this script builds the same in-memory object that
CIFAR10.__init__ builds — `data`, a uint8 array of shape (50000, 32, 32, 3) (HWC), and `targets`, a
list of ints — from the binary batch files, and its __getitem__ is CIFAR10.__getitem__ line for line
(Image.fromarray, then the transform). Nothing is converted on disk; the per-sample work that the
DataLoader workers do is the same as with torchvision's class.

Output lines (parsed by scripts/bench_loader.sh):
  torch loader workers=<w> images=<n> seconds=<s> images_per_s=<x>
"""
import argparse
import os
import time

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms as T

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


class Cifar10FromBinary(Dataset):
    """torchvision.datasets.CIFAR10(train=True), filled from the binary release."""

    def __init__(self, root, transform):
        records = [np.fromfile(os.path.join(root, "cifar-10-batches-bin", f"data_batch_{i}.bin"), dtype=np.uint8)
                   for i in range(1, 6)]
        records = np.concatenate(records).reshape(-1, 3073)
        self.targets = records[:, 0].astype(np.int64).tolist()
        self.data = np.ascontiguousarray(records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        self.transform = transform

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img, target = self.data[index], self.targets[index]
        img = Image.fromarray(img)
        img = self.transform(img)
        return img, target


def default_root():
    if os.environ.get("NATGRAD_DATA"):
        return os.environ["NATGRAD_DATA"]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for cand in (os.path.join(repo, "..", "shared", "data"), os.path.join(repo, "data")):
        if os.path.isdir(os.path.join(cand, "cifar-10-batches-bin")):
            return cand
    raise SystemExit("torch_loader.py: CIFAR-10 not found; pass --root or set NATGRAD_DATA")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=None)
    p.add_argument("--images", type=int, default=20000, help="images timed per worker count")
    p.add_argument("--workers", default="1 2")
    a = p.parse_args()
    torch.set_num_threads(1)
    transform = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(MEAN, STD)])
    ds = Cifar10FromBinary(a.root or default_root(), transform)
    for w in map(int, a.workers.split()):
        torch.manual_seed(0)
        loader = DataLoader(ds, batch_size=128, shuffle=True, num_workers=w, prefetch_factor=2 if w else None)
        it = iter(loader)
        for _ in range(10):  # warm-up: worker processes started and running
            next(it)
        images, t0 = 0, time.perf_counter()
        while images < a.images:
            try:
                x, _ = next(it)
            except StopIteration:
                it = iter(loader)
                continue
            images += x.shape[0]
        s = time.perf_counter() - t0
        print(f"torch loader workers={w} images={images} seconds={s:.3f} images_per_s={images / s:.0f}", flush=True)


if __name__ == "__main__":
    main()
