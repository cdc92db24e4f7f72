"""Architectures: shapes, presets, the upsample choice, configs that round-trip, init schemes."""

from __future__ import annotations

import pytest
import torch

from i2i_models.networks import (ARCHS, MultiscaleDiscriminator, StarGANDiscriminator, StarGANGenerator, build_network,
                                 define_D, define_G, init_weights)


@pytest.mark.parametrize("netG,size", [("unet_128", 128), ("unet_256", 256), ("resnet_6blocks", 36), ("resnet_9blocks", 20)])
@pytest.mark.parametrize("upsample", ["transpose", "nearest"])
def test_generators_keep_size_and_range(netG, size, upsample):
    g = define_G(netG, 3, 1, ngf=4, norm="instance", upsample=upsample).eval()
    x = torch.rand(2, 3, size, size) * 2 - 1
    with torch.no_grad():
        y = g(x)
    assert y.shape == (2, 1, size, size)
    assert y.abs().max() <= 1
    assert size % g.size_multiple == 0
    rebuilt = build_network(g.config)
    assert rebuilt.config == g.config
    assert rebuilt.state_dict().keys() == g.state_dict().keys()


def test_unet_depth_from_preset_and_transposed_layout_is_junyanz():
    g = define_G("unet_256", ngf=8, norm="batch", use_dropout=True)
    assert g.num_downs == 8 and g.size_multiple == 256
    keys = g.state_dict()
    assert keys["model.model.3.weight"].shape == (16, 3, 4, 4)  # ConvTranspose (in=2*ngf, out)
    assert "model.model.1.model.2.running_mean" in keys
    n = define_G("unet_256", ngf=8, norm="batch", upsample="nearest").state_dict()
    assert n["model.model.3.1.weight"].shape == (3, 16, 3, 3)
    with pytest.raises(ValueError, match="unet_128"):
        define_G("unet_100")


def test_nearest_upsampling_has_no_checkerboard_on_constant_input():
    """Resize-convolution maps a constant image to a near-constant one; a strided transposed conv with
    random weights produces a periodic (checkerboard) pattern."""
    torch.manual_seed(0)
    x = torch.full((1, 3, 256, 256), 0.5)
    stats = {}
    for up in ("transpose", "nearest"):
        g = init_weights(define_G("resnet_6blocks", ngf=8, norm="none", upsample=up), "normal", 0.1).eval()
        with torch.no_grad():
            y = g(x)[0, :, 96:160, 96:160]  # far from the borders (receptive field)
        stats[up] = (y[:, ::2, ::2] - y[:, 1::2, 1::2]).abs().mean().item()  # 2-pixel periodic pattern
    assert stats["nearest"] < 1e-4 and stats["transpose"] > 0.1, stats


@pytest.mark.parametrize("netD,shape", [("basic", (1, 1, 6, 6)), ("pixel", (1, 1, 64, 64))])
def test_discriminators(netD, shape):
    d = define_D(netD, 6, ndf=8)
    assert d(torch.rand(1, 6, 64, 64)).shape == shape
    m = define_D("multiscale", 3, ndf=8, num_D=3).eval()
    assert isinstance(m, MultiscaleDiscriminator)
    assert [o.shape[-1] for o in m(torch.rand(1, 3, 128, 128))] == [14, 6, 2]
    sn = define_D("basic", 3, ndf=8, use_spectral_norm=True)
    assert any("parametrizations" in k for k in sn.state_dict())


@pytest.mark.parametrize("init_type", ["normal", "xavier", "kaiming", "orthogonal"])
def test_init_weights(init_type):
    g = define_G("resnet_6blocks", ngf=8, norm="batch")
    init_weights(g, init_type, 0.02)
    w = g.model[1].weight
    assert w.std() > 0 and g.model[2].bias.abs().max() == 0
    if init_type == "normal":
        assert abs(w.std().item() - 0.02) < 0.005
    with pytest.raises(ValueError, match="init_type"):
        init_weights(g, "uniform")


def test_registry_and_bad_configs():
    assert set(ARCHS) >= {"unet", "resnet", "stargan_g", "stargan_d", "nlayer", "pixel", "multiscale"}
    with pytest.raises(ValueError, match="accepts"):
        build_network({"arch": "resnet", "n_layers": 3})
    with pytest.raises(ValueError, match="norm='group'"):
        build_network({"arch": "unet", "norm": "group"})


@pytest.mark.parametrize("make", [lambda: define_G("unet_128", ngf=8, norm="batch", attention_mask=True),
                                  lambda: define_G("resnet_6blocks", ngf=8, attention_mask=True),
                                  lambda: StarGANGenerator(8, 3, 2, attention_mask=True)], ids=["unet", "resnet", "stargan"])
def test_attention_mask_generators_start_near_identity_and_copy_where_the_mask_is_one(make):
    g = init_weights(make())  # re-initialising keeps the near-identity mask bias
    x = torch.rand(2, 3, 128, 128) * 2 - 1
    args = (torch.tensor([[1.0, 0, 0], [0, 1, 0]]),) if isinstance(g, StarGANGenerator) else ()
    with torch.no_grad():
        y = g.eval()(x, *args)
    assert y.shape == x.shape and y.abs().max() <= 1
    assert (y - x).abs().mean() < 0.04  # A = 0.98 at initialisation: the output is almost the input
    plain = g.config | {"attention_mask": False}
    assert build_network(g.config).config == g.config
    assert len(build_network(plain).state_dict()) <= len(g.state_dict())
    last = [m for m in g.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))][-1]
    with torch.no_grad():  # a mask of exactly 1 copies the input
        (last.weight[:, -1] if isinstance(last, torch.nn.ConvTranspose2d) else last.weight[-1]).zero_()
        last.bias[-1] = 30.0
        torch.testing.assert_close(g(x, *args), x)
    with pytest.raises(ValueError, match="input_nc >= output_nc"):
        define_G("resnet_6blocks", 1, 3, ngf=8, attention_mask=True)


def test_attention_initial_mask_is_settable_and_checked():
    from i2i_models.networks.common import init_attention_bias
    g = define_G("resnet_6blocks", ngf=8, attention_mask=True)
    init_attention_bias(g, 0.5)
    last = [m for m in g.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    assert abs(last.bias[-1].item()) < 1e-6  # A = (tanh(0) + 1) / 2 = 0.5
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            init_attention_bias(g, bad)


@pytest.mark.parametrize("netG", ["unet_128", "resnet_6blocks"])
def test_reframe_zooms_are_part_of_the_generator_and_its_config(netG):
    from i2i_models.networks.common import reframe
    g = define_G(netG, ngf=8, norm="instance", reframe_input=0.9, reframe_output=1.25).eval()
    assert build_network(g.config).config == g.config
    x = torch.rand(2, 3, 128, 128) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(g(x), reframe(g(reframe(x, 0.9), reframe=False), 1.25))
        assert not torch.allclose(g(x), g(x, reframe=False))
    with pytest.raises(ValueError, match="positive scale"):
        define_G(netG, ngf=8, reframe_input=0)


def test_reframe_shrinks_about_the_centre_and_pads_with_the_border_colour():
    from i2i_models.networks.common import reframe
    x = torch.ones(1, 3, 64, 64)  # white canvas with a black 32x32 square in the middle
    x[:, :, 16:48, 16:48] = -1
    small = reframe(x, 0.75)
    dark = (small[0, 0] < 0).nonzero()
    assert dark[:, 0].min() >= 19 and dark[:, 0].max() <= 44  # 32 px -> 24 px, still centred
    assert (small[..., :8, :] == 1).all() and (small[..., :, -8:] == 1).all()  # margin stays white
    assert reframe(x, 1.0) is x
    back = reframe(reframe(x, 0.75), 1 / 0.75)
    assert (back - x).abs().mean() < 0.1  # the inverse zoom restores it up to resampling blur
