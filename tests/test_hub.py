"""Real round trips through the real huggingface_hub client (and `datasets`) against the Hub-compatible
server of tests/hubserver.py on 127.0.0.1: push, load by repo id, revisions, tags, the offline cache,
error messages, and proof that a broken server makes these checks fail."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from huggingface_hub import HfApi, hf_hub_download

import i2i_models
from i2i_models.__main__ import main as cli
from conftest import PARITY
from refnets import HugGANGeneratorUNet, randomize_
from test_bundles import CLASSES, CONFIGS


def digest(model) -> str:
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().contiguous().numpy().tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("family", sorted(CONFIGS))
def test_push_and_load_each_family_bit_exactly(hub, family):
    model = randomize_(CLASSES[family](CONFIGS[family]))
    repo = hub.repo_id(f"{family}-model")
    url = model.push_to_hub(repo)
    assert repo in url
    files = set(HfApi().list_repo_files(repo))
    assert {"config.json", "model.safetensors", "README.md"} <= files
    card = Path(hf_hub_download(repo, "README.md")).read_text()
    assert "pipeline_tag: image-to-image" in card and family in card
    loaded = i2i_models.load(repo)
    assert type(loaded) is CLASSES[family] and loaded.config == model.config
    assert digest(loaded) == digest(model)
    assert digest(CLASSES[family].from_pretrained(repo)) == digest(model)
    with pytest.raises(i2i_models.FamilyMismatchError):
        i2i_models.load(repo, family="cyclegan" if family != "cyclegan" else "stargan")


def test_revisions_branches_and_tags(hub):
    api = HfApi()
    repo = hub.repo_id("versions")
    v1 = randomize_(CLASSES["cyclegan"](CONFIGS["cyclegan"]), seed=1)
    v2 = randomize_(CLASSES["cyclegan"](CONFIGS["cyclegan"]), seed=2)
    v1.push_to_hub(repo)
    first = api.model_info(repo).sha
    api.create_tag(repo, tag="v1.0")
    api.create_branch(repo, branch="dev")
    v2.push_to_hub(repo, branch="dev")
    assert {b.name for b in api.list_repo_refs(repo).branches} == {"main", "dev"}
    assert digest(i2i_models.load(repo)) == digest(v1)
    assert digest(i2i_models.load(repo, revision="dev")) == digest(v2)
    assert digest(i2i_models.load(repo, revision="v1.0")) == digest(v1)
    assert digest(i2i_models.load(repo, revision=first)) == digest(v1)
    v2.push_to_hub(repo)  # now main moves on, the tag stays
    assert digest(i2i_models.load(repo)) == digest(v2)
    assert digest(i2i_models.load(repo, revision="v1.0")) == digest(v1)


def test_offline_reload_from_cache_with_the_network_gone(hub, tmp_path):
    repo = hub.repo_id("offline")
    model = randomize_(CLASSES["stargan"](CONFIGS["stargan"]))
    model.push_to_hub(repo)
    assert digest(i2i_models.load(repo)) == digest(model)  # fills the cache
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_ENDPOINT="http://127.0.0.1:9")  # nothing listens there
    code = ("import i2i_models, sys; sys.path.insert(0, 'tests'); from test_hub import digest; "
            f"print(digest(i2i_models.load({repo!r})))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=Path(__file__).parent.parent, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == digest(model)
    code = f"import i2i_models; i2i_models.load({hub.repo_id('never-downloaded')!r})"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "HF_HUB_OFFLINE=1" in out.stderr and "not in the local Hugging Face cache" in out.stderr


def test_clear_errors_for_missing_repo_file_and_revision(hub):
    repo = hub.repo_id("exists")
    CLASSES["pix2pix"](CONFIGS["pix2pix"]).push_to_hub(repo)
    with pytest.raises(i2i_models.ModelNotFoundError, match="was not found at http://127.0.0.1"):
        i2i_models.load(hub.repo_id("does-not-exist"))
    with pytest.raises(i2i_models.ModelNotFoundError, match="has no revision 'nope'"):
        i2i_models.load(repo, revision="nope")
    with pytest.raises(i2i_models.ModelNotFoundError, match="has no file 'latest_net_G.pth'"):
        i2i_models.load(f"{repo}/latest_net_G.pth")


def test_reference_checkpoints_on_the_hub(hub, tmp_path):
    api = HfApi()
    # a HugGAN repo: pytorch_model.bin + card + sample image, no config.json
    repo = hub.repo_id("pix2pix-maps")
    api.create_repo(repo)
    ref = randomize_(HugGANGeneratorUNet()).eval()
    folder = tmp_path / "huggan"
    folder.mkdir()
    torch.save(ref.state_dict(), folder / "pytorch_model.bin")
    (folder / "README.md").write_text("---\ntags: [huggan]\n---\n# pix2pix maps\n")
    (folder / "example.png").write_bytes(b"\x89PNG fake")
    api.upload_folder(repo_id=repo, folder_path=folder)
    model = i2i_models.load(repo)
    assert model.family == "pix2pix" and model.config["source"]["codebase"] == "pytorch-gan"
    x = torch.rand(1, 3, 256, 256) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(model.generator(x), ref(x), atol=1e-5)
    # one junyanz file inside a repo, addressed as org/name/path
    repo2 = hub.repo_id("junyanz-files")
    api.create_repo(repo2)
    api.upload_file(path_or_fileobj=str(PARITY / "junyanz_resnet9_instance/latest_net_G_A.pth"),
                    path_in_repo="horse2zebra/latest_net_G_A.pth", repo_id=repo2)
    model = i2i_models.load(f"{repo2}/horse2zebra/latest_net_G_A.pth")
    assert model.directions == ["AtoB"] and model.domains == {"A": "horse", "B": "zebra"}


def test_convert_and_push_cli(hub, tmp_path, capsys):
    repo = hub.repo_id("converted")
    src = PARITY / "stargan_G/200000-G.ckpt"
    assert cli(["convert", str(src), str(tmp_path / "out"), "--push-to-hub", repo]) == 0
    assert "pushed to" in capsys.readouterr().out
    assert digest(i2i_models.load(repo)) == digest(i2i_models.load(src))


def test_image_dataset_round_trip_through_datasets(hub, tmp_path):
    import datasets
    from PIL import Image

    src = Path(__file__).parent.parent / "train" / "data" / "emoji_line2color"
    names = sorted(p.name for p in (src / "A" / "val").iterdir())[:4]
    ds = datasets.Dataset.from_dict(
        {"input": [str(src / "A" / "val" / n) for n in names], "target": [str(src / "B" / "val" / n) for n in names],
         "name": names},
        features=datasets.Features({"input": datasets.Image(), "target": datasets.Image(), "name": datasets.Value("string")}))
    repo = hub.repo_id("line2color")
    ds.push_to_hub(repo)
    back = datasets.load_dataset(repo, split="train", cache_dir=str(tmp_path / "dcache"))
    assert back["name"] == names
    for row, n in zip(back, names):
        assert row["input"].convert("RGB").tobytes() == Image.open(src / "A" / "val" / n).convert("RGB").tobytes()


@pytest.mark.parametrize("fault,error", [("wrong_etag", i2i_models.CorruptCheckpointError),
                                         ("truncate_body", i2i_models.DownloadError)])
def test_a_broken_server_makes_the_round_trip_fail(hub, fault, error):
    """The round-trip checks are not vacuous: a wrong ETag (the cache then serves config.json's bytes as
    model.safetensors) or a truncated body ends in a clear error, never in a silently wrong model."""
    repo = hub.repo_id(f"broken-{fault}")
    model = randomize_(CLASSES["cyclegan"](CONFIGS["cyclegan"]))
    model.push_to_hub(repo)
    hub.fault = fault
    with pytest.raises(error):
        i2i_models.load(repo)


def test_a_missing_repo_is_told_apart_from_an_unreachable_hub_in_seconds(hub, tmp_path):
    """One metadata request decides: a repo the Hub does not have fails at once ("was not found", one
    request); a Hub that cannot be reached fails in seconds ("could not be reached"), not after a minute of
    retries; neither leaves anything in the folder it would have downloaded into."""
    n = len(hub.request_log)
    t0 = time.time()
    with pytest.raises(i2i_models.ModelNotFoundError, match="was not found"):
        i2i_models.hub.download(hub.repo_id("nope"), local_dir=tmp_path / "into")
    assert time.time() - t0 < 5 and len(hub.request_log) - n == 1
    assert not (tmp_path / "into").exists()
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    env = dict(os.environ, HF_ENDPOINT=f"http://127.0.0.1:{dead}")
    code = "import i2i_models, time; t = time.time()\ntry:\n i2i_models.load('nobody/does-not-exist')\n" \
           "except i2i_models.ModelNotFoundError as e: print(round(time.time() - t, 1), e)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    took, _, msg = out.stdout.strip().partition(" ")
    assert "could not be reached" in msg and "nobody/does-not-exist" in msg and float(took) < 10, out.stdout + out.stderr


def test_hub_download_progress_and_cancel_leave_no_half_model(hub, tmp_path):
    from i2i_models import catalog

    repo = hub.repo_id("progress")
    model = randomize_(CLASSES["cyclegan"](CONFIGS["cyclegan"]))
    model.push_to_hub(repo)
    entry = catalog.hub_entry(repo, "cyclegan")

    class Cancel(Exception):
        pass

    def cancel(done, total):
        raise Cancel

    with pytest.raises(Cancel):
        catalog.fetch(entry, tmp_path, progress=cancel)
    assert not (tmp_path / "hub").exists()  # the repo folder (and the hub/ folder) this call made are gone
    seen = []
    folder = catalog.fetch(entry, tmp_path, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][0] == seen[-1][1] == (folder / "model.safetensors").stat().st_size
    assert digest(i2i_models.load(folder)) == digest(model)
    pinned = catalog.hub_entry(f"{repo}@main", "cyclegan")  # a revision gets its own folder
    assert catalog.fetch(pinned, tmp_path).name.endswith("@main")


def test_sources_that_look_local_are_reported_as_missing_paths_not_tried_on_the_hub(hub, tmp_path, monkeypatch):
    (tmp_path / "runs" / "pix2pix-demo").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    n = len(hub.request_log)
    for src, hint in (("runs/pix2pix-dem", "did you mean 'runs/pix2pix-demo'"), ("./nope", "not an existing file"),
                      ("runs/nope", "runs exists"), ("models/g.pth", "not an existing file"),
                      (str(tmp_path / "missing" / "x.pth"), "not an existing file")):
        with pytest.raises(i2i_models.ModelNotFoundError, match="not an existing file or folder") as e:
            i2i_models.load(src)
        assert hint in str(e.value), (src, str(e.value))
    assert len(hub.request_log) == n  # nothing was asked of the Hub
    with pytest.raises(i2i_models.ModelNotFoundError, match="taken for a Hub repo id.*was not found"):
        i2i_models.load("nobody/nothing")  # not local-looking: tried on the Hub, and the message says so
