"""ONNX export (i2i_models.export) and the exported-graph backends (i2i_models.backends): every family and
architecture round-trips, the files run with onnxruntime alone, translate(backend=…) equals torch, the cache
exports once per weights, and the choices and errors are the documented ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import i2i_models
from i2i_models import backends
from i2i_models.export import ExportError, check_file, export, weights_sha256
from refnets import randomize_
from conftest import DATA

ROOT = Path(__file__).resolve().parent.parent

# one small bundle per architecture and input kind we have (family, networks, extra config)
CASES = {
    "unet_batch_dropout": ("pix2pix", {"generator": {"arch": "unet", "num_downs": 5, "ngf": 8, "norm": "batch", "use_dropout": True}}, {}),
    "unet_attention_nearest": ("pix2pix", {"generator": {"arch": "unet", "num_downs": 5, "ngf": 8, "norm": "instance",
                                                         "upsample": "nearest", "attention_mask": True}}, {}),
    "resnet_both_reframe": ("cyclegan", {"G_A": {"arch": "resnet", "ngf": 8, "n_blocks": 2, "reframe_input": 0.93},
                                         "G_B": {"arch": "resnet", "ngf": 8, "n_blocks": 1, "norm": "batch"}},
                            {"domains": {"A": "cat", "B": "dog"}}),
    "cyclegan_conditional_residual": ("cyclegan", {"generator": {"arch": "resnet", "ngf": 8, "n_blocks": 1, "c_dim": 1,
                                                                 "residual_strength": True, "reframe_input": 0.93}},
                                      {"domains": {"A": "cat", "B": "dog"}}),
    "cyclegan_conditional_code": ("cyclegan", {"generator": {"arch": "resnet", "ngf": 8, "n_blocks": 1, "c_dim": 1}},
                                  {"domains": {"A": "cat", "B": "dog"}}),
    "stargan": ("stargan", {"generator": {"arch": "stargan_g", "conv_dim": 8, "c_dim": 3, "repeat_num": 1}},
                {"attributes": ["Man", "Woman", "Smile"], "attribute_groups": [["Man", "Woman"]]}),
    "stargan_attention": ("stargan", {"generator": {"arch": "stargan_g", "conv_dim": 8, "c_dim": 2, "repeat_num": 1,
                                                    "attention_mask": True}}, {"attributes": ["A", "B"]}),
    "pytorchgan_unet": ("pix2pix", {"generator": {"arch": "pytorchgan_unet"}}, {}),
    "pix2pixhd_global_labels": ("pix2pix", {"generator": {"arch": "pix2pixhd_global", "input_nc": 7, "ngf": 8,
                                                          "n_downsample_global": 2, "n_blocks_global": 1,
                                                          "label_nc": 6, "instance_edges": True}}, {}),
    "pix2pixhd_local": ("pix2pix", {"generator": {"arch": "pix2pixhd_local", "ngf": 8, "n_downsample_global": 2,
                                                  "n_blocks_global": 1, "n_local_enhancers": 1, "n_blocks_local": 1}}, {}),
}


def _bundle(name: str):
    fam, nets, extra = CASES[name]
    torch.manual_seed(0)
    return randomize_(i2i_models.family_class(fam)({"networks": nets, **extra}))


def test_every_architecture_round_trips_through_onnxruntime(tmp_path):
    for name in CASES:
        try:
            model = _bundle(name)
        except (ValueError, TypeError) as e:  # an arch whose config keys differ: say which, do not skip silently
            raise AssertionError(f"{name}: {e}")
        paths = export(model, tmp_path / name)  # checks each file on three sizes against torch (raises otherwise)
        assert sorted(p.name for p in paths) == sorted(f"{r}.onnx" for r in model.generators()), name
        for p in paths:
            role = p.stem
            net = model.generators()[role]
            assert check_file(p, net, batch=3) <= 1e-4  # and again with another batch size
            meta = {m.key: m.value for m in onnx.load(str(p), load_external_data=False).metadata_props}
            assert meta["family"] == model.family and meta["role"] == role
            assert int(meta["size_multiple"]) == net.size_multiple and int(meta["min_size"]) == net.min_size
            assert json.loads(meta["network"]) == net.config and meta["weights_sha256"] == weights_sha256(net)
            assert json.loads(meta["value_range"]) == [-1, 1]
            if model.family == "cyclegan":
                assert meta["direction"] == {"G_A": "AtoB", "G_B": "BtoA", "generator": "both: labels [B, 1] = "
                                             "+strength AtoB, -strength BtoA"}[role]
                assert json.loads(meta["domains"]) == {"A": "cat", "B": "dog"}
            if model.family == "stargan":
                assert json.loads(meta["attributes"]) == model.attributes and int(meta["c_dim"]) == len(model.attributes)
            assert "/tmp" not in p.read_bytes().decode("latin-1")  # no path of this machine inside


def test_a_converted_reference_checkpoint_exports_too(tmp_path):
    for case in ("nvidia_global_label6_inst", "nvidia_local2_rgb"):
        model = i2i_models.load(str(DATA / "parity_nvidia" / case / "latest_net_G.pth"))
        assert export(model, tmp_path / case)


def test_the_exported_file_runs_with_onnxruntime_alone(tmp_path):
    """The README's example: no project import, only onnxruntime, numpy and PIL, driven by the metadata."""
    model = _bundle("resnet_both_reframe")
    export(model, tmp_path)
    img = torch.rand(1, 45, 61, 3)
    expected = i2i_models.translate(model, img, direction="BtoA")[0].numpy()
    np.save(tmp_path / "in.npy", img[0].numpy())
    script = '''
import json, sys, numpy as np, onnxruntime as ort
s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
meta = s.get_modelmeta().custom_metadata_map
m = int(meta["size_multiple"]); lo = int(meta["min_size"])
x = np.load(sys.argv[2])                                       # [H, W, 3] in [0, 1]
H, W = x.shape[:2]
ph, pw = max(-H % m, lo - H), max(-W % m, lo - W)                 # pad to the multiple, half on each side
t, l = ph // 2, pw // 2
x = np.pad(x * 2 - 1, ((t, ph - t), (l, pw - l), (0, 0)), mode="reflect")
y = s.run(None, {"image": x.transpose(2, 0, 1)[None].astype(np.float32)})[0][0]
np.save(sys.argv[3], ((y.transpose(1, 2, 0)[t:t + H, l:l + W] + 1) / 2).clip(0, 1))
print(meta["direction"], json.loads(meta["domains"])["A"])
'''
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-I", "-c", script, str(tmp_path / "G_B.onnx"), str(tmp_path / "in.npy"),
                        str(tmp_path / "out.npy")], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["BtoA", "cat"]
    got = np.load(tmp_path / "out.npy")
    assert got.shape == expected.shape and np.abs(got - expected).max() < 1e-4


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino", "auto"])
def test_translate_backends_equal_torch_for_each_family(backend):
    for name, kw in (("unet_attention_nearest", {}), ("resnet_both_reframe", {"direction": "BtoA"}),
                     ("stargan", {"labels": [[1, 0, 1], [0, 1, 0]]}),
                     ("cyclegan_conditional_residual", {"strength": -0.6})):
        model = _bundle(name)
        img = torch.rand(2, 37, 53, 4)  # odd size, alpha, a batch of two
        ref = i2i_models.translate(model, img, **kw)
        for bs in (1, 2):
            y = i2i_models.translate(model, img, backend=backend, batch_size=bs, **kw)
            assert y.shape == ref.shape and torch.equal(y[..., 3], img[..., 3])
            assert (y - ref).abs().max() < 5e-5, (name, backend, bs)
        net = model.generator if name.startswith("cyclegan_conditional") else \
            i2i_models.inference.select_generator(model, kw.get("direction"))
        used = backends.available()[1] if backend == "auto" else backend
        assert (used, "fp32") in backends._sessions.get(net, {}), f"{name}: {backend} did not run the exported graph"


def test_the_export_cache_exports_once_per_weights_and_never_reuses_stale_files(monkeypatch):
    from i2i_models import export as export_mod

    model = _bundle("resnet_both_reframe")
    calls = []
    real = export_mod.export_generator
    monkeypatch.setattr(export_mod, "export_generator", lambda *a, **k: calls.append(1) or real(*a, **k))
    img = torch.rand(1, 32, 32, 3)
    i2i_models.translate(model, img, backend="onnxruntime")
    backends.release(model)  # a fresh session (as a new ComfyUI run would build) reads the cached file
    i2i_models.translate(model, img, backend="onnxruntime")
    twin = _bundle("resnet_both_reframe")  # the same weights in another object: same file
    i2i_models.translate(twin, img, backend="onnxruntime")
    assert len(calls) == 1
    with torch.no_grad():
        model.G_A.model[1].weight.mul_(-1)  # changed weights: a new file, and the output follows them
    y = i2i_models.translate(model, img, backend="onnxruntime")
    assert len(calls) == 2
    assert (y - i2i_models.translate(model, img)).abs().max() < 5e-5
    assert backends.attached_bytes(model) > 0
    backends.release(model)
    assert backends.attached_bytes(model) == 0


def test_backend_choices_and_errors():
    cpu = torch.device("cpu")
    best = backends.available()[1]
    assert backends.choose("auto", device=cpu, precision="fp32") == best == "openvino"
    assert backends.choose("auto", device=cpu, precision="bf16") == "torch"
    assert backends.choose("auto", device=cpu, precision="fp32", unsupported="test-time dropout") == "torch"
    assert backends.choose("auto", device=torch.device("cuda"), precision="fp32") == "torch"
    assert backends.choose("openvino", device=cpu, precision="bf16") == "openvino"
    with pytest.raises(ValueError, match="backend must be one of"):
        backends.choose("tensorrt", device=cpu, precision="fp32")
    with pytest.raises(ValueError, match="fp32 only"):
        backends.choose("onnxruntime", device=cpu, precision="bf16")
    with pytest.raises(ValueError, match="cannot run test-time dropout"):
        backends.choose("onnxruntime", device=cpu, precision="fp32", unsupported="test-time dropout")
    with pytest.raises(ValueError, match="CPU only"):
        backends.choose("openvino", device=torch.device("cuda"), precision="fp32")
    model = _bundle("unet_batch_dropout")
    img = torch.rand(1, 32, 32, 3)
    with pytest.raises(ValueError, match="test-time dropout"):
        i2i_models.translate(model, img, backend="onnxruntime", dropout=True, seed=1)
    # auto with dropout runs torch, reproducibly
    a = i2i_models.translate(model, img, backend="auto", dropout=True, seed=1)
    assert torch.equal(a, i2i_models.translate(model, img, dropout=True, seed=1))


def test_exact_tiles_keep_working_with_a_graph_backend():
    model = _bundle("resnet_both_reframe")
    img = torch.rand(1, 70, 66, 3)
    full = i2i_models.translate(model, img)
    tiled = i2i_models.translate(model, img, backend="openvino", tiled=True, tile_bytes=1 << 16)
    assert (tiled - full).abs().max() < 1e-5


def test_openvino_bf16_is_the_fast_reduced_precision_path():
    model = _bundle("stargan")
    img = torch.rand(1, 32, 32, 3)
    kw = {"labels": [1, 0, 1]}
    y = i2i_models.translate(model, img, backend="openvino", precision="bf16", **kw)
    d = (y - i2i_models.translate(model, img, **kw)).abs()
    assert 0 < d.max() < 0.15  # bf16 rounding, not another model


def test_cli_export_writes_checked_files_and_fails_in_one_line(tmp_path):
    src = tmp_path / "cats"
    _bundle("resnet_both_reframe").save(src)
    r = subprocess.run([sys.executable, "-m", "i2i_models", "export", str(src), str(tmp_path / "onnx")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "onnx").iterdir()) == ["G_A.onnx", "G_B.onnx"]
    r = subprocess.run([sys.executable, "-m", "i2i_models", "export", str(tmp_path / "nope"), str(tmp_path / "o2")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1
    img = tmp_path / "in.png"
    from PIL import Image
    Image.fromarray((np.random.default_rng(0).random((40, 30, 3)) * 255).astype("uint8")).save(img)
    outs = []
    for b in ("torch", "openvino"):
        r = subprocess.run([sys.executable, "-m", "i2i_models", "translate", str(src), str(img), "--out",
                            str(tmp_path / f"{b}.png"), "--backend", b], capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 0, r.stderr
        outs.append(np.asarray(Image.open(tmp_path / f"{b}.png"), dtype=np.int16))
    assert np.abs(outs[0] - outs[1]).max() <= 1  # 8-bit rounding at most


def test_a_failed_check_is_an_export_error_and_leaves_no_file(tmp_path, monkeypatch):
    from i2i_models import export as export_mod

    model = _bundle("stargan")
    monkeypatch.setattr(export_mod.check_file, "__kwdefaults__", {"sizes": None, "batch": 2, "tolerance": -1.0})
    with pytest.raises(ExportError, match="differs from torch"):
        export(model, tmp_path / "x")
    assert not any((tmp_path / "x").iterdir())
