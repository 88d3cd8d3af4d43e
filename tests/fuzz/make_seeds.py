#!/usr/bin/env python3
"""tests/fuzz/make_seeds.py — writes the seed corpora of the libFuzzer targets to tests/fuzz/corpus/<name>/.

Each seed is a small valid (or nearly valid) input in the encoding its target reads (see the header comment
of tests/fuzz/fuzz_<name>.cpp): safetensors files, config text with `--set` lines, checkpoint edits,
CIFAR-10 folder recipes, and image folders holding tiny PNG and BMP files. Run it from anywhere; it
replaces the corpus folders' contents. Deterministic: the same files every time."""
import json
import os
import shutil
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes) -> the file's bytes."""
    header, offset, data = {}, 0, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def png(width, height, colour_type=2):
    channels = {0: 1, 2: 3, 6: 4}[colour_type]
    rows = b"".join(b"\x00" + bytes((x * 37 + y * 11) % 256 for x in range(width * channels)) for y in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def bmp(width, height):
    row = bytes((x * 3 + c) % 256 for x in range(width) for c in range(3))
    row += b"\x00" * ((4 - len(row) % 4) % 4)
    pixels = row * height
    return (b"BM" + struct.pack("<IHHI", 54 + len(pixels), 0, 0, 54) +
            struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0) + pixels)


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


def seeds():
    st_files = [
        safetensors([]),
        safetensors([("w", "F32", [2, 2], f32(1, 2, 3, 4))]),
        safetensors([("a", "I64", [1], struct.pack("<q", 7)), ("b", "F64", [], struct.pack("<d", 0.5)),
                     ("c", "BF16", [2], b"\x80\x3f\x00\x40"), ("e", "F32", [0, 3], b"")], {"k": "v"}),
    ]
    config_lines = [
        "",
        "\noptimizer.lr=0.5\ntrain.epochs=3",
        "\nmodel.layers.0.out_channels=8\nschedules.lr.type=\"step\"\ndata.augmentation.cutout=4",
        "\noptimizer.type=kfac\noptimizer.T=5\neval.batch_size=7",
        json.dumps({"model": {"type": "vgg", "depth": 11}, "optimizer": {"type": "sgd", "lr": 0.1}}),
    ]
    # Image folders: class count 1 (u32 0), file count 1 (u32 0), form 2 (raw), an empty raw file (length 0),
    # its extension (u32 0); the rest of the input becomes c0/z.png.
    raw_prefix = b"\x00" * 8 + b"\x02" + b"\x00" + b"\x00" * 4
    return {
        "safetensors": [b"\x00" + f for f in st_files] + [b"\x01" + bytes(range(64))],
        "config": [t.encode() for t in config_lines] + [b"\x01\x00\x00\x00\x00\x02\x00\x00\x00"],
        "checkpoint": [bytes([w]) + bytes(range(i, i + 24)) for i, w in enumerate(range(4))] +
                      [b"\x80" + st_files[1]],
        "cifar10": [b"\x00" * 48, bytes([1, 1, 0, 0, 0] * 10), bytes([2, 255, 0, 0, 0, 9] * 12)],
        "image_folder": [raw_prefix + png(4, 4), raw_prefix + png(3, 2, 6), raw_prefix + png(5, 5, 0),
                         raw_prefix + bmp(4, 3), b"\x00" * 4 + b"\x01\x00\x00\x00" + b"\x01" + bytes(range(40))],
    }


def main():
    for name, items in seeds().items():
        folder = os.path.join(HERE, "corpus", name)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        for i, data in enumerate(items):
            with open(os.path.join(folder, "seed%d" % i), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
