"""Training under torchrun with the gloo backend and 2 processes (CycleGAN, InstanceNorm): the run
completes, its first losses match a single-process run with the same global batch, and a 2-process run
resumes in one process with the global batch kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import i2i_models

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["--netG", "resnet_6blocks", "--ngf", "8", "--ndf", "8", "--crop_size", "32", "--max_steps", "4",
        "--print_every", "1", "--val_every", "100", "--sample_every", "100", "--save_every", "2", "--num_workers", "0",
        "--no_tensorboard", "--precision", "fp32"]


def _losses(run: Path) -> dict[int, dict]:
    out = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        d = json.loads(line)
        if "lr" in d:
            out[d["step"]] = d
    return out


def _close(a: dict, b: dict, rtol: float = 2e-3) -> None:
    for k in ("G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "D_A", "D_B"):
        assert abs(a[k] - b[k]) <= rtol * max(1.0, abs(a[k])), (k, a[k], b[k])


def _torchrun(*args, interrupted=False):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "train.cyclegan", *args]
    e = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run(cmd, cwd=ROOT, env=e, capture_output=True, text=True, timeout=600)
    if not interrupted:  # an interrupted worker exits 130, which torchrun reports as a failure
        assert p.returncode == 0, p.stderr[-4000:]
    return p


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path):
    from train import cyclegan

    cyclegan.main(ARGS + ["--batch_size", "4", "--checkpoints_dir", str(tmp_path), "--name", "single"])
    _torchrun(*ARGS, "--batch_size", "2", "--checkpoints_dir", str(tmp_path), "--name", "ddp")
    single, ddp = _losses(tmp_path / "single"), _losses(tmp_path / "ddp")
    assert sorted(ddp) == [1, 2, 3, 4]
    for step in (1, 2):  # the first steps agree to float reduction order
        _close(single[step], ddp[step], 1e-3)
    for step in (3, 4):  # then the usual GAN drift of reordered sums
        _close(single[step], ddp[step], 5e-2)
    model = i2i_models.load(tmp_path / "ddp" / "final")
    assert set(model.networks()) == {"G_A", "G_B", "D_A", "D_B"}
    # rank 0 alone wrote the run folder: one metrics line per step
    assert sum(1 for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines() if '"lr"' in line) == 4

    # a 2-process run stopped at step 2, resumed in 1 process: the global batch (4) is kept
    _torchrun(*ARGS, "--batch_size", "2", "--checkpoints_dir", str(tmp_path), "--name", "mixed", "--stop_after", "2",
              interrupted=True)
    assert (tmp_path / "mixed" / "checkpoints" / "LATEST").read_text() == "step_0000002"
    assert cyclegan.main(["--resume", str(tmp_path / "mixed"), "--num_workers", "0"]) is not None
    mixed = _losses(tmp_path / "mixed")
    for step in (3, 4):
        _close(single[step], mixed[step], 5e-2)
    args = json.loads((tmp_path / "mixed" / "args.json").read_text())
    assert args["batch_size"] == 2
