"""pix2pix nodes: I2I_LoadPix2Pix and I2I_Pix2PixTranslate (also pix2pixHD models, label-map ones included)."""

from __future__ import annotations

import logging

from comfy_api.latest import io

from i2i_models import translate
from .common import (CATEGORY, HAS_DYNAMIC_COMBO, HIDDEN, Pix2PixModelType, hub_repo_input, load_model, model_combo,
                     model_input, precision_input, working_size_input, backend_input)
from .common import working_size as resolve_size
from .runtime import ModelHandle, run

log = logging.getLogger(__name__)


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
            description="Translate images with a pix2pix or pix2pixHD model: any size, batch, gray/RGB/RGBA (alpha "
                        "kept); label-map pix2pixHD models take a label map (and an instance map).",
            inputs=[
                Pix2PixModelType.Input("pix2pix_model", tooltip="From Load pix2pix Model."),
                io.Image.Input("image", optional=True,
                               tooltip="Images to translate, any size; alpha passes through. For a label-map "
                                       "pix2pixHD model this may be the label map (class ids as 8-bit values, as "
                                       "Load Image reads a label PNG)."),
                io.Boolean.Input("test_time_dropout", default=False, optional=True,
                                 tooltip="Keep dropout active at test time, as in the pix2pix paper: varied, "
                                         "reproducible results per seed."),
                io.Int.Input("seed", default=0, min=0, max=2 ** 31 - 1, optional=True,
                             tooltip="Seed of the test-time dropout (ignored when it is off)."),
                working_size_input("image"),
                precision_input(),
                io.Mask.Input("label_map", optional=True,
                              tooltip="Label-map pix2pixHD models: the class ids as a MASK (8-bit values, e.g. "
                                      "Convert Image to Mask of a label PNG); used instead of the image."),
                io.Mask.Input("instance_map", optional=True,
                              tooltip="pix2pixHD models with the instance-edge input: the instance ids (as a MASK); "
                                      "their boundaries become that channel. Without it there are no boundaries."),
                backend_input(),
            ],
            outputs=[io.Image.Output(display_name="image")])

    @classmethod
    def execute(cls, pix2pix_model: ModelHandle, image=None, test_time_dropout: bool = False, seed: int = 0,
                working_size: str = "image", precision: str = "auto", label_map=None, instance_map=None,
                backend: str = "auto") -> io.NodeOutput:
        gen = pix2pix_model.model.generator
        label_nc = int(getattr(gen, "label_nc", 0) or 0)
        if label_nc:
            source = label_map if label_map is not None else image
            if source is None:
                raise ValueError(f"{pix2pix_model.name} translates label maps ({label_nc} classes): connect the label "
                                 f"map to label_map (a MASK) or to image")
        else:
            if image is None:
                raise ValueError(f"{pix2pix_model.name} translates images: connect an image"
                                 + (" (label_map is only for label-map pix2pixHD models)" if label_map is not None else ""))
            source = image
        extra = {}
        if getattr(gen, "instance_edges", False):
            extra["instance"] = instance_map
        elif instance_map is not None:
            log.warning("i2i_gans: %s takes no instance map; instance_map ignored", pix2pix_model.name)
        out = run(pix2pix_model, translate, source, precision, dropout=bool(test_time_dropout),
                  seed=int(seed) if test_time_dropout else None, **resolve_size(pix2pix_model.model, working_size),
                  backend=backend, **extra)
        return io.NodeOutput(out)
