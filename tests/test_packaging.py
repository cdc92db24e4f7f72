"""The package as a user installs it: a non-editable wheel in a fresh venv, outside the checkout, runs every
CLI (the embedded default training included) and installs no generic top-level ``train`` package."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_wheel_installs_and_runs_every_cli_in_a_fresh_venv(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)], check=True)
    wheel = next(wheels.glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"i2i_models", "i2i_train"}, tops  # no generic "train" in site-packages
    assert any(n.startswith("i2i_train/data/emoji_line2color/") for n in names)  # the embedded sample ships
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    import torch

    # the dependencies from the package index (torch from the local pip cache), then the wheel itself
    subprocess.run([str(py), "-m", "pip", "install", "-q", f"torch=={torch.__version__.split('+')[0]}", "numpy",
                    "pillow", "safetensors", "huggingface_hub", "tqdm"], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    work = tmp_path / "elsewhere"
    work.mkdir()

    def run(*cmd):
        p = subprocess.run(list(cmd), cwd=work, env=env, capture_output=True, text=True, timeout=900)
        assert p.returncode == 0, (cmd, p.stdout[-2000:], p.stderr[-3000:])
        return p

    p = run(str(py), "-c", "import i2i_models, i2i_train; print(i2i_models.__file__)")
    assert str(venv) in p.stdout and str(ROOT) not in p.stdout
    run("i2i-train-pix2pix", "--max_steps", "3", "--batch_size", "2", "--crop_size", "128", "--val_every", "3",
        "--sample_every", "3", "--save_every", "3", "--val_limit", "2", "--num_workers", "0")
    run("i2i-train-cyclegan", "--max_steps", "2", "--val_every", "2", "--sample_every", "2", "--save_every", "2",
        "--val_limit", "2", "--num_workers", "0")
    run(str(py), "-m", "i2i_train.stargan", "--max_steps", "2", "--val_every", "2", "--sample_every", "2",
        "--save_every", "2", "--val_limit", "4", "--num_workers", "0")
    model = work / "runs" / "pix2pix-emoji_line2color"
    image = ROOT / "example_workflows" / "i2i_line_art.png"
    run("i2i-models", "translate", str(model), str(image), "--out", str(work / "out.png"))
    assert (work / "out.png").is_file()
    run("i2i-models", "inspect", str(work / "runs" / "stargan-emoji_people_attrs"))
    data = Path(subprocess.run([str(py), "-c", "import i2i_train, pathlib; print(pathlib.Path(i2i_train.__file__).parent "
                                "/ 'data' / 'emoji_line2color')"], env=env, capture_output=True, text=True).stdout.strip())
    run("i2i-evaluate", str(model), "--dataset", str(data), "--split", "val")
    run("i2i-gallery", str(model), "--dataset", str(data), "--split", "val", "--rows", "2", "--out", str(work / "g.jpg"))
