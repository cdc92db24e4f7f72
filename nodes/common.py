"""Pieces the node classes share: the custom IO types, the precision input, the model-choice inputs."""

from __future__ import annotations

from comfy_api.latest import io

from . import models

CATEGORY = "image/translation"
Pix2PixModelType = io.Custom("I2I_PIX2PIX")
CycleGANModelType = io.Custom("I2I_CYCLEGAN")
StarGANModelType = io.Custom("I2I_STARGAN")
HAS_DYNAMIC_COMBO = hasattr(io, "DynamicCombo")


def precision_input() -> io.Combo.Input:
    return io.Combo.Input("precision", options=["auto", "fp32", "fp16", "bf16"], default="auto", optional=True,
                          tooltip="auto: fp32 on CPU; bf16 or fp16 on GPUs where ComfyUI considers it safe. "
                                  "Reduced precision is faster and changes pixels slightly.")


def model_combo(family: str) -> io.Combo.Input:
    keys = [c.key for c in models.choices(family)]
    return io.Combo.Input("model_name", options=keys or ["(none)"],
                          tooltip=f"A {family} model: files and folders in models/{models.FOLDER}, then known public "
                                  f"models (official/…: the papers' generators; hub/…: Hugging Face repos), downloaded "
                                  f"into models/{models.FOLDER} on first use.")


def hub_repo_input() -> io.String.Input:
    return io.String.Input("hub_repo", default="", optional=True,
                           tooltip="Any Hugging Face repo id (org/name, or org/name/file.pth); when set it is used "
                                   "instead of model_name and downloaded into the model folder once. Honours "
                                   "HF_ENDPOINT, HF_TOKEN and HF_HUB_OFFLINE.")


def working_size_input(default: str = "image") -> io.Combo.Input:
    return io.Combo.Input("working_size", options=["image", "model"], default=default, optional=True,
                          tooltip="image: run at the image's own size. model: resize the image (shorter side) to the "
                                  "size the model was trained at, run, and resize the result back; better for images "
                                  "much larger or smaller than the training images.")


def working_size(model, choice: str) -> int | None:
    """The pixel size to run at for a ``working_size`` choice (``None``: the image's own size)."""
    return int(model.config["image_size"]) if choice == "model" and model.config.get("image_size") else None
