"""Every reference checkpoint in tests/data/parity loads through i2i_models.load, is detected as the
architecture the original code built, and reproduces the original code's outputs within the
manifest's tolerance (CPU fp32)."""

from __future__ import annotations

import json

import pytest
import torch

import i2i_models
from i2i_models.__main__ import main as cli
from conftest import PARITY, load_tensor

MANIFEST = json.loads((PARITY / "manifest.json").read_text())
CASES = {c["case"]: c for c in MANIFEST["cases"]}
ARCH = {"UnetGenerator": "unet", "ResnetGenerator": "resnet", "NLayerDiscriminator": "nlayer",
        "Generator": "stargan_g", "Discriminator": "stargan_d"}


def _tol(case):
    t = case["tolerance"]["cpu_fp32"]
    return dict(atol=t["atol"], rtol=t["rtol"])


def _network(model):
    nets = model.networks()
    assert len(nets) == 1, nets
    return next(iter(nets.values()))


@pytest.mark.parametrize("name", sorted(CASES))
def test_detected_architecture_and_hyperparameters(name):
    case = CASES[name]
    model = i2i_models.load(PARITY / case["checkpoint"]["file"])
    net = _network(model)
    assert net.config["arch"] == ARCH[case["cls"]]
    ctor = case["constructor"]
    for key, value in ctor.items():
        assert net.config[key] == value, (key, net.config[key], value)
    assert model.config["source"]["codebase"] == case["codebase"].split("/")[0].replace("yunjey", "yunjey-stargan")


def test_unet_eval_and_batch_statistics_modes():
    case = CASES["junyanz_unet256_batch"]
    model = i2i_models.load(PARITY / case["checkpoint"]["file"], family="pix2pix")
    x = load_tensor(case["inputs"]["x"])
    with torch.no_grad():
        y = model.generator(x.clone())
    torch.testing.assert_close(y, load_tensor(case["outputs"]["output_eval"]["file"]), **_tol(case))
    # test.py without --eval: BatchNorm with batch statistics (dropout disabled to be deterministic)
    model.generator.train()
    for m in model.generator.modules():
        if isinstance(m, torch.nn.Dropout):
            m.eval()
    with torch.no_grad():
        y = model.generator(x.clone())
    torch.testing.assert_close(y, load_tensor(case["outputs"]["output_train_bn_batchstats"]["file"]), **_tol(case))


def test_resnet_generator_output():
    case = CASES["junyanz_resnet9_instance"]
    model = i2i_models.load(PARITY / case["checkpoint"]["file"])
    assert isinstance(model, i2i_models.CycleGANModel)
    assert model.directions == ["AtoB"]
    with torch.no_grad():
        y = model.G_A(load_tensor(case["inputs"]["x"]))
    torch.testing.assert_close(y, load_tensor(case["outputs"]["output_eval"]["file"]), **_tol(case))


def test_patchgan_discriminator_output():
    case = CASES["junyanz_nlayerD3_batch_in6"]
    model = i2i_models.load(PARITY / case["checkpoint"]["file"])
    assert isinstance(model, i2i_models.Pix2PixModel)  # 6 input channels = cat(A, B): pix2pix's D
    assert model.generator is None and model.discriminator is not None
    with torch.no_grad():
        y = model.discriminator(load_tensor(case["inputs"]["x"]))
    torch.testing.assert_close(y, load_tensor(case["outputs"]["output_eval"]["file"]), **_tol(case))


def test_stargan_generator_uses_instance_statistics_not_running_stats():
    case = CASES["stargan_G"]
    model = i2i_models.load(PARITY / case["checkpoint"]["file"], family="stargan")
    assert model.attributes == ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]
    assert model.attribute_groups == [["Black_Hair", "Blond_Hair", "Brown_Hair"]]
    x, c = load_tensor(case["inputs"]["x"]), load_tensor(case["inputs"]["c"])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        y = model.generator(x, c)
    torch.testing.assert_close(y, load_tensor(case["outputs"]["output_train_instancestats"]["file"]), **_tol(case))
    # negative control: the stored running statistics are NOT what yunjey's test() uses
    assert (y - load_tensor(case["outputs"]["output_eval_runningstats"]["file"])).abs().max() > 0.1
    # and inference does not mutate the running-stat buffers
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_stargan_discriminator_outputs():
    case = CASES["stargan_D"]
    model = i2i_models.load(PARITY / case["checkpoint"]["file"])
    assert model.family == "stargan" and model.generator is None
    with torch.no_grad():
        src, cls = model.discriminator(load_tensor(case["inputs"]["x"]))
    torch.testing.assert_close(src, load_tensor(case["outputs"]["out_src"]["file"]), **_tol(case))
    torch.testing.assert_close(cls, load_tensor(case["outputs"]["out_cls"]["file"]), **_tol(case))


def test_stargan_generator_file_picks_up_discriminator_beside_it(tmp_path):
    import shutil

    shutil.copy(PARITY / "stargan_G/200000-G.ckpt", tmp_path / "200000-G.ckpt")
    shutil.copy(PARITY / "stargan_D/200000-D.ckpt", tmp_path / "200000-D.ckpt")
    model = i2i_models.load(tmp_path / "200000-G.ckpt")
    assert model.generator is not None and model.discriminator is not None
    assert model.config["image_size"] == 128
    # the run folder too (newest step)
    shutil.copy(PARITY / "stargan_G/200000-G.ckpt", tmp_path / "10000-G.ckpt")
    model = i2i_models.load(tmp_path)
    assert model.config["source"]["files"] == {"generator": "200000-G.ckpt", "discriminator": "200000-D.ckpt"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_inspect_cli_names_architecture(name, capsys):
    case = CASES[name]
    assert cli(["inspect", str(PARITY / case["checkpoint"]["file"])]) == 0
    out = json.loads(capsys.readouterr().out)
    (net,) = out["networks"].values()
    assert net["arch"] == ARCH[case["cls"]]
    assert out["source"]["kind"] == case["cls"]
    assert net["parameters"] > 0
