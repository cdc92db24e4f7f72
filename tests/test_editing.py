"""StarGAN label-free editing: the strength rule, one-hot groups, detection by the discriminator, errors."""

from __future__ import annotations

import shutil

import pytest
import torch

import i2i_models
from i2i_models import StarGANModel
from i2i_models.editing import parse_attribute_text, target_labels
from i2i_models.networks import StarGANDiscriminator, StarGANGenerator
from refnets import randomize_
from conftest import PARITY


@pytest.fixture(scope="module")
def star(tmp_path_factory):
    d = tmp_path_factory.mktemp("star")
    shutil.copy(PARITY / "stargan_G/200000-G.ckpt", d / "200000-G.ckpt")
    shutil.copy(PARITY / "stargan_D/200000-D.ckpt", d / "200000-D.ckpt")
    return i2i_models.load(d)


def test_strength_rule_and_one_hot_groups(star):
    # attributes: Black_Hair, Blond_Hair, Brown_Hair (one-hot group), Male, Young
    p = torch.tensor([[0.6, 0.2, 0.2, 0.3, 0.8]])
    t = target_labels(star, p, {"Male": 0.5, "Young": -0.5})
    assert t[0, 3].item() == pytest.approx(0.3 + 0.5 * 0.7)
    assert t[0, 4].item() == pytest.approx(0.8 - 0.5 * 0.8)
    torch.testing.assert_close(t[0, :3], p[0, :3])  # untouched group stays
    t = target_labels(star, p, {"Blond_Hair": 1.0})
    assert t[0, 1].item() == pytest.approx(1.0) and t[0, :3].sum().item() == pytest.approx(1.0)
    t = target_labels(star, p, {"Black_Hair": -1.0})  # remove black hair: its mass goes to the others
    assert t[0, 0].item() == pytest.approx(0.0) and t[0, 1].item() == pytest.approx(0.5)
    t = target_labels(star, p, {"Male": 2.0})  # |s| > 1 extrapolates past "on"
    assert t[0, 3].item() == pytest.approx(0.3 + 2 * 0.7) and t[0, 3] > 1
    # independent sigmoids of a group are normalised to a distribution first
    t = target_labels(star, torch.tensor([[0.9, 0.9, 0.2, 0.5, 0.5]]), {})
    assert t[0, :3].sum().item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown attribute"):
        target_labels(star, p, {"Bald": 1.0})


def test_label_free_edit_uses_the_discriminator(star):
    x = torch.rand(2, 100, 90, 3)
    p = i2i_models.predict_attributes(star, x)
    assert p.shape == (2, 5) and ((0 <= p) & (p <= 1)).all()
    y = i2i_models.edit(star, x, {"Male": 1.0})
    assert y.shape == x.shape
    expected = i2i_models.translate(star, x, labels=target_labels(star, p, {"Male": 1.0}))
    torch.testing.assert_close(y, expected)
    keep = i2i_models.edit(star, x, {})
    assert (keep - y).abs().max() > 1e-4  # the edit changed something
    # given source labels (partly): the rest is detected
    y2 = i2i_models.edit(star, x, {"Young": 1.0}, source={"Male": 1.0})
    lab = p.clone()
    lab[:, 3] = 1.0
    torch.testing.assert_close(y2, i2i_models.translate(star, x, labels=target_labels(star, lab, {"Young": 1.0})))


def test_edit_errors(star):
    x = torch.rand(1, 32, 32, 3)
    with pytest.raises(ValueError, match="unknown attribute"):
        i2i_models.edit(star, x, {"Smiling": 1.0})
    g_only = i2i_models.load(PARITY / "stargan_G/200000-G.ckpt")
    with pytest.raises(ValueError, match="no discriminator"):
        i2i_models.edit(g_only, x, {"Male": 1.0})
    out = i2i_models.edit(g_only, x, {"Male": 1.0}, source=[0, 1, 0, 0, 1])
    assert out.shape == x.shape
    with pytest.raises(TypeError, match="StarGAN"):
        i2i_models.edit(i2i_models.load(PARITY / "junyanz_resnet9_instance/latest_net_G_A.pth"), x, {})
    assert parse_attribute_text("Male=1, Young = 0.5", star.attributes) == {"Male": 1.0, "Young": 0.5}
    with pytest.raises(ValueError, match="name=value"):
        parse_attribute_text("Bald=1", star.attributes)


def test_edit_returns_the_attributes_it_started_from_in_one_pass(monkeypatch):
    import i2i_models.editing as E

    model = randomize_(StarGANModel({"attributes": ["a", "b", "c"], "networks": {
        "generator": StarGANGenerator(8, 3, 1).config, "discriminator": StarGANDiscriminator(32, 8, 3, 4).config}}))
    calls = []
    real = E.predict_attributes
    monkeypatch.setattr(E, "predict_attributes", lambda m, x: calls.append(1) or real(m, x))
    img = torch.rand(2, 32, 32, 3)
    y, attrs = E.edit(model, img, {"a": 1.0}, return_attributes=True)
    assert y.shape == img.shape and attrs.shape == (2, 3) and len(calls) == 1
    torch.testing.assert_close(attrs, real(model, img))
    y0, attrs0 = E.edit(model, img, {"a": 0.0}, return_attributes=True)
    assert torch.equal(y0, img) and torch.equal(attrs0, attrs)
    _, given = E.edit(model, img, {"a": 1.0}, source=[1.0, 0.0, 1.0], return_attributes=True)
    assert given.tolist() == [[1.0, 0.0, 1.0]] * 2
