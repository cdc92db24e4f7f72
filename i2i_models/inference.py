"""``translate``: the one inference API (nodes, CLIs and StarGAN ``edit`` all call it).

Data flow: images [B, H, W, C] in [0, 1] (or PIL) → alpha split off → channels adapted to the model →
[B, C, H, W] in [-1, 1] → padded to the network's multiple → chunks of the batch on the device, in the
chosen precision (or, for images too large for memory, exact streamed tiles, see
:mod:`i2i_models.streaming`) → cropped → [0, 1] → channels adapted back, alpha restored → same layout,
size, dtype and device as the input.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
import torch.nn as nn

from . import images as im
from . import streaming
from .bundles import I2IModel
from .families import family
from .networks import Network

log = logging.getLogger("i2i_models")

PRECISIONS = ("auto", "fp32", "fp16", "bf16")
_compiled: "weakref.WeakKeyDictionary[nn.Module, Any]" = weakref.WeakKeyDictionary()


def select_generator(model: I2IModel | Network, direction: str | None = None) -> Network:
    """The generator ``translate`` runs: the family's generator for ``direction`` (pix2pix and StarGAN
    ``generator``; CycleGAN ``G_A`` for ``"AtoB"``, the default when present, ``G_B`` for ``"BtoA"``; see
    :mod:`i2i_models.families`), or the network itself. Raises ``ValueError`` when the bundle has no such
    generator and ``TypeError`` for anything else."""
    if isinstance(model, Network):
        return model
    if isinstance(model, I2IModel):
        return family(model).generator(model, direction)
    raise TypeError(f"expected an i2i_models bundle or generator network, got {type(model).__name__}")


def bytes_per_pixel(net: nn.Module) -> int:
    """Rough peak bytes per input pixel of a full-frame fp32 forward: the generator's own
    :meth:`~i2i_models.networks.common.Generator.bytes_per_pixel` (calibrated with ``i2i_models.bench``)."""
    return net.bytes_per_pixel() if hasattr(net, "bytes_per_pixel") else 14 * 64 + 64


def default_memory_budget(device: torch.device) -> int:
    """Bytes a full-frame forward may use before ``translate`` streams instead: 80% of the free memory of
    a CUDA device; on CPU a quarter of the physical memory, at most 4 GiB."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * 0.8)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return int(min(4 << 30, total // 4))


def _autocast(device: torch.device, precision: str):
    if precision == "fp32":
        return nullcontext
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return lambda: torch.autocast(device.type, dtype=dtype)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` → fp32 on CPU, bf16 on CUDA devices that support it, else fp16. An explicit reduced
    precision the device cannot run falls back to fp32 with a warning."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "fp32"
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        log.warning("bf16 is not supported on %s; using fp16", device)
        return "fp16"
    return precision


@contextmanager
def _modes(net: nn.Module, batchnorm: str, dropout: bool):
    """Temporarily put BatchNorm in batch-statistics mode and/or Dropout on, without touching weights or
    running statistics (momentum 0, counters restored)."""
    saved = []
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d) and batchnorm == "batch":
            saved.append((m, m.training, m.momentum, None if m.num_batches_tracked is None else m.num_batches_tracked.clone()))
            m.train()
            m.momentum = 0.0
        elif isinstance(m, nn.Dropout) and dropout:
            saved.append((m, m.training, None, None))
            m.train()
    try:
        yield
    finally:
        for m, training, momentum, nbt in saved:
            m.train(training)
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = momentum
                if nbt is not None:
                    m.num_batches_tracked.copy_(nbt)


def _maybe_compile(net: nn.Module, enabled: bool) -> Callable:
    """``torch.compile`` with Inductor's weight freezing (weights become constants, so bf16 casts and
    oneDNN weight packing happen once). The cache key includes the parameters' in-place version counters,
    so changed weights trigger a fresh compile instead of running stale constants."""
    if not enabled:
        return net
    key = tuple((p.data_ptr(), p._version) for p in net.parameters())
    entry = _compiled.get(net)
    if entry is None or entry[0] != key:
        try:
            fn = torch.compile(net)
        except Exception as e:  # no compiler toolchain, unsupported platform
            log.warning("torch.compile unavailable (%s); running eagerly", e)
            fn = net
        entry = (key, fn)
        _compiled[net] = entry
    fn = entry[1]
    if fn is net:
        return net

    def call(*args):
        import torch._inductor.config as inductor_config

        try:
            with inductor_config.patch(freezing=True):
                return fn(*args)
        except Exception as e:  # compilation failed (e.g. no C++ compiler): fall back for good
            log.warning("torch.compile failed (%s: %s); running eagerly", type(e).__name__, str(e)[:200])
            _compiled[net] = (key, net)
            return net(*args)
    return call


def translate(model: I2IModel | Network, images, *, direction: str | None = None, labels=None,
              batch_size: int = 4, device: str | torch.device | None = None, precision: str = "fp32",
              channels_last: bool | None = None, compile: bool = False, tiled: bool | None = None,
              tile_bytes: int = 64 << 20, memory_budget: int | None = None, batchnorm: str = "running",
              dropout: bool = False, seed: int | None = None, working_size: int | None = None,
              keep_detail: bool = False, progress: Callable[[int, int], None] | None = None,
              spill_dir: str | None = None):
    """Translate images with a pix2pix, CycleGAN or StarGAN model.

    Args:
        model: a bundle from :func:`i2i_models.load` (or a bare generator network).
        images: ComfyUI-layout tensor [B, H, W, C] (or [H, W, C]) with C = 1 gray, 2 gray+alpha, 3 RGB,
            4 RGBA; float in [0, 1] or uint8; any H, W (odd, tiny, huge) and any B. Or a PIL image / list.
        direction: CycleGAN ``"AtoB"`` (G_A) or ``"BtoA"`` (G_B); default the first available.
        labels: StarGAN target labels [B, c_dim] or [c_dim] (float; see :func:`i2i_models.edit` for
            strengths relative to the image's own attributes).
        batch_size: images per forward (chunks bound memory; results do not depend on it).
        device: where to run (moves the model there); default the model's device.
        precision: ``"fp32"`` (default), ``"bf16"``, ``"fp16"`` (autocast) or ``"auto"`` (bf16/fp16 on
            CUDA, fp32 on CPU). bf16 moves outputs by up to ~0.08 (mean ~0.006) in [-1, 1].
        channels_last: memory format for convolutions (default: on for CUDA, off on CPU).
        compile: ``torch.compile`` the generator (10–30 s the first time per shape; falls back to eager
            with a warning when unavailable).
        tiled: ``None`` (auto: stream when a full-frame forward would exceed ``memory_budget``), ``True``
            or ``False``. Tiles are exact: every normalisation layer uses whole-image statistics
            (:mod:`i2i_models.streaming`), so the result equals the full frame up to float rounding.
        tile_bytes: working-set bound of one tile computation (smaller = less memory, more overhead).
        memory_budget: bytes for the auto decision (default :func:`default_memory_budget`).
        batchnorm: ``"running"`` (``eval()``, default) or ``"batch"`` (per-image statistics, what
            junyanz ``test.py`` does without ``--eval``).
        dropout, seed: the pix2pix paper's test-time dropout, reproducible under ``seed`` (per image
            ``seed + index``; tiled runs draw different, but also reproducible, masks).
        working_size: run the network with the image's shorter side resized to this many pixels (e.g. the
            model's training size, ``model.config["image_size"]``), then resize the result back (bicubic,
            antialiased); ``None`` (default) runs at the image's own size.
        keep_detail: with ``working_size``, add the network's *change* (its output minus its input, at the
            working size) resized to the image, to the image itself, instead of resizing the output: what the
            translation leaves alone keeps the image's full resolution (StarGAN edits). Needs the model's
            input and output to have the same channels; otherwise the output is resized as usual.
        progress: called as ``progress(done, total)`` after each chunk or tile; may raise to cancel.
        spill_dir: folder for the temporary files of tiled runs (default: the system temp folder).

    Returns:
        The same kind as ``images``: a tensor [B, H, W, C'] on the input's device with the input's dtype,
        values in [0, 1], where C' keeps alpha and has RGB colour if the input or the model is RGB; or
        PIL image(s).

    Raises:
        ValueError: bad images (rank, channels, dtype), missing StarGAN labels, unknown options or a
            direction the model lacks.
    """
    pil_back = None
    if not isinstance(images, torch.Tensor):
        images, pil_back = im.from_pil(images)
    x = im.check_bhwc(images)
    out_dtype, out_device = x.dtype, x.device
    net = select_generator(model, direction)
    dev = torch.device(device) if device is not None else next(net.parameters()).device
    if next(net.parameters()).device != dev:
        model.to(dev)
    precision = resolve_precision(precision, dev)
    if batchnorm not in ("running", "batch"):
        raise ValueError(f"batchnorm must be 'running' or 'batch', got {batchnorm!r}")
    if channels_last is None:
        channels_last = dev.type == "cuda"
    c_dim = int(getattr(net, "c_dim", 0) or 0)  # conditional generators (StarGAN) take labels
    lab = _labels(labels, c_dim, x.shape[0])

    colour, alpha = im.split_alpha(im.to_unit_float(x))
    out_c = im.output_channels(colour.shape[-1], net.output_nc)
    inp = im.adapt_input(colour, net.input_nc)
    out_size = inp.shape[1:3]
    full = inp
    if working_size:
        inp = im.resize_short_side(inp, int(working_size))
    B, H, W = inp.shape[:3]
    shrink = getattr(net, "size_shrink", 0)
    per_image = bytes_per_pixel(net) * (H + 64) * (W + 64)
    budget = memory_budget if memory_budget is not None else default_memory_budget(dev)
    if tiled is None:
        tiled = per_image > budget and streaming.supports(net)
    # One-colour images (e.g. 1x1) make whole InstanceNorm maps near-constant, so their output is float
    # rounding amplified by 1/sqrt(eps) and would depend on the batch it ran in: run such batches per image.
    flat = bool((inp.amax((1, 2)) == inp.amin((1, 2))).all(-1).any())
    per_image_runs = dropout or batchnorm == "batch" or flat
    chunk = 1 if (tiled or per_image_runs) else max(1, min(batch_size, budget // max(1, per_image)))

    autocast = _autocast(dev, precision)
    fn = _maybe_compile(net, compile and not tiled)
    mf = torch.channels_last if channels_last else torch.contiguous_format
    result = torch.empty(B, H, W, out_c, dtype=torch.float32, device=out_device)
    was_training = net.training
    net.eval()
    total = B if not tiled else None
    try:
        with _modes(net, batchnorm, dropout), torch.inference_mode():
            for start in range(0, B, chunk):
                stop = min(B, start + chunk)
                xb = inp[start:stop].to(dev, torch.float32).permute(0, 3, 1, 2) * 2 - 1
                xb, pads = im.pad_to_multiple(xb, net.size_multiple, shrink // 2, net.min_size)
                lb = None if lab is None else lab[start:stop].to(dev)
                if tiled:
                    def tile_progress(done, n, _i=start):
                        if progress is not None:
                            progress(_i * n + done, B * n)
                    y = streaming.run(net, xb, None if lb is None else lb[0],
                                      band_bytes=tile_bytes, ram_bytes=max(tile_bytes, 64 << 20), autocast=autocast,
                                      channels_last=channels_last, progress=tile_progress, spill_dir=spill_dir,
                                      seed=None if seed is None else seed + start).to(dev)
                else:
                    xb = xb.contiguous(memory_format=mf)
                    with _rng(dev, seed, start, dropout), autocast():
                        y = fn(xb, lb) if c_dim else fn(xb)
                y = im.crop(y.float(), pads, shrink // 2)
                y = ((y + 1) / 2).clamp_(0, 1).permute(0, 2, 3, 1)
                if y.shape[-1] != out_c:
                    y = y.expand(*y.shape[:-1], out_c)
                result[start:stop] = y.to(out_device)
                if progress is not None and total is not None:
                    progress(stop, total)
    finally:
        net.train(was_training)
    if tuple(result.shape[1:3]) != tuple(out_size):
        if keep_detail and result.shape[-1] == inp.shape[-1]:
            delta = result - inp.to(result.device, torch.float32)
            result = (full.to(result.device, torch.float32) + im.resize_to(delta, out_size, clamp=False)).clamp_(0, 1)
        else:
            result = im.resize_to(result, out_size)
    if alpha is not None:
        result = torch.cat([result, alpha.to(result.device)], -1)
    result = im.from_unit_float(result, out_dtype)
    return pil_back(result) if pil_back is not None else result


@contextmanager
def _rng(device: torch.device, seed: int | None, index: int, active: bool):
    """Seed the RNG for reproducible test-time dropout without disturbing the caller's RNG state."""
    if not active:
        yield
        return
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed((seed or 0) + index)
        yield


def _labels(labels, c_dim: int, batch: int) -> torch.Tensor | None:
    if not c_dim:
        if labels is not None:
            raise ValueError("labels are only used by StarGAN models")
        return None
    if labels is None:
        raise ValueError(f"this StarGAN model needs target labels (c_dim={c_dim}): pass labels=[...] of length "
                         f"{c_dim}, or use i2i_models.edit(model, images, strengths={{...}})")
    lab = torch.as_tensor(labels, dtype=torch.float32)
    if lab.dim() == 1:
        lab = lab.unsqueeze(0).expand(batch, -1)
    if lab.shape != (batch, c_dim):
        raise ValueError(f"labels must have shape [{batch}, {c_dim}] or [{c_dim}], got {tuple(lab.shape)}")
    return lab
