"""End to end in a real ComfyUI and its frontend: start ``main.py --cpu`` with this pack and a model folder
mapped in by ``--extra-model-paths-config``; check ``/object_info``; run every shipped example workflow
(with the models that ship with the pack) and a 4096×4096 RGBA image; load workflows in ComfyUI's own
frontend in headless Chromium; and the paths people take next: a shared workflow whose model is missing,
a mistyped Hub id, downloads with progress and Cancel, 50 prompts and *Free model and node cache*.

Needs a ComfyUI checkout in ``COMFYUI_PATH`` (and its Python in ``COMFYUI_PYTHON``, default
``$COMFYUI_PATH/venv/bin/python``; ``../shared/comfyui/setup.sh DEST`` builds one), plus Python
``playwright`` and a ``chromium`` for the frontend tests. Skipped without them, saying so - except in CI
(``CI=true``), where a missing ComfyUI, playwright or chromium fails the run.

The official-model server is a loopback HTTP server (its ``/slow/`` files trickle out, for Cancel) and
the Hub is ``tests/hubserver.py``.
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
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import i2i_models
from conftest import DATA, PARITY
from refnets import randomize_

ROOT = Path(__file__).resolve().parent.parent
COMFY = os.environ.get("COMFYUI_PATH")
IN_CI = os.environ.get("CI", "").lower() == "true"
HAVE_COMFY = bool(COMFY) and Path(COMFY or ".", "main.py").is_file()
pytestmark = pytest.mark.skipif(not HAVE_COMFY and not IN_CI,
                                reason="no ComfyUI checkout: set COMFYUI_PATH (and COMFYUI_PYTHON) to run this test")
STAR_ATTRS = ["Man", "Woman", "Neutral", "Skin_Default", "Skin_Light", "Skin_Medium_Light", "Skin_Medium",
              "Skin_Medium_Dark", "Skin_Dark"]
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO", "COMFY_DYNAMICCOMBO_V3"}
LEGACY = Path(__file__).parent / "data" / "workflows_v0_1"
HD = DATA / "parity_nvidia"
SLOW_BYTES_PER_S = 256 << 10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _models(folder: Path) -> None:
    """A tiny CycleGAN for the 4096² test, and a valid loose weights file at the folder's top: the file a
    workflow naming a missing model used to run instead."""
    cg = i2i_models.CycleGANModel({"domains": {"A": "a", "B": "b"}, "networks": {
        "G_A": {"arch": "resnet", "ngf": 8, "n_blocks": 2}, "G_B": {"arch": "resnet", "ngf": 8, "n_blocks": 2}}})
    randomize_(cg).save(folder / "tiny-cyclegan")
    cond = i2i_models.CycleGANModel({"domains": {"A": "a", "B": "b"}, "networks": {
        "generator": {"arch": "resnet", "ngf": 8, "n_blocks": 2, "c_dim": 1}}})  # train.cyclegan --conditional
    randomize_(cond).save(folder / "tiny-strength")
    shutil.copy(PARITY / "junyanz_resnet9_instance/latest_net_G_A.pth", folder / "loose_net_G.pth")
    (folder / "label2city").mkdir()  # an NVIDIA pix2pixHD label-map model (6 classes + instance edges)
    shutil.copy(HD / "nvidia_global_label6_inst/latest_net_G.pth", folder / "label2city" / "latest_net_G.pth")


def ui_to_api(workflow: dict, object_info: dict) -> dict:
    """The frontend's graphToPrompt for our examples: widget values in input order, a DynamicCombo's nested
    widgets (named ``parent.child``) right after it, links as [node_id, slot]; our widgets added after the
    workflow was saved get their defaults."""
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
            if kind not in WIDGET_TYPES or (len(spec) > 1 and spec[1].get("forceInput")):
                continue
            if not values:  # a widget added after the workflow was saved: the frontend gives it its default
                if len(spec) > 1 and "default" in spec[1] and node["type"].startswith("I2I_"):
                    inputs[name] = spec[1]["default"]
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


class _Files(http.server.SimpleHTTPRequestHandler):
    """Static files; the paths in ``slow`` trickle out at SLOW_BYTES_PER_S (for the Cancel test)."""

    slow: set[str] = set()

    def log_message(self, *a):
        pass

    def copyfile(self, source, outputfile):
        if self.path not in self.slow:
            return super().copyfile(source, outputfile)
        while chunk := source.read(16 << 10):
            try:
                outputfile.write(chunk)
                outputfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                return
            time.sleep((16 << 10) / SLOW_BYTES_PER_S)


@pytest.fixture(scope="module")
def comfy(tmp_path_factory):
    if not HAVE_COMFY:
        pytest.fail("CI=true but COMFYUI_PATH does not point at a ComfyUI checkout: .ci/run builds one with "
                    "../shared/comfyui/setup.sh")
    from hubserver import HubServer

    base = tmp_path_factory.mktemp("comfy")
    (base / "custom_nodes").mkdir()
    os.symlink(ROOT, base / "custom_nodes" / "comfyui-i2i-gans")
    models = base / "models" / "i2i_gans"
    models.mkdir(parents=True)
    _models(models)
    for d in ("input", "output", "temp", "user", "hf"):
        (base / d).mkdir()
    for f in (ROOT / "example_workflows").glob("*.png"):
        shutil.copy(f, base / "input" / f.name)
    www = base / "www" / "cyclegan" / "pretrained_models"
    www.mkdir(parents=True)
    for name in ("horse2zebra", "style_monet"):
        shutil.copy(PARITY / "junyanz_resnet9_instance/latest_net_G_A.pth", www / f"{name}.pth")
    www = base / "www"
    handler = lambda *a, **k: _Files(*a, directory=str(www), **k)  # noqa: E731
    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    files.daemon_threads = True
    threading.Thread(target=files.serve_forever, daemon=True).start()
    hub = HubServer(("127.0.0.1", 0), base / "hub-data").start()
    (base / "extra.yaml").write_text(f"i2i_e2e:\n    base_path: {base}\n    custom_nodes: custom_nodes\n"
                                     f"    i2i_gans: models/i2i_gans\n")
    port = _free_port()
    python = os.environ.get("COMFYUI_PYTHON") or str(Path(COMFY, "venv", "bin", "python"))
    env = dict(os.environ, I2I_GANS_OFFICIAL_URL=f"http://127.0.0.1:{files.server_address[1]}",
               HF_ENDPOINT=hub.endpoint, HF_HOME=str(base / "hf"), HF_HUB_DISABLE_XET="1", HF_TOKEN="hf_test_token")
    env.pop("HF_HUB_OFFLINE", None)
    log = open(base / "comfy.log", "w")
    proc = subprocess.Popen([python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port), "--verbose", "DEBUG",
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
    yield {"url": url, "base": base, "log": base / "comfy.log", "pid": proc.pid, "models": models, "hub": hub,
           "port": port}
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    files.shutdown()
    hub.stop()


def _get(url):
    return json.loads(urllib.request.urlopen(url, timeout=30).read())


def _post(url, data: dict):
    req = urllib.request.Request(url, data=json.dumps(data).encode(), headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(req, timeout=30).read()


def _queue(comfy, prompt: dict, extra_data: dict | None = None, client_id: str | None = None) -> str:
    body = {"prompt": prompt, **({"extra_data": extra_data} if extra_data else {}), **({"client_id": client_id} if client_id else {})}
    try:
        return json.loads(_post(comfy["url"] + "/prompt", body))["prompt_id"]
    except urllib.error.HTTPError as e:
        raise AssertionError(e.read().decode()[:3000]) from None


def _wait(comfy, pid: str, timeout: float = 600) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        h = _get(f"{comfy['url']}/history/{pid}")
        if pid in h and h[pid]["status"].get("completed") is not None:
            return h[pid]
        time.sleep(0.2)
    raise AssertionError("workflow timed out")


def _run(comfy, prompt: dict, timeout: float = 600) -> dict:
    h = _wait(comfy, _queue(comfy, prompt), timeout)
    status = h["status"]
    assert status["status_str"] == "success", json.dumps(status)[:3000] + comfy["log"].read_text()[-3000:]
    return h["outputs"]


def _error(history: dict) -> str:
    """The exception message ComfyUI recorded for a failed prompt."""
    assert history["status"]["status_str"] == "error", json.dumps(history["status"])[:2000]
    msgs = [m[1] for m in history["status"]["messages"] if m[0] == "execution_error"]
    assert msgs, history["status"]["messages"]
    return msgs[0]["exception_message"]


def _example(name: str, folder: Path = ROOT / "example_workflows") -> dict:
    return json.loads((folder / f"{name}.json").read_text())


# ------------------------------------------------------------------------------------------- the happy path
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
    # the three loaders offer Hub repos the same way: a "Hub repo…" entry with a repo_id field
    for node, name in (("I2I_LoadPix2Pix", "model_name"), ("I2I_LoadCycleGAN", "model"), ("I2I_StarGANEdit", "model")):
        opts = {o["key"]: o for o in info[node]["input"]["required"][name][1]["options"]}
        assert "repo_id" in opts["Hub repo…"]["inputs"]["required"], node


@pytest.mark.parametrize("name", sorted(p.stem for p in (ROOT / "example_workflows").glob("*.json")))
def test_example_workflow_runs_as_shipped(comfy, name):
    wf = _example(name)
    assert (ROOT / "example_workflows" / f"{name}.jpg").is_file(), "each example needs a same-name .jpg thumbnail"
    for node in wf["nodes"]:  # a shared example carries where to get its model
        if node["type"] in ("I2I_LoadPix2Pix", "I2I_LoadCycleGAN", "I2I_StarGANEdit"):
            meta = node["properties"]["i2i_gans"]
            assert meta["model"] == node["widgets_values"][0] and meta["source"]["url"].startswith("http")
    info = _get(comfy["url"] + "/object_info")
    outputs = _run(comfy, ui_to_api(wf, info))
    images = [i for o in outputs.values() for i in o.get("images", [])]
    assert images, outputs
    for i in images:
        out = Image.open(comfy["base"] / "output" / i["subfolder"] / i["filename"])
        src = next(n["widgets_values"][0] for n in wf["nodes"] if n["type"] == "LoadImage")
        assert out.size == Image.open(comfy["base"] / "input" / src).size


@pytest.mark.slow
def test_4096_rgba_image_through_cyclegan_translate(comfy):
    g = torch.Generator().manual_seed(0)
    arr = (torch.rand(4096 // 64, 4096 // 64, 4, generator=g) * 255).to(torch.uint8).numpy()
    big = Image.fromarray(arr, "RGBA").resize((4096, 4096), Image.BILINEAR)
    big.save(comfy["base"] / "input" / "big_rgba.png")
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "big_rgba.png"}},
        "2": {"class_type": "I2I_LoadCycleGAN", "inputs": {"model": "tiny-cyclegan/", "model.direction": "a → b"}},
        "3": {"class_type": "JoinImageWithAlpha", "inputs": {"image": ["1", 0], "alpha": ["1", 1]}},
        "4": {"class_type": "I2I_CycleGANTranslate", "inputs": {"cyclegan_model": ["2", 0], "image": ["3", 0]}},
        "5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": "big"}},
    }
    outputs = _run(comfy, prompt, timeout=900)
    img = outputs["5"]["images"][0]
    out = Image.open(comfy["base"] / "output" / img["subfolder"] / img["filename"])
    assert out.size == (4096, 4096) and out.mode == "RGBA"


def test_cyclegan_strength_runs_in_comfyui(comfy):
    """The strength control in a real ComfyUI: 0 gives back the input (to the 8-bit step), a strength-controlled
    model translates partially, a two-generator model refuses 0.5 with an error naming --conditional, and
    ComfyUI keeps running."""
    src = Image.fromarray((np.random.default_rng(0).random((48, 40, 3)) * 255).astype(np.uint8))
    src.save(comfy["base"] / "input" / "strength_src.png")

    def prompt(model, direction, strength, prefix):
        return {"1": {"class_type": "LoadImage", "inputs": {"image": "strength_src.png"}},
                "2": {"class_type": "I2I_LoadCycleGAN", "inputs": {"model": model, "model.direction": direction}},
                "3": {"class_type": "I2I_CycleGANTranslate", "inputs": {"cyclegan_model": ["2", 0], "image": ["1", 0],
                                                                        "strength": strength}},
                "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": prefix}}}

    def result(outputs):
        img = outputs["4"]["images"][0]
        return np.asarray(Image.open(comfy["base"] / "output" / img["subfolder"] / img["filename"]).convert("RGB")).astype(int)

    x = np.asarray(src).astype(int)
    zero = result(_run(comfy, prompt("tiny-strength/", "a → b", 0.0, "s0")))
    assert np.abs(zero - x).max() <= 1
    half = result(_run(comfy, prompt("tiny-strength/", "a → b", 0.5, "s05")))
    full = result(_run(comfy, prompt("tiny-strength/", "a → b", 1.0, "s1")))
    assert np.abs(half - full).mean() > 1 and np.abs(half - x).mean() > 1
    h = _wait(comfy, _queue(comfy, prompt("tiny-cyclegan/", "a → b", 0.5, "s2")))
    assert "--conditional" in _error(h)
    assert np.abs(result(_run(comfy, prompt("tiny-cyclegan/", "a → b", 0.0, "s3"))) - x).max() <= 1


# ------------------------------------------------------------------------------------------- missing models
def test_a_pix2pixhd_label_map_model_runs_on_label_pngs(comfy):
    """NVIDIA's label-map generator in the real server: Load Image of a label PNG as the image, the instance
    PNG through Convert Image to Mask; the saved result equals NVIDIA's forward (8-bit rounding)."""
    t = {k: torch.load(HD / "nvidia_global_label6_inst" / f"{k}.pt", weights_only=True)
         for k in ("label", "instance", "output_eval")}
    Image.fromarray(t["label"][0].numpy()).save(comfy["base"] / "input" / "hd_label.png")
    Image.fromarray(t["instance"][0].numpy().astype(np.uint8)).save(comfy["base"] / "input" / "hd_inst.png")
    prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": "hd_label.png"}},
              "2": {"class_type": "LoadImage", "inputs": {"image": "hd_inst.png"}},
              "3": {"class_type": "ImageToMask", "inputs": {"image": ["2", 0], "channel": "red"}},
              "4": {"class_type": "I2I_LoadPix2Pix", "inputs": {"model_name": "label2city/"}},
              "5": {"class_type": "I2I_Pix2PixTranslate", "inputs": {"pix2pix_model": ["4", 0], "image": ["1", 0],
                                                                     "instance_map": ["3", 0]}},
              "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "hd"}}}
    outputs = _run(comfy, prompt)
    img = next(i for o in outputs.values() for i in o.get("images", []))
    got = np.asarray(Image.open(comfy["base"] / "output" / img["subfolder"] / img["filename"]).convert("RGB"))
    want = ((t["output_eval"][0].permute(1, 2, 0) + 1) / 2 * 255).round().clamp(0, 255).to(torch.uint8).numpy()
    assert got.shape == want.shape and np.abs(got.astype(int) - want.astype(int)).max() <= 1


def _missing_prompts(key_suffix: str) -> dict[str, dict]:
    img = {"class_type": "LoadImage", "inputs": {"image": "i2i_twemoji.png"}}
    return {
        "cyclegan": {"1": img, "2": {"class_type": "I2I_LoadCycleGAN", "inputs": {
            "model": f"someone-elses-cyclegan{key_suffix}/", "model.direction": "photo → monet"}},
            "3": {"class_type": "I2I_CycleGANTranslate", "inputs": {"cyclegan_model": ["2", 0], "image": ["1", 0]}},
            "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "missing"}}},
        "pix2pix": {"1": img, "2": {"class_type": "I2I_LoadPix2Pix", "inputs": {"model_name": f"my-run{key_suffix}/"}},
                    "3": {"class_type": "I2I_Pix2PixTranslate", "inputs": {"pix2pix_model": ["2", 0], "image": ["1", 0]}},
                    "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "missing"}}},
        "stargan": {"1": img, "2": {"class_type": "I2I_StarGANEdit", "inputs": {
            "image": ["1", 0], "model": f"faces{key_suffix}/", "model.Smile": 1.0, "working_size": "image"}},
            "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "missing"}}},
    }


@pytest.mark.parametrize("family", ["cyclegan", "pix2pix", "stargan"])
def test_a_missing_model_is_an_error_that_names_it_never_another_model(comfy, family):
    """The model folder holds a valid loose weights file (``loose_net_G.pth``); a prompt naming a model that
    is not installed used to run with it. Now it fails, naming the model, the folders and how to get it
    (from the workflow's metadata when the frontend sent it along)."""
    prompt = _missing_prompts("")[family]
    key = next(v for n in prompt.values() for k, v in n["inputs"].items() if k in ("model", "model_name"))
    h = _wait(comfy, _queue(comfy, prompt))
    msg = _error(h)
    assert key in msg and "not installed" in msg and str(comfy["models"]) in msg, msg
    assert not any(o.get("images") for o in h["outputs"].values())
    # with the workflow (as the frontend sends it): the message says where the model comes from
    loader = next(k for k, n in prompt.items() if n["class_type"].startswith("I2I_") and "Translate" not in n["class_type"])
    wf = {"nodes": [{"id": int(loader), "type": prompt[loader]["class_type"], "properties": {"i2i_gans": {
        "model": key, "family": family, "source": {"repo_id": "someone/their-model", "url": "https://hub.example/someone"}}}}]}
    msg = _error(_wait(comfy, _queue(comfy, _missing_prompts("-2")[family] | {}, {"extra_pnginfo": {"workflow": wf}})))
    assert "not installed" in msg  # the -2 key is not the one the metadata describes: no made-up source
    prompt2 = json.loads(json.dumps(prompt))
    msg = _error(_wait(comfy, _queue(comfy, prompt2, {"extra_pnginfo": {"workflow": wf}})))
    assert key in msg and "someone/their-model" in msg and "Hub repo…" in msg, msg


@pytest.fixture(scope="module")
def browser(comfy):
    try:
        sync = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
    except pytest.skip.Exception:
        if IN_CI:
            pytest.fail("CI=true but the Python package playwright is not installed (.ci/run installs it)")
        raise
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        if IN_CI:
            pytest.fail("CI=true but there is no chromium (.ci/run installs Debian's chromium)")
        pytest.skip("no chromium on this machine")
    with sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        page = b.new_page(viewport={"width": 1600, "height": 1000})
        for key, value in (("Comfy.TutorialCompleted", True), ("Comfy.Workflow.ShowMissingModelsWarning", True)):
            _post(f"{comfy['url']}/settings/{key}", value)  # no first-run template browser over the canvas
        page.goto(comfy["url"])
        page.wait_for_function("() => window.app && window.app.graph && window.app.graph._nodes !== undefined",
                               timeout=120_000)
        page.wait_for_function("() => window.app.extensionManager !== undefined", timeout=60_000)
        try:
            yield page
        finally:
            b.close()


def _load(page, wf: dict) -> list[dict]:
    page.evaluate("async (wf) => { await window.app.loadGraphData(wf); }", wf)
    return page.evaluate("() => window.app.graph.serialize().nodes")


# optional widgets added to a node after release, in order, with their defaults
ADDED_WIDGETS = {"I2I_CycleGANTranslate": [("backend", "auto"), ("strength", 1.0)],
                 "I2I_Pix2PixTranslate": [("backend", "auto")]}


def test_workflows_reload_in_the_real_frontend_with_values_intact(comfy, browser):
    """Load each example, and each workflow as the previous release shipped it, into ComfyUI's own frontend:
    our nodes' widgets (the StarGAN sliders included) come back with the saved values, re-serialise to the
    same ``widgets_values`` (a pix2pix hub_repo widget of old moves into the model list's Hub entry), and the
    frontend's own prompt conversion gives what ``ui_to_api`` gives."""
    page = browser
    info = _get(comfy["url"] + "/object_info")
    for path in sorted((ROOT / "example_workflows").glob("*.json")) + sorted(LEGACY.glob("*.json")):
        wf = json.loads(path.read_text())
        by_id = {n["id"]: n for n in _load(page, wf)}
        for node in wf["nodes"]:
            if node["type"].startswith("I2I_"):
                saved = node["widgets_values"]
                if node["type"] == "I2I_LoadPix2Pix" and len(saved) == 2 and saved[1] == "":
                    saved = saved[:1]  # the empty legacy hub_repo widget is now an input socket
                got = by_id[node["id"]]["widgets_values"]
                # widgets added after the workflow was saved come last, with their defaults
                added = [v for name, v in ADDED_WIDGETS.get(node["type"], [])][:max(0, len(got) - len(saved))]
                assert got == saved + added, (path.name, node["type"], got)
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
                expected = {k: v for k, v in entry["inputs"].items() if k != "hub_repo"}
                got = {k: v for k, v in prompt[nid]["inputs"].items() if k != "hub_repo"}
                assert got == expected, (path.name, entry["class_type"])
    # the strength control round-trips: saved at 0.35, it reloads at 0.35 and reaches the prompt
    wf = _example("cyclegan_twemoji2noto")
    tr = next(n for n in wf["nodes"] if n["type"] == "I2I_CycleGANTranslate")
    tr["widgets_values"] = [False, "image", "auto", "auto", 0.35]
    node = next(n for n in _load(page, wf) if n["type"] == "I2I_CycleGANTranslate")
    assert node["widgets_values"] == [False, "image", "auto", "auto", 0.35]
    prompt = page.evaluate("async () => (await window.app.graphToPrompt()).output")
    assert prompt[str(tr["id"])]["inputs"]["strength"] == 0.35
    assert ui_to_api(wf, info)[str(tr["id"])]["inputs"]["strength"] == 0.35
    # a workflow of the previous release that typed a Hub repo into the pix2pix hub_repo widget
    wf = json.loads((LEGACY / "pix2pix_line2color.json").read_text())
    loader = next(n for n in wf["nodes"] if n["type"] == "I2I_LoadPix2Pix")
    loader["widgets_values"] = ["emoji-line2color-pix2pix/", "org/their-pix2pix"]
    node = next(n for n in _load(page, wf) if n["type"] == "I2I_LoadPix2Pix")
    assert node["widgets_values"] == ["Hub repo…", "org/their-pix2pix"]
    # a typed Hub repo comes back (the frontend alone loses a DynamicCombo's text child on load)
    for example, node_type, values in (("cyclegan_twemoji2noto", "I2I_LoadCycleGAN", ["Hub repo…", "org/cg", "B → A"]),
                                       ("stargan_edit_people", "I2I_StarGANEdit",
                                        ["Hub repo…", "org/sg", "Smile=1", "", "image", "fp32"])):
        wf = _example(example)
        next(n for n in wf["nodes"] if n["type"] == node_type)["widgets_values"] = values
        node = next(n for n in _load(page, wf) if n["type"] == node_type)
        assert node["widgets_values"] == values, (example, node["widgets_values"])


@pytest.mark.parametrize("example,node_type", [("stargan_edit_people", "I2I_StarGANEdit"),
                                               ("cyclegan_twemoji2noto", "I2I_LoadCycleGAN")])
def test_a_shared_workflow_whose_model_is_missing_keeps_its_values_and_says_how_to_get_it(comfy, browser, example,
                                                                                          node_type):
    """A receiver without the model: the workflow loads with every value where it was saved (ComfyUI would
    shift the sliders' values into the widgets after them), a toast names the model and where to get it,
    the workflow saves back unchanged, and running it fails with an error that names the model and the
    Hub repo the workflow says it comes from."""
    page = browser
    wf = _example(example)
    node = next(n for n in wf["nodes"] if n["type"] == node_type)
    key = "their-" + node["widgets_values"][0]
    node["widgets_values"][0] = key
    node["properties"]["i2i_gans"].update(model=key, source={"repo_id": "someone/their-model",
                                                             "url": "https://huggingface.co/someone/their-model"})
    page.evaluate("() => document.querySelectorAll('.p-toast-message').forEach(e => e.remove())")
    nodes = _load(page, wf)
    back = next(n for n in nodes if n["id"] == node["id"])
    assert back["widgets_values"] == node["widgets_values"]
    assert back["properties"]["i2i_gans"]["source"]["repo_id"] == "someone/their-model"
    page.wait_for_function("() => Array.from(document.querySelectorAll('.p-toast-message')).some(e => e.innerText.includes('Missing i2i_gans'))",
                           timeout=10_000)
    toast = page.evaluate("() => Array.from(document.querySelectorAll('.p-toast-message')).map(e => e.innerText).join('\\n')")
    assert key in toast and "someone/their-model" in toast, toast
    n_before = len(_get(comfy["url"] + "/history"))
    page.evaluate("async () => { await window.app.queuePrompt(0, 1); }")
    deadline = time.time() + 60
    while time.time() < deadline and len(h := _get(comfy["url"] + "/history")) == n_before:
        time.sleep(0.3)
    newest = max(h.values(), key=lambda e: e["prompt"][0])
    while newest["status"].get("completed") is None and time.time() < deadline:
        time.sleep(0.3)
        newest = _get(comfy["url"] + f"/history/{newest['prompt'][1]}")[newest["prompt"][1]]
    msg = _error(newest)
    assert key in msg and "someone/their-model" in msg, msg


def _close_popups(page) -> None:
    """Close dialogs (e.g. an execution error) and toasts left by earlier tests."""
    for _ in range(3):
        if not page.evaluate("() => !!document.querySelector('.p-dialog-mask')"):
            break
        page.evaluate("() => document.querySelector('.p-dialog-mask button[aria-label=Close], .p-dialog-mask .p-dialog-close-button')?.click()")
        page.wait_for_timeout(300)
        if page.evaluate("() => !!document.querySelector('.p-dialog-mask')"):
            page.keyboard.press("Escape")
            page.wait_for_timeout(300)
    page.evaluate("() => document.querySelectorAll('.p-toast-message').forEach(e => e.remove())")


def _hover_tooltip(page, node_type: str, widget: str) -> str:
    _close_popups(page)
    pos = page.evaluate("""([type, name]) => {
        const c = window.app.canvas; const n = window.app.graph._nodes.find(n => n.type == type);
        const w = n.widgets.find(w => w.name == name);
        c.ds.scale = 1; c.ds.offset = [400 - n.pos[0], 250 - n.pos[1]]; c.setDirty(true, true);
        const p = c.ds.convertOffsetToCanvas([n.pos[0] + n.size[0] / 2, n.pos[1] + w.y + 10]);
        const r = c.canvas.getBoundingClientRect();
        return [r.left + p[0], r.top + p[1]];
    }""", [node_type, widget])
    page.mouse.move(10, 10)
    page.mouse.move(pos[0] - 5, pos[1])
    page.mouse.move(*pos)
    under = page.evaluate("([x, y]) => { const e = document.elementFromPoint(x, y); return e?.tagName == 'CANVAS' ? 'CANVAS' : e?.outerHTML?.slice(0, 300); }", pos)
    if under != "CANVAS":
        page.screenshot(path=str(Path(os.environ.get("I2I_E2E_SHOTS", "/tmp")) / "i2i_tooltip_covered.png"))
    assert under == "CANVAS", f"the widget is covered by {under} at {pos}"
    try:
        page.wait_for_function("() => document.querySelector('.node-tooltip')?.innerText?.length > 3", timeout=5_000)
    except Exception:
        return ""
    return page.evaluate("() => document.querySelector('.node-tooltip').innerText")


def test_what_a_slider_does_shows_where_the_artist_looks(comfy, browser):
    """Hovering a StarGAN slider (or CycleGAN's direction) shows what it does. The frontend shows no
    tooltip of its own for a DynamicCombo's child widgets (measured below by removing ours)."""
    page = browser
    _load(page, _example("stargan_edit_people"))
    tip = _hover_tooltip(page, "I2I_StarGANEdit", "model.Woman")
    assert "0 keeps" in tip and "+1 turns it fully on" in tip, tip
    page.evaluate("() => { for (const w of window.app.graph._nodes.find(n => n.type == 'I2I_StarGANEdit').widgets) "
                  "if (w.name.startsWith('model.')) delete w.tooltip; }")
    assert _hover_tooltip(page, "I2I_StarGANEdit", "model.Skin_Dark") == ""  # the frontend's own limit
    _load(page, _example("cyclegan_twemoji2noto"))
    assert "Which way to translate" in _hover_tooltip(page, "I2I_LoadCycleGAN", "model.direction")


# ------------------------------------------------------------------------------------------- the Hub and downloads
def test_a_mistyped_hub_repo_fails_fast_and_leaves_nothing(comfy):
    prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": "i2i_twemoji.png"}},
              "2": {"class_type": "I2I_LoadCycleGAN", "inputs": {"model": "Hub repo…", "model.repo_id": "nobody/does-not-exist",
                                                                 "model.direction": "A → B"}},
              "3": {"class_type": "I2I_CycleGANTranslate", "inputs": {"cyclegan_model": ["2", 0], "image": ["1", 0]}},
              "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": "typo"}}}
    t0 = time.time()
    msg = _error(_wait(comfy, _queue(comfy, prompt)))
    took = time.time() - t0
    assert "nobody/does-not-exist" in msg and "was not found" in msg and took < 10, (took, msg)
    assert not (comfy["models"] / "hub").exists()
    print(f"\nmistyped Hub id: error after {took:.1f} s")


def _ws(comfy):
    websocket = pytest.importorskip("websocket", reason="websocket-client is not installed")
    cid = f"e2e-{time.time_ns()}"
    ws = websocket.create_connection(f"ws://127.0.0.1:{comfy['port']}/ws?clientId={cid}", timeout=60)
    return ws, cid


def test_downloads_show_progress_and_stop_on_cancel(comfy):
    """A listed official model downloads with a progress bar on the loader; Cancel stops it part-way and
    leaves no file behind; a full download lands and is found again without the network."""
    ws, cid = _ws(comfy)
    prompt = {"2": {"class_type": "I2I_LoadCycleGAN", "inputs": {"model": "official/cyclegan/style_monet",
                                                                 "model.direction": "photo → monet"}},
              "3": {"class_type": "PreviewAny", "inputs": {"source": ["2", 0]}}}
    target = comfy["models"] / "official" / "cyclegan"
    _Files.slow = {"/cyclegan/pretrained_models/style_monet.pth"}
    try:
        pid = _queue(comfy, prompt, client_id=cid)
        progress = []
        while len(progress) < 2:
            msg = json.loads(ws.recv())
            if msg["type"] == "progress" and msg["data"].get("prompt_id") == pid:
                progress.append((msg["data"]["value"], msg["data"]["max"]))
        assert 0 < progress[-1][0] < progress[-1][1], progress
        t0 = time.time()
        _post(comfy["url"] + "/interrupt", {})
        h = _wait(comfy, pid, 60)
        took = time.time() - t0
        assert any(m[0] == "execution_interrupted" for m in h["status"]["messages"]), h["status"]["messages"]
        assert not target.exists() or not list(target.glob("style_monet*"))  # no .part, no .pth
        print(f"\ncancelled a download at {progress[-1][0]} of {progress[-1][1]} bytes; stopped after {took:.1f} s")
    finally:
        _Files.slow = set()
        ws.close()
    ws, cid = _ws(comfy)
    try:
        pid = _queue(comfy, prompt, client_id=cid)
        maxima = []
        while True:
            msg = json.loads(ws.recv())
            if msg["type"] == "progress" and msg["data"].get("prompt_id") == pid:
                maxima.append((msg["data"]["value"], msg["data"]["max"]))
            if msg["type"] == "executing" and msg["data"].get("node") is None and msg["data"].get("prompt_id") == pid:
                break
        assert _wait(comfy, pid)["status"]["status_str"] == "success"
        size = (PARITY / "junyanz_resnet9_instance/latest_net_G_A.pth").stat().st_size
        assert maxima and maxima[-1] == (size, size), maxima[-3:]
        assert [p.name for p in target.glob("style_monet*")] == ["style_monet.pth"]
    finally:
        ws.close()


# ------------------------------------------------------------------------------------------- memory
def _rss_mib(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2 ** 20


@pytest.mark.slow
def test_fifty_prompts_leak_nothing_and_free_releases_our_models(comfy):
    """50 prompts alternating the three example workflows (each loads its model anew: the previous prompt's
    loader output is dropped): no "memory leak" warning from ComfyUI's model management, the process's
    memory stays bounded, and *Free model and node cache* (``POST /free``) unloads our models and brings the
    memory back near its level before the first of these prompts."""
    info = _get(comfy["url"] + "/object_info")
    prompts = [ui_to_api(_example(n), info) for n in ("pix2pix_line2color", "cyclegan_twemoji2noto", "stargan_edit_people")]
    _post(comfy["url"] + "/free", {"unload_models": True, "free_memory": True})
    time.sleep(12)  # ComfyUI collects garbage at most every 10 s
    log_start = len(comfy["log"].read_text())
    before = _rss_mib(comfy["pid"])
    peak = before
    t0 = time.time()
    for i in range(50):
        _run(comfy, prompts[i % 3])
        peak = max(peak, _rss_mib(comfy["pid"]))
    took = time.time() - t0
    after_prompts = _rss_mib(comfy["pid"])
    log = comfy["log"].read_text()[log_start:]
    assert "memory leak" not in log, [line for line in log.splitlines() if "memory leak" in line][:5]
    assert log.count("Requested to load") >= 50  # each prompt really loaded its model through ComfyUI
    _post(comfy["url"] + "/free", {"unload_models": True, "free_memory": True})
    time.sleep(12)
    after_free = _rss_mib(comfy["pid"])
    log = comfy["log"].read_text()[log_start:]
    unloaded = [line for line in log.splitlines() if line.startswith("Unloading ") and "Model" in line]
    assert any(m in " ".join(unloaded) for m in ("Pix2PixModel", "CycleGANModel", "StarGANModel")), unloaded[-5:]
    print(f"\n50 prompts in {took:.0f} s; RSS before {before:.0f} MiB, peak {peak:.0f} MiB, after the prompts "
          f"{after_prompts:.0f} MiB, after POST /free {after_free:.0f} MiB")
    assert peak - before < 400, (before, peak)
    assert after_free - before < 60, (before, after_free)


# ------------------------------------------------------------------------------------------- soak
def _with_image(prompt: dict, image: str, batch: int) -> dict:
    """An example's API prompt reading ``image`` from ComfyUI's input folder, repeated into a batch."""
    p = json.loads(json.dumps(prompt))
    load = next(k for k, n in p.items() if n["class_type"] == "LoadImage")
    p[load]["inputs"]["image"] = image
    if batch > 1:
        p["900"] = {"class_type": "RepeatImageBatch", "inputs": {"image": [load, 0], "amount": batch}}
        for n in p.values():
            for k, v in n["inputs"].items():
                if v == [load, 0] and n is not p["900"]:
                    n["inputs"][k] = ["900", 0]
    return p


@pytest.mark.slow
def test_soak_300_prompts_sizes_batches_cancels_and_unloads(comfy):
    """300 prompts mixing the three families on random images (1 px to 2048², log-uniform sizes, RGB and RGBA,
    batches of 1–3), with Cancel on some large ones and *Unload models* every 60: every prompt not cancelled
    succeeds, every cancelled one stops, the server's memory stays bounded and its log has no error we did
    not cause."""
    import random

    import numpy as np
    from PIL import Image

    rng = random.Random(7)
    info = _get(comfy["url"] + "/object_info")
    examples = [ui_to_api(_example(n), info) for n in ("pix2pix_line2color", "cyclegan_twemoji2noto", "stargan_edit_people")]
    names = []
    for i in range(24):
        side = 2048 if i < 2 else int(round(2 ** rng.uniform(0, 10)))
        h, w = side, max(1, int(side * rng.uniform(0.5, 1.5)))
        if i < 2:
            h, w = 2048, 2048
        arr = (np.random.default_rng(i).random((h, w, 4 if i % 3 == 0 else 3)) * 255).astype("uint8")
        name = f"soak_{i}_{h}x{w}.png"
        Image.fromarray(arr).save(comfy["base"] / "input" / name)
        names.append((name, h * w))
    big = [n for n, px in names if px >= 1024 * 1024]
    small = [n for n, px in names if px < 512 * 512]
    log_start = len(comfy["log"].read_text())
    first = None
    peak = 0.0
    ok = cancelled = finished_before_cancel = 0
    freed: list[float] = []  # RSS after each Unload models + free, every 60 prompts
    t0 = time.time()
    for i in range(300):
        fam = i % 3
        if i and i % 60 == 0:
            _post(comfy["url"] + "/free", {"unload_models": True, "free_memory": True})
            time.sleep(12)  # ComfyUI acts on /free between prompts and collects garbage at most every 10 s
            freed.append(_rss_mib(comfy["pid"]))
        if i % 25 == 7:  # cancel a large image
            pid = _queue(comfy, _with_image(examples[fam], rng.choice(big), 1))
            time.sleep(rng.uniform(0.3, 1.5))
            _post(comfy["url"] + "/interrupt", {})
            h = _wait(comfy, pid, 600)
            if any(m[0] == "execution_interrupted" for m in h["status"]["messages"]):
                cancelled += 1
            else:
                assert h["status"]["status_str"] == "success", json.dumps(h["status"])[:2000]
                finished_before_cancel += 1
        else:
            image = rng.choice(big) if i % 40 == 3 else rng.choice(small)
            _run(comfy, _with_image(examples[fam], image, rng.choice((1, 1, 2, 3))))
            ok += 1
        rss = _rss_mib(comfy["pid"])
        first = rss if first is None else first
        peak = max(peak, rss)
    took = time.time() - t0
    _post(comfy["url"] + "/free", {"unload_models": True, "free_memory": True})
    time.sleep(12)
    final = _rss_mib(comfy["pid"])
    freed.append(final)
    log = comfy["log"].read_text()[log_start:]
    bad = [line for line in log.splitlines() if ("Traceback" in line or "!!! Exception" in line or "ERROR" in line)
           and "InterruptProcessingException" not in line and "Processing interrupted" not in line]
    print(f"\nsoak: 300 prompts in {took:.0f} s ({ok} run, {cancelled} cancelled, {finished_before_cancel} finished "
          f"before their cancel); RSS after the first {first:.0f} MiB, peak {peak:.0f} MiB, after each /free "
          f"{', '.join(f'{r:.0f}' for r in freed)} MiB")
    assert ok + cancelled + finished_before_cancel == 300 and cancelled >= 6
    assert not bad, bad[:10]
    assert peak - first < 2500, (first, peak)
    # bounded: what stays after freeing (the allocator keeps the high-water mark of 2048² batches) stops growing
    assert max(freed[1:]) - min(freed[1:]) < 150, freed
    assert final - first < 600, (first, final)
