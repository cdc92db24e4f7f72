"""train.pix2pix --netG global|local: NVIDIA's defaults, the feature-matching and VGG losses, the
coarse-to-fine schedule (--load_pretrain a global run, --niter_fix_global), exact resume."""

from __future__ import annotations

import json

import pytest
import torch

import i2i_models
from i2i_models.networks import MultiscaleDiscriminator
from train import pix2pix
from train.config import parse
from train.losses import VGG19_CFG, VGGLoss, feature_matching
from test_train import common, losses

LOCAL = ["--netG", "local", "--ngf", "4", "--ndf", "8", "--n_downsample_global", "1", "--n_blocks_global", "1",
         "--n_blocks_local", "1", "--crop_size", "32", "--batch_size", "2", "--n_layers_D", "2"]
GLOBAL = ["--netG", "global", "--ngf", "8", "--ndf", "8", "--n_downsample_global", "1", "--n_blocks_global", "1",
          "--crop_size", "16", "--batch_size", "2", "--n_layers_D", "2", "--num_D", "1"]


def _cfg(argv):
    return parse(pix2pix.Pix2PixConfig, argv, "t")


def test_nvidia_defaults_for_hd_generators_unless_given():
    hd = _cfg(["--netG", "local"])
    assert (hd.netD, hd.num_D, hd.norm, hd.gan_mode, hd.lambda_feat, hd.lambda_L1, hd.no_dropout) == \
        ("multiscale", 2, "instance", "lsgan", 10.0, 0.0, True)
    assert (hd.n_downsample_global, hd.n_blocks_global, hd.n_local_enhancers, hd.n_blocks_local) == (4, 9, 1, 3)
    mine = _cfg(["--netG", "global", "--lambda_L1", "50", "--gan_mode", "vanilla", "--netD", "basic"])
    assert (mine.lambda_L1, mine.gan_mode, mine.netD, mine.lambda_feat) == (50.0, "vanilla", "basic", 10.0)
    unet = _cfg(["--netG", "unet_256"])
    assert (unet.netD, unet.gan_mode, unet.lambda_feat, unet.lambda_L1) == ("basic", "vanilla", 0.0, 100.0)
    with pytest.raises(SystemExit):
        _cfg(["--netG", "global", "--niter_fix_global", "5"])


def test_feature_matching_is_nvidias_weighted_l1_over_scales_and_layers():
    torch.manual_seed(0)
    D = MultiscaleDiscriminator(6, ndf=4, n_layers=3, norm="instance", num_D=2)
    a, b = torch.randn(2, 6, 64, 64), torch.randn(2, 6, 64, 64)
    fa, fb = D.features(a), D.features(b)
    assert [len(s) for s in fa] == [5, 5]  # n_layers + 1 feature maps and the logits, per scale
    for scale, logits in zip(fa, D(a)):
        torch.testing.assert_close(scale[-1], logits)
    want = sum(0.5 * (4 / 4) * torch.nn.functional.l1_loss(x, y) for sa, sb in zip(fa, fb) for x, y in zip(sa[:-1], sb[:-1]))
    torch.testing.assert_close(feature_matching(fa, fb), want)
    assert float(feature_matching(fa, fa).detach()) == 0.0


def test_local_enhancer_run_resumes_bit_exactly_across_the_fix_global_switch(tmp_path):
    argv = LOCAL + ["--niter_fix_global", "4"]
    pix2pix.main(argv + common(tmp_path, "full", 8))
    assert pix2pix.main(argv + common(tmp_path, "cut", 8) + ["--stop_after", "3"]) is None
    assert pix2pix.main(["--resume", str(tmp_path / "cut"), "--num_workers", "0"]) is not None
    a, b = losses(tmp_path / "full"), losses(tmp_path / "cut")
    assert sorted(a) == list(range(1, 9)) and a == b
    assert "G_feat" in a[1] and "G_L1" not in a[1]
    fa, fb = i2i_models.load(tmp_path / "full" / "final"), i2i_models.load(tmp_path / "cut" / "final")
    assert fa.generator.config["arch"] == "pix2pixhd_local"
    for k, v in fa.state_dict().items():
        assert torch.equal(v, fb.state_dict()[k]), k


def test_coarse_to_fine_global_run_then_local_enhancer_with_the_trunk_frozen(tmp_path, capsys):
    pix2pix.main(GLOBAL + common(tmp_path, "g", 3))
    glob = i2i_models.load(tmp_path / "g")
    run = LOCAL + ["--load_pretrain", str(tmp_path / "g"), "--ema", "0"]
    pix2pix.main(run + ["--niter_fix_global", "100"] + common(tmp_path, "fixed", 3))
    out = capsys.readouterr().out
    g_sd = glob.generator.state_dict()
    n_trunk = len([k for k in g_sd if k.startswith("model.")]) - 2  # all but the final 7x7 conv's weight and bias
    assert f"load_pretrain: {n_trunk} of the generator's" in out
    fixed = i2i_models.load(tmp_path / "fixed" / "final").generator.state_dict()
    trunk = [k for k in fixed if k.startswith("model.")]
    assert trunk and all(torch.equal(fixed[k], g_sd[k]) for k in trunk)  # the global trunk was not trained
    # the enhancer was trained (random weights of its own, not in the global model)
    assert any(not torch.equal(fixed[k], g_sd.get(k, fixed[k] * 0)) for k in fixed if k.startswith("model1_"))
    pix2pix.main(run + common(tmp_path, "joint", 3))
    joint = i2i_models.load(tmp_path / "joint" / "final").generator.state_dict()
    assert not all(torch.equal(joint[k], g_sd[k]) for k in trunk)  # without the fix phase the trunk trains


def test_load_pretrain_that_fits_nothing_is_one_clear_error(tmp_path):
    pix2pix.main(GLOBAL + common(tmp_path, "g", 2))
    with pytest.raises(SystemExit, match="none of its generator weights fits"):
        pix2pix.main(LOCAL[:3] + ["2"] + LOCAL[4:] + ["--load_pretrain", str(tmp_path / "g")] + common(tmp_path, "x", 2))
    with pytest.raises(SystemExit, match="--load_pretrain"):
        pix2pix.main(LOCAL + ["--load_pretrain", str(tmp_path / "nope")] + common(tmp_path, "y", 2))


def _vgg19_file(path, seed=0):
    """A VGG19 state dict in torchvision's layout (random weights: the loss's plumbing, not ImageNet)."""
    g = torch.Generator().manual_seed(seed)
    sd, c, i = {}, 3, 0
    for v in VGG19_CFG:
        if v == "M":
            i += 1
            continue
        sd[f"features.{i}.weight"] = torch.randn(v, c, 3, 3, generator=g) * (2 / (9 * c)) ** 0.5
        sd[f"features.{i}.bias"] = torch.zeros(v)
        c, i = v, i + 2
    sd["classifier.0.weight"] = torch.zeros(4, 4)
    torch.save(sd, path)
    return path


def test_vgg_loss_needs_a_user_supplied_weights_file(tmp_path):
    w = _vgg19_file(tmp_path / "vgg19-dcbb9e9d.pth")
    vgg = VGGLoss(str(w))
    x, y = torch.rand(1, 3, 32, 32) * 2 - 1, torch.rand(1, 3, 32, 32) * 2 - 1
    assert float(vgg(x, x)) == 0.0 and float(vgg(x, y)) > 0
    sd = torch.load(w, weights_only=True)
    del sd["features.34.weight"]
    torch.save(sd, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="features.34"):
        VGGLoss(str(tmp_path / "partial.pth"))
    pix2pix.main(LOCAL + ["--vgg_weights", str(w)] + common(tmp_path, "v", 2))
    assert all("G_VGG" in d for d in losses(tmp_path / "v").values())
    with pytest.raises(SystemExit, match="--vgg_weights"):
        pix2pix.main(LOCAL + ["--vgg_weights", str(tmp_path / "partial.pth")] + common(tmp_path, "w", 2))
    assert json.loads((tmp_path / "v" / "args.json").read_text())["vgg_weights"] == str(w)
