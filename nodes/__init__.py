"""ComfyUI nodes (V3 API): thin glue over ``i2i_models``. Node ids are prefixed ``I2I_`` and never renamed."""

from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from .cyclegan import CycleGANTranslate, LoadCycleGAN
from .models import register_folder
from .pix2pix import LoadPix2Pix, Pix2PixTranslate
from .stargan import StarGANEdit

NODES: list[type[io.ComfyNode]] = [LoadPix2Pix, Pix2PixTranslate, LoadCycleGAN, CycleGANTranslate, StarGANEdit]

register_folder()


class I2IGansExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)


async def comfy_entrypoint() -> I2IGansExtension:
    return I2IGansExtension()
