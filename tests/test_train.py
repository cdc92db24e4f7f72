"""Training CLIs end to end on tiny models: exact resume, crash safety, data layouts and errors, Hub data
and pushes, the model card, --help."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import i2i_models
from train import cyclegan, pix2pix, stargan
from train.data import DataError

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "train" / "data"
TINY = {
    "pix2pix": ["--netG", "unet_32", "--ngf", "8", "--ndf", "8", "--crop_size", "32", "--batch_size", "2"],
    "cyclegan": ["--netG", "resnet_6blocks", "--ngf", "8", "--ndf", "8", "--crop_size", "32", "--batch_size", "2"],
    "stargan": ["--g_conv_dim", "8", "--d_conv_dim", "8", "--g_repeat_num", "1", "--d_repeat_num", "4", "--crop_size", "32",
                "--batch_size", "4", "--n_critic", "2"],
}
MODULES = {"pix2pix": pix2pix, "cyclegan": cyclegan, "stargan": stargan}


def common(tmp_path, name, steps=6, **kw):
    args = ["--max_steps", str(steps), "--print_every", "1", "--val_every", "3", "--sample_every", "3", "--save_every", "3",
            "--checkpoints_dir", str(tmp_path), "--name", name, "--num_workers", str(kw.get("workers", 0)),
            "--no_tensorboard", "--val_limit", "4"]
    return args


def losses(run_dir: Path) -> dict[int, dict]:
    out = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        d = json.loads(line)
        if "lr" in d:
            d.pop("elapsed_s", None)  # wall clock differs between runs
            out[d["step"]] = d
    return out


@pytest.mark.parametrize("family", ["pix2pix", "cyclegan", "stargan"])
def test_resumed_run_logs_the_same_losses_as_an_uninterrupted_one(tmp_path, family):
    mod = MODULES[family]
    workers = 2 if family == "cyclegan" else 0
    extra = ["--cycle_noise", "0.1"] if family == "cyclegan" else []  # its noise draws come back on resume too
    mod.main(TINY[family] + extra + common(tmp_path, "full", 8, workers=workers))
    assert mod.main(TINY[family] + extra + common(tmp_path, "cut", 8, workers=workers) + ["--stop_after", "5"]) is None
    assert (tmp_path / "cut" / "checkpoints" / "LATEST").read_text() == "step_0000005"
    out = mod.main(["--resume", str(tmp_path / "cut"), "--num_workers", str(workers)])
    assert out is not None
    a, b = losses(tmp_path / "full"), losses(tmp_path / "cut")
    assert sorted(a) == sorted(b) == list(range(1, 9))
    for step in a:
        assert a[step] == b[step], (step, a[step], b[step])
    card = (tmp_path / "cut" / "final" / "README.md").read_text()
    assert "--stop_after" in card and "--resume" not in card  # the card shows the command that started the run
    fa, fb = i2i_models.load(tmp_path / "full" / "final"), i2i_models.load(tmp_path / "cut" / "final")
    for k, v in fa.state_dict().items():
        assert torch.equal(v, fb.state_dict()[k]), k


@pytest.mark.slow
def test_kill_9_at_any_moment_leaves_a_loadable_checkpoint(tmp_path):
    cmd = [sys.executable, "-m", "train.cyclegan", *TINY["cyclegan"], *common(tmp_path, "k", 400), "--save_every", "1",
           "--val_every", "1000", "--sample_every", "1000", "--keep_last", "2"]
    ck = tmp_path / "k" / "checkpoints"
    for delay in (0.0, 0.37, 0.81):  # after a new checkpoint appears (a busy machine starts slowly), mid-run
        before = (ck / "LATEST").read_text() if (ck / "LATEST").exists() else None
        p = subprocess.Popen(cmd if not (tmp_path / "k" / "args.json").exists() else
                             [sys.executable, "-m", "train.cyclegan", "--resume", str(tmp_path / "k"), "--num_workers", "0"],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 180
        while time.time() < deadline and p.poll() is None:
            if (ck / "LATEST").exists() and (ck / "LATEST").read_text() != before:
                break
            time.sleep(0.05)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        latest = ck / (ck / "LATEST").read_text()
        model = i2i_models.load(latest)
        assert model.family == "cyclegan"
        state = torch.load(latest / "training_state.pt", weights_only=True)
        assert state["step"] == int(latest.name.split("_")[1])
    assert (tmp_path / "k" / "checkpoints" / "LATEST").exists()


def test_ctrl_c_saves_before_exiting(tmp_path):
    p = subprocess.Popen([sys.executable, "-m", "train.pix2pix", *TINY["pix2pix"], *common(tmp_path, "c", 100000),
                          "--save_every", "100000"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # even when run under nohup &
    deadline, log = time.time() + 120, tmp_path / "c" / "metrics.jsonl"
    while time.time() < deadline and not (log.exists() and '"lr"' in log.read_text()):  # training steps under way
        time.sleep(0.2)
    time.sleep(1)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130
    assert "--resume" in err
    latest = (tmp_path / "c" / "checkpoints" / "LATEST").read_text()
    assert i2i_models.load(tmp_path / "c" / "checkpoints" / latest).family == "pix2pix"


def _write(path: Path, size=(40, 40), color=(255, 0, 0), mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color if mode != "L" else 128).save(path)


def test_data_layouts_and_conversions(tmp_path):
    # aligned A|B files (pix2pix's own format), grayscale, palette and RGBA inputs, one unreadable file
    aligned = tmp_path / "aligned"
    for i in range(4):
        _write(aligned / "train" / f"{i}.png", (80, 40))
    _write(aligned / "train" / "gray.png", (80, 40), mode="L")
    Image.new("P", (80, 40)).save(aligned / "train" / "pal.png")
    Image.new("RGBA", (80, 40), (0, 0, 0, 0)).save(aligned / "train" / "rgba.png")
    (aligned / "train" / "broken.png").write_bytes(b"not a png")
    out = pix2pix.main(TINY["pix2pix"] + common(tmp_path, "al", 2) + ["--dataset", str(aligned), "--val_split", ""])
    assert i2i_models.load(out).family == "pix2pix"
    from train.data import PairedDataset, Transform

    ds = PairedDataset(aligned, "train", Transform("resize_and_crop", 32, 32, False))
    assert len(ds) == 7  # broken.png skipped
    sample = ds[[p.name for p, _ in ds.pairs].index("rgba.png")]
    assert torch.allclose(sample["A"], torch.ones_like(sample["A"]))  # transparent composited on white
    # A/ and B/ folders without split sub-folders, BtoA direction
    ab = tmp_path / "ab"
    for i in range(3):
        _write(ab / "A" / f"{i}.png", color=(255, 0, 0))
        _write(ab / "B" / f"{i}.png", color=(0, 0, 255))
    ds = PairedDataset(ab, "train", Transform("resize_and_crop", 32, 32, False), direction="BtoA")
    assert ds[0]["A"][2].mean() > 0.9 and ds[0]["B"][0].mean() > 0.9


def test_bad_data_fails_before_training_with_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="share no file names"):
        for i in range(2):
            _write(tmp_path / "u" / "A" / f"a{i}.png")
            _write(tmp_path / "u" / "B" / f"b{i}.png")
        pix2pix.main(TINY["pix2pix"] + common(tmp_path, "x", 2) + ["--dataset", str(tmp_path / "u")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no paired images"):
        pix2pix.main(TINY["pix2pix"] + common(tmp_path, "y", 2) + ["--dataset", str(tmp_path / "empty")])
    with pytest.raises(DataError, match="trainA"):
        cyclegan.main(TINY["cyclegan"] + common(tmp_path, "z", 2) + ["--dataset", str(tmp_path / "empty")])
    for i in range(2):
        _write(tmp_path / "small" / "A" / f"{i}.png", (16, 16))
        _write(tmp_path / "small" / "B" / f"{i}.png", (16, 16))
    with pytest.raises(DataError, match="smaller than the crop"):
        pix2pix.main(TINY["pix2pix"] + common(tmp_path, "s", 2) + ["--dataset", str(tmp_path / "small"), "--preprocess", "crop"])
    with pytest.raises(DataError, match="unknown attribute"):
        stargan.main(TINY["stargan"] + common(tmp_path, "t", 2) + ["--selected_attrs", "Man", "Bald_Eagle"])
    with pytest.raises(SystemExit):
        pix2pix.main(["--resume", str(tmp_path / "nothing-here")])


def test_hub_dataset_training_and_push_with_model_card(hub, tmp_path):
    import datasets

    src = DATA / "emoji_line2color"
    names = sorted(p.name for p in (src / "A" / "train").iterdir())[:6]
    feats = datasets.Features({"line": datasets.Image(), "color": datasets.Image()})
    ds = datasets.Dataset.from_dict({"line": [str(src / "A" / "train" / n) for n in names],
                                     "color": [str(src / "B" / "train" / n) for n in names]}, features=feats)
    repo = hub.repo_id("line2color-data")
    datasets.DatasetDict({"train": ds, "val": ds.select(range(2))}).push_to_hub(repo)
    with pytest.raises(DataError, match="no column"):
        pix2pix.main(TINY["pix2pix"] + common(tmp_path, "h0", 2) + ["--dataset", repo])
    model_repo = hub.repo_id("p2p-model")
    pix2pix.main(TINY["pix2pix"] + common(tmp_path, "h", 3) + ["--dataset", repo, "--column_A", "line",
                                                                 "--column_B", "color", "--push_to_hub", model_repo])
    model = i2i_models.load(model_repo)
    assert model.family == "pix2pix" and model.config["training"]["steps"] == 3
    from huggingface_hub import HfApi, hf_hub_download

    files = HfApi().list_repo_files(model_repo)
    assert "samples/step_0000003.png" in files
    card = Path(hf_hub_download(model_repo, "README.md")).read_text()
    assert "pipeline_tag: image-to-image" in card and "pix2pix" in card
    assert "python -m train.pix2pix" in card and "| l1 |" in card and "Best l1 at step" in card
    y = i2i_models.translate(model, torch.rand(1, 50, 60, 3))
    assert y.shape == (1, 50, 60, 3)


def test_help_explains_every_option():
    for mod in MODULES.values():
        for action in mod.parser()._actions:
            if action.dest not in ("help", "stop_after"):
                assert action.help, f"{mod.__name__}: --{action.dest} has no help"


def test_stargan_embedded_sample_trains_and_edits(tmp_path):
    out = stargan.main(TINY["stargan"] + common(tmp_path, "st", 4))
    model = i2i_models.load(out)
    assert model.attributes[:3] == ["Man", "Woman", "Neutral"]
    assert model.attribute_groups[0] == ["Man", "Woman", "Neutral"]
    val = [json.loads(line) for line in (tmp_path / "st" / "metrics.jsonl").read_text().splitlines() if '"val"' in line]
    assert {"val/attr_acc", "val/edit_l1", "val/identity_l1", "val/edit_target_read"} <= set(val[-1])
    assert "own discriminator" in (Path(out) / "README.md").read_text()  # the card says those reads overstate
    y = i2i_models.edit(model, torch.rand(1, 40, 40, 3), {"Woman": 1.0})
    assert y.shape == (1, 40, 40, 3)


@pytest.mark.parametrize("family", ["pix2pix", "cyclegan", "stargan"])
def test_attention_mask_models_train_with_the_mask_penalty_and_load(tmp_path, family):
    extra = ["--attention_mask", "--attention_init", "0.5"] + (["--lambda_mask", "0.1"] if family != "pix2pix" else [])
    out = MODULES[family].main(TINY[family] + common(tmp_path, "att", 4) + extra)
    model = i2i_models.load(out)
    gen = model.generator if family != "cyclegan" else model.networks()["G_A"]
    assert gen.config["attention_mask"] is True
    logged = losses(tmp_path / "att")
    if family == "cyclegan":
        assert all(0 < logged[s]["mask"] <= 0.2 for s in logged)  # 0.1 * (mean A_A + mean A_B), A in [0, 1]
    if family == "stargan":
        assert 0 < logged[4]["G_mask"] <= 1
    x = torch.rand(1, 40, 40, 3)
    y = i2i_models.edit(model, x, {"Woman": 1.0}) if family == "stargan" else i2i_models.translate(model, x)
    assert y.shape == (1, 40, 40, 3)


def test_converting_a_run_keeps_its_model_card_and_samples(tmp_path):
    from i2i_models.__main__ import main as cli
    out = pix2pix.main(TINY["pix2pix"] + common(tmp_path, "pub", 3))
    dst = tmp_path / "published"
    assert cli(["convert", str(out), str(dst), "--half", "--drop-discriminators"]) == 0
    card = (dst / "README.md").read_text()
    assert "python -m train.pix2pix" in card and "| `generator` |" in card and "| `discriminator` |" not in card
    assert "float16" in card and (dst / "samples").is_dir() and list((dst / "samples").glob("*.png"))
    model = i2i_models.load(dst)
    assert list(model.networks()) == ["generator"]
    assert next(iter(model.state_dict().values())).dtype == torch.float32  # stored as fp16, loads as fp32


def test_a_run_from_an_older_version_resumes(tmp_path):
    assert cyclegan.main(TINY["cyclegan"] + common(tmp_path, "old", 4) + ["--stop_after", "2"]) is None
    saved = tmp_path / "old" / "args.json"
    args = json.loads(saved.read_text())
    assert args["reframe_A"] == "auto"  # today's default: the embedded Twemoji -> Noto sample gets a zoom
    for newer in ("attention_mask", "attention_init", "lambda_mask", "reframe_A", "config_version"):  # the older CLI had none
        args.pop(newer)
    saved.write_text(json.dumps(args))
    out = cyclegan.main(["--resume", str(tmp_path / "old"), "--num_workers", "0"])
    g_a = i2i_models.load(out).networks()["G_A"].config
    assert g_a["attention_mask"] is False
    assert g_a["reframe_input"] == 1.0  # trained without the zoom before auto became the default: none now


def test_an_older_stargan_run_resumes_without_the_identity_loss_it_did_not_have(tmp_path):
    """``--lambda_id`` became 10 by default; a run saved before the option existed resumes with 0, as it trained."""
    base = TINY["stargan"] + ["--n_critic", "1"]
    assert stargan.main(base + common(tmp_path, "old", 4) + ["--stop_after", "2"]) is None
    saved = tmp_path / "old" / "args.json"
    args = json.loads(saved.read_text())
    assert args.pop("lambda_id") == 10
    args.pop("config_version")  # files of that version were not versioned yet
    saved.write_text(json.dumps(args))
    stargan.main(["--resume", str(tmp_path / "old"), "--num_workers", "0"])
    log = losses(tmp_path / "old")
    assert "G_id" in log[2] and "G_id" not in log[4]  # the steps before the save had it; the resumed ones do not


def test_reframe_auto_gives_domain_A_the_framing_of_domain_B(tmp_path):
    """Noto emoji keep a margin that Twemoji lack: ``--reframe_A auto`` (the default) measures it on the real
    images and builds it into both generators, and the identity loss compares real images without the zoom;
    photos and styles framed alike get no zoom."""
    from train.data import estimate_reframe
    root = Path(cyclegan.__file__).parent / "data" / "emoji_twemoji2noto"
    scale, why = estimate_reframe(sorted((root / "trainA").glob("*.png")), sorted((root / "trainB").glob("*.png")))
    assert 0.9 < scale < 0.98, why
    noise = [Image.fromarray((np.random.default_rng(i).random((32, 32, 3)) * 255).astype(np.uint8)) for i in range(4)]
    assert estimate_reframe(noise, noise)[0] == 1.0  # photos: no plain background, no zoom

    def shrunk(path, f):  # the same Twemoji art drawn at f times its size, centred on white
        im = Image.open(path).convert("RGBA")
        canvas = Image.new("RGBA", im.size, (255, 255, 255, 255))
        small = im.resize((round(im.width * f), round(im.height * f)), Image.BICUBIC)
        canvas.alpha_composite(small, ((im.width - small.width) // 2, (im.height - small.height) // 2))
        return canvas.convert("RGB")
    twemoji = sorted((root / "trainA").glob("*.png"))[:40]
    assert 0.88 < estimate_reframe(twemoji, [shrunk(p, 0.9) for p in twemoji])[0] < 0.92
    same, why = estimate_reframe(twemoji, [shrunk(p, 0.99) for p in twemoji])
    assert same == 1.0 and "within 2%" in why  # styles framed alike: no resampling for nothing
    out = cyclegan.main(TINY["cyclegan"] + common(tmp_path, "rf", 2))  # auto is the default
    nets = i2i_models.load(out).networks()
    assert nets["G_A"].config["reframe_input"] == scale and nets["G_B"].config["reframe_output"] == pytest.approx(1 / scale)
    assert set(losses(tmp_path / "rf")[2]) >= {"idt_A", "idt_B"}
    with pytest.raises(DataError, match="give a scale"):
        cyclegan.main(TINY["cyclegan"] + common(tmp_path, "rf2", 2) + ["--reframe_A", "wide"])


def test_cycle_noise_enters_only_the_reconstruction(tmp_path):
    """``--cycle_noise`` perturbs what the reconstructing generator sees (so the cycle losses change from the
    first step) but not the translation the discriminator judges (the first step's GAN losses are equal)."""
    cyclegan.main(TINY["cyclegan"] + common(tmp_path, "plain", 1))
    cyclegan.main(TINY["cyclegan"] + common(tmp_path, "noisy", 1) + ["--cycle_noise", "0.5"])
    a, b = losses(tmp_path / "plain")[1], losses(tmp_path / "noisy")[1]
    assert a["G_A"] == b["G_A"] and a["G_B"] == b["G_B"] and a["idt_A"] == b["idt_A"]
    assert a["cycle_A"] != b["cycle_A"] and a["cycle_B"] != b["cycle_B"]


def test_total_variation_measures_grain_not_level():
    """L1 total variation: 0 for a flat image whatever its level, 4 for a one-pixel [-1, 1] checkerboard (2 per
    direction), and a ramp costs its total rise however it is spread (shading survives, grain is penalised)."""
    from train.losses import total_variation
    assert total_variation(torch.full((1, 3, 8, 8), 0.7)).item() == 0.0
    checker = (torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2 * 2.0 - 1
    assert total_variation(checker.expand(2, 3, 8, 8)).item() == pytest.approx(4.0)  # 2 down + 2 across
    ramp = torch.linspace(-1, 1, 9).expand(1, 1, 9, 9)
    step = (torch.arange(9) >= 4).float().mul(2).sub(1).expand(1, 1, 9, 9)
    assert total_variation(ramp).item() == pytest.approx(total_variation(step).item())
    with pytest.raises(ValueError, match="H, W >= 2"):
        total_variation(torch.zeros(1, 3, 1, 8))


def test_lambda_tv_smooths_the_translations(tmp_path):
    """``--lambda_tv`` is logged, leaves the first generator step's other losses alone, and a strongly
    weighted prior gives translations with less total variation than the same run without it."""
    from train.losses import total_variation
    no_ema = ["--ema", "0", "--lr", "2e-3"]  # export the trained weights, not a 6-step average of the init
    cyclegan.main(TINY["cyclegan"] + common(tmp_path, "plain", 6) + no_ema)
    cyclegan.main(TINY["cyclegan"] + common(tmp_path, "tv", 6) + no_ema + ["--lambda_tv", "50"])
    a, b = losses(tmp_path / "plain"), losses(tmp_path / "tv")
    assert "tv" not in a[1] and b[1]["tv"] > 0
    assert a[1]["G_A"] == b[1]["G_A"] and a[1]["cycle_A"] == b[1]["cycle_A"]
    x = torch.stack([torch.from_numpy(np.asarray(Image.open(f).convert("RGB").resize((32, 32)), dtype=np.float32))
                     for f in sorted((DATA / "emoji_twemoji2noto" / "valA").glob("*.png"))[:8]]).permute(0, 3, 1, 2)
    x = x / 127.5 - 1
    tv = {}
    for name in ("plain", "tv"):
        G = i2i_models.load(tmp_path / name / "final").generator_for("AtoB").float().eval()
        with torch.no_grad():
            tv[name] = total_variation(G(x)).item()
    assert tv["tv"] < 0.7 * tv["plain"], tv


@pytest.mark.parametrize("flag, key", [("--lambda_id", "G_id"), ("--lambda_pair", "G_pair")])
def test_stargan_identity_and_pair_losses_change_the_generator_update(tmp_path, flag, key):
    """``--lambda_id`` adds L1(G(x, c_org), x), ``--lambda_pair`` pix2pix's L1 to the true edits of the train
    split's edit_pairs.csv: each is logged, and it changes the generator's update (the second generator step's
    losses differ from a run without it), nothing before it. ``--lambda_id`` is 10 by default."""
    assert stargan.parser().parse_args([]).lambda_id == 10
    base = TINY["stargan"] + ["--n_critic", "1", "--lambda_id", "0"]
    stargan.main(base + common(tmp_path, "plain", 2))
    stargan.main(base + common(tmp_path, "extra", 2) + [flag, "10"])
    a, b = losses(tmp_path / "plain"), losses(tmp_path / "extra")
    assert key not in a[1] and b[1][key] > 0
    assert a[1]["G_fake"] == b[1]["G_fake"] and a[2]["G_fake"] != b[2]["G_fake"]


def test_stargan_edit_pairs_carry_the_true_edit_with_the_same_crop_and_flip():
    """With ``edit_pairs`` each training sample carries a partner listed in edit_pairs.csv, with other
    labels, cropped and flipped as the image itself, drawn reproducibly."""
    from train import data as D

    root = DATA / "emoji_people_attrs" / "train"
    t = D.Transform("resize_and_crop", 40, 32, True)
    ds = D.AttributeDataset(root / "images", t, root / "list_attr.txt", stargan.EMOJI_ATTRS, edit_pairs=root / "edit_pairs.csv")
    plain = D.AttributeDataset(root / "images", t, root / "list_attr.txt", stargan.EMOJI_ATTRS)
    pairs = set(D.read_edit_pairs(root / "edit_pairs.csv", root / "images", ds.items))
    flips = seen = 0
    for i in range(len(ds)):
        s = ds[i]
        assert torch.equal(s["image"], plain[i]["image"])  # the partner's draw comes after the image's own
        if not s["has_pair"]:
            assert i not in ds.partners and torch.equal(s["pair_image"], s["image"])
            continue
        j = next(j for j, (p, _) in enumerate(ds.items) if torch.equal(ds.items[j][1], s["pair_label"]) and (i, j) in pairs
                 and torch.equal(s["pair_image"], _same_view(ds, i, j)))
        assert not torch.equal(ds.items[i][1], ds.items[j][1])
        flips += t.params(D.open_image(ds.items[i][0]).size, D.sample_rng(ds.seed, ds.epoch, i))["flip"]
        seen += 1
        assert torch.equal(ds[i]["pair_image"], s["pair_image"])  # reproducible
        if seen >= 12:
            break
    assert seen == 12 and 0 < flips < 12


def _same_view(ds, i, j):
    """Partner ``j`` seen through sample ``i``'s own crop and flip."""
    from train import data as D

    im = D.open_image(ds.items[i][0])
    params = ds.transform.params(im.size, D.sample_rng(ds.seed, ds.epoch, i))
    return D.to_tensor(ds.transform(D.open_image(ds.items[j][0]), params))


def test_stargan_pair_loss_without_a_pairs_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="--edit_pairs"):
        stargan.main(TINY["stargan"] + common(tmp_path, "nopairs", 2) + ["--lambda_pair", "10", "--edit_pairs",
                                                                       str(tmp_path / "none.csv")])


@pytest.mark.parametrize("family", ["pix2pix", "stargan"])  # dropout / sampled target labels draw random numbers
def test_validation_and_samples_do_not_change_the_training(tmp_path, family):
    mod = MODULES[family]
    mod.main(TINY[family] + common(tmp_path, "often", 6))  # validates and samples every 3 steps
    mod.main(TINY[family] + common(tmp_path, "never", 6) + ["--val_every", "100", "--sample_every", "100"])
    a, b = losses(tmp_path / "often"), losses(tmp_path / "never")
    assert a == b


def test_a_run_folder_made_by_the_previous_release_resumes(tmp_path):
    """``tests/data/runs_v0_1/cg_v01``: args.json without a config version (an argparse dump), a checkpoint
    with the EMA as the previous trainer stored it; today's trainer migrates the config and finishes the run."""
    run = tmp_path / "cg_v01"
    shutil.copytree(Path(__file__).parent / "data" / "runs_v0_1" / "cg_v01", run)
    args = json.loads((run / "args.json").read_text())
    assert "config_version" not in args and "_explicit" in args
    args["dataset"] = str(DATA / "emoji_twemoji2noto")  # the machine that made it had the repo elsewhere
    (run / "args.json").write_text(json.dumps(args))
    out = cyclegan.main(["--resume", str(run), "--num_workers", "0"])
    assert out == run / "final" and i2i_models.load(run).family == "cyclegan"
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events if "event" in e and e["event"] in ("start", "resume")] == ["start", "resume"]
    assert max(e["step"] for e in events) == 6
    state = torch.load(run / "checkpoints" / "step_0000006" / "training_state.pt", weights_only=True)
    assert state["recipe"]["ema_updates"] == 6  # the EMA went on counting from the old checkpoint's 3
