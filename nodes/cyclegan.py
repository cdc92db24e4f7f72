"""CycleGAN nodes: I2I_LoadCycleGAN (model and direction, named after the model's domains) and
I2I_CycleGANTranslate."""

from __future__ import annotations

from comfy_api.latest import io

from i2i_models import translate
from . import models
from .common import (CATEGORY, HAS_DYNAMIC_COMBO, HIDDEN, CycleGANModelType, hub_repo_input, load_model, model_combo,
                     model_input, precision_input, working_size_input, backend_input)
from .common import working_size as resolve_size
from .runtime import ModelHandle, run

GENERIC = ["A → B", "B → A"]
STRENGTH_TIP = ("How strongly to translate: 1 = the model's translation, 0 = the image unchanged, -1 = the other "
                "direction. Models trained with --conditional (one generator for both directions) take any value: "
                "between 0 and 1 a partial translation, beyond 1 an exaggerated one. Other models: 1, 0 or -1.")
DIRECTION_TIP = ("Which way to translate, named after the model's domains (A → B uses G_A, B → A uses G_B). "
                 "A single-generator checkpoint offers only its own direction.")


def _direction(model, label: str) -> str:
    labels = {models.direction_label(model.domains, d): d for d in ("AtoB", "BtoA")}
    d = labels.get(label) or {"A → B": "AtoB", "B → A": "BtoA"}.get(label)
    if d not in model.directions:
        have = ", ".join(models.direction_label(model.domains, x) for x in model.directions)
        if d is None:
            return model.directions[0]
        raise ValueError(f"this CycleGAN checkpoint has no {models.direction_label(model.domains, d)} generator; "
                         f"it offers: {have}")
    return d


class LoadCycleGAN(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        if HAS_DYNAMIC_COMBO:
            inputs = [model_input("cyclegan", "model", lambda c: [io.Combo.Input(
                "direction", options=[models.direction_label(c.domains, d) for d in c.directions], tooltip=DIRECTION_TIP)],
                [io.Combo.Input("direction", options=GENERIC, tooltip=DIRECTION_TIP)])]
        else:  # ComfyUI without DynamicCombo: a plain list, a generic direction and a Hub field
            inputs = [model_combo("cyclegan"), io.Combo.Input("direction", options=GENERIC, tooltip=DIRECTION_TIP),
                      hub_repo_input()]
        return io.Schema(
            node_id="I2I_LoadCycleGAN", display_name="Load CycleGAN Model", category=CATEGORY,
            description="Load a CycleGAN translator and choose its direction (e.g. horse → zebra).",
            inputs=inputs, hidden=HIDDEN, outputs=[CycleGANModelType.Output(display_name="cyclegan_model")])

    @classmethod
    def execute(cls, model=None, model_name: str = "", direction: str = "A → B", hub_repo: str = "") -> io.NodeOutput:
        value = model if model is not None else model_name
        bundle, label, children = load_model(cls, value, "model", "cyclegan", hub_repo or "")
        direction = children.get("direction", direction)
        return io.NodeOutput(ModelHandle(bundle, label, _direction(bundle, direction)))


class CycleGANTranslate(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="I2I_CycleGANTranslate", display_name="CycleGAN Translate", category=CATEGORY,
            description="Translate images with a CycleGAN model in the direction chosen on the loader.",
            inputs=[
                CycleGANModelType.Input("cyclegan_model", tooltip="From Load CycleGAN Model (carries the direction)."),
                io.Image.Input("image", tooltip="Images to translate, any size; alpha passes through."),
                io.Boolean.Input("reverse", default=False, optional=True,
                                 tooltip="Translate the other way (needs both generators in the checkpoint)."),
                working_size_input("image"),
                precision_input(),
                backend_input(),
                io.Float.Input("strength", default=1.0, min=-3.0, max=3.0, step=0.05, optional=True,
                               display_mode=io.NumberDisplay.slider, tooltip=STRENGTH_TIP),
            ],
            outputs=[io.Image.Output(display_name="image")])

    @classmethod
    def execute(cls, cyclegan_model: ModelHandle, image, reverse: bool = False, working_size: str = "image",
                precision: str = "auto", backend: str = "auto", strength: float = 1.0) -> io.NodeOutput:
        direction = cyclegan_model.direction
        model = cyclegan_model.model
        if reverse:
            direction = "BtoA" if direction == "AtoB" else "AtoB"
            if direction not in model.directions:
                label = models.direction_label(model.domains, direction)
                raise ValueError(f"reverse asks for {label}, but {cyclegan_model.name} has only one generator; "
                                 f"turn reverse off or load a checkpoint with both")
        s = float(strength)
        if s == -1 and not model.conditional:
            other = "BtoA" if direction == "AtoB" else "AtoB"
            if other not in model.directions:
                label = models.direction_label(model.domains, other)
                raise ValueError(f"strength -1 asks for {label}, but {cyclegan_model.name} has only one generator; "
                                 f"set strength to 1 or load a checkpoint with both")
        if s not in (0.0, 1.0, -1.0) and not model.conditional:
            raise ValueError(f"strength {s:g} needs a strength-controlled CycleGAN (trained with `python -m "
                             f"train.cyclegan --conditional`); {cyclegan_model.name} has one generator per direction, "
                             f"so set strength to 1 (the translation), 0 (unchanged) or -1 (the other direction)")
        return io.NodeOutput(run(cyclegan_model, translate, image, precision, direction=direction, backend=backend,
                                 strength=s, **resolve_size(model, working_size)))
