"""Bad input gets a clear error that says what to do, and nothing from a file is ever executed."""

from __future__ import annotations

import pickle
import shutil

import pytest
import torch

import i2i_models
from i2i_models.__main__ import main as cli
from conftest import PARITY

GOOD = PARITY / "junyanz_resnet9_instance/latest_net_G_A.pth"


class _Payload:
    """Unpickling this would run os.system(...) and create a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_would_run_code_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "latest_net_G.pth"
    torch.save({"model.1.weight": torch.zeros(1), "evil": _Payload(marker)}, path)
    with pytest.raises(i2i_models.UnsafeCheckpointError, match="would have to import and run code"):
        i2i_models.load(path)
    assert not marker.exists()
    # a plain (non-torch) pickle as well
    with open(path, "wb") as f:
        pickle.dump(_Payload(marker), f)
    with pytest.raises((i2i_models.UnsafeCheckpointError, i2i_models.CorruptCheckpointError)):
        i2i_models.load(path)
    assert not marker.exists()


def test_pickled_whole_module_is_refused(tmp_path):
    path = tmp_path / "model.bin"
    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 3, 1)), path)
    with pytest.raises(i2i_models.UnsafeCheckpointError, match="state_dict"):
        i2i_models.load(path)


@pytest.mark.parametrize("cut", [0.5, 0.95])
def test_truncated_downloads(tmp_path, cut):
    data = GOOD.read_bytes()
    path = tmp_path / "latest_net_G_A.pth"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(i2i_models.CorruptCheckpointError, match="truncated or damaged"):
        i2i_models.load(path)
    st = i2i_models.load(GOOD).save(tmp_path / "ours")
    blob = (st / "model.safetensors").read_bytes()
    (st / "model.safetensors").write_bytes(blob[: int(len(blob) * cut)])
    with pytest.raises(i2i_models.CorruptCheckpointError, match="safetensors"):
        i2i_models.load(st)


def test_not_weights_files(tmp_path):
    cases = {
        "page.pth": (b"<!DOCTYPE html><html>Not Found</html>", "HTML"),
        "empty.pth": (b"", "empty"),
        "lfs.bin": (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n", "Git LFS pointer"),
        "noise.ckpt": (bytes(range(256)) * 10, "truncated or damaged"),
    }
    for name, (content, msg) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(i2i_models.CorruptCheckpointError, match=msg):
            i2i_models.load(tmp_path / name)


def test_unknown_layout_lists_known_formats_and_keys(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save({"encoder.layer1.weight": torch.zeros(4, 3, 3, 3), "head.bias": torch.zeros(4)}, path)
    with pytest.raises(i2i_models.UnknownCheckpointError) as e:
        i2i_models.load(path)
    text = str(e.value)
    assert "junyanz UnetGenerator" in text and "yunjey StarGAN Generator" in text
    assert "encoder.layer1.weight (4, 3, 3, 3)" in text
    torch.save({"epoch": 3, "note": "no tensors"}, path)
    with pytest.raises(i2i_models.CorruptCheckpointError, match="no state dict"):
        i2i_models.load(path)


def test_missing_sources(tmp_path):
    with pytest.raises(i2i_models.ModelNotFoundError, match="not an existing file or folder"):
        i2i_models.load(tmp_path / "nope" / "x.pth")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(i2i_models.ModelNotFoundError, match="contains no weights file"):
        i2i_models.load(empty)
    for name in ("a.pth", "b.pth"):
        shutil.copy(GOOD, empty / name)
    with pytest.raises(i2i_models.ModelNotFoundError, match="several weights files"):
        i2i_models.load(empty)
    with pytest.raises(ValueError, match="family must be one of"):
        i2i_models.load(GOOD, family="cycle_gan")


def test_corrupt_config_json(tmp_path):
    out = i2i_models.load(GOOD).save(tmp_path / "m")
    (out / "config.json").write_text("{not json")
    with pytest.raises(i2i_models.CorruptCheckpointError, match="not valid JSON"):
        i2i_models.load(out)


def test_cli_reports_errors_without_traceback(tmp_path, capsys):
    (tmp_path / "x.pth").write_bytes(b"")
    assert cli(["inspect", str(tmp_path / "x.pth")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "empty" in err
