#!/usr/bin/env python3
"""scripts/check_interop.py — shows that PyTorch loads a natgrad-saved state strictly (issue 2, point 9).

What it is: the PyTorch half of natgrad's weights interop. tests/golden/layers_golden_test.cpp writes,
into the build folder, the state of a VGG-11-BN at width 0.25 (10 classes) that natgrad initialised
itself (interop/vgg11bn_w025_natgrad_init.safetensors). This script builds the same model in PyTorch
(the VGG class of scripts/make_golden_layers.py), calls load_state_dict(strict=True) on that file —
which fails on any missing, unexpected or wrongly shaped key — checks that every tensor arrived
unchanged (names, dtypes incl. int64 num_batches_tracked, OIHW conv and [out, in] linear layouts) and
runs an eval forward pass to show the weights are usable. The reverse direction (natgrad loading a
torch-saved file strictly, and writing it back byte for byte) is checked by the C++ test itself.

Usage: python3 scripts/check_interop.py [natgrad-saved file]
       (default: build/interop/vgg11bn_w025_natgrad_init.safetensors; run the golden test first:
        cmake --build build --target test_golden && build/test_golden)
"""
import os
import sys

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_golden_layers import VGG, VGG11_CFG  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        ROOT, "build", "interop", "vgg11bn_w025_natgrad_init.safetensors")
    saved = load_file(path)
    model = VGG(VGG11_CFG, 0.25, 10)
    model.load_state_dict(saved, strict=True)
    state = model.state_dict()
    for name, t in saved.items():
        ref = state[name]
        if t.dtype != ref.dtype or t.shape != ref.shape or not torch.equal(t, ref):
            sys.exit(f"check_interop: {name} changed on load ({t.dtype} {tuple(t.shape)} "
                     f"vs {ref.dtype} {tuple(ref.shape)})")
    model.eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    if not torch.isfinite(logits).all():
        sys.exit("check_interop: non-finite logits from the natgrad-initialised weights")
    n_params = sum(p.numel() for p in model.parameters())
    print(f"check_interop: OK — torch load_state_dict(strict=True) accepted {len(saved)} tensors "
          f"({n_params} parameters) from {os.path.relpath(path, ROOT)}; eval logits {tuple(logits.shape)}")


if __name__ == "__main__":
    main()
