"""translate(): any size, batch, channel count and dtype; exact tiles; precision; stochastic mode; errors."""

from __future__ import annotations

import math

import pytest
import torch

import i2i_models
from i2i_models import translate
from i2i_models.networks import ResnetGenerator, StarGANGenerator, UnetGenerator
from conftest import PARITY
from refnets import HugGANGeneratorResNet, randomize_

SHAPES = [(1, 1, 1, 3), (1, 3, 5, 3), (1, 257, 255, 3), (1, 1, 1024, 3), (1, 37, 29, 1), (1, 21, 30, 4), (5, 24, 20, 3)]
STAR_LABELS = torch.tensor([1.0, 0, 0, 1, 0])


def _models():
    return {
        "pix2pix": i2i_models.load(PARITY / "junyanz_unet256_batch/latest_net_G.pth"),
        "cyclegan": i2i_models.load(PARITY / "junyanz_resnet9_instance/latest_net_G_A.pth"),
        "stargan": i2i_models.load(PARITY / "stargan_G/200000-G.ckpt"),
    }


MODELS = _models()


def run(family, x, **kw):
    if family == "stargan":
        kw.setdefault("labels", STAR_LABELS)
    return translate(MODELS[family], x, **kw)


def psnr(a, b):
    mse = ((a.double() - b.double()) ** 2).mean().item()
    return 99.0 if mse == 0 else 10 * math.log10(1 / mse)


@pytest.mark.parametrize("family", sorted(MODELS))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_any_shape_gives_same_size_equal_to_per_image_full_frame(family, shape):
    torch.manual_seed(sum(shape))
    x = torch.rand(*shape)
    y = run(family, x, batch_size=2)
    out_c = 3 if shape[-1] in (1, 3) else 4
    assert y.shape == (*shape[:3], out_c) and y.dtype == x.dtype
    assert 0 <= y.min() and y.max() <= 1
    for i in range(shape[0]):  # per-image, full frame, no chunking
        yi = run(family, x[i:i + 1], batch_size=1, tiled=False)
        torch.testing.assert_close(y[i:i + 1], yi, atol=2e-5, rtol=0)
    if shape[-1] == 4:
        assert torch.equal(y[..., 3], x[..., 3])  # alpha passes through untouched
    if min(shape[1:3]) >= 8:  # exact streamed tiles (not for degenerate one-colour images, see below)
        yt = run(family, x, tiled=True, tile_bytes=1 << 15)
        torch.testing.assert_close(yt, y, atol=5e-5, rtol=0)


def test_pipeline_is_the_plain_network_forward_when_no_padding_is_needed():
    x = torch.rand(2, 256, 256, 3)
    with torch.no_grad():
        ref = (MODELS["pix2pix"].generator(x.permute(0, 3, 1, 2) * 2 - 1) + 1) / 2
    torch.testing.assert_close(translate(MODELS["pix2pix"], x), ref.clamp(0, 1).permute(0, 2, 3, 1), atol=1e-6, rtol=0)


def test_channel_adaptation():
    x = torch.rand(1, 16, 16, 1)
    rgb = x.expand(-1, -1, -1, 3)
    torch.testing.assert_close(run("cyclegan", x), run("cyclegan", rgb))  # gray -> repeated into an RGB model
    gray_model = i2i_models.CycleGANModel({"networks": {"G_A": ResnetGenerator(1, 1, 8, 2).config}})
    randomize_(gray_model)
    y = translate(gray_model, torch.rand(2, 12, 12, 4))  # RGBA into a 1-channel model
    assert y.shape == (2, 12, 12, 4) and torch.equal(y[..., 0], y[..., 1])  # gray result tiled to RGB
    assert translate(gray_model, torch.rand(1, 12, 12, 1)).shape == (1, 12, 12, 1)


def test_uint8_and_pil_round_trip():
    from PIL import Image

    x8 = (torch.rand(1, 20, 24, 3) * 255).to(torch.uint8)
    y8 = run("cyclegan", x8)
    assert y8.dtype == torch.uint8 and y8.shape == x8.shape
    img = Image.fromarray(x8[0].numpy(), "RGB").convert("RGBA")
    out = translate(MODELS["cyclegan"], img)
    assert isinstance(out, Image.Image) and out.mode == "RGBA" and out.size == img.size
    outs = translate(MODELS["cyclegan"], [img.convert("L"), img.convert("L")])
    assert [o.mode for o in outs] == ["RGB", "RGB"]


def test_streamed_tiles_match_the_full_frame_of_a_large_image():
    """Faithful tiling: whole-image normalisation statistics, so tiles reproduce the full frame (PSNR)."""
    torch.manual_seed(0)
    model = i2i_models.CycleGANModel({"networks": {"G_A": ResnetGenerator(3, 3, 16, 9, "instance").config}})
    randomize_(model)
    x = torch.rand(1, 384, 512, 3)
    x = torch.nn.functional.avg_pool2d(x.permute(0, 3, 1, 2), 5, 1, 2).permute(0, 2, 3, 1)  # some structure
    full = translate(model, x, tiled=False)
    ticks = []
    tiled = translate(model, x, tiled=True, tile_bytes=1 << 20, progress=lambda d, n: ticks.append((d, n)))
    assert psnr(full, tiled) >= 40, psnr(full, tiled)
    assert (full - tiled).abs().max() < 1e-4
    assert len(ticks) > 30 and ticks[-1][0] == ticks[-1][1]
    # the naive alternative this replaces: independent tiles with their own statistics are far off
    naive = torch.cat([translate(model, x[:, :, i:i + 128], tiled=False) for i in range(0, 512, 128)], 2)
    assert psnr(full, naive) < 35


@pytest.mark.parametrize("net", [UnetGenerator(3, 3, 6, 8, "instance", upsample="nearest"),
                                 StarGANGenerator(8, 3, 2, upsample="nearest"),
                                 UnetGenerator(3, 3, 6, 8, "instance", upsample="nearest", attention_mask=True),
                                 ResnetGenerator(3, 3, 8, 2, upsample="nearest", attention_mask=True),
                                 StarGANGenerator(8, 3, 2, upsample="nearest", attention_mask=True),
                                 ResnetGenerator(3, 3, 8, 2, upsample="nearest", reframe_input=0.9, reframe_output=1.1)],
                         ids=["unet-nearest", "stargan-nearest", "unet-attention", "resnet-attention", "stargan-attention",
                              "resnet-reframe"])
def test_streamed_tiles_other_architectures(net):
    randomize_(net).eval()
    x = torch.rand(2, 70, 90, 3)
    kw = {"labels": torch.tensor([0.0, 1, 0.5])} if isinstance(net, StarGANGenerator) else {}
    torch.testing.assert_close(translate(net, x, tiled=True, tile_bytes=1 << 14, **kw), translate(net, x, **kw),
                               atol=5e-5, rtol=0)


def test_shrinking_huggan_resnet_keeps_the_size():
    ref = randomize_(HugGANGeneratorResNet(1, 2)).eval()
    net = ResnetGenerator(1, 1, 64, 2, "instance", upsample="nearest", outer_padding=1)
    from i2i_models.formats import detect

    net.load_state_dict(detect(ref.state_dict()).state_dict)
    y = translate(net, torch.rand(1, 30, 41, 1))
    assert y.shape == (1, 30, 41, 1)


def test_stochastic_dropout_is_reproducible_and_chunking_independent():
    x = torch.rand(3, 64, 64, 3)
    rng_before = torch.random.get_rng_state()
    a = run("pix2pix", x, dropout=True, seed=7, batch_size=3)
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # caller's RNG untouched
    b = run("pix2pix", x, dropout=True, seed=7, batch_size=1)
    c = run("pix2pix", x, dropout=True, seed=8)
    d = run("pix2pix", x)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    assert (a - c).abs().max() > 1e-3 and (a - d).abs().max() > 1e-3
    assert not any(m.training for m in MODELS["pix2pix"].modules())


def test_batch_statistics_mode_matches_train_mode_forward_and_keeps_running_stats():
    g = MODELS["pix2pix"].generator
    before = {k: v.clone() for k, v in g.state_dict().items()}
    x = torch.rand(1, 256, 256, 3)
    y = run("pix2pix", x, batchnorm="batch")
    g.train()
    for m in g.modules():
        if isinstance(m, torch.nn.Dropout):
            m.eval()
    with torch.no_grad():
        ref = ((g(x.permute(0, 3, 1, 2) * 2 - 1) + 1) / 2).clamp(0, 1).permute(0, 2, 3, 1)
    g.eval()
    g.load_state_dict(before)
    torch.testing.assert_close(y, ref, atol=1e-5, rtol=0)
    yt = run("pix2pix", x, batchnorm="batch", tiled=True, tile_bytes=1 << 16)
    torch.testing.assert_close(yt, y, atol=5e-5, rtol=0)
    y2 = run("pix2pix", x, batchnorm="batch")
    for k, v in g.state_dict().items():
        assert torch.equal(v, before[k]), k
    torch.testing.assert_close(y2, y)


def test_bf16_is_close_and_explicit():
    x = torch.rand(2, 64, 64, 3)
    a, b = run("cyclegan", x), run("cyclegan", x, precision="bf16")
    assert 0 < (a - b).abs().max() < 0.08
    assert run("cyclegan", x, precision="auto").equal(a)  # auto = fp32 on CPU


def test_errors_say_what_to_do():
    with pytest.raises(ValueError, match="permute"):
        run("cyclegan", torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match="needs target labels"):
        translate(MODELS["stargan"], torch.rand(1, 8, 8, 3))
    with pytest.raises(ValueError, match=r"\[1, 5\]"):
        translate(MODELS["stargan"], torch.rand(1, 8, 8, 3), labels=[1.0, 0.0])
    with pytest.raises(ValueError, match="no G_B"):
        translate(MODELS["cyclegan"], torch.rand(1, 8, 8, 3), direction="BtoA")
    with pytest.raises(ValueError, match="precision"):
        run("cyclegan", torch.rand(1, 8, 8, 3), precision="int8")

    def cancel(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run("cyclegan", torch.rand(3, 8, 8, 3), progress=cancel)
    assert not MODELS["cyclegan"].training


def test_degenerate_one_colour_images_are_deterministic():
    """A 1x1 (or flat) image makes every InstanceNorm map nearly constant, so the output is dominated by
    float rounding (as in the reference code); it must still be deterministic and batch-independent."""
    x = torch.rand(1, 1, 1, 3)
    a = run("cyclegan", torch.cat([x, torch.rand(1, 1, 1, 3)]))
    torch.testing.assert_close(a[:1], run("cyclegan", x), atol=2e-5, rtol=0)


def test_benchmark_smoke_run(capsys):
    """`python -m i2i_models.bench --quick` runs and prints its table (the real numbers are in the README)."""
    from i2i_models.bench import main

    assert main(["--quick", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "| pix2pix | 256² | 1 |" in out and "| stargan |" in out and "| cyclegan |" in out


def test_working_size_runs_at_the_training_size_and_resizes_back():
    from i2i_models.images import resize_to

    x = torch.rand(1, 90, 60, 4)
    y = run("cyclegan", x, working_size=32)
    assert y.shape == x.shape and torch.equal(y[..., 3], x[..., 3])
    small = resize_to(x[..., :3], (48, 32))  # shorter side 60 -> 32, aspect kept
    expected = resize_to(run("cyclegan", small), (90, 60))
    torch.testing.assert_close(y[..., :3], expected, atol=1e-5, rtol=0)


GENERATOR_EXAMPLES = [(arch, cfg) for arch, cls in sorted(__import__("i2i_models.networks", fromlist=["ARCHS"]).ARCHS.items())
                      if cls.role == "generator" for cfg in cls.examples()]


@pytest.mark.parametrize("arch,cfg", GENERATOR_EXAMPLES, ids=[f"{a}-{i}" for i, (a, _) in enumerate(GENERATOR_EXAMPLES)])
def test_every_registered_generator_streams_exactly(arch, cfg):
    """Every generator architecture in the registry (each variant its class lists) runs through the exact
    streamed path and equals its full-frame forward; one without a streaming rule fails here."""
    from i2i_models import streaming
    from i2i_models.networks import build_network

    net = randomize_(build_network({"arch": arch, **cfg})).eval()
    assert streaming.supports(net), f"{arch} has a module without a streaming rule"
    size = max(net.min_size, 64)
    x = torch.rand(1, size + net.size_multiple, size, net.input_nc)
    kw = {"labels": torch.rand(net.c_dim)} if getattr(net, "c_dim", 0) else {}
    if getattr(net, "label_nc", 0):  # a label-map model: integer ids (blocky regions) and an instance map
        x = torch.nn.functional.interpolate(torch.randint(0, net.label_nc, (1, 1, 8, 8)).float(),
                                            size=(size + net.size_multiple, size), mode="nearest")[:, 0].long()
        kw = {"instance": (x * 7 + torch.arange(size) // 16).long()}
    torch.testing.assert_close(translate(net, x, tiled=True, tile_bytes=1 << 15, **kw), translate(net, x, **kw),
                               atol=5e-5, rtol=0)


def test_plan_is_a_pure_decision():
    """How a batch runs, decided from sizes and options alone (no tensors, no devices touched)."""
    from i2i_models.inference import TranslateOptions, plan

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    opts = TranslateOptions(batch_size=8)
    p = plan(6, (256, 256), device=cpu, bytes_per_pixel=1000, can_stream=True, options=opts, budget=1 << 30)
    assert (p.precision, p.tiled, p.chunk, p.channels_last) == ("fp32", False, 6, False)  # 6 of 8 fit, 6 images
    p = plan(6, (256, 256), device=cpu, bytes_per_pixel=1000, can_stream=True, options=opts, budget=300 << 20)
    assert (p.tiled, p.chunk) == (False, 3)  # the budget holds three
    p = plan(2, (4096, 4096), device=cpu, bytes_per_pixel=1000, can_stream=True, options=opts, budget=1 << 30)
    assert (p.tiled, p.chunk) == (True, 1)  # one full frame would not fit: exact tiles, image by image
    p = plan(2, (4096, 4096), device=cpu, bytes_per_pixel=1000, can_stream=False, options=opts, budget=1 << 30)
    assert not p.tiled  # a generator that cannot stream runs whole
    assert plan(4, (64, 64), device=cpu, bytes_per_pixel=1, can_stream=True, options=TranslateOptions(dropout=True),
                budget=1 << 30).chunk == 1
    assert plan(4, (64, 64), device=cpu, bytes_per_pixel=1, can_stream=True, options=opts, budget=1 << 30, flat=True).chunk == 1
    auto = TranslateOptions(precision="auto")
    assert plan(1, (8, 8), device=cpu, bytes_per_pixel=1, can_stream=True, options=auto, budget=1).precision == "fp32"
    hooked = TranslateOptions(precision="auto", precision_policy=lambda d: "fp16" if d.type == "cuda" else "fp32")
    p = plan(1, (8, 8), device=cuda, bytes_per_pixel=1, can_stream=True, options=hooked, budget=1)
    assert (p.precision, p.channels_last) == ("fp16", True)  # the caller's policy (ComfyUI's rules in the nodes)
    with pytest.raises(ValueError, match="batchnorm"):
        plan(1, (8, 8), device=cpu, bytes_per_pixel=1, can_stream=True, options=TranslateOptions(batchnorm="x"), budget=1)


def test_translate_leaves_the_callers_model_where_it_was(monkeypatch):
    """Asked to run elsewhere, translate moves the generator for the call and back afterwards (here "cpu:0"
    vs "cpu", the only two devices this machine has; a GPU run of the same code moves to CUDA and back)."""
    model = MODELS["cyclegan"]
    moves = []
    real_to = torch.nn.Module.to

    def to(self, *a, **k):
        moves.append(str(a[0]) if a else str(k.get("device")))
        return real_to(self, *a, **k)

    monkeypatch.setattr(torch.nn.Module, "to", to)
    y = translate(model, torch.rand(1, 32, 32, 3), device="cpu:0")
    assert y.shape == (1, 32, 32, 3) and moves == ["cpu:0", "cpu"] and str(next(model.parameters()).device) == "cpu"
    moves.clear()
    translate(model, torch.rand(1, 32, 32, 3))
    assert moves == []  # on its own device: untouched
