"""Inference benchmark: ``python -m i2i_models.bench`` (a benchmark, not a test).

Speed table: for each family's default generator (pix2pix ``unet_256`` and CycleGAN ``resnet_9blocks``
at 256², StarGAN at 128²), batch 1 and 8: images/s of

All columns of a case are timed round-robin in one run (:func:`_interleaved`), medians of ``--repeat``.

* ``reference``: the reference codebases' execution, a plain fp32 eager ``net(x)`` on [B, 3, H, W];
* ``ours fp32``: ``translate`` with its defaults (fp32, eager; includes layout conversion and padding);
* ``ours fastest``: ``translate(precision="bf16", compile=True)``, the fastest documented torch options;
* one column per installed exported-graph backend (:mod:`i2i_models.backends`: OpenVINO, ONNX Runtime),
  ``translate(backend=…)`` in fp32, with its first-call seconds (export to a fresh cache and compile
  included), and OpenVINO in bf16 (``precision="bf16", backend="openvino"``);

with the ratio to the reference, the max |difference| of the outputs in [0, 1], and the FLOP-based
lower bounds (convolution FLOPs / the machine's measured fp32 and bf16 peaks, as images/s: upper bounds on
the speed of an exact fp32 path and of a bf16 one).

Memory table (``--memory``): peak RSS of a fresh process per case, minus the RSS after imports and
model load (``resource.getrusage``): the full-frame forward of a 9-block ResNet at 2048², our streamed
tiles at 2048² (with their PSNR against that full frame) and at 4096², and naive independent 512-px
tiles (their PSNR, for comparison).

Options: ``--quick`` (tiny sizes, seconds: a smoke run), ``--device cuda``, ``--repeat N``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import torch

from . import backends, translate
from .bundles import CycleGANModel, Pix2PixModel, StarGANModel
from .networks import init_weights

FAMILIES = {
    "pix2pix": (Pix2PixModel, {"generator": {"arch": "unet", "num_downs": 8, "ngf": 64, "norm": "batch", "use_dropout": True}}, 256),
    "cyclegan": (CycleGANModel, {"G_A": {"arch": "resnet", "ngf": 64, "n_blocks": 9, "norm": "instance"}}, 256),
    "stargan": (StarGANModel, {"generator": {"arch": "stargan_g", "conv_dim": 64, "c_dim": 5, "repeat_num": 6}}, 128),
}


def make_model(family: str, seed: int = 0):
    cls, nets, size = FAMILIES[family]
    torch.manual_seed(seed)
    model = cls({"networks": nets})
    for net in model.networks().values():
        init_weights(net, "normal", 0.02)
    return model.eval(), size


def test_image(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """[n, size, size, 3] in [0, 1]: smooth structure plus fine noise (not a flat image)."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, max(2, size // 32), max(2, size // 32), generator=g)
    x = torch.nn.functional.interpolate(low, size=(size, size), mode="bicubic", align_corners=False)
    x = (x + 0.05 * torch.rand(n, 3, size, size, generator=g)).clamp(0, 1)
    return x.permute(0, 2, 3, 1).contiguous()


def conv_flops(net, x: torch.Tensor, *args) -> int:
    """Multiply-adds × 2 of every convolution in one forward."""
    total = [0]

    def hook(m, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1]
        if isinstance(m, torch.nn.ConvTranspose2d):
            total[0] += 2 * inp[0].numel() * m.out_channels * k
        else:
            total[0] += 2 * out.numel() * m.in_channels * k // m.groups

    hs = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    with torch.no_grad():
        net(x, *args)
    for h in hs:
        h.remove()
    return total[0]


def peak_gflops(device: torch.device, dtype: torch.dtype = torch.bfloat16) -> float:
    """The machine's practical peak in ``dtype`` (bf16 or fp32): the best of a 2048³ matrix product and a
    256→256 3×3 convolution."""
    a = torch.randn(2048, 2048, device=device, dtype=dtype)
    t_mm = _median_time(lambda: a @ a, 5, device)
    conv = torch.nn.Conv2d(256, 256, 3, padding=1).to(device).eval()
    x = torch.randn(1, 256, 64, 64, device=device)
    ctx = torch.autocast(device.type, dtype=torch.bfloat16) if dtype == torch.bfloat16 else contextlib.nullcontext()
    with torch.no_grad(), ctx:
        t_conv = _median_time(lambda: conv(x), 7, device)
    return max(2 * 2048 ** 3 / t_mm, 2 * 64 * 64 * 256 * 256 * 9 / t_conv) / 1e9


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_time(fn, repeat: int, device) -> float:
    fn()
    _sync(device)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        _sync(device)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def _interleaved(fns: dict, repeat: int, device) -> dict[str, float]:
    """Median seconds of each callable, timed round-robin (one call of each per round, after one warm-up
    round), so that load from elsewhere on the machine hits every column alike."""
    ts: dict[str, list[float]] = {k: [] for k in fns}
    for rnd in range(repeat + 1):
        for k, fn in fns.items():
            _sync(device)
            t = time.perf_counter()
            fn()
            _sync(device)
            if rnd:
                ts[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in ts.items()}


def speed_table(device: torch.device, repeat: int, quick: bool) -> list[dict]:
    with tempfile.TemporaryDirectory() as cache:  # a fresh export cache: first calls include the export
        old = os.environ.get("I2I_CACHE")
        os.environ["I2I_CACHE"] = cache
        try:
            return _speed_rows(device, repeat, quick)
        finally:
            if old is None:
                os.environ.pop("I2I_CACHE", None)
            else:
                os.environ["I2I_CACHE"] = old


def _speed_rows(device: torch.device, repeat: int, quick: bool) -> list[dict]:
    rows = []
    peak = peak_gflops(device)
    peak32 = peak_gflops(device, torch.float32)
    graph_backends = [b for b in backends.available() if b != "torch"] if device.type == "cpu" else []
    for family in FAMILIES:
        model, size = make_model(family)
        model.to(device)
        if quick:
            size = 64 if family != "pix2pix" else 256
        net = next(iter(model.generators().values()))
        for batch in ((1,) if quick else (1, 8)):
            x = test_image(batch, size).to(device)
            xin = (x.permute(0, 3, 1, 2) * 2 - 1).contiguous()
            labels = torch.tensor([[1.0, 0, 0, 1, 0]] * batch, device=device) if family == "stargan" else None
            args = (labels,) if labels is not None else ()
            kw = {"labels": labels} if labels is not None else {}
            with torch.no_grad():
                ref_out = ((net(xin, *args) + 1) / 2).clamp(0, 1).permute(0, 2, 3, 1)

            def reference():
                with torch.no_grad():
                    return net(xin, *args)
            cases = {"reference": (reference, None), "fp32": (dict(), None),
                     "fastest": (dict(precision="bf16", compile=not quick), None)}
            for b in graph_backends:
                cases[b] = (dict(backend=b), None)
            if "openvino" in graph_backends:
                cases["openvino_bf16"] = (dict(backend="openvino", precision="bf16"), None)
            row: dict = {"family": family, "size": size, "batch": batch, "backends": graph_backends}
            fns = {}
            for name, (opts, _) in cases.items():
                if callable(opts):
                    fns[name] = opts
                    continue
                fn = (lambda o=opts: translate(model, x, batch_size=batch, **o, **kw))
                t0 = time.perf_counter()
                out = fn()  # the first call: compilation, or export + backend compilation, included
                row[f"{name}_first_call_s"] = time.perf_counter() - t0
                row[f"{name}_max_diff"] = (out - ref_out).abs().max().item()
                row[f"{name}_mean_diff"] = (out - ref_out).abs().mean().item()
                fns[name] = fn
            times = _interleaved(fns, repeat, device)
            for name, t in times.items():
                row[f"{name}_img_s"] = batch / t
                row[f"{name}_ratio"] = times["reference"] / t
            flops = conv_flops(net, xin, *args)
            row.update({"gflop_per_img": flops / batch / 1e9, "floor_img_s": peak * 1e9 / (flops / batch),
                        "floor_fp32_img_s": peak32 * 1e9 / (flops / batch),
                        "first_call_s": row["fastest_first_call_s"]})
            rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------------
# memory cases, each in a fresh process
def _rss_peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_memory_case(case: str, size: int, out_path: str | None, ref_path: str | None, device: str) -> dict:
    model, _ = make_model("cyclegan")
    dev = torch.device(device)
    model.to(dev)
    net = model.G_A
    x = test_image(1, size, seed=3)
    base = _rss_peak_bytes()
    t = time.perf_counter()
    if case == "full":
        with torch.no_grad():
            y = ((net(x.permute(0, 3, 1, 2).to(dev) * 2 - 1) + 1) / 2).clamp(0, 1).permute(0, 2, 3, 1).cpu()
    elif case == "tiled":
        y = translate(model, x, tiled=True, tile_bytes=32 << 20)
    elif case == "naive":
        tile = 512
        y = torch.empty_like(x)
        for i in range(0, size, tile):
            for j in range(0, size, tile):
                y[:, i:i + tile, j:j + tile] = translate(model, x[:, i:i + tile, j:j + tile], tiled=False)
    else:
        raise ValueError(case)
    seconds = time.perf_counter() - t
    peak = _rss_peak_bytes() - base
    result = {"case": case, "size": size, "peak_mib": peak / 2 ** 20, "seconds": seconds}
    if out_path:
        torch.save(y, out_path)
    if ref_path and os.path.exists(ref_path):
        ref = torch.load(ref_path, weights_only=True)
        mse = ((y.double() - ref.double()) ** 2).mean().item()
        result["psnr_vs_full_db"] = 99.0 if mse == 0 else 10 * math.log10(1 / mse)
        result["max_diff_vs_full"] = (y - ref).abs().max().item()
    return result


def memory_table(device: str, quick: bool) -> list[dict]:
    sizes = (256, 512) if quick else (2048, 4096)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        full = os.path.join(tmp, "full.pt")
        plan = [("full", sizes[0], full, None), ("tiled", sizes[0], None, full), ("naive", sizes[0], None, full),
                ("tiled", sizes[1], None, None)]
        for case, size, out, ref in plan:
            cmd = [sys.executable, "-m", "i2i_models.bench", "--memory-case", case, "--size", str(size),
                   "--device", device] + (["--out", out] if out else []) + (["--ref", ref] if ref else [])
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                rows.append({"case": case, "size": size, "error": p.stderr.strip().splitlines()[-1:]})
                continue
            rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m i2i_models.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=5, help="timed repetitions per case (median reported)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, no compile: a smoke run in seconds")
    ap.add_argument("--memory", action="store_true", help="also run the large-image memory cases (minutes)")
    ap.add_argument("--no-speed", action="store_true", help="skip the speed table")
    ap.add_argument("--json", help="also write all rows to this JSON file")
    ap.add_argument("--memory-case", help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--ref", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_case:
        print(json.dumps(run_memory_case(args.memory_case, args.size, args.out, args.ref, args.device)))
        return 0
    dev = torch.device(args.device)
    out = {"torch": torch.__version__, "device": args.device, "threads": torch.get_num_threads()}
    if not args.no_speed:
        rows = speed_table(dev, args.repeat, args.quick)
        out["speed"] = rows
        print(f"# inference speed ({args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads)")
        gb = rows[0]["backends"] if rows else []
        cols = [f"{b} fp32 img/s (×ref, max|Δ|, first call s)" for b in gb] + (
            ["openvino bf16 img/s (×ref, max|Δ|, mean|Δ|)"] if "openvino" in gb else [])
        print("| family | size | batch | reference img/s | ours fp32 img/s (×ref, max|Δ|) | " + " | ".join(cols) +
              (" | " if cols else "") + "ours bf16+compile img/s (×ref, max|Δ|, mean|Δ|) | fp32 floor img/s | "
              "bf16 floor img/s | GFLOP/img |")
        print("|---" * (10 + len(cols)) + "|")
        for r in rows:
            cells = [f"{r[b + '_img_s']:.2f} (×{r[b + '_ratio']:.2f}, {r[b + '_max_diff']:.1e}, {r[b + '_first_call_s']:.1f})"
                     for b in gb]
            if "openvino" in gb:
                cells.append(f"{r['openvino_bf16_img_s']:.2f} (×{r['openvino_bf16_ratio']:.2f}, "
                             f"{r['openvino_bf16_max_diff']:.3f}, {r['openvino_bf16_mean_diff']:.4f})")
            print(f"| {r['family']} | {r['size']}² | {r['batch']} | {r['reference_img_s']:.2f} | {r['fp32_img_s']:.2f} "
                  f"(×{r['fp32_ratio']:.2f}, {r['fp32_max_diff']:.1e}) | " + "".join(c + " | " for c in cells) +
                  f"{r['fastest_img_s']:.2f} (×{r['fastest_ratio']:.2f}, {r['fastest_max_diff']:.3f}, "
                  f"{r['fastest_mean_diff']:.4f}) | {r['floor_fp32_img_s']:.2f} | {r['floor_img_s']:.2f} | "
                  f"{r['gflop_per_img']:.1f} |")
    if args.memory:
        rows = memory_table(args.device, args.quick)
        out["memory"] = rows
        print("\n# peak memory of a fresh process (RSS above the level after imports and model load), resnet_9blocks")
        print("| case | image | peak MiB | seconds | PSNR vs full frame | max|Δ| vs full |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            if "error" in r:
                print(f"| {r['case']} | {r['size']}² | error: {r['error']} | | | |")
                continue
            ps = f"{r['psnr_vs_full_db']:.1f} dB" if "psnr_vs_full_db" in r else "—"
            md = f"{r['max_diff_vs_full']:.1e}" if "max_diff_vs_full" in r else "—"
            print(f"| {r['case']} | {r['size']}² | {r['peak_mib']:.0f} | {r['seconds']:.1f} | {ps} | {md} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
