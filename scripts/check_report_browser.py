#!/usr/bin/env python3
"""scripts/check_report_browser.py — natgrad's report.html rendered in a real browser (headless Chromium).

Builds three reports and checks each in Chromium:
  1. the committed 28-run CPU study (`natgrad report bench/results/cpu-study`, no training);
  2. a small real comparison trained here: 4 small configs (SGD, SINGD dense float32 and bf16, KFAC) ×
     2 seeds, 3 epochs on 512 CIFAR-10 training images, with train lines and curvature diagnostics every
     2 steps and a second scheduled hyper-parameter (SINGD's damping);
  3. the single-run report that `train` wrote for one of those runs (its curvature section).
A page fails when the browser reports a JavaScript error (window.onerror → body[data-js-error], or an
"Uncaught" console message), when its script did not run to the end (body[data-report-ok] missing), when
the legend self-test (URL #selftest: hide and show the first config) fails, or when a plot is empty (an
<svg> wider than 100 px with no drawn line, point, band or coloured heatmap cell). Screenshots of the
study report and of the run's curvature section are saved to OUT (and with --update-docs compressed into
docs/img/).

usage: scripts/check_report_browser.py [--build DIR] [--out DIR] [--data DIR] [--update-docs]
Needs `chromium` (Debian: apt-get install -y chromium) and python3-pil for the screenshots' compression.
Exit code 0: every page passed; 1: a check failed; 2: bad usage or a missing tool.
"""
import argparse
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NET = {"type": "sequential", "layers": [
    {"type": "conv2d", "in_channels": 3, "out_channels": 16, "kernel_size": 3, "padding": 1},
    {"type": "batchnorm2d", "num_features": 16}, {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 2},
    {"type": "conv2d", "in_channels": 16, "out_channels": 32, "kernel_size": 3, "padding": 1},
    {"type": "batchnorm2d", "num_features": 32}, {"type": "relu"}, {"type": "maxpool2d", "kernel_size": 4},
    {"type": "flatten"}, {"type": "linear", "in_features": 512, "out_features": 10}]}

SINGD = {"type": "singd", "lr": 0.01, "lr_cov": 0.01, "momentum": 0.9, "damping": 0.001, "T": 2,
         "structure_K": "dense", "structure_C": "dense"}
OPTIMIZERS = {
    "sgd": ({"type": "sgd", "lr": 0.05, "momentum": 0.9}, {}),
    "singd-dense": (SINGD, {"damping": {"type": "step", "step_epochs": 1, "gamma": 0.5}}),
    "singd-dense-bf16": (dict(SINGD, dtype_K="bfloat16", dtype_C="bfloat16"),
                         {"damping": {"type": "step", "step_epochs": 1, "gamma": 0.5}}),
    "kfac": ({"type": "kfac", "lr": 0.01, "lr_cov": 0.05, "momentum": 0.9, "damping": 0.001, "T": 2,
              "T_inv": 10}, {}),
}


def small_config(name, data_root):
    optimizer, extra_schedules = OPTIMIZERS[name]
    return {"name": name, "seed": 0, "threads": 2, "model": NET,
            "data": {"root": data_root, "train_subset": 512, "test_subset": 256, "workers": 1},
            "optimizer": optimizer,
            "schedules": dict({"lr": {"type": "cosine", "warmup_epochs": 0.5}}, **extra_schedules),
            "train": {"epochs": 3, "batch_size": 32, "label_smoothing": 0.1},
            "eval": {"batch_size": 256, "target_accuracy": 0.3},
            "checkpoint": {"interval_steps": 0},
            "log": {"interval_steps": 2, "diagnostics_interval_steps": 2, "progress": "lines"}}


class PlotCensus(html.parser.HTMLParser):
    """Per top-level <svg> wider than 100 px: its title and how many drawn marks it holds."""

    def __init__(self):
        super().__init__()
        self.depth, self.plots, self.current = 0, [], None
        self.in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.depth += 1
            if self.depth == 1 and float(a.get("width", "0")) > 100:
                self.current = {"title": "", "marks": 0}
                self.plots.append(self.current)
            return
        if self.current is None or self.depth == 0:
            return
        drawn = ((tag in ("polyline", "polygon") and re.search(r"\d", a.get("points", "")))
                 or (tag == "path" and a.get("d")) or tag == "circle"
                 or (tag == "rect" and a.get("class") == "cell" and a.get("fill") != "#d0d0d0"))
        self.current["marks"] += 1 if drawn else 0
        self.in_title = tag == "text" and a.get("font-weight") == "bold" and not self.current["title"]

    def handle_data(self, data):
        if self.in_title and self.current is not None:
            self.current["title"] += data

    def handle_endtag(self, tag):
        self.in_title = False
        if tag == "svg":
            self.depth -= 1
            if self.depth == 0:
                self.current = None


def chromium(args, timeout=120):
    cmd = ["chromium", "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
           "--enable-logging=stderr", "--v=0"] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def check_page(path):
    """The problems of one report page (empty when it passed) and its plot count."""
    r = chromium(["--dump-dom", "file://" + os.path.abspath(path) + "#selftest"])
    dom, problems = r.stdout, []
    body = re.search(r"<body[^>]*>", dom)
    body = body.group(0) if body else ""
    if 'data-report-ok="1"' not in body:
        problems.append("the page script did not run to the end")
    err = re.search(r'data-js-error="([^"]*)"', body)
    if err:
        problems.append("JavaScript error: " + err.group(1))
    problems += ["console: " + line.strip() for line in r.stderr.splitlines() if "Uncaught" in line]
    if "data-selftest=" not in body and "data-toggle" in dom:
        problems.append("the legend self-test did not run")
    census = PlotCensus()
    census.feed(dom)
    problems += ["empty plot: '%s'" % p["title"] for p in census.plots if p["marks"] == 0]
    if not census.plots:
        problems.append("no plots")
    return problems, len(census.plots)


def screenshot(path, fragment, png, width, height):
    chromium(["--window-size=%d,%d" % (width, height), "--screenshot=" + png,
              "file://" + os.path.abspath(path) + fragment])
    if not os.path.exists(png):
        raise SystemExit("check_report_browser: chromium wrote no screenshot " + png)


def compress(src, dst):
    """A 256-colour copy of src (a report screenshot: flat colours, so nothing visible is lost)."""
    from PIL import Image
    Image.open(src).convert("RGB").quantize(colors=256, dither=Image.Dither.NONE).save(dst, optimize=True)
    return os.path.getsize(dst)


def run(cmd, cwd=None):
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if r.returncode != 0:
        sys.stderr.write(r.stdout + r.stderr)
        raise SystemExit("check_report_browser: failed: " + " ".join(cmd))


def build_reports(natgrad, out, data_root):
    study = os.path.join(out, "study")
    run([natgrad, "report", os.path.join(REPO, "bench/results/cpu-study"), "--out", study,
         "--title", "natgrad CPU study: VGG-11-BN, 10 epochs, 14 configs × 2 seeds"])
    configs = []
    for name in OPTIMIZERS:
        configs.append(os.path.join(out, name + ".json"))  # absolute: compare runs in OUT
        with open(configs[-1], "w") as f:
            json.dump(small_config(name, data_root), f, indent=2)
    small = os.path.join(out, "small")
    run([natgrad, "compare"] + configs + ["--seeds", "2", "--out", "small"], cwd=out)  # pages show small/...
    return {"study": os.path.join(study, "report.html"), "small": os.path.join(small, "report.html"),
            "run": os.path.join(small, "singd-dense", "seed-0", "report.html")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--out", default="")
    ap.add_argument("--data", default=os.path.join(os.path.dirname(REPO), "shared", "data"))
    ap.add_argument("--update-docs", action="store_true")
    a = ap.parse_args()
    natgrad = os.path.abspath(os.path.join(a.build, "natgrad"))
    if not shutil.which("chromium") or not os.access(natgrad, os.X_OK):
        sys.stderr.write("check_report_browser: needs chromium on PATH and %s\n" % natgrad)
        return 2
    out = os.path.abspath(a.out or tempfile.mkdtemp(prefix="natgrad-report-check-"))
    os.makedirs(out, exist_ok=True)
    start = time.time()
    pages = build_reports(natgrad, out, os.path.abspath(a.data))
    failed = False
    for name, path in pages.items():
        problems, plots = check_page(path)
        print("%-6s %s: %d plots, %s" % (name, path, plots, "ok" if not problems else "FAILED"))
        for p in problems:
            print("         " + p)
        failed |= bool(problems)
    shots = {"report-comparison.png": (pages["study"], "", 1400, 2150),
             "report-curvature.png": (pages["run"], "#only=curvature", 1240, 2300)}
    for png, (page, fragment, w, h) in shots.items():
        screenshot(page, fragment, os.path.join(out, png), w, h)
        if a.update_docs:
            size = compress(os.path.join(out, png), os.path.join(REPO, "docs", "img", png))
            print("docs/img/%s: %d KB" % (png, size // 1024))
    print("screenshots and reports in %s (%.0f s)" % (out, time.time() - start))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
