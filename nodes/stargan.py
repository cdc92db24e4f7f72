"""I2I_StarGANEdit: one strength slider per attribute of the chosen StarGAN model, label-free."""

from __future__ import annotations

from comfy_api.latest import io

from ..i2i_models import edit, predict_attributes
from ..i2i_models.editing import parse_attribute_text
from . import models
from .common import CATEGORY, HAS_DYNAMIC_COMBO, model_combo, precision_input, working_size_input
from .common import working_size as resolve_size
from .runtime import ModelHandle, run

_handles: dict[int, ModelHandle] = {}


def slider(name: str) -> io.Float.Input:
    return io.Float.Input(name, default=0.0, min=-2.0, max=2.0, step=0.05, display_mode=io.NumberDisplay.slider,
                          tooltip=f"{name}: 0 keeps the image's own value; +1 turns it fully on, -1 fully off "
                                  f"(from the detected value); beyond ±1 exaggerates.")


STRENGTHS_TIP = "Strengths as name=value pairs, e.g. Male=1, Young=-0.5 (names from the model's attributes)."


class StarGANEdit(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        if HAS_DYNAMIC_COMBO:
            options = [io.DynamicCombo.Option(c.key, [slider(a) for a in c.attributes]) for c in models.choices("stargan")]
            options.append(io.DynamicCombo.Option(models.HUB_OPTION, [
                io.String.Input("repo_id", default="", tooltip="A Hugging Face repo id (org/name)."),
                io.String.Input("strengths", default="", tooltip=STRENGTHS_TIP)]))
            model_inputs = [io.DynamicCombo.Input(
                "model", options=options,
                tooltip=f"A StarGAN model in models/{models.FOLDER} (or a Hub repo); shows one slider per attribute.")]
        else:
            model_inputs = [model_combo("stargan"), io.String.Input("strengths", default="", tooltip=STRENGTHS_TIP)]
        return io.Schema(
            node_id="I2I_StarGANEdit", display_name="StarGAN Edit Attributes", category=CATEGORY,
            description="Move attributes of images with a StarGAN model. Strengths are relative to the image's own "
                        "attributes, which the model's discriminator detects unless you give them.",
            inputs=[io.Image.Input("image", tooltip="Images to edit, any size; alpha passes through."), *model_inputs,
                    io.String.Input("source_attributes", default="", optional=True,
                                    tooltip="The images' own attributes if you know them (e.g. Male=1, Young=0); "
                                            "empty: detected by the model's discriminator."),
                    working_size_input("model"), precision_input()],
            outputs=[io.Image.Output(display_name="image"),
                     io.String.Output(display_name="attributes", tooltip="Attributes detected in each input image.")])

    @classmethod
    def execute(cls, image, model=None, model_name: str = "", strengths: str = "", source_attributes: str = "",
                working_size: str = "model", precision: str = "auto") -> io.NodeOutput:
        hub_repo = ""
        if isinstance(model, dict):
            model_name = model["model"]
            if model_name == models.HUB_OPTION:
                hub_repo, strengths = model.get("repo_id", ""), model.get("strengths", "")
                if not hub_repo.strip():
                    raise ValueError("type a Hugging Face repo id (org/name) into repo_id, or pick a listed model")
                values = None
            else:
                values = {k: float(v) for k, v in model.items() if k != "model"}
        else:
            values = None
        bundle = models.load_choice(model_name, "stargan", hub_repo)
        if values is None:
            values = parse_attribute_text(strengths or "", bundle.attributes)
        source = parse_attribute_text(source_attributes, bundle.attributes) if source_attributes.strip() else None
        handle = _handles.get(id(bundle))
        if handle is None or handle.model is not bundle:
            handle = _handles[id(bundle)] = ModelHandle(bundle, hub_repo or model_name)
        out = run(handle, edit, image, precision, strengths=values, source=source,
                  working_size=resolve_size(bundle, working_size))
        return io.NodeOutput(out, _describe(bundle, image))


def _describe(bundle, image) -> str:
    if bundle.discriminator is None:
        return "(this model has no discriminator: attributes cannot be detected)"
    p = predict_attributes(bundle, image)
    lines = []
    for i, row in enumerate(p.tolist()):
        lines.append(f"image {i + 1}: " + ", ".join(f"{a} {v:.2f}" for a, v in zip(bundle.attributes, row)))
    return "\n".join(lines)
