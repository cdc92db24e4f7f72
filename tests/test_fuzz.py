"""Hostile inputs: a short loader-fuzzing run (tests/fuzz_loaders.py; the long run is `python
tests/fuzz_loaders.py --cases 10000`), a regression test for every defect the fuzzer found, and image-input
fuzzing of translate / edit (every dtype, NaN/Inf, out-of-range values, 0- and 1-pixel images, odd channel
counts, non-contiguous and channels-last tensors, PIL modes): a correct result or a clear error, never a
silent NaN image."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
from PIL import Image

import i2i_models
from i2i_models.errors import ConfigError, CorruptCheckpointError, I2IError, UnknownCheckpointError
import fuzz_loaders


def test_a_short_fuzzing_run_finds_nothing(tmp_path):
    r = fuzz_loaders.fuzz(400, seed=12345, timeout=2.0, work=tmp_path)
    assert r["findings"] == [], r["findings"][:5]
    assert r["outcomes"].get("model", 0) > 20 and r["outcomes"].get("error", 0) > 200  # both kinds of outcome occur
    assert set(r["kinds"]) == set(fuzz_loaders.KINDS)
    assert r["slowest_s"] < 2.0


@pytest.fixture()
def folder(tmp_path):
    model = i2i_models.Pix2PixModel({"networks": {"generator": {"arch": "unet", "num_downs": 5, "ngf": 4}}})
    return model.save(tmp_path / "m")


def _edit_config(folder, fn):
    cfg = json.loads((folder / "config.json").read_text())
    fn(cfg)
    (folder / "config.json").write_text(json.dumps(cfg))


# -- regressions: each was a crash (an undocumented exception) found by the fuzzer ----------------
def test_deeply_nested_json_is_a_corrupt_config_not_a_recursion_error(folder):
    text = (folder / "config.json").read_text()
    (folder / "config.json").write_text(text[:-1] + ', "training": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(CorruptCheckpointError, match="too deeply"):
        i2i_models.load(str(folder))
    (folder / "config.json").write_text(text[:-1] + ', "training": ' + "[" * 900 + "]" * 900 + "}")  # parses, then deepcopy recursed
    for fn in (i2i_models.load, i2i_models.peek):
        with pytest.raises(CorruptCheckpointError, match="levels deep"):
            fn(str(folder))


@pytest.mark.parametrize("change, match", [
    (lambda c: c.update(family=None), "unknown model family None"),
    (lambda c: c.update(family="nope"), "unknown model family 'nope'"),
    (lambda c: c.update(networks=[1, 2]), "'networks' must be an object"),
    (lambda c: c["networks"].update(generator=5), "networks.generator must be an object"),
    (lambda c: c.update(attributes=5), "'attributes' must be a list"),
    (lambda c: c.update(domains=[1]), "'domains' must map"),
    (lambda c: c["networks"]["generator"].update(norm="abc"), "norm='abc'"),
    (lambda c: c["networks"]["generator"].update(attention_mask=-3), "attention_mask must be bool"),
    (lambda c: c["networks"]["generator"].update(ngf=-3), r"ngf=-3 is out of range"),
    (lambda c: c["networks"]["generator"].update(num_downs=500), r"num_downs=500 is out of range"),
    (lambda c: c["networks"]["generator"].update(ngf="64"), "ngf must be int"),
])
def test_malformed_configs_are_config_errors_for_load_and_peek(folder, change, match):
    _edit_config(folder, change)
    with pytest.raises(ConfigError, match=match):
        i2i_models.load(str(folder))
    if "networks.generator" not in match and "out of range" not in match and "must be" not in match and "norm=" not in match:
        with pytest.raises(ConfigError, match=match):
            i2i_models.peek(str(folder))


def test_a_config_describing_far_more_weights_than_the_file_holds_is_refused_before_allocating(folder):
    import resource

    _edit_config(folder, lambda c: c["networks"]["generator"].update(ngf=8192, num_downs=8))  # ~10^11 values
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ConfigError, match="more than the"):
        i2i_models.load(str(folder))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB: nothing big allocated


def test_a_layout_whose_tensors_do_not_fit_is_unknown_not_an_index_error(tmp_path):
    from i2i_models.networks import GlobalGenerator

    sd = GlobalGenerator(3, 3, 4, 2, 1).state_dict()
    sd["model.1.weight"] = torch.tensor(1.0)  # the detector reads this weight's shape
    torch.save(sd, tmp_path / "latest_net_G.pth")
    with pytest.raises(I2IError):
        i2i_models.load(str(tmp_path / "latest_net_G.pth"))


def test_safetensors_headers_that_claim_huge_tensors_allocate_nothing(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(4, 3)}, str(tmp_path / "x.safetensors"))
    data = (tmp_path / "x.safetensors").read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header["w"]["shape"] = [10 ** 6, 10 ** 6]
    raw = json.dumps(header).encode()
    (tmp_path / "x.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + data[8 + n:])
    with pytest.raises(CorruptCheckpointError):
        i2i_models.load(str(tmp_path / "x.safetensors"))
    (tmp_path / "y.safetensors").write_bytes(struct.pack("<Q", 2 ** 63) + data[8:])
    with pytest.raises((CorruptCheckpointError, UnknownCheckpointError)):
        i2i_models.load(str(tmp_path / "y.safetensors"))


# -- image inputs ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    cg = i2i_models.CycleGANModel({"networks": {"G_A": {"arch": "resnet", "ngf": 4, "n_blocks": 1}}})
    sg = i2i_models.StarGANModel({"attributes": ["a", "b"], "networks": {
        "generator": {"arch": "stargan_g", "conv_dim": 4, "c_dim": 2, "repeat_num": 1},
        "discriminator": {"arch": "stargan_d", "image_size": 16, "conv_dim": 4, "c_dim": 2, "repeat_num": 2}}})
    return cg, sg


def _run(models, x):
    cg, sg = models
    return [i2i_models.translate(cg, x), i2i_models.edit(sg, x, {"a": 1.0})]


def _finite_unit(y, like=None):
    t = y if isinstance(y, torch.Tensor) else torch.from_numpy(np.asarray(y, dtype=np.float32) / 255)
    assert torch.isfinite(t.float()).all()
    assert t.float().min() >= 0 and t.float().max() <= (255 if t.dtype == torch.uint8 else 1)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float16, torch.float32, torch.float64, torch.bfloat16])
def test_every_dtype_gives_the_same_dtype_back_in_range(models, dtype):
    x = torch.rand(2, 19, 23, 3)
    x = (x * 255).to(dtype) if dtype == torch.uint8 else x.to(dtype)
    for y in _run(models, x):
        assert y.dtype == dtype and y.shape == x.shape
        _finite_unit(y)


@pytest.mark.parametrize("bad, match", [
    (torch.ones(1, 8, 8, 3, dtype=torch.bool), "dtype"),
    (torch.ones(1, 8, 8, 3, dtype=torch.int32), "dtype"),
    (torch.rand(1, 8, 8, 5), "channels"),
    (torch.rand(1, 0, 8, 3), "empty|0"),
    (torch.rand(0, 8, 8, 3), "empty|0"),
    (torch.rand(8, 8), "dims|shape|rank"),
    (torch.full((1, 8, 8, 3), float("nan")), "NaN|finite"),
    (torch.tensor([[[[0.5, float("inf"), 0.2]]]]).expand(1, 4, 4, 3), "NaN|finite|inf"),
])
def test_bad_images_are_clear_errors(models, bad, match):
    cg, sg = models
    for fn in (lambda: i2i_models.translate(cg, bad), lambda: i2i_models.edit(sg, bad, {"a": 1.0})):
        with pytest.raises(ValueError, match=match):
            fn()


def test_odd_but_valid_images_work(models):
    cases = [torch.rand(1, 1, 1, 3), torch.rand(1, 1, 7, 3), torch.rand(1, 9, 9, 2), torch.rand(1, 9, 9, 1),
             torch.rand(1, 9, 11, 4), torch.rand(2, 13, 17, 3).transpose(1, 2),  # non-contiguous
             torch.rand(2, 3, 12, 14).contiguous(memory_format=torch.channels_last).permute(0, 2, 3, 1),
             torch.rand(1, 12, 12, 3) * 3 - 1]  # outside [0, 1]: clamped, not NaN
    for x in cases:
        for y in _run(models, x):
            assert y.shape[:3] == x.shape[:3]
            _finite_unit(y)


@pytest.mark.parametrize("mode", ["P", "LA", "L", "I;16", "I", "F", "CMYK", "RGBA", "1", "YCbCr", "RGBX"])
def test_pil_modes(models, mode):
    arr = (np.random.default_rng(0).random((14, 18, 3)) * 255).astype("uint8")
    img = Image.fromarray(arr).convert(mode) if mode != "I;16" else Image.fromarray(arr[..., 0].astype("uint16") * 257)
    assert img.mode == mode
    for y in _run(models, img):
        assert isinstance(y, Image.Image) and y.size == img.size
        _finite_unit(y)


@pytest.mark.parametrize("backend", ["torch", "openvino"])
def test_translate_from_several_threads_at_once_equals_serial_calls(models, backend):
    from concurrent.futures import ThreadPoolExecutor

    cg, sg = models
    g = torch.Generator().manual_seed(3)
    images = [torch.rand(b, h, w, 3, generator=g) for b, h, w in ((1, 33, 47), (2, 64, 64), (1, 17, 90), (3, 40, 40))] * 3
    jobs = [(cg, x, {}) if i % 2 else (sg, x, {"labels": [1.0, 0.0]}) for i, x in enumerate(images)]
    serial = [i2i_models.translate(m, x, backend=backend, **kw) for m, x, kw in jobs]
    with ThreadPoolExecutor(4) as pool:
        parallel = list(pool.map(lambda j: i2i_models.translate(j[0], j[1], backend=backend, **j[2]), jobs))
    for a, b in zip(serial, parallel):
        assert torch.equal(a, b)


def test_damaged_pickles_that_broke_torch_load_are_corrupt_checkpoints(tmp_path):
    import io
    import re

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "latest_net_G.pth").write_bytes(b"XS;&\xb0\x92\xb6\x8aC\xb5\xd5")  # fuzz case: MemoryError
    with pytest.raises(CorruptCheckpointError):
        i2i_models.load(str(tmp_path / "a" / "latest_net_G.pth"))
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buf, _use_new_zipfile_serialization=False)
    data = buf.getvalue()
    key = re.findall(rb"\d{6,}", data)[-1]  # the storage table names a storage the pickle never made
    i = data.rindex(key)
    (tmp_path / "b.pth").write_bytes(data[:i] + b"9" * len(key) + data[i + len(key):])
    with pytest.raises(CorruptCheckpointError):  # was torch's AssertionError
        i2i_models.load(str(tmp_path / "b.pth"))
