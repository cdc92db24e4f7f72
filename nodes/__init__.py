"""ComfyUI nodes (V3 API): thin glue over ``i2i_models``. Node ids are prefixed ``I2I_`` and never renamed."""

from __future__ import annotations

from comfy_api.latest import ComfyExtension, io

from .cyclegan import CycleGANTranslate, LoadCycleGAN
from . import models
from .models import register_folder
from .pix2pix import LoadPix2Pix, Pix2PixTranslate
from .stargan import StarGANEdit

NODES: list[type[io.ComfyNode]] = [LoadPix2Pix, Pix2PixTranslate, LoadCycleGAN, CycleGANTranslate, StarGANEdit]

register_folder()


def _add_routes() -> None:
    """``GET /i2i_gans/sources``: ``{family: {model key: where to get it}}`` for the frontend extension
    (``web/js/i2i_gans.js``), which saves it in workflows so a receiver can be told how to get a model."""
    try:
        from aiohttp import web
        from server import PromptServer
    except ImportError:  # not inside a ComfyUI server (tests, tools)
        return
    instance = getattr(PromptServer, "instance", None)
    if instance is None:
        return

    @instance.routes.get("/i2i_gans/sources")
    async def _sources(request):  # noqa: ARG001
        return web.json_response({f: models.sources(f) for f in ("pix2pix", "cyclegan", "stargan")})


_add_routes()


class I2IGansExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)


async def comfy_entrypoint() -> I2IGansExtension:
    return I2IGansExtension()
