"""I2I_StarGANEdit: one strength slider per attribute of the chosen StarGAN model, label-free."""

from __future__ import annotations

from comfy_api.latest import io

from i2i_models import edit
from i2i_models.editing import parse_attribute_text
from .common import (CATEGORY, HAS_DYNAMIC_COMBO, HIDDEN, KEEP_DETAIL, load_model, model_combo, model_input, precision_input,
                     working_size_input)
from .common import working_size as resolve_size
from .runtime import ModelHandle, run


def slider(name: str) -> io.Float.Input:
    return io.Float.Input(name, default=0.0, min=-2.0, max=2.0, step=0.05, display_mode=io.NumberDisplay.slider,
                          tooltip=f"{name}: 0 keeps the image's own value; +1 turns it fully on, -1 fully off "
                                  f"(from the detected value); beyond ±1 exaggerates.")


STRENGTHS_TIP = "Strengths as name=value pairs, e.g. Male=1, Young=-0.5 (names from the model's attributes)."


class StarGANEdit(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        if HAS_DYNAMIC_COMBO:
            model_inputs = [model_input("stargan", "model", lambda c: [slider(a) for a in c.attributes],
                                        [io.String.Input("strengths", default="", tooltip=STRENGTHS_TIP)])]
        else:
            model_inputs = [model_combo("stargan"), io.String.Input("strengths", default="", tooltip=STRENGTHS_TIP)]
        return io.Schema(
            node_id="I2I_StarGANEdit", display_name="StarGAN Edit Attributes", category=CATEGORY,
            description="Move attributes of images with a StarGAN model: one slider per attribute, 0 keeps it, +1 "
                        "turns it fully on, -1 fully off, relative to the image's own attributes, which the model's "
                        "discriminator detects unless you give them. All sliders at 0 return the image unchanged.",
            inputs=[io.Image.Input("image", tooltip="Images to edit, any size; alpha passes through."), *model_inputs,
                    io.String.Input("source_attributes", default="", optional=True,
                                    tooltip="The images' own attributes if you know them (e.g. Male=1, Young=0); "
                                            "empty: detected by the model's discriminator."),
                    working_size_input(KEEP_DETAIL), precision_input()],
            hidden=HIDDEN,
            outputs=[io.Image.Output(display_name="image"),
                     io.String.Output(display_name="attributes", tooltip="The attributes each input image starts from: detected by the model's discriminator, or as given in source_attributes.")])

    @classmethod
    def execute(cls, image, model=None, model_name: str = "", strengths: str = "", source_attributes: str = "",
                working_size: str = KEEP_DETAIL, precision: str = "auto") -> io.NodeOutput:
        value = model if model is not None else model_name
        bundle, label, children = load_model(cls, value, "model", "stargan")
        if "strengths" in children or not isinstance(value, dict):
            values = parse_attribute_text(children.get("strengths", strengths) or "", bundle.attributes)
        else:
            values = {k: float(v) for k, v in children.items()}
        source = parse_attribute_text(source_attributes, bundle.attributes) if source_attributes.strip() else None
        handle = ModelHandle(bundle, label)  # this node loads its own model: it lives for this run only
        if bundle.discriminator is None and source is None:
            out = run(handle, edit, image, precision, strengths=values, **resolve_size(bundle, working_size))
            return io.NodeOutput(out, "(this model has no discriminator: attributes cannot be detected)")
        out, attrs = run(handle, edit, image, precision, strengths=values, source=source, return_attributes=True,
                         **resolve_size(bundle, working_size))
        return io.NodeOutput(out, _describe(bundle, attrs))


def _describe(bundle, attrs) -> str:
    """The attributes each image started from (detected by the discriminator, or given), one line per image."""
    lines = []
    for i, row in enumerate(attrs.tolist()):
        lines.append(f"image {i + 1}: " + ", ".join(f"{a} {v:.2f}" for a, v in zip(bundle.attributes, row)))
    return "\n".join(lines)
