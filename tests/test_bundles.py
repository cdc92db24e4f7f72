"""Our self-describing folders: every family round-trips save -> load bit-exactly, the folder holds
config.json + model.safetensors + README.md, saving is atomic, and `convert` writes the same format."""

from __future__ import annotations

import json
import os

import pytest
import torch

import i2i_models
from i2i_models import CycleGANModel, Pix2PixModel, StarGANModel
from i2i_models.__main__ import main as cli
from refnets import randomize_
from conftest import PARITY

CONFIGS = {
    "pix2pix": {"family": "pix2pix", "domains": {"A": "line", "B": "color"}, "networks": {
        "generator": {"arch": "unet", "num_downs": 6, "ngf": 8, "norm": "batch", "upsample": "nearest"},
        "discriminator": {"arch": "multiscale", "input_nc": 6, "ndf": 8, "num_D": 2, "use_spectral_norm": True}}},
    "cyclegan": {"family": "cyclegan", "domains": {"A": "twemoji", "B": "noto"}, "networks": {
        "G_A": {"arch": "resnet", "ngf": 8, "n_blocks": 2, "upsample": "nearest"},
        "G_B": {"arch": "resnet", "ngf": 8, "n_blocks": 2},
        "D_A": {"arch": "nlayer", "ndf": 8, "norm": "instance"}, "D_B": {"arch": "pixel", "ndf": 8}}},
    "stargan": {"family": "stargan", "attributes": ["Man", "Woman", "Skin_Light", "Skin_Dark"],
                "attribute_groups": [["Man", "Woman"], ["Skin_Light", "Skin_Dark"]], "networks": {
        "generator": {"arch": "stargan_g", "conv_dim": 8, "c_dim": 4, "repeat_num": 2},
        "discriminator": {"arch": "stargan_d", "image_size": 64, "conv_dim": 8, "c_dim": 4, "repeat_num": 4}}},
}
CLASSES = {"pix2pix": Pix2PixModel, "cyclegan": CycleGANModel, "stargan": StarGANModel}


@pytest.mark.parametrize("family", sorted(CONFIGS))
def test_round_trip_is_bit_exact(tmp_path, family):
    model = randomize_(CLASSES[family](CONFIGS[family]))
    out = model.save(tmp_path / "model")
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["format"] == "comfyui-i2i-gans" and cfg["family"] == family and cfg["value_range"] == [-1, 1]
    card = (out / "README.md").read_text()
    assert "pipeline_tag: image-to-image" in card and family in card
    for loaded in (i2i_models.load(out), i2i_models.load(out / "config.json"),
                   i2i_models.I2IModel.from_pretrained(out), CLASSES[family].from_pretrained(out)):
        assert type(loaded) is CLASSES[family]
        assert loaded.config == model.config
        a, b = model.state_dict(), loaded.state_dict()
        assert a.keys() == b.keys()
        for k in a:
            assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k
        assert not loaded.training


def test_family_is_checked(tmp_path):
    out = randomize_(StarGANModel(CONFIGS["stargan"])).save(tmp_path / "star")
    with pytest.raises(i2i_models.FamilyMismatchError, match="stargan model, not a cyclegan"):
        i2i_models.load(out, family="cyclegan")
    with pytest.raises(i2i_models.FamilyMismatchError):
        CycleGANModel.from_pretrained(out)
    with pytest.raises(i2i_models.FamilyMismatchError):
        i2i_models.load(PARITY / "stargan_G/200000-G.ckpt", family="pix2pix")
    # a bare one-direction generator becomes the family asked for
    model = i2i_models.load(PARITY / "junyanz_resnet9_instance/latest_net_G_A.pth", family="cyclegan")
    assert model.directions == ["AtoB"]
    model = i2i_models.load(PARITY / "junyanz_unet256_batch/latest_net_G.pth", family="cyclegan")
    assert isinstance(model, CycleGANModel) and model.G_A.config["arch"] == "unet"


def test_save_replaces_atomically_and_keeps_old_on_failure(tmp_path, monkeypatch):
    model = randomize_(CycleGANModel(CONFIGS["cyclegan"]), seed=1)
    out = model.save(tmp_path / "m")
    before = (out / "model.safetensors").read_bytes()
    other = randomize_(CycleGANModel(CONFIGS["cyclegan"]), seed=2)

    def boom(self, save_directory):
        (save_directory / "model.safetensors").write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(CycleGANModel, "_save_pretrained", boom)
    with pytest.raises(KeyboardInterrupt):
        other.save(out)
    assert (out / "model.safetensors").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temporary folders left behind
    monkeypatch.undo()
    other.save(out)
    assert torch.equal(i2i_models.load(out).G_A.model[1].weight, other.G_A.model[1].weight)
    mask = os.umask(0o022)
    os.umask(mask)
    assert (out.stat().st_mode & 0o777) == 0o777 & ~mask  # not mkdtemp's private 0700
    assert ((out / "model.safetensors").stat().st_mode & 0o777) == 0o666 & ~mask


def test_convert_cli_writes_our_format(tmp_path, capsys):
    out = tmp_path / "z"
    assert cli(["convert", str(PARITY / "junyanz_resnet9_instance/latest_net_G_A.pth"), str(out),
                "--domains", "horse", "zebra"]) == 0
    model = i2i_models.load(out)
    assert model.domains == {"A": "horse", "B": "zebra"}
    assert model.config["source"]["codebase"] == "junyanz"
    ref = i2i_models.load(PARITY / "junyanz_resnet9_instance/latest_net_G_A.pth")
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(model.G_A(x), ref.G_A(x))
    # StarGAN with attribute names
    assert cli(["convert", str(PARITY / "stargan_G/200000-G.ckpt"), str(tmp_path / "s"),
                "--attributes", "a", "b", "c", "d", "e"]) == 0
    assert i2i_models.load(tmp_path / "s").attributes == ["a", "b", "c", "d", "e"]
    assert cli(["convert", str(PARITY / "stargan_G/200000-G.ckpt"), str(tmp_path / "t"), "--attributes", "a"]) == 2
    assert "needs 5 names" in capsys.readouterr().err


def test_bad_configs_are_explained(tmp_path):
    with pytest.raises(i2i_models.ConfigError, match="unknown roles"):
        CycleGANModel({"networks": {"G": {"arch": "resnet"}}})
    with pytest.raises(i2i_models.ConfigError, match="one domain-code channel"):  # a conditional generator needs c_dim 1
        CycleGANModel({"networks": {"generator": {"arch": "resnet"}}})
    with pytest.raises(i2i_models.ConfigError, match="must be a generator"):
        CycleGANModel({"networks": {"G_A": {"arch": "nlayer"}}})
    with pytest.raises(ValueError, match="unknown network arch"):
        Pix2PixModel({"networks": {"generator": {"arch": "vit"}}})
    with pytest.raises(i2i_models.ConfigError, match="c_dim=4"):
        StarGANModel({"attributes": ["x"], "networks": CONFIGS["stargan"]["networks"]})
    # weights that do not fit the config (a folder mixing two runs)
    out = randomize_(CycleGANModel(CONFIGS["cyclegan"])).save(tmp_path / "m")
    cfg = json.loads((out / "config.json").read_text())
    cfg["networks"]["G_A"]["ngf"] = 16
    (out / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(i2i_models.ConfigError, match="shape mismatch"):
        i2i_models.load(out)
    (out / "model.safetensors").unlink()
    with pytest.raises(i2i_models.ModelNotFoundError, match="no model.safetensors"):
        i2i_models.load(out)


def test_device_and_dtype(tmp_path):
    model = i2i_models.load(PARITY / "junyanz_resnet9_instance/latest_net_G_A.pth", dtype=torch.bfloat16, device="cpu")
    assert model.G_A.model[1].weight.dtype == torch.bfloat16


def test_convert_half_and_generators_only(tmp_path):
    model = randomize_(CycleGANModel(CONFIGS["cyclegan"]))
    model.save(tmp_path / "full")
    assert cli(["convert", str(tmp_path / "full"), str(tmp_path / "slim"), "--half", "--drop-discriminators"]) == 0
    slim = i2i_models.load(tmp_path / "slim")
    assert set(slim.networks()) == {"G_A", "G_B"} and slim.G_A.model[1].weight.dtype == torch.float32
    size = lambda d: (d / "model.safetensors").stat().st_size  # noqa: E731
    assert size(tmp_path / "slim") < 0.5 * size(tmp_path / "full")
    x = torch.rand(1, 16, 16, 3)
    assert (i2i_models.translate(slim, x) - i2i_models.translate(model, x)).abs().max() < 2e-2


def test_bundles_change_only_through_validated_copies(tmp_path):
    model = randomize_(CLASSES["cyclegan"](CONFIGS["cyclegan"]))
    renamed = model.with_config(domains={"A": "horse", "B": "zebra"})
    assert model.domains == CONFIGS["cyclegan"]["domains"] and renamed.domains == {"A": "horse", "B": "zebra"}
    for k, v in model.state_dict().items():  # the weights are shared, not copied
        assert renamed.state_dict()[k].data_ptr() == v.data_ptr()
    with pytest.raises(i2i_models.ConfigError):
        CLASSES["stargan"](CONFIGS["stargan"]).with_config(attributes=["only", "two"])
    renamed.save(tmp_path / "m")  # config.json is ours, written without huggingface_hub's private state
    assert json.loads((tmp_path / "m" / "config.json").read_text())["domains"]["A"] == "horse"
    assert not hasattr(renamed, "_hub_mixin_config") or renamed._hub_mixin_config is not renamed.config
