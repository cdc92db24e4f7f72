"""Training that never loses or mixes a run (issue: the mistakes people make every day): reruns keep both
runs, bad layouts and names are refused up front, a corrupt image is skipped and named, any crash saves
first, the CLIs end known errors in one line, progress shows everywhere, --help is each trainer's own,
model cards carry no machine paths, and CI runs the README's first command."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

import i2i_models
from train import pix2pix, stargan
from train.data import DataError
from train.loop import UsageError

from test_train import DATA, ROOT, TINY, common

ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def _sample(tmp_path: Path, name: str = "emoji_line2color", n: int = 8) -> Path:
    """A small copy of the embedded pix2pix sample (n train pairs)."""
    src, dst = DATA / name, tmp_path / name
    for side in ("A", "B"):
        (dst / side / "train").mkdir(parents=True)
        for f in sorted((src / side / "train").iterdir())[:n]:
            shutil.copy(f, dst / side / "train" / f.name)
    return dst


def _args(tmp_path, data, steps=4, name=None):
    a = common(tmp_path, name or "x", steps)
    if name is None:  # the default run name <family>-<dataset>
        i = a.index("--name")
        del a[i:i + 2]
    return TINY["pix2pix"] + a + ["--dataset", str(data), "--val_split", ""]


def _cli(*args, cwd=ROOT, timeout=600):
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=timeout)


# 1 ---------------------------------------------------------------------------------------------------------------
def test_a_rerun_keeps_both_runs_and_a_named_run_folder_is_never_shared(tmp_path):
    data = _sample(tmp_path)
    first = pix2pix.main(_args(tmp_path, data))
    run1 = tmp_path / "pix2pix-emoji_line2color"
    assert first == run1 / "final"
    weights = {k: v.clone() for k, v in i2i_models.load(first).state_dict().items()}
    args1 = (run1 / "args.json").read_text()
    second = pix2pix.main(_args(tmp_path, data) + ["--seed", "1"])
    run2 = tmp_path / "pix2pix-emoji_line2color-2"
    assert second == run2 / "final"
    assert (run1 / "args.json").read_text() == args1  # run 1 untouched
    assert sum('"event": "start"' in ln for ln in (run1 / "metrics.jsonl").read_text().splitlines()) == 1
    assert {p.name for p in (run1 / "checkpoints").iterdir()} == {"LATEST", "step_0000003", "step_0000004"}
    for k, v in i2i_models.load(first).state_dict().items():
        assert torch.equal(v, weights[k]), k
    # a name the user chose is refused when taken, offering --resume and another name
    pix2pix.main(_args(tmp_path, data, name="mine"))
    with pytest.raises(UsageError, match=r"already holds a run: continue it with --resume .*mine.*--name mine-2"):
        pix2pix.main(_args(tmp_path, data, name="mine"))
    # an --output that already holds a model is refused, and the refused run leaves no folder behind
    with pytest.raises(UsageError, match="--output .* already holds a model"):
        pix2pix.main(_args(tmp_path, data, name="other") + ["--output", str(first)])
    assert not (tmp_path / "other").exists()


def test_a_run_being_trained_cannot_be_resumed_by_a_second_process(tmp_path):
    import fcntl

    data = _sample(tmp_path)
    pix2pix.main(_args(tmp_path, data, name="busy") + ["--stop_after", "3"])
    with open(tmp_path / "busy" / ".lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as the first process holds it while it trains
        with pytest.raises(UsageError, match="is being trained right now"):
            pix2pix.main(["--resume", str(tmp_path / "busy"), "--num_workers", "0"])
    assert pix2pix.main(["--resume", str(tmp_path / "busy"), "--num_workers", "0"]) is not None


# 2 ---------------------------------------------------------------------------------------------------------------
def test_a_flat_folder_of_square_images_is_not_taken_for_aligned_pairs(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in sorted((DATA / "emoji_line2color" / "B" / "train").iterdir())[:6]:
        shutil.copy(f, flat / f.name)
    with pytest.raises(DataError, match=r"not aligned A\|B pairs .*twice as wide as high.*A/train/ \+ B/train/"):
        pix2pix.main(_args(tmp_path, flat, name="flat-run"))
    assert not (tmp_path / "flat-run").exists()  # a run refused before training leaves no folder


# 3 ---------------------------------------------------------------------------------------------------------------
def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_corrupt_image_is_skipped_and_named_and_training_runs_to_the_end(tmp_path, caplog):
    data = _sample(tmp_path)
    bad = sorted((data / "A" / "train").iterdir())[2]
    _truncate(bad)
    caplog.set_level("WARNING")
    out = pix2pix.main(_args(tmp_path, data, steps=6, name="c"))
    assert out is not None and i2i_models.load(out).family == "pix2pix"
    assert any(bad.name in r.getMessage() and "unreadable" in r.getMessage() for r in caplog.records), caplog.text
    meta = [json.loads(ln) for ln in (tmp_path / "c" / "metrics.jsonl").read_text().splitlines()]
    assert meta[0]["train_images"] == 7  # counted out before training
    # a second start decodes nothing again (cached by size and mtime)
    caplog.clear()
    caplog.set_level("INFO")
    pix2pix.main(_args(tmp_path, data, steps=2, name="c2"))
    assert not any("decoded" in r.getMessage() for r in caplog.records)


def test_a_file_that_breaks_during_training_is_skipped_with_its_name(tmp_path, caplog, monkeypatch):
    import train.data as D

    data = _sample(tmp_path)
    victim = sorted((data / "B" / "train").iterdir())[1]
    real = D.verify_images

    def verify_then_break(paths, what):  # the file goes bad after the check, before training reads it
        ok = real(paths, what)
        if victim in paths:
            _truncate(victim)
        return ok

    monkeypatch.setattr(D, "verify_images", verify_then_break)
    caplog.set_level("WARNING")
    out = pix2pix.main(_args(tmp_path, data, steps=8, name="b"))
    assert out is not None
    assert any(victim.name in r.getMessage() and "skipped" in r.getMessage() for r in caplog.records), caplog.text


def test_any_error_that_ends_training_saves_a_resumable_checkpoint_first(tmp_path, monkeypatch, capsys):
    data = _sample(tmp_path)
    real = pix2pix.Pix2PixRecipe.train_step

    def boom(self, batch, step):
        if step == 4:
            raise RuntimeError("the GPU fell off the bus")
        return real(self, batch, step)

    monkeypatch.setattr(pix2pix.Pix2PixRecipe, "train_step", boom)
    with pytest.raises(RuntimeError, match="fell off"):
        pix2pix.main(_args(tmp_path, data, steps=8, name="crash") + ["--save_every", "100"])
    run = tmp_path / "crash"
    assert (run / "checkpoints" / "LATEST").read_text() == "step_0000004"
    err = capsys.readouterr().err
    assert f"--resume {run}" in err and "RuntimeError" in err
    monkeypatch.setattr(pix2pix.Pix2PixRecipe, "train_step", real)
    assert pix2pix.main(["--resume", str(run), "--num_workers", "0"]) is not None


# 4 ---------------------------------------------------------------------------------------------------------------
def test_misspelt_one_hot_groups_are_refused(tmp_path):
    with pytest.raises(DataError, match=r"unknown attribute\(s\) \['Womann'\] in --one_hot_groups"):
        stargan.main(TINY["stargan"] + common(tmp_path, "g", 2) + ["--one_hot_groups", "Man,Womann"])


# 5 ---------------------------------------------------------------------------------------------------------------
def _one_error_line(p) -> str:
    """The run ends in one ``error: …`` line (log lines before it are fine), no traceback, exit code 2."""
    lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert p.returncode == 2 and lines[-1:] == errors and "Traceback" not in p.stderr, (p.returncode, p.stderr[-2000:])
    return errors[0]


def test_known_errors_end_in_one_line_with_exit_code_2(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    Image.new("RGB", (40, 40)).save(flat / "a.png")
    Image.new("RGB", (40, 40)).save(flat / "b.png")
    args = ["--checkpoints_dir", str(tmp_path), "--num_workers", "0", "--max_steps", "1"]
    assert "not aligned" in _one_error_line(_cli("train.pix2pix", "--dataset", str(flat), *args))
    line = _one_error_line(_cli("train.pix2pix", "--crop_size", "64", *args))  # unet_128 (the sample's) at 64 px
    assert "smallest crop that works is 128" in line, line
    assert "unknown attribute" in _one_error_line(_cli("train.stargan", "--selected_attrs", "Man", "Bald_Eagle", *args))
    assert "not a run folder" in _one_error_line(_cli("train.cyclegan", "--resume", str(tmp_path / "nope")))
    p = _cli("train.pix2pix", "--dataset", str(flat), "--debug", *args)
    assert p.returncode != 0 and "Traceback" in p.stderr  # --debug shows where
    model = ROOT / "example_workflows" / "models"
    img = str(ROOT / "example_workflows" / "i2i_person.png")
    line = _one_error_line(_cli("i2i_models", "translate", str(model / "emoji-people-stargan"), img, "--out",
                                str(tmp_path / "o.png"), "--strengths", "Womn=1"))
    assert "Womn=1" in line
    line = _one_error_line(_cli("i2i_models", "translate", str(model / "emoji-line2color-pix2pix"), img, "--out",
                                str(tmp_path / "o.png"), "--direction", "BtoA"))
    assert "one direction only" in line
    line = _one_error_line(_cli("i2i_models", "translate", str(model / "emoji-line2color-pix2pix"), img, "--out",
                                str(tmp_path / "missing" / "o.png")))
    assert "does not exist" in line


# 6 ---------------------------------------------------------------------------------------------------------------
def test_progress_without_a_terminal_and_run_folders_everywhere(tmp_path):
    data = _sample(tmp_path)
    out = tmp_path / "elsewhere"
    p = _cli("train.pix2pix", *_args(tmp_path, data, steps=6, name="p"), "--output", str(out))
    assert p.returncode == 0, p.stderr[-2000:]
    first = p.stdout.splitlines()[0]
    assert first.startswith("run folder: ") and str(tmp_path / "p") in first and str(out) in first
    assert any("step 6/6 (100%)" in ln and "it/s" in ln for ln in p.stderr.splitlines()), p.stderr[-2000:]
    # train.evaluate and train.gallery take the run folder (its model lives in --output)
    assert i2i_models.load(tmp_path / "p").config["training"]["steps"] == 6
    e = _cli("train.evaluate", str(tmp_path / "p"), "--dataset", str(DATA / "emoji_line2color"), "--split", "val")
    assert e.returncode == 0 and "model L1" in e.stdout, e.stderr[-2000:]
    g = _cli("train.gallery", str(tmp_path / "p"), "--dataset", str(DATA / "emoji_line2color"), "--out",
             str(tmp_path / "g.jpg"), "--rows", "2")
    assert g.returncode == 0 and (tmp_path / "g.jpg").is_file(), g.stderr[-2000:]
    # a run stopped before its end: its latest checkpoint
    pix2pix.main(_args(tmp_path, data, steps=8, name="half") + ["--stop_after", "3"])
    assert i2i_models.load(tmp_path / "half").family == "pix2pix"


# 7 ---------------------------------------------------------------------------------------------------------------
def test_each_trainer_shows_its_own_options_and_defaults():
    help_sg = stargan.parser().format_help()
    assert "(default: 0.0001)" in help_sg and "--netG" not in help_sg and "--ngf" not in help_sg
    assert "--n_layers_D" not in help_sg and "--no_dropout" not in help_sg
    with pytest.raises(SystemExit):
        stargan.parser().parse_args(["--ngf", "32"])
    for mod in (pix2pix, stargan):
        text = mod.parser().format_help()
        assert "(default: None)" not in text
        entries = [e for e in ("\n" + text).split("\n  -") if e.strip()]
        assert all(" ".join(e.split()).count("default") <= 1 or "(default" not in e for e in entries) or \
            all(" ".join(e.split()).count("(default") <= 1 for e in entries), [e for e in entries if e.count("(default") > 1]
    help_p2p = pix2pix.parser().format_help()
    assert "(default: unet_256)" in " ".join(help_p2p.split()) and "(default: 0.0002)" in help_p2p


# 8 ---------------------------------------------------------------------------------------------------------------
def test_cards_hold_no_machine_paths_and_checkpoints_have_normal_permissions(tmp_path):
    data = _sample(tmp_path)
    out = pix2pix.main(_args(tmp_path, data, name="card"))
    card, cfg = (out / "README.md").read_text(), (out / "config.json").read_text()
    for text in (card, cfg):
        assert str(tmp_path) not in text
    assert "--dataset DATA/emoji_line2color" in card and "a sample of it ships" in card
    assert json.loads(cfg)["training"]["dataset"] == "emoji_line2color"
    mask = os.umask(0)
    os.umask(mask)
    for d in (tmp_path / "card" / "checkpoints").iterdir():
        if d.is_dir():
            assert stat.S_IMODE(d.stat().st_mode) == 0o777 & ~mask, oct(d.stat().st_mode)
    for published in (ROOT / "example_workflows" / "models").iterdir():
        for f in ("README.md", "config.json"):
            text = (published / f).read_text()
            assert "/work/" not in text and "/tmp/" not in text and "/root/" not in text, (published.name, f)


def test_convert_keeps_the_stored_dtype_unless_told(tmp_path):
    from safetensors import safe_open

    from i2i_models.__main__ import main as cli

    src = ROOT / "example_workflows" / "models" / "emoji-twemoji2noto-cyclegan"

    def dtypes(folder):
        with safe_open(str(folder / "model.safetensors"), "pt") as f:
            return {f.get_slice(k).get_dtype() for k in f.keys()}

    assert dtypes(src) == {"F16"}
    assert cli(["convert", str(src), str(tmp_path / "same")]) == 0
    assert dtypes(tmp_path / "same") == {"F16"}
    assert cli(["convert", str(src), str(tmp_path / "f32"), "--float32"]) == 0
    assert dtypes(tmp_path / "f32") == {"F32"}


# 9 ---------------------------------------------------------------------------------------------------------------
def test_ci_runs_the_readme_quick_start_and_the_readme_says_how_to_get_cpu_torch():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    first = readme.split("```bash\n", 1)[1].split("\n", 1)[0]
    assert "python -m train.pix2pix" in first and "i2i_models translate" in first
    p = subprocess.run(["awk", "/^```bash$/{getline; print; exit}", "README.md"], cwd=ROOT, capture_output=True, text=True)
    assert p.stdout.strip() == first and "awk '/^```bash$/{getline; print; exit}' README.md" in ci and '"$quick"' in ci
    assert "--index-url https://download.pytorch.org/whl/cpu" in readme
