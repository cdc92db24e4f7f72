"""Pieces the node classes share: the custom IO types, the precision input, the model-choice inputs."""

from __future__ import annotations

from typing import Any, Callable

from comfy_api.latest import io

from i2i_models.inference import PRECISIONS
from . import models

CATEGORY = "image/translation"
Pix2PixModelType = io.Custom("I2I_PIX2PIX")
CycleGANModelType = io.Custom("I2I_CYCLEGAN")
StarGANModelType = io.Custom("I2I_STARGAN")
HAS_DYNAMIC_COMBO = hasattr(io, "DynamicCombo")


def precision_input() -> io.Combo.Input:
    return io.Combo.Input("precision", options=list(PRECISIONS), default="auto", optional=True,
                          tooltip="auto: fp32 on CPU; bf16 or fp16 on GPUs where ComfyUI considers it safe. "
                                  "Reduced precision is faster and changes pixels slightly.")


BACKEND_CHOICES = ["auto", "torch", "openvino", "onnxruntime"]


def backend_input() -> io.Combo.Input:
    return io.Combo.Input("backend", options=BACKEND_CHOICES, default="auto", optional=True,
                          tooltip="Where the generator runs. auto: on CPU in fp32, the fastest exact backend installed "
                                  "(OpenVINO, then ONNX Runtime: the model is exported to ONNX once, cached on disk, "
                                  "outputs equal PyTorch's within ~1e-5); PyTorch on GPUs and for tiles or dropout. "
                                  "openvino/onnxruntime need pip install openvino / onnxruntime (and onnx).")


def model_combo(family: str) -> io.Combo.Input:
    """The plain model list (ComfyUI without DynamicCombo)."""
    keys = [c.key for c in models.choices(family)]
    return io.Combo.Input("model_name", options=keys or ["(none)"], tooltip=model_tooltip(family))


def model_tooltip(family: str) -> str:
    return (f"A {family} model: files and folders in models/{models.FOLDER}, then known public models (official/…: "
            f"the papers' generators; hub/…: Hugging Face repos) downloaded there on first use with a progress bar "
            f"(Cancel stops it), or '{models.HUB_OPTION}' for any Hub repo. A damaged file is listed too; choosing "
            f"it says why it cannot be loaded.")


REPO_ID_TIP = (f"A Hugging Face repo ({models.HUB_SYNTAX}), downloaded into models/{models.FOLDER} once. Honours "
               f"HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE.")


def model_input(family: str, name: str, children: Callable[["models.Choice"], list], hub_children: list) -> io.Input:
    """The model chooser of a loader: a DynamicCombo of the listed models (each with its own child inputs,
    e.g. CycleGAN directions or StarGAN sliders) and a 'Hub repo…' entry with a ``repo_id`` field."""
    options = [io.DynamicCombo.Option(c.key, children(c)) for c in models.choices(family)]
    options.append(io.DynamicCombo.Option(models.HUB_OPTION, [io.String.Input("repo_id", default="", tooltip=REPO_ID_TIP),
                                                              *hub_children]))
    return io.DynamicCombo.Input(name, options=options, tooltip=model_tooltip(family))


def hub_repo_input() -> io.String.Input:
    """The pix2pix loader's original Hub field, kept (as an input socket) so saved workflows that typed a
    repo there keep loading it; new workflows use the 'Hub repo…' entry of the model list."""
    return io.String.Input("hub_repo", default="", optional=True, force_input=True,
                           tooltip=f"Legacy: a Hub repo id from workflows saved before the model list had "
                                   f"'{models.HUB_OPTION}'; when set it is used instead of model_name.")


def load_model(cls, value: Any, name: str, family: str, legacy_hub_repo: str = ""):
    """Load the model a loader's DynamicCombo ``value`` (or plain key) names, or fail naming it.

    Returns ``(bundle, label, children)``: the new bundle, a label for messages, and the chosen option's
    child values (direction, sliders …). Reads the raw key from the prompt when ComfyUI dropped an unknown
    one, and the workflow's saved metadata to say how to get a missing model."""
    key = chosen_key(cls, value, name)
    children = {k: v for k, v in value.items() if k != name} if isinstance(value, dict) else {}
    repo = ""
    if key == models.HUB_OPTION:
        repo = str(children.pop("repo_id", "") or "").strip()
        if not repo:
            raise ValueError(f"type a Hugging Face repo id ({models.HUB_SYNTAX}) into repo_id, or pick a listed model")
    elif (legacy_hub_repo or "").strip():
        repo = legacy_hub_repo.strip()
    from .runtime import download_progress

    bundle = models.load_choice(key, family, repo, progress=download_progress(), meta=saved_metadata(cls))
    return bundle, repo or key, children


KEEP_DETAIL = "model (keep detail)"
WORKING_SIZES = ["image", "model", KEEP_DETAIL]


def working_size_input(default: str = "image") -> io.Combo.Input:
    return io.Combo.Input("working_size", options=WORKING_SIZES, default=default, optional=True,
                          tooltip="image: run at the image's own size. model: resize the image (shorter side) to the "
                                  "size the model was trained at, run, and resize the result back; better for images "
                                  "much larger or smaller than the training images. model (keep detail): run at the "
                                  "model's size but apply only the change it makes to the full-size image, so what the "
                                  "edit leaves alone stays sharp.")


def working_size(model, choice: str) -> dict:
    """``translate`` options for a ``working_size`` choice: ``working_size`` (``None``: the image's own size)
    and ``keep_detail``."""
    size = int(model.config["image_size"]) if choice in ("model", KEEP_DETAIL) and model.config.get("image_size") else None
    return {"working_size": size, "keep_detail": choice == KEEP_DETAIL and size is not None}


HIDDEN = [io.Hidden.prompt, io.Hidden.unique_id, io.Hidden.extra_pnginfo]


def _hidden(cls) -> Any:
    return getattr(cls, "hidden", None)


def saved_metadata(cls) -> dict:
    """What our frontend extension saved in this node's ``properties["i2i_gans"]`` of the workflow the
    frontend sent with the prompt (model key, family, where to get the model, slider names); ``{}`` when
    the prompt came without a workflow (API format) or from elsewhere."""
    h = _hidden(cls)
    wf = (getattr(h, "extra_pnginfo", None) or {}) if h is not None else {}
    wf = wf.get("workflow") if isinstance(wf, dict) else None
    uid = str(getattr(h, "unique_id", "") or "")
    if not isinstance(wf, dict) or not uid:
        return {}
    for node in wf.get("nodes") or []:
        if isinstance(node, dict) and str(node.get("id")) == uid:
            meta = (node.get("properties") or {}).get("i2i_gans")
            return meta if isinstance(meta, dict) else {}
    return {}


def prompt_value(cls, name: str) -> Any:
    """The raw value of input ``name`` in the prompt as sent (ComfyUI drops a DynamicCombo value that is
    not among its options before ``execute``; this is how a loader still names the missing model)."""
    h = _hidden(cls)
    prompt, uid = (getattr(h, "prompt", None), getattr(h, "unique_id", None)) if h is not None else (None, None)
    try:
        return prompt[str(uid)]["inputs"].get(name)
    except (TypeError, KeyError, AttributeError):
        return None


def chosen_key(cls, value: Any, name: str) -> str:
    """The model key a DynamicCombo input chose: from its value, else from the prompt as sent."""
    if isinstance(value, dict):
        return str(value.get(name, ""))
    raw = prompt_value(cls, name)
    return raw if isinstance(raw, str) else (value if isinstance(value, str) else "")
