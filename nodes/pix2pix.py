"""pix2pix nodes: I2I_LoadPix2Pix and I2I_Pix2PixTranslate."""

from __future__ import annotations

from comfy_api.latest import io

from i2i_models import translate
from .common import (CATEGORY, HAS_DYNAMIC_COMBO, HIDDEN, Pix2PixModelType, hub_repo_input, load_model, model_combo,
                     model_input, precision_input, working_size_input)
from .common import working_size as resolve_size
from .runtime import ModelHandle, run


class LoadPix2Pix(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        chooser = model_input("pix2pix", "model_name", lambda c: [], []) if HAS_DYNAMIC_COMBO else model_combo("pix2pix")
        return io.Schema(
            node_id="I2I_LoadPix2Pix", display_name="Load pix2pix Model", category=CATEGORY,
            description="Load a pix2pix translator (ours, junyanz .pth, HugGAN Hub repos, the papers' models).",
            inputs=[chooser, hub_repo_input()], hidden=HIDDEN,
            outputs=[Pix2PixModelType.Output(display_name="pix2pix_model")])

    @classmethod
    def execute(cls, model_name=None, hub_repo: str = "") -> io.NodeOutput:
        model, label, _ = load_model(cls, model_name, "model_name", "pix2pix", hub_repo or "")
        return io.NodeOutput(ModelHandle(model, label))


class Pix2PixTranslate(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="I2I_Pix2PixTranslate", display_name="pix2pix Translate", category=CATEGORY,
            description="Translate images with a pix2pix model: any size, batch, gray/RGB/RGBA (alpha kept).",
            inputs=[
                Pix2PixModelType.Input("pix2pix_model", tooltip="From Load pix2pix Model."),
                io.Image.Input("image", tooltip="Images to translate, any size; alpha passes through."),
                io.Boolean.Input("test_time_dropout", default=False, optional=True,
                                 tooltip="Keep dropout active at test time, as in the pix2pix paper: varied, "
                                         "reproducible results per seed."),
                io.Int.Input("seed", default=0, min=0, max=2 ** 31 - 1, optional=True,
                             tooltip="Seed of the test-time dropout (ignored when it is off)."),
                working_size_input("image"),
                precision_input(),
            ],
            outputs=[io.Image.Output(display_name="image")])

    @classmethod
    def execute(cls, pix2pix_model: ModelHandle, image, test_time_dropout: bool = False, seed: int = 0,
                working_size: str = "image", precision: str = "auto") -> io.NodeOutput:
        out = run(pix2pix_model, translate, image, precision, dropout=bool(test_time_dropout),
                  seed=int(seed) if test_time_dropout else None, **resolve_size(pix2pix_model.model, working_size))
        return io.NodeOutput(out)
