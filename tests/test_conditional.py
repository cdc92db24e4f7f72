"""Conditional generators: StarGAN trained across datasets with the mask vector (``train.stargan --datasets``)
and the strength-controlled CycleGAN (``train.cyclegan --conditional``) — training, exact resume, Hub round
trips, the mask vector's losses, strength 0 = identity, editing and translating with them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import i2i_models
from train import cyclegan, stargan
from train.data import AttributeDataset, DataError, JointDataset, eval_transform

from test_train import TINY, common, losses

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "train" / "data"
PEOPLE = "Man,Woman,Neutral;Skin_Default,Skin_Light,Skin_Medium_Light,Skin_Medium,Skin_Medium_Dark,Skin_Dark"
DATASETS = ["--datasets", f"{DATA / 'emoji_people_attrs'}={PEOPLE}", f"{DATA / 'emoji_twemoji2noto'}=twemoji,noto"]


def _same_weights(a, b):
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k


# ------------------------------------------------------------------------------------------ StarGAN, several datasets
def test_stargan_across_datasets_resumes_exactly_and_records_each_datasets_labels(tmp_path):
    args = TINY["stargan"] + DATASETS + ["--lambda_pair", "10"]
    stargan.main(args + common(tmp_path, "full", 6))
    assert stargan.main(args + common(tmp_path, "cut", 6) + ["--stop_after", "4"]) is None
    stargan.main(["--resume", str(tmp_path / "cut"), "--num_workers", "0"])
    a, b = losses(tmp_path / "full"), losses(tmp_path / "cut")
    assert sorted(a) == list(range(1, 7)) and all(a[s] == b[s] for s in a)
    assert "G_pair" in a[6]  # the first dataset's ground-truth edits train too
    model = i2i_models.load(tmp_path / "cut" / "final")
    _same_weights(model, i2i_models.load(tmp_path / "full" / "final"))
    parts = model.datasets
    assert [p["name"] for p in parts] == ["emoji_people_attrs", "emoji_twemoji2noto"]
    assert parts[0]["attribute_groups"] == [g.split(",") for g in PEOPLE.split(";")]
    assert parts[1]["attributes"] == ["twemoji", "noto"] and parts[1]["attribute_groups"] == [["twemoji", "noto"]]
    assert model.attributes == PEOPLE.replace(";", ",").split(",") + ["twemoji", "noto"]
    # the generator takes the joint labels and the mask vector; the classifier predicts the joint labels
    assert model.generator.c_dim == 11 + 2 and model.discriminator.c_dim == 11
    card = (tmp_path / "cut" / "final" / "README.md").read_text()
    assert "mask vector" in card and "**emoji_twemoji2noto**: `twemoji`, `noto`" in card
    val = [json.loads(x) for x in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines() if '"val"' in x]
    assert {"val/edit_l1", "val/edit_keep_l1", "val/attr_acc"} <= set(val[-1])  # scored on the first dataset


def test_joint_dataset_labels_and_mask_vector():
    t = eval_transform(32)
    people = AttributeDataset(DATA / "emoji_people_attrs" / "train" / "images", t,
                              DATA / "emoji_people_attrs" / "train" / "list_attr.txt", ["Man", "Woman", "Neutral"])
    styles = AttributeDataset(DATA / "emoji_twemoji2noto", t, None, ["twemoji", "noto"],
                              domain_dirs=[("twemoji", DATA / "emoji_twemoji2noto" / "trainA"),
                                           ("noto", DATA / "emoji_twemoji2noto" / "trainB")])
    joint = JointDataset([people, styles])
    assert joint.attributes == ["Man", "Woman", "Neutral", "twemoji", "noto"]
    assert len(joint) == 2 * max(len(people), len(styles))
    a, b = joint[0], joint[1]
    assert a["mask"].tolist() == [1, 0] and b["mask"].tolist() == [0, 1]
    assert a["label"][3:].tolist() == [0, 0] and a["label"][:3].sum() == 1  # the style part is unknown: zeros
    assert b["label"][:3].tolist() == [0, 0, 0] and b["label"][3:].tolist() == [1, 0]  # trainA is twemoji
    joint.epoch = 3
    assert people.epoch == styles.epoch == 3  # augmentation seeds reach the parts
    with pytest.raises(DataError, match="more than one dataset"):
        JointDataset([people, people])


def test_the_classification_loss_ignores_the_labels_a_sample_does_not_have():
    """The mask vector's role (Choi et al. §3.2): a sample of dataset k is classified on k's labels only —
    whatever the classifier says about the others changes neither the loss nor its gradients."""
    recipe = stargan.StarGANRecipe.__new__(stargan.StarGANRecipe)  # the loss needs no trained state
    mask = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    spans = [(0, 3), (3, 2)]
    known = torch.zeros(3, 5)
    for i, k in enumerate(mask.argmax(1).tolist()):
        o, n = spans[k]
        known[i, o:o + n] = 1
    target = torch.tensor([[0, 1, 0, 0, 0], [0, 0, 0, 0, 1], [1, 0, 0, 0, 0]], dtype=torch.float32)
    logits = torch.randn(3, 5, requires_grad=True)
    loss = recipe.cls_loss(logits, target, known)
    loss.backward()
    assert (logits.grad[known == 0] == 0).all() and (logits.grad[known == 1] != 0).all()
    other = logits.detach().clone()
    other[known == 0] += 50  # anything on the unknown labels
    assert torch.allclose(recipe.cls_loss(other, target, known), loss.detach())
    assert not torch.allclose(recipe.cls_loss(logits.detach(), target, None), loss.detach())  # unmasked differs
    # targets for the fakes come from images of the same dataset
    torch.manual_seed(0)
    c = torch.tensor([[1, 0, 0, 0, 0], [0, 0, 0, 1, 0], [0, 1, 0, 0, 0], [0, 0, 0, 0, 1]], dtype=torch.float32)
    m = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    for _ in range(10):
        t = recipe.target_labels(c, m)
        assert (t[:, :3].sum(1) == m[:, 0]).all() and (t[:, 3:].sum(1) == m[:, 1]).all()


def test_a_multi_dataset_model_edits_each_datasets_attributes_with_its_mask(tmp_path):
    out = stargan.main(TINY["stargan"] + DATASETS + common(tmp_path, "m", 2))
    model = i2i_models.load(out)
    x = torch.rand(1, 32, 32, 3)
    calls = []
    g = model.generator
    hook = g.register_forward_pre_hook(lambda mod, args: calls.append(args[1].clone()))
    try:
        src = {a: 0.0 for a in model.attributes}
        src.update(Man=1.0, Skin_Default=1.0, twemoji=1.0)
        i2i_models.edit(model, x, {"noto": 1.0}, source=src)
        assert len(calls) == 1  # one pass, the style dataset's labels under its mask
        assert calls[0][0, :9].abs().sum() == 0 and calls[0][0, 9:].tolist() == [0.0, 1.0, 0.0, 1.0]
        calls.clear()
        i2i_models.edit(model, x, {"Woman": 1.0, "noto": 1.0}, source=src)
        assert len(calls) == 2  # gender with the people mask, then style with the style mask
        assert calls[0][0, 11:].tolist() == [1.0, 0.0] and calls[0][0, 1] == 1.0 and calls[0][0, 9:11].sum() == 0
        assert calls[1][0, 11:].tolist() == [0.0, 1.0]
        calls.clear()
        y = i2i_models.edit(model, x, {"noto": 0.0, "Woman": 0.0})
        assert torch.equal(y, x) and not calls  # every strength 0: the input, unchanged
    finally:
        hook.remove()
    with pytest.raises(ValueError, match="out of range"):
        model.condition(torch.zeros(1, 11), 2)
    with pytest.raises(ValueError, match=r"\[13\]"):  # raw labels: the joint vector and the mask vector
        i2i_models.translate(model, x, labels=[0.0] * 11)


def test_stargan_datasets_option_errors():
    with pytest.raises(DataError, match="PATH=ATTRIBUTES"):
        stargan.parse_datasets(["nowhere", "b=x,y"])
    with pytest.raises(DataError, match="two or more"):
        stargan.parse_datasets(["a=x,y"])
    with pytest.raises(DataError, match="cannot be combined"):
        stargan.main(TINY["stargan"] + DATASETS + ["--selected_attrs", "Man", "--max_steps", "1"])


# ------------------------------------------------------------------------------------------ conditional CycleGAN
def test_conditional_cyclegan_resumes_exactly_pushes_and_translates_with_a_strength(hub, tmp_path):
    args = TINY["cyclegan"] + ["--conditional", "--cycle_noise", "0.1"]
    cyclegan.main(args + common(tmp_path, "full", 6))
    assert cyclegan.main(args + common(tmp_path, "cut", 6) + ["--stop_after", "4"]) is None
    repo = hub.repo_id("cond-cyclegan")
    cyclegan.main(["--resume", str(tmp_path / "cut"), "--num_workers", "0", "--push_to_hub", repo])
    a, b = losses(tmp_path / "full"), losses(tmp_path / "cut")
    assert sorted(a) == list(range(1, 7)) and all(a[s] == b[s] for s in a)
    assert {"idt_A", "idt_B", "cycle_A", "cycle_B", "G_A", "G_B", "D_A", "D_B"} <= set(a[6])
    local = i2i_models.load(tmp_path / "cut" / "final")
    _same_weights(local, i2i_models.load(tmp_path / "full" / "final"))
    model = i2i_models.load(repo)
    _same_weights(model, local)
    assert model.conditional and model.directions == ["AtoB", "BtoA"] and model.G_A is None
    assert model.generator.c_dim == 1 and model.discriminator.input_nc == 4  # the code is the PatchGAN's 4th channel
    g = model.generator  # today's default: the code's magnitude scales the change and the measured zoom
    assert g.residual_strength and 0.9 < g.reframe_input < 1 and g.reframe_output == 1
    val = [json.loads(x) for x in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines() if '"val"' in x]
    assert {"val/AtoB_l1", "val/BtoA_l1", "val/cycle_A_l1", "val/AtoB_keep_l1"} <= set(val[-1])
    x = torch.rand(2, 30, 42, 3)
    assert torch.equal(i2i_models.translate(model, x, strength=0), x)
    full, half = i2i_models.translate(model, x), i2i_models.translate(model, x, strength=0.5)
    assert not torch.equal(full, half)
    torch.testing.assert_close(i2i_models.translate(model, x, strength=-1), i2i_models.translate(model, x, direction="BtoA"))
    torch.testing.assert_close(half, i2i_models.translate(model, x, labels=[0.5]))  # strength = the domain code


@pytest.mark.parametrize("control", ["residual", "code"])
def test_conditional_cyclegan_self_supervised_term_returns_an_image_asked_for_its_own_domain(tmp_path, control):
    """The self-supervised term asks for an image's own domain: trained with it (weighted up), a training image of
    domain A asked for A comes back far more closely than from the untrained network and than from the same
    training without the term. ``residual`` (today's default) asks with code -1 (no zoom: ``--reframe_A 1``);
    ``code`` (the first release's models) at strength ~0."""
    from PIL import Image

    args = TINY["cyclegan"] + ["--conditional", "--lr", "0.001", "--strength_control", control, "--reframe_A", "1",
                               "--lambda_strength", "0"]  # (code: that term pulls ~0 too)
    untrained = i2i_models.load(cyclegan.main(args + common(tmp_path, "z", 1) + ["--lr", "0"]))
    with_term = i2i_models.load(cyclegan.main(args + common(tmp_path, "t", 30) + ["--lambda_cycle", "1", "--lambda_identity", "50"]))
    without = i2i_models.load(cyclegan.main(args + common(tmp_path, "n", 30) + ["--lambda_cycle", "1", "--lambda_identity", "0"]))
    assert with_term.generator.residual_strength == (control == "residual")
    files = sorted((DATA / "emoji_twemoji2noto" / "trainA").iterdir())[:4]
    x = torch.stack([torch.from_numpy(np.array(Image.open(f).convert("RGB").resize((32, 32)))).float() / 255
                     for f in files])
    own = -1.0 if control == "residual" else 1e-3
    err = [(i2i_models.translate(m, x, strength=own) - x).abs().mean().item() for m in (untrained, with_term, without)]
    print(f"{control}: mean |G(x, {own}) - x|: untrained, with the term, without:", err)
    assert err[1] < 0.6 * err[0] and err[1] < 0.8 * err[2], err  # (measured, code: 0.181 against 0.399 and 0.294)


def test_residual_strength_scales_the_change_and_the_zoom_by_the_code():
    """A ``residual_strength`` generator (``--strength_control residual``): G(x, c) is the input zoomed by
    reframe_input ** c, plus |c| times the change of the full translation (code sign(c)) of that zoomed input - so
    strength 0.5 is half the change, beyond 1 exaggerates, each image of a batch takes its own code, the streamed
    tiles agree, and a first-release config (no ``residual_strength``) still reads the code with its network."""
    from i2i_models.networks import build_network
    from i2i_models.networks.common import reframe
    from i2i_models import streaming

    torch.manual_seed(0)
    cfg = {"arch": "resnet", "ngf": 8, "n_blocks": 1, "c_dim": 1, "upsample": "nearest"}
    g = build_network({**cfg, "residual_strength": True, "reframe_input": 0.9}).eval()
    x = torch.rand(3, 3, 24, 20) * 2 - 1
    with torch.no_grad():
        for code in (0.5, -0.5, 1.7):
            z = reframe(x, 0.9 ** code)
            full = g(z, torch.full((3, 1), 1.0 if code > 0 else -1.0), reframe=False)  # the translation of z
            torch.testing.assert_close(g(x, torch.full((3, 1), code)), z + abs(code) * (full - z), atol=1e-5, rtol=0)
        torch.testing.assert_close(g(x, torch.zeros(3, 1)), x, atol=1e-6, rtol=0)  # strength 0: the input
        codes = torch.tensor([[0.3], [-1.0], [2.0]])
        each = torch.cat([g(x[i:i + 1], codes[i:i + 1]) for i in range(3)])
        torch.testing.assert_close(g(x, codes), each, atol=1e-5, rtol=0)
        tiles = streaming.run(g, x[:1], torch.tensor([0.4]), band_bytes=1 << 12)
        torch.testing.assert_close(tiles, g(x[:1], torch.tensor([[0.4]])), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="c_dim 1"):
        build_network({**cfg, "c_dim": 0, "residual_strength": True})
    with pytest.raises(ValueError, match="domain code"):
        g(x, None)
    old = build_network(cfg).eval()  # a first-release conditional generator: the network reads the magnitude
    assert not old.residual_strength
    with torch.no_grad():
        half, full = old(x, torch.full((3, 1), 0.5)), old(x, torch.ones(3, 1))
    assert (half - (x + 0.5 * (full - x))).abs().max() > 1e-3


def test_conditional_runs_of_the_first_release_resume_reading_the_code():
    from train.config import load_saved, parse, to_json

    saved = json.loads(to_json(parse(cyclegan.CycleGANConfig, ["--dataset", "d", "--conditional"], "c")))
    assert saved["strength_control"] == "residual"
    old = {k: v for k, v in saved.items() if k != "strength_control"}
    old["config_version"] = 2  # args.json of the first conditional release
    assert load_saved(cyclegan.CycleGANConfig, old).strength_control == "code"
    assert load_saved(cyclegan.CycleGANConfig, saved).strength_control == "residual"


def test_conditional_cyclegan_option_errors(tmp_path):
    with pytest.raises(DataError, match="ResNet"):
        cyclegan.main(["--conditional", "--netG", "unet_32", "--crop_size", "32"] + common(tmp_path, "u", 1))
    with pytest.raises(DataError, match="reframe_A"):  # a code-reading generator has no zoom
        cyclegan.main(TINY["cyclegan"] + ["--conditional", "--strength_control", "code", "--reframe_A", "0.9"]
                      + common(tmp_path, "r", 1))
    two = i2i_models.CycleGANModel({"networks": {"G_A": {"arch": "resnet", "ngf": 8, "n_blocks": 1}}})
    with pytest.raises(ValueError, match="--conditional"):
        i2i_models.translate(two, torch.rand(1, 16, 16, 3), strength=0.5)
    with pytest.raises(ValueError, match="strength is for CycleGAN"):
        i2i_models.translate(i2i_models.Pix2PixModel({"networks": {"generator": {"arch": "unet", "num_downs": 5,
                                                                                  "ngf": 8}}}),
                             torch.rand(1, 32, 32, 3), strength=0.5)
    with pytest.raises(i2i_models.errors.ConfigError, match="not both"):
        i2i_models.CycleGANModel({"networks": {"G_A": {"arch": "resnet", "ngf": 8, "n_blocks": 1},
                                               "generator": {"arch": "resnet", "ngf": 8, "n_blocks": 1, "c_dim": 1}}})
