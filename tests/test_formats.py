"""Checkpoints of every supported codebase and variant, built as those codebases save them (zip and
legacy pickles, DataParallel prefixes, wrappers, PyTorch-0.3 buffers), are detected with the right
hyper-parameters and reproduce the original forward pass."""

from __future__ import annotations

import pytest
import torch

import i2i_models
from i2i_models.networks import NLayerDiscriminator, PixelDiscriminator, ResnetGenerator, StarGANGenerator, UnetGenerator
from refnets import (HugGANDiscriminator, HugGANGeneratorResNet, HugGANGeneratorUNet, WangGenerator,
                     WangStarDiscriminator, randomize_)


def save(sd, path, legacy=False, prefix="", wrap=None):
    sd = {prefix + k: v for k, v in sd.items()}
    obj = {wrap: sd, "epoch": 7} if wrap else sd
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


def outputs_match(a, b, atol=1e-5):
    assert a.shape == b.shape, (a.shape, b.shape)
    assert (a - b).abs().max().item() <= atol, (a - b).abs().max().item()


def only_net(model):
    (net,) = model.networks().values()
    return net


@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
@pytest.mark.parametrize("use_dropout,padding_type,n_blocks", [(False, "reflect", 9), (True, "reflect", 6),
                                                                (False, "zero", 6), (True, "zero", 3)])
def test_junyanz_resnet_variants(tmp_path, norm, use_dropout, padding_type, n_blocks):
    ref = randomize_(ResnetGenerator(3, 3, 8, n_blocks, norm, use_dropout, padding_type)).eval()
    path = save(ref.state_dict(), tmp_path / "latest_net_G_B.pth", legacy=norm == "batch")
    model = i2i_models.load(path)
    assert model.family == "cyclegan" and model.directions == ["BtoA"]
    assert model.G_B.config == ref.config
    x = torch.rand(1, 3, 32, 36) * 2 - 1
    with torch.no_grad():
        outputs_match(model.G_B(x), ref(x))


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
@pytest.mark.parametrize("num_downs,input_nc,output_nc", [(6, 3, 3), (7, 1, 3), (8, 3, 1), (9, 3, 3)])
def test_junyanz_unet_variants(tmp_path, norm, num_downs, input_nc, output_nc):
    ref = randomize_(UnetGenerator(input_nc, output_nc, num_downs, 4, norm, True)).eval()
    path = save(ref.state_dict(), tmp_path / "latest_net_G.pth", legacy=num_downs == 7)
    model = i2i_models.load(path)
    assert model.family == "pix2pix"
    assert model.generator.config == ref.config
    x = torch.rand(2, input_nc, 2 ** num_downs, 2 ** num_downs) * 2 - 1
    with torch.no_grad():
        outputs_match(model.generator(x.clone()), ref(x.clone()))


def _legacy_instance_stats(net_in, net_bn, seed=1):
    """A PyTorch-0.3-era junyanz file: IN slots carry running_mean/var (at the BatchNorm slots), no nbt."""
    sd = dict(net_in.state_dict())
    g = torch.Generator().manual_seed(seed)
    for k, v in net_bn.state_dict().items():
        if k.endswith("running_mean"):
            sd[k] = torch.randn(v.shape, generator=g)
        elif k.endswith("running_var"):
            sd[k] = torch.rand(v.shape, generator=g) + 0.5
    return sd


def test_junyanz_legacy_instance_norm_running_stats_are_ignored(tmp_path):
    # the released CycleGAN models (horse2zebra, ...): resnet_9blocks, IN, legacy pickle with IN running stats
    ref = randomize_(ResnetGenerator(3, 3, 8, 9, "instance")).eval()
    sd = _legacy_instance_stats(ref, ResnetGenerator(3, 3, 8, 9, "batch"))
    assert any(k.endswith("conv_block.6.running_var") for k in sd)
    folder = tmp_path / "horse2zebra_pretrained"
    folder.mkdir()
    model = i2i_models.load(save(sd, folder / "latest_net_G.pth", legacy=True))
    assert model.family == "cyclegan" and model.domains == {"A": "horse", "B": "zebra"}
    assert model.G_A.config["norm"] == "instance"
    assert any("running-stat" in n for n in model.config["source"]["notes"])
    x = torch.rand(2, 3, 40, 40) * 2 - 1
    with torch.no_grad():
        outputs_match(model.G_A(x), ref(x))
    # U-Net too, with a DataParallel prefix (the Anime2Sketch netG.pth: 3 -> 1, IN)
    ref = randomize_(UnetGenerator(3, 1, 8, 4, "instance", False)).eval()
    sd = _legacy_instance_stats(ref, UnetGenerator(3, 1, 8, 4, "batch", False))
    model = i2i_models.load(save(sd, tmp_path / "netG.pth", legacy=True, prefix="module."))
    assert model.generator.config["norm"] == "instance" and model.generator.config["output_nc"] == 1
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    with torch.no_grad():
        outputs_match(model.generator(x.clone()), ref(x.clone()))


def test_wrapped_and_compiled_state_dicts(tmp_path):
    ref = randomize_(ResnetGenerator(3, 3, 8, 6, "instance")).eval()
    for i, (wrap, prefix) in enumerate([("state_dict", ""), ("model", "module."), (None, "_orig_mod.")]):
        model = i2i_models.load(save(ref.state_dict(), tmp_path / f"g{i}.pth.tar", wrap=wrap, prefix=prefix))
        assert model.G_A.config == ref.config


def test_train_opt_sets_dropout_and_a_full_cyclegan_folder(tmp_path):
    run = tmp_path / "checkpoints" / "apple2orange"
    run.mkdir(parents=True)
    nets = {"G_A": randomize_(ResnetGenerator(3, 3, 8, 6, "instance", True), 1),
            "G_B": randomize_(ResnetGenerator(3, 3, 8, 6, "instance", True), 2),
            "D_A": randomize_(NLayerDiscriminator(3, 8, 3, "instance"), 3),
            "D_B": randomize_(NLayerDiscriminator(3, 8, 3, "instance"), 4)}
    for role, net in nets.items():
        save(net.state_dict(), run / f"latest_net_{role}.pth")
        save(randomize_(type(net)(**{k: v for k, v in net.config.items() if k != "arch"}), 9).state_dict(),
             run / f"5_net_{role}.pth")  # an older epoch that must not be picked
    (run / "train_opt.txt").write_text(
        "----------------- Options ---------------\n"
        "                     name: apple2orange                  \t[default: experiment_name]\n"
        "               no_dropout: False                         \t[default: True]\n"
        "                crop_size: 128                           \t[default: 256]\n"
        "----------------- End -------------------\n")
    model = i2i_models.load(run)
    assert set(model.networks()) == {"G_A", "G_B", "D_A", "D_B"}
    assert model.domains == {"A": "apple", "B": "orange"}
    assert model.config["image_size"] == 128
    assert model.G_A.config["use_dropout"] is True
    for role, net in nets.items():
        for k, v in net.state_dict().items():
            assert torch.equal(getattr(model, role).state_dict()[k], v), (role, k)


@pytest.mark.parametrize("norm,n_layers", [("batch", 3), ("instance", 2), ("none", 4)])
def test_junyanz_discriminators(tmp_path, norm, n_layers):
    ref = randomize_(NLayerDiscriminator(3, 8, n_layers, norm)).eval()
    model = i2i_models.load(save(ref.state_dict(), tmp_path / "latest_net_D_A.pth"))
    assert model.family == "cyclegan" and model.D_A.config == ref.config
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        outputs_match(model.discriminator(x), ref(x))
    ref = randomize_(PixelDiscriminator(6, 8, norm)).eval()
    model = i2i_models.load(save(ref.state_dict(), tmp_path / "latest_net_D.pth"))
    assert model.family == "pix2pix" and model.discriminator.config == ref.config


def test_stargan_pytorch03_legacy_file_without_num_batches_tracked(tmp_path):
    ref = randomize_(StarGANGenerator(8, 4, 3, track_running_stats=True)).train()  # yunjey: train-mode IN
    sd = {k: v for k, v in ref.state_dict().items() if not k.endswith("num_batches_tracked")}
    model = i2i_models.load(save(sd, tmp_path / "200000-G.ckpt", legacy=True))
    assert model.family == "stargan" and model.attributes == ["attr_0", "attr_1", "attr_2", "attr_3"]
    assert any("num_batches_tracked" in n for n in model.config["source"]["notes"])
    x, c = torch.rand(2, 3, 32, 32) * 2 - 1, torch.tensor([[1.0, 0, 0, 1], [0, 1, 0, 0]])
    with torch.no_grad():
        expected = ref(x, c)
        outputs_match(model.generator(x, c), expected)


def test_huggan_unet_generator_from_pytorch_model_bin(tmp_path):
    ref = randomize_(HugGANGeneratorUNet(3, 3)).eval()
    snap = tmp_path / "snapshot"
    snap.mkdir()
    save(ref.state_dict(), snap / "pytorch_model.bin")
    (snap / "README.md").write_text("HugGAN model card")
    model = i2i_models.load(snap)
    assert model.family == "pix2pix" and model.generator.config["arch"] == "pytorchgan_unet"
    assert model.config["source"]["codebase"] == "pytorch-gan"
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    with torch.no_grad():
        outputs_match(model.generator(x), ref(x))


@pytest.mark.parametrize("channels,n", [(3, 9), (3, 6), (1, 2)])
def test_huggan_resnet_generator(tmp_path, channels, n):
    ref = randomize_(HugGANGeneratorResNet(channels, n)).eval()
    model = i2i_models.load(save(ref.state_dict(), tmp_path / "G_AB_10.pth"))
    assert model.family == "cyclegan" and model.directions == ["AtoB"]
    cfg = model.G_A.config
    assert (cfg["arch"], cfg["upsample"], cfg["n_blocks"], cfg["outer_padding"]) == ("resnet", "nearest", n, channels)
    x = torch.rand(1, channels, 48, 48) * 2 - 1
    with torch.no_grad():
        outputs_match(model.G_A(x), ref(x))


@pytest.mark.parametrize("cin,final_bias,family", [(6, False, "pix2pix"), (3, True, "cyclegan")])
def test_huggan_discriminators(tmp_path, cin, final_bias, family):
    ref = randomize_(HugGANDiscriminator(cin, final_bias)).eval()
    model = i2i_models.load(save(ref.state_dict(), tmp_path / "discriminator_3.pth"))
    assert model.family == family and model.discriminator.config["arch"] == "pytorchgan_d"
    x = torch.rand(1, cin, 64, 64) * 2 - 1
    with torch.no_grad():
        outputs_match(model.discriminator(x), ref(x))


def test_wangguanan_cyclegan_generator_uses_running_stats_in_eval(tmp_path):
    ref = randomize_(WangGenerator(16, 3, 0)).eval()  # its sampler calls eval(): running statistics
    model = i2i_models.load(save(ref.state_dict(), tmp_path / "G_A2B_1000.pkl", legacy=True, prefix="module."))
    assert model.family == "cyclegan" and model.G_A.config["use_running_stats"] is True
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        outputs_match(model.G_A(x), ref(x))


def test_wangguanan_stargan_generator_and_discriminator(tmp_path):
    g = randomize_(WangGenerator(8, 2, 4)).train()  # never eval(): per-image statistics
    d = randomize_(WangStarDiscriminator(64, 8, 4, 4)).eval()
    save(g.state_dict(), tmp_path / "G_20.pkl", prefix="module.")
    save(d.state_dict(), tmp_path / "D_20.pkl", prefix="module.")
    model = i2i_models.load(tmp_path)
    assert model.family == "stargan" and model.config["source"]["codebase"] == "wangguanan"
    assert model.discriminator.config["image_size"] == 64
    x, c = torch.rand(2, 3, 64, 64) * 2 - 1, torch.tensor([[1.0, 0, 1, 0], [0, 1, 0, 0]])
    with torch.no_grad():
        outputs_match(model.generator(x, c), g(x, c))
        for a, b in zip(model.discriminator(x), d(x)):
            outputs_match(a, b)
