"""NVIDIA/pix2pixHD generator checkpoints (tests/data/parity_nvidia, built from their module code by
make_fixtures.py) load by detection alone, as the architecture their code built, and reproduce their
forward within 1e-5 — through the network, through ``translate`` (which builds a label-map model's one-hot
and instance-edge input from integer maps) and through exact streamed tiles."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

import i2i_models
from i2i_models import translate
from i2i_models.errors import UnknownCheckpointError
from i2i_models.images import label_map_input
from i2i_models.networks import GlobalGenerator
from conftest import DATA

HD = DATA / "parity_nvidia"
MANIFEST = json.loads((HD / "manifest.json").read_text())
CASES = {c["case"]: c for c in MANIFEST["cases"]}
TOL = dict(atol=MANIFEST["tolerance"]["atol"], rtol=MANIFEST["tolerance"]["rtol"])
# NVIDIA's constructor argument names -> ours (their GlobalGenerator says n_downsampling / n_blocks)
NAMES = {"n_downsampling": "n_downsample_global", "n_blocks": "n_blocks_global"}


def _tensors(case):
    return {k: torch.load(HD / v["file"], weights_only=True) for k, v in case["tensors"].items()}


def _inputs(case, t):
    """(what translate takes, its options): an image in [0, 1] [B, H, W, 3], or the label map and instance map."""
    if "x" in t:
        return ((t["x"] + 1) / 2).permute(0, 2, 3, 1), {}
    return t["label"], {"instance": t.get("instance")}


@pytest.mark.parametrize("name", sorted(CASES))
def test_detected_as_nvidia_with_their_hyperparameters(name):
    case = CASES[name]
    model = i2i_models.load(HD / case["checkpoint"]["file"])
    assert isinstance(model, i2i_models.Pix2PixModel)
    cfg = model.generator.config
    assert cfg["arch"] == {"global": "pix2pixhd_global", "local": "pix2pixhd_local"}[case["netG"]]
    assert model.config["source"]["codebase"] == "nvidia-pix2pixhd"
    assert cfg["norm"] == case["norm"]
    assert cfg["label_nc"] == case["label_nc"] and cfg["instance_edges"] == case["instance"]
    for key, value in case["constructor"].items():
        if key == "input_nc":
            assert model.generator.input_nc == value
        else:
            assert cfg[NAMES.get(key, key)] == value, key


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_matches_nvidia(name):
    case = CASES[name]
    model = i2i_models.load(HD / case["checkpoint"]["file"])
    t = _tensors(case)
    g = model.generator
    x = t["x"] if "x" in t else label_map_input(t["label"], g.label_nc, t.get("instance"),
                                                 g.instance_edges).permute(0, 3, 1, 2)
    with torch.no_grad():
        torch.testing.assert_close(g(x), t["output_eval"], **TOL)
    images, kw = _inputs(case, t)
    want = (t["output_eval"].permute(0, 2, 3, 1) + 1) / 2
    torch.testing.assert_close(translate(model, images, **kw), want, **TOL)
    # streamed in exact tiles (the local enhancer's average-pool pyramid included): equal to the full frame
    torch.testing.assert_close(translate(model, images, tiled=True, tile_bytes=1 << 14, **kw), want, **TOL)


def test_batchnorm_batch_statistics_mode():
    case = CASES["nvidia_global_rgb_batch"]
    model = i2i_models.load(HD / case["checkpoint"]["file"])
    t = _tensors(case)
    y = translate(model, ((t["x"] + 1) / 2).permute(0, 2, 3, 1), batchnorm="batch")
    assert not torch.allclose(t["output_train_bn_batchstats"], t["output_eval"], atol=1e-3)
    # batch statistics are per call: one image at a time in ours (chunk 1), the pair together in theirs
    model.generator.train()
    with torch.no_grad():
        torch.testing.assert_close(model.generator(t["x"]), t["output_train_bn_batchstats"], **TOL)
    one = torch.cat([model.generator(t["x"][i:i + 1]) for i in range(2)]).detach()
    torch.testing.assert_close(y, ((one.permute(0, 2, 3, 1) + 1) / 2).clamp(0, 1), **TOL)


def test_opt_txt_decides_what_the_input_channels_mean(tmp_path):
    case = CASES["nvidia_local_label4_noinst"]
    ckpt = HD / case["checkpoint"]["file"]
    shutil.copy(ckpt, tmp_path / ckpt.name)
    alone = i2i_models.load(tmp_path / ckpt.name)  # 4 channels, no opt.txt: NVIDIA's default reading
    assert (alone.generator.label_nc, alone.generator.instance_edges) == (3, True)
    assert any("label_nc=3" in n for n in alone.config["source"]["notes"])
    model = i2i_models.load(ckpt)
    assert (model.generator.label_nc, model.generator.instance_edges) == (4, False)
    assert model.config["image_size"] == 512 and model.config["domains"] == {"A": "label", "B": "emoji"}
    t = _tensors(case)
    with pytest.raises(ValueError, match="label ids must lie in 0..2"):
        translate(alone, t["label"])  # id 3 exists in the map: a clear error, not a wrong colouring
    (tmp_path / "opt.txt").write_text("------------ Options -------------\ninstance_feat: True\nfeat_num: 3\n"
                                      "-------------- End ----------------\n")
    with pytest.raises(UnknownCheckpointError, match="instance_feat"):
        i2i_models.load(tmp_path / ckpt.name)


def test_label_model_without_instance_map_gets_no_edges():
    case = CASES["nvidia_global_label6_inst"]
    model = i2i_models.load(HD / case["checkpoint"]["file"])
    t = _tensors(case)
    y = translate(model, t["label"])
    assert not torch.allclose(y, (t["output_eval"].permute(0, 2, 3, 1) + 1) / 2, atol=1e-3)
    x = label_map_input(t["label"], 6, torch.zeros_like(t["instance"]), True).permute(0, 3, 1, 2)
    with torch.no_grad():
        torch.testing.assert_close(y, (model.generator(x).permute(0, 2, 3, 1) + 1) / 2, **TOL)
    # label maps as ComfyUI MASKs (ids as 8-bit values) give the same result
    mask = t["label"].float() / 255
    torch.testing.assert_close(translate(model, mask, instance=t["instance"].float() / 255),
                               (t["output_eval"].permute(0, 2, 3, 1) + 1) / 2, **TOL)


def test_two_downsamplings_with_instance_norm_stay_junyanz(tmp_path):
    """That configuration has junyanz's ResNet layout and function: detected as junyanz, same outputs."""
    torch.manual_seed(3)
    g = GlobalGenerator(3, 3, ngf=8, n_downsample_global=2, n_blocks_global=3).eval()
    torch.save(g.state_dict(), tmp_path / "latest_net_G.pth")
    model = i2i_models.load(tmp_path / "latest_net_G.pth")
    net = next(iter(model.networks().values()))
    assert net.config["arch"] == "resnet" and model.config["source"]["codebase"] == "junyanz"
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(net(x), g(x), **TOL)


def test_run_folder_with_their_discriminator_loads_the_generator(tmp_path):
    case = CASES["nvidia_local2_rgb"]
    shutil.copy(HD / case["checkpoint"]["file"], tmp_path / "latest_net_G.pth")
    torch.save({"scale0_layer0.0.weight": torch.zeros(4, 6, 4, 4), "scale0_layer0.0.bias": torch.zeros(4)},
               tmp_path / "latest_net_D.pth")
    model = i2i_models.load(tmp_path)
    assert model.generator.config["arch"] == "pix2pixhd_local" and model.discriminator is None
    assert any("latest_net_D.pth not loaded" in n for n in model.config["source"]["notes"])
    (tmp_path / "latest_net_G.pth").unlink()
    with pytest.raises(UnknownCheckpointError):
        i2i_models.load(tmp_path)


def test_any_size_batch_alpha_and_precision_through_the_same_engine():
    model = i2i_models.load(HD / CASES["nvidia_local2_rgb"]["checkpoint"]["file"])
    torch.manual_seed(1)
    rgba = torch.rand(3, 37, 53, 4)  # odd size (the local enhancer needs multiples of 16), batch, alpha
    y = translate(model, rgba, batch_size=2)
    assert y.shape == rgba.shape and torch.equal(y[..., 3], rgba[..., 3])
    torch.testing.assert_close(y[1:2], translate(model, rgba[1:2]), **TOL)  # chunking changes nothing
    torch.testing.assert_close(translate(model, rgba, tiled=True, tile_bytes=1 << 14), y, **TOL)
    low = translate(model, rgba, precision="bf16")
    assert (low - y).abs().mean() < 0.02
    labels = i2i_models.load(HD / CASES["nvidia_global_label6_inst"]["checkpoint"]["file"])
    ids = torch.randint(0, 6, (2, 45, 31))
    out = translate(labels, ids, instance=ids)
    assert out.shape == (2, 45, 31, 3)
    torch.testing.assert_close(translate(labels, ids, instance=ids, tiled=True, tile_bytes=1 << 13), out, **TOL)


def test_cli_translates_label_pngs_palette_included(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from i2i_models.__main__ import main as cli

    case = CASES["nvidia_global_label6_inst"]
    t = _tensors(case)
    lab = Image.fromarray(t["label"][0].numpy(), "L").convert("P")  # palette indices are the ids
    lab.putpalette([v for i in range(256) for v in (i * 7 % 256, i * 13 % 256, i * 29 % 256)])
    lab.save(tmp_path / "label.png")
    Image.fromarray(t["instance"][0].numpy().astype(np.uint8)).save(tmp_path / "inst.png")
    assert cli(["translate", str(HD / case["checkpoint"]["file"]), str(tmp_path / "label.png"), "--instance",
                str(tmp_path / "inst.png"), "--out", str(tmp_path / "out.png")]) == 0
    got = np.asarray(Image.open(tmp_path / "out.png")).astype(int)
    want = ((t["output_eval"][0].permute(1, 2, 0) + 1) / 2 * 255).round().clamp(0, 255).numpy().astype(int)
    assert np.abs(got - want).max() <= 1
    assert cli(["translate", str(HD / case["checkpoint"]["file"]), str(tmp_path / "label.png"), "--instance",
                str(tmp_path / "inst.png"), str(tmp_path / "inst.png"), "--out", str(tmp_path / "o.png")]) != 0
    assert "one per input" in capsys.readouterr().err
