"""End to end in a real ComfyUI: start ``main.py --cpu`` with this pack and a model folder mapped in by
``--extra-model-paths-config``, check ``/object_info`` lists our nodes with the right inputs, run every
shipped example workflow (converted from the UI format to the API format the way the frontend does) and
a 4096×4096 RGBA image through CycleGANTranslate, and check the output images.

Needs a ComfyUI checkout in ``COMFYUI_PATH`` (and its Python in ``COMFYUI_PYTHON``, default
``$COMFYUI_PATH/venv/bin/python``); skipped otherwise, saying so. The models the examples name are
stood in for by small random models of the same family and attributes (each workflow runs "once its
model is in the model folder"); the official-model example is served by a loopback HTTP server.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from PIL import Image

import i2i_models
from i2i_models.networks import StarGANDiscriminator, StarGANGenerator
from conftest import PARITY
from refnets import randomize_

ROOT = Path(__file__).resolve().parent.parent
COMFY = os.environ.get("COMFYUI_PATH")
pytestmark = pytest.mark.skipif(not COMFY or not Path(COMFY, "main.py").is_file(),
                                reason="no ComfyUI checkout: set COMFYUI_PATH (and COMFYUI_PYTHON) to run this test")
STAR_ATTRS = ["Man", "Woman", "Neutral", "Skin_Default", "Skin_Light", "Skin_Medium_Light", "Skin_Medium",
              "Skin_Medium_Dark", "Skin_Dark"]
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO", "COMFY_DYNAMICCOMBO_V3"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _models(folder: Path) -> None:
    """Stand-ins for the models the example workflows name."""
    p2p = i2i_models.Pix2PixModel({"domains": {"A": "line", "B": "color"}, "networks": {
        "generator": {"arch": "unet", "num_downs": 7, "ngf": 8, "norm": "batch", "upsample": "nearest"}}})
    randomize_(p2p).save(folder / "emoji-line2color-pix2pix")
    cg = i2i_models.CycleGANModel({"domains": {"A": "twemoji", "B": "noto"}, "networks": {
        "G_A": {"arch": "resnet", "ngf": 8, "n_blocks": 2}, "G_B": {"arch": "resnet", "ngf": 8, "n_blocks": 2}}})
    randomize_(cg).save(folder / "emoji-twemoji2noto-cyclegan")
    star = i2i_models.StarGANModel({"attributes": STAR_ATTRS, "attribute_groups": [STAR_ATTRS[:3], STAR_ATTRS[3:]],
                                    "networks": {"generator": StarGANGenerator(8, 9, 1).config,
                                                 "discriminator": StarGANDiscriminator(64, 8, 9, 5).config}})
    randomize_(star).save(folder / "emoji-people-stargan")


def ui_to_api(workflow: dict, object_info: dict) -> dict:
    """The frontend's graphToPrompt for our examples: widget values in input order, a DynamicCombo's nested
    widgets (named ``parent.child``) right after it, links as [node_id, slot]."""
    links = {link[0]: link for link in workflow["links"]}
    prompt = {}
    for node in workflow["nodes"]:
        info = object_info[node["type"]]
        values = list(node.get("widgets_values") or [])
        inputs: dict = {}
        linked = {i["name"]: links[i["link"]] for i in node["inputs"] if i.get("link") is not None}
        order = info.get("input_order") or {k: list(v) for k, v in info["input"].items() if k in ("required", "optional")}
        specs = {**info["input"].get("required", {}), **info["input"].get("optional", {})}
        for name in order.get("required", []) + order.get("optional", []):
            spec = specs[name]
            if name in linked:
                link = linked[name]
                inputs[name] = [str(link[1]), link[2]]
                continue
            kind = spec[0] if isinstance(spec[0], str) else "COMBO"
            if kind not in WIDGET_TYPES or not values:
                continue
            inputs[name] = values.pop(0)
            if kind == "COMFY_DYNAMICCOMBO_V3":
                option = next(o for o in spec[1]["options"] if o["key"] == inputs[name])
                for sub in list(option["inputs"].get("required", {})) + list(option["inputs"].get("optional", {})):
                    inputs[f"{name}.{sub}"] = values.pop(0)
            if name == "image" and node["type"] == "LoadImage" and values:
                values.pop(0)  # the "upload" widget
            if kind == "INT" and (name in ("seed", "noise_seed") or spec[1].get("control_after_generate")) and values:
                values.pop(0)  # the frontend's control_after_generate widget ("fixed", "randomize", …)
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt


@pytest.fixture(scope="module")
def comfy(tmp_path_factory):
    base = tmp_path_factory.mktemp("comfy")
    (base / "custom_nodes").mkdir()
    os.symlink(ROOT, base / "custom_nodes" / "comfyui-i2i-gans")
    models = base / "models" / "i2i_gans"
    models.mkdir(parents=True)
    _models(models)
    for d in ("input", "output", "temp", "user"):
        (base / d).mkdir()
    for f in (ROOT / "example_workflows").glob("*.png"):
        shutil.copy(f, base / "input" / f.name)
    www = base / "www" / "cyclegan" / "pretrained_models"
    www.mkdir(parents=True)
    shutil.copy(PARITY / "junyanz_resnet9_instance/latest_net_G_A.pth", www / "horse2zebra.pth")
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(base / "www"), **k)  # noqa: E731
    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=files.serve_forever, daemon=True).start()
    (base / "extra.yaml").write_text(f"i2i_e2e:\n    base_path: {base}\n    custom_nodes: custom_nodes\n"
                                     f"    i2i_gans: models/i2i_gans\n")
    port = _free_port()
    python = os.environ.get("COMFYUI_PYTHON") or str(Path(COMFY, "venv", "bin", "python"))
    env = dict(os.environ, I2I_GANS_OFFICIAL_URL=f"http://127.0.0.1:{files.server_address[1]}", HF_HUB_OFFLINE="1")
    log = open(base / "comfy.log", "w")
    proc = subprocess.Popen([python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port),
                             "--extra-model-paths-config", str(base / "extra.yaml"), "--input-directory", str(base / "input"),
                             "--output-directory", str(base / "output"), "--temp-directory", str(base / "temp"),
                             "--user-directory", str(base / "user"), "--disable-auto-launch"],
                            cwd=COMFY, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 240
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/object_info/I2I_LoadPix2Pix", timeout=2)
            break
        except Exception:
            if proc.poll() is not None:
                raise RuntimeError("ComfyUI exited:\n" + (base / "comfy.log").read_text()[-3000:])
            time.sleep(1)
    else:
        proc.kill()
        raise RuntimeError("ComfyUI did not start:\n" + (base / "comfy.log").read_text()[-3000:])
    yield {"url": url, "base": base, "log": base / "comfy.log"}
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    files.shutdown()


def _get(url):
    return json.loads(urllib.request.urlopen(url, timeout=30).read())


def _run(comfy, prompt: dict, timeout: float = 600) -> dict:
    req = urllib.request.Request(comfy["url"] + "/prompt", data=json.dumps({"prompt": prompt}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        pid = json.loads(urllib.request.urlopen(req).read())["prompt_id"]
    except urllib.error.HTTPError as e:
        raise AssertionError(e.read().decode()[:3000]) from None
    deadline = time.time() + timeout
    while time.time() < deadline:
        h = _get(f"{comfy['url']}/history/{pid}")
        if pid in h and h[pid]["status"].get("completed") is not None:
            status = h[pid]["status"]
            assert status["status_str"] == "success", json.dumps(status)[:3000] + comfy["log"].read_text()[-3000:]
            return h[pid]["outputs"]
        time.sleep(0.5)
    raise AssertionError("workflow timed out")


def test_pack_loads_and_lists_our_nodes(comfy):
    info = _get(comfy["url"] + "/object_info")
    for node in ("I2I_LoadPix2Pix", "I2I_Pix2PixTranslate", "I2I_LoadCycleGAN", "I2I_CycleGANTranslate", "I2I_StarGANEdit"):
        assert node in info and info[node]["category"] == "image/translation"
    log = comfy["log"].read_text()
    ours = [line for line in log.splitlines() if "comfyui-i2i-gans" in line]
    assert ours and not any("IMPORT FAILED" in line for line in ours), ours
    model = info["I2I_LoadCycleGAN"]["input"]["required"]["model"]
    options = {o["key"]: o for o in model[1]["options"]}
    assert options["emoji-twemoji2noto-cyclegan/"]["inputs"]["required"]["direction"][1]["options"] == \
        ["twemoji → noto", "noto → twemoji"]
    star = info["I2I_StarGANEdit"]["input"]["required"]["model"][1]["options"]
    sliders = next(o for o in star if o["key"] == "emoji-people-stargan/")["inputs"]["required"]
    assert list(sliders) == STAR_ATTRS and sliders["Woman"][0] == "FLOAT"


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "example_workflows").glob("*.json")))
def test_example_workflow_runs_as_shipped(comfy, name):
    wf = json.loads((ROOT / "example_workflows" / f"{name}.json").read_text())
    assert (ROOT / "example_workflows" / f"{name}.jpg").is_file(), "each example needs a same-name .jpg thumbnail"
    info = _get(comfy["url"] + "/object_info")
    outputs = _run(comfy, ui_to_api(wf, info))
    images = [i for o in outputs.values() for i in o.get("images", [])]
    assert images, outputs
    for i in images:
        out = Image.open(comfy["base"] / "output" / i["subfolder"] / i["filename"])
        src = next(n["widgets_values"][0] for n in wf["nodes"] if n["type"] == "LoadImage")
        assert out.size == Image.open(comfy["base"] / "input" / src).size


def test_4096_rgba_image_through_cyclegan_translate(comfy):
    big = Image.new("RGBA", (4096, 4096))
    g = torch.Generator().manual_seed(0)
    arr = (torch.rand(4096 // 64, 4096 // 64, 4, generator=g) * 255).to(torch.uint8).numpy()
    big = Image.fromarray(arr, "RGBA").resize((4096, 4096), Image.BILINEAR)
    big.save(comfy["base"] / "input" / "big_rgba.png")
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "big_rgba.png"}},
        "2": {"class_type": "I2I_LoadCycleGAN", "inputs": {"model": "emoji-twemoji2noto-cyclegan/",
                                                           "model.direction": "twemoji → noto"}},
        "3": {"class_type": "JoinImageWithAlpha", "inputs": {"image": ["1", 0], "alpha": ["1", 1]}},
        "4": {"class_type": "I2I_CycleGANTranslate", "inputs": {"cyclegan_model": ["2", 0], "image": ["3", 0]}},
        "5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": "big"}},
    }
    outputs = _run(comfy, prompt, timeout=900)
    img = outputs["5"]["images"][0]
    out = Image.open(comfy["base"] / "output" / img["subfolder"] / img["filename"])
    assert out.size == (4096, 4096) and out.mode == "RGBA"


def test_workflows_reload_in_the_real_frontend_with_values_intact(comfy):
    """Load each example into ComfyUI's own frontend (headless Chromium): our nodes' widgets (the StarGAN
    sliders included) come back with the saved values, re-serialise to the same ``widgets_values``, and the
    frontend's own prompt conversion gives what ``ui_to_api`` gives."""
    sync = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        pytest.skip("no chromium on this machine")
    info = _get(comfy["url"] + "/object_info")
    with sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page()
            page.goto(comfy["url"])
            page.wait_for_function("() => window.app && window.app.graph && window.app.graph._nodes !== undefined",
                                   timeout=120_000)
            for path in sorted((ROOT / "example_workflows").glob("*.json")):
                wf = json.loads(path.read_text())
                page.evaluate("async (wf) => { await window.app.loadGraphData(wf); }", wf)
                nodes = page.evaluate("() => window.app.graph.serialize().nodes")
                by_id = {n["id"]: n for n in nodes}
                for node in wf["nodes"]:
                    if node["type"].startswith("I2I_"):
                        assert by_id[node["id"]]["widgets_values"] == node["widgets_values"], (path.name, node["type"], by_id[node["id"]]["widgets_values"])
                widgets = page.evaluate("() => window.app.graph._nodes.map(n => [n.type, (n.widgets || []).map(w => [w.name, w.value])])")
                for ntype, ws in widgets:
                    if ntype == "I2I_StarGANEdit":
                        values = dict(ws)
                        assert values["model"] == "emoji-people-stargan/"
                        assert values["model.Woman"] == 1.0 and values["model.Skin_Dark"] == 1.0 and values["model.Man"] == 0.0
                prompt = page.evaluate("async () => (await window.app.graphToPrompt()).output")
                ours = ui_to_api(wf, info)
                for nid, entry in ours.items():
                    if entry["class_type"].startswith("I2I_"):
                        assert prompt[nid]["inputs"] == entry["inputs"], (path.name, entry["class_type"])
        finally:
            browser.close()
