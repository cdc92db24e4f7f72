"""Training benchmark: ``python -m train.bench`` (a benchmark, not a test).

For each family, training iterations/s and peak memory of our recipe step in several configurations
against the plain fp32 eager loop of the same model (the reference code's way: fp32, contiguous memory,
no compilation), in one process, with the ratio. Sizes follow the quality issue's reference runs:
pix2pix ``unet_256`` at 256² batch 1, CycleGAN ``resnet_9blocks`` at 256² batch 1, StarGAN at 128²
batch 16, each the reference's model (CycleGAN ``--reframe_A 1``, StarGAN ``--lambda_id 0``); ``--quick``
uses small sizes for a smoke run. Each configuration runs in a fresh process, so peak RSS
(``resource.getrusage``, above the level after model construction) and compile caches do not leak
between rows.

Configurations: ``fp32`` (the reference loop), ``bf16`` (autocast), ``bf16+cl`` (and channels_last),
``bf16+cl+compile`` (and ``torch.compile``). On CUDA (``--device cuda``) fp16 rows are added.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import torch

CONFIGS = {"fp32": [], "bf16": ["--precision", "bf16"], "bf16+cl": ["--precision", "bf16", "--channels_last"],
           "bf16+cl+compile": ["--precision", "bf16", "--channels_last", "--compile"]}
FAMILIES = {
    "pix2pix": ["--netG", "unet_256", "--crop_size", "256", "--batch_size", "1"],
    "cyclegan": ["--netG", "resnet_9blocks", "--crop_size", "256", "--batch_size", "1", "--reframe_A", "1"],
    "stargan": ["--crop_size", "128", "--batch_size", "16", "--n_critic", "5", "--lambda_id", "0"],
}
QUICK = {
    "pix2pix": ["--netG", "unet_128", "--crop_size", "128", "--batch_size", "1", "--ngf", "16", "--ndf", "16"],
    "cyclegan": ["--netG", "resnet_6blocks", "--crop_size", "64", "--batch_size", "1", "--ngf", "16", "--ndf", "16",
                 "--reframe_A", "1"],
    "stargan": ["--crop_size", "64", "--batch_size", "4", "--g_conv_dim", "16", "--d_conv_dim", "16",
                "--g_repeat_num", "2", "--d_repeat_num", "5", "--lambda_id", "0"],
}


def measure(family: str, extra: list[str], steps: int, warmup: int, device: str) -> dict:
    """Time ``steps`` training steps (after ``warmup``) of one recipe in this process."""
    import importlib

    mod = importlib.import_module(f"{__package__}.{family}")
    recipe_cls = {"pix2pix": "Pix2PixRecipe", "cyclegan": "CycleGANRecipe", "stargan": "StarGANRecipe"}[family]
    cls = getattr(mod, recipe_cls)
    from .config import parse
    from .loop import Dist

    argv = extra + ["--device", device, "--num_workers", "0"]
    args = parse(cls.config, argv, f"python -m {__package__}.{family}")
    dist = Dist(device)
    recipe = cls.create(args, torch.device(device), dist)
    ds = recipe.train_dataset()
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, shuffle=False, drop_last=True)
    batches = []
    for b in loader:
        batches.append(b)
        if len(batches) >= 4:
            break
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    recipe.set_lr(args.lr)
    times = []
    for i in range(warmup + steps):
        b = batches[i % len(batches)]
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        recipe.train_step(b, i)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t)
    # StarGAN updates G every n_critic steps: average over whole cycles
    sec = statistics.mean(times) if family == "stargan" else statistics.median(times)
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024
    if device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated()
    return {"family": family, "s_per_it": sec, "it_s": 1 / sec, "peak_mib": peak / 2 ** 20,
            "batch": args.batch_size, "size": args.crop_size}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=f"python -m {__package__}.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--families", nargs="+", default=list(FAMILIES))
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS))
    ap.add_argument("--steps", type=int, default=5, help="timed steps per configuration (StarGAN: x n_critic)")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--json", help="also write the rows here")
    ap.add_argument("--one", nargs=2, metavar=("FAMILY", "CONFIG"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    sizes = QUICK if args.quick else FAMILIES
    configs = dict(CONFIGS)
    if args.device.startswith("cuda"):
        configs.update({"fp16": ["--precision", "fp16"], "fp16+cl": ["--precision", "fp16", "--channels_last"]})
    if args.one:
        fam, cfg = args.one
        steps = args.steps * (5 if fam == "stargan" else 1)
        warm = 5 if fam == "stargan" else 2
        if "compile" in cfg:
            warm += 3
        print(json.dumps({**measure(fam, sizes[fam] + configs[cfg], steps, warm, args.device), "config": cfg}))
        return 0
    rows = []
    for fam in args.families:
        for cfg in args.configs:
            cmd = [sys.executable, "-m", f"{__package__}.bench", "--one", fam, cfg, "--device", args.device,
                   "--steps", str(args.steps)] + (["--quick"] if args.quick else [])
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                rows.append({"family": fam, "config": cfg, "error": (p.stderr.strip().splitlines() or ["?"])[-1]})
            else:
                rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
    print(f"# training speed ({args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads, one process)")
    print("| family | size | batch | config | s/it | it/s | × fp32 eager | peak MiB |")
    print("|---|---|---|---|---|---|---|---|")
    ref = {r["family"]: r["s_per_it"] for r in rows if r.get("config") == "fp32" and "error" not in r}
    for r in rows:
        if "error" in r:
            print(f"| {r['family']} | | | {r['config']} | error: {r['error'][:80]} | | | |")
            continue
        ratio = ref.get(r["family"], float("nan")) / r["s_per_it"]
        print(f"| {r['family']} | {r['size']}² | {r['batch']} | {r['config']} | {r['s_per_it']:.3f} | {r['it_s']:.2f} | "
              f"{ratio:.2f} | {r['peak_mib']:.0f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
