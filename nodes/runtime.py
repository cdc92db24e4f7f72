"""Running the library inside ComfyUI: model management, device and precision, progress, cancel, OOM."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import comfy.model_management as mm
import comfy.model_patcher
import comfy.utils

from i2i_models import backends
from i2i_models.bundles import I2IModel

log = logging.getLogger("comfyui-i2i-gans")
MIN_TILE_BYTES = 2 << 20


@dataclass
class ModelHandle:
    """What flows between our nodes: a bundle, its ComfyUI ``ModelPatcher`` and per-node choices.

    The handle owns the bundle; nothing else in the pack keeps it. ComfyUI's output cache holds the
    loader's handle (so *Free model and node cache*, ``--cache-lru``/``--cache-ram`` and a prompt that no
    longer uses the model release it), and ``load_models_gpu`` manages where its weights are while it runs.
    """

    model: I2IModel
    name: str
    direction: str = "AtoB"
    patcher: Any = field(default=None, repr=False)

    def __post_init__(self):
        if self.patcher is None:
            self.patcher = comfy.model_patcher.ModelPatcher(self.model, load_device=mm.get_torch_device(),
                                                            offload_device=mm.unet_offload_device(),
                                                            size=self.get_ram_usage())

    def get_ram_usage(self) -> int:
        """Bytes of the bundle's weights and buffers, plus the exported graphs an OpenVINO/ONNX Runtime backend
        keeps with its generators (what ComfyUI's RAM-pressure cache weighs it by)."""
        own = sum(t.numel() * t.element_size() for t in self.model.state_dict().values())
        return own + backends.attached_bytes(self.model)


def comfy_precision(device: torch.device) -> str:
    """The ``auto`` precision policy inside ComfyUI (what the library's ``precision_policy`` hook gets):
    fp32 on CPU; on GPUs bf16 where ComfyUI deems it safe, else fp16, else fp32."""
    if device.type == "cpu":
        return "fp32"
    if mm.should_use_bf16(device):
        return "bf16"
    if mm.should_use_fp16(device):
        return "fp16"
    return "fp32"


def progress_bar() -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback driving a ComfyUI ProgressBar that also honours Cancel."""
    state: dict[str, Any] = {}

    def progress(done: int, total: int) -> None:
        mm.throw_exception_if_processing_interrupted()
        bar = state.get("bar")
        if bar is None or bar.total != total:
            bar = state["bar"] = comfy.utils.ProgressBar(total)
        bar.update_absolute(done, total)
    return progress


def download_progress() -> Callable[[int, int], None]:
    """``progress(bytes_done, bytes_total)`` for model downloads: a ComfyUI progress bar on the loader node
    (total 0 = unknown size) that raises ComfyUI's interrupt when the user presses Cancel, which stops the
    download (the library removes what it had written)."""
    bar_progress = progress_bar()

    def progress(done: int, total: int) -> None:
        bar_progress(min(done, total) if total else done, total if total else done + (1 << 20))
    return progress


def run(handle: ModelHandle, fn: Callable[..., torch.Tensor], image: torch.Tensor, precision: str = "auto",
        **kwargs) -> torch.Tensor:
    """Run ``fn(model, image, **options)`` (``translate`` or ``edit``) the ComfyUI way.

    The model is loaded through ``load_models_gpu`` (so "Unload models" and memory pressure from other
    models work), runs on ComfyUI's device in the chosen precision, streams exact tiles when the image
    does not fit in the free memory, retries with smaller tiles on out-of-memory errors, reports
    progress per chunk/tile and stops when the user cancels. Returns IMAGE [B,H,W,C] on the input's device.
    """
    device = mm.get_torch_device()
    mm.load_models_gpu([handle.patcher], force_full_load=True)
    model = handle.model
    if next(model.parameters()).device != device:
        model.to(device)
    tiled, tile_bytes = None, 64 << 20
    oom = getattr(mm, "OOM_EXCEPTION", torch.cuda.OutOfMemoryError)
    while True:
        budget = None
        if device.type != "cpu":
            budget = int(mm.get_free_memory(device) * 0.8)
        try:
            return fn(model, image, device=device, precision=precision, precision_policy=comfy_precision, tiled=tiled,
                      tile_bytes=tile_bytes, memory_budget=budget, progress=progress_bar(), **kwargs)
        except oom:
            mm.soft_empty_cache()
            if tile_bytes <= MIN_TILE_BYTES:
                raise
            tiled, tile_bytes = True, tile_bytes // 2
            log.warning("i2i_gans: out of memory; retrying with exact tiles of %d MiB", tile_bytes >> 20)
