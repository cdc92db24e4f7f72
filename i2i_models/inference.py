"""``translate``: the one inference API (nodes, CLIs and StarGAN ``edit`` all call it).

Data flow: images [B, H, W, C] in [0, 1] (or PIL) → alpha split off → channels adapted to the model →
[B, C, H, W] in [-1, 1] → padded to the network's multiple → chunks of the batch on the device, in the
chosen precision (or, for images too large for memory, exact streamed tiles, see
:mod:`i2i_models.streaming`) → cropped → [0, 1] → channels adapted back, alpha restored → same layout,
size, dtype and device as the input.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import weakref
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn

from . import backends
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


@dataclass
class TranslateOptions:
    """Everything :func:`translate` can be told (see its docstring for each option)."""

    direction: str | None = None
    strength: float | None = None
    labels: Any = None
    batch_size: int = 4
    device: str | torch.device | None = None
    precision: str = "fp32"
    precision_policy: Callable[[torch.device], str] | None = None
    channels_last: bool | None = None
    compile: bool = False
    tiled: bool | None = None
    tile_bytes: int = 64 << 20
    memory_budget: int | None = None
    batchnorm: str = "running"
    dropout: bool = False
    seed: int | None = None
    working_size: int | None = None
    keep_detail: bool = False
    progress: Callable[[int, int], None] | None = None
    spill_dir: str | None = None
    instance: Any = None
    backend: str = "torch"


@dataclass(frozen=True)
class Plan:
    """How a batch will run (:func:`plan`): where, in which precision, at which size, in chunks of how many
    images, streamed in exact tiles or not, and whether images run one by one."""

    device: torch.device
    precision: str
    channels_last: bool
    size: tuple[int, int]
    chunk: int
    tiled: bool
    per_image_bytes: int
    backend: str = "torch"


def plan(batch: int, size: tuple[int, int], *, device: torch.device, bytes_per_pixel: int, can_stream: bool,
         options: TranslateOptions, budget: int, flat: bool = False) -> Plan:
    """Decide how :func:`translate` runs a batch of ``batch`` images of ``size`` (H, W, after the working
    size) with a generator needing ``bytes_per_pixel`` (full frame, fp32) on ``device`` with ``budget``
    bytes: a pure function of its arguments (no tensors, no devices touched), tested on its own.

    * precision: ``options.precision`` (``"auto"`` through ``options.precision_policy``, else
      :func:`resolve_precision`);
    * tiled: as asked, or (``None``) when one image's full frame would exceed ``budget`` and the generator
      can stream;
    * chunk: 1 when tiled, for test-time dropout, batch-statistics BatchNorm or one-colour images (``flat``:
      their InstanceNorm output is rounding amplified and would depend on the batch), else as many images
      as fit the budget, at most ``options.batch_size``.
    """
    if options.precision == "auto" and options.precision_policy is not None:
        precision = options.precision_policy(device)
    else:
        precision = resolve_precision(options.precision, device)
    if options.batchnorm not in ("running", "batch"):
        raise ValueError(f"batchnorm must be 'running' or 'batch', got {options.batchnorm!r}")
    H, W = size
    per_image = bytes_per_pixel * (H + 64) * (W + 64)
    tiled = options.tiled if options.tiled is not None else (per_image > budget and can_stream)
    one_by_one = options.dropout or options.batchnorm == "batch" or flat
    chunk = 1 if (tiled or one_by_one) else max(1, min(options.batch_size, budget // max(1, per_image)))
    channels_last = options.channels_last if options.channels_last is not None else device.type == "cuda"
    return Plan(device, precision, bool(channels_last), (H, W), min(chunk, max(1, batch)), bool(tiled), per_image)


def translate(model: I2IModel | Network, images, options: TranslateOptions | None = None, **kwargs):
    """Translate images with a pix2pix, CycleGAN or StarGAN model (or any family's bundle, or a generator).

    A short pipeline: **prepare** the batch (layout, alpha, channels, working size), **plan** how it runs
    (:func:`plan`: device, precision, chunks or exact tiles), **execute** the generator chunk by chunk (or
    tile by tile, :mod:`i2i_models.streaming`), **finish** (crop, resize back, alpha, dtype).

    Args:
        model: a bundle from :func:`i2i_models.load` (or a bare generator network).
        images: ComfyUI-layout tensor [B, H, W, C] (or [H, W, C]) with C = 1 gray, 2 gray+alpha, 3 RGB,
            4 RGBA; float in [0, 1] or uint8; any H, W (odd, tiny, huge) and any B. Or a PIL image / list.
        options: a :class:`TranslateOptions`, or the same fields as keyword arguments:

            direction: CycleGAN ``"AtoB"`` (G_A) or ``"BtoA"`` (G_B); default the first available.
            strength: CycleGAN only (``None`` = 1): 0 returns the images unchanged (a copy; the network does
                not run), 1 is the trained translation; a conditional model (``train.cyclegan
                --conditional``) takes any value — between 0 and 1 a partial translation, beyond 1 an
                exaggerated one, negative the other direction (with the default ``--strength_control residual``
                the change, and the framing zoom, grow linearly with it) — and a two-generator model 1 or −1
                (the other generator). See :mod:`i2i_models.families.cyclegan`.
            labels: StarGAN target labels [B, c_dim] or [c_dim] (float; see :func:`i2i_models.edit` for
                strengths relative to the image's own attributes).
            batch_size: images per forward (chunks bound memory; results do not depend on it).
            device: where to run; default the generator's device. The model is moved there for the call and
                moved back afterwards (the caller's model stays where it was).
            precision: ``"fp32"`` (default), ``"bf16"``, ``"fp16"`` (autocast) or ``"auto"`` (bf16/fp16 on
                CUDA, fp32 on CPU; or what ``precision_policy(device)`` says, e.g. ComfyUI's rules). bf16
                moves outputs by up to ~0.08 (mean ~0.006) in [-1, 1].
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
            working_size: run the network with the image's shorter side resized to this many pixels (e.g.
                the model's training size, ``model.config["image_size"]``), then resize the result back
                (bicubic, antialiased); ``None`` (default) runs at the image's own size.
            keep_detail: with ``working_size``, add the network's *change* (its output minus its input, at
                the working size) resized to the image, to the image itself, instead of resizing the output:
                what the translation leaves alone keeps the image's full resolution (StarGAN edits). Needs
                the model's input and output to have the same channels; otherwise the output is resized.
            backend: ``"torch"`` (default), ``"auto"`` (the fastest installed exact backend for fp32 runs on
                CPU: OpenVINO, else ONNX Runtime, else PyTorch; PyTorch on GPUs and for tiles, dropout,
                batch-statistics BatchNorm or compile), ``"openvino"`` (fp32, or bf16 with
                ``precision="bf16"``) or ``"onnxruntime"`` (fp32): the generator exported to ONNX once
                (cached on disk by its weights' hash) and run there, CPU only (:mod:`i2i_models.backends`).
                Tiled runs always stream in PyTorch.
            progress: called as ``progress(done, total)`` after each chunk or tile; may raise to cancel.
            spill_dir: folder for the temporary files of tiled runs (default: the system temp folder).
            instance: for pix2pixHD models that take the instance-edge channel: the instance map [B, H, W] of
                ids (or an IMAGE/MASK holding 8-bit ids) whose boundaries make that channel (NVIDIA
                ``get_edges``); without it the channel is zeros (no boundaries). For such models ``images`` is the label map: integer ids
                [B, H, W] (or [B, H, W, 1]), an IMAGE/MASK in [0, 1] holding ids as 8-bit values, or PIL
                label images (pixel values are the ids, palette images included; the instance map may be PIL
                too); the one-hot input is built from it (:func:`i2i_models.images.label_map_input`), resized
                nearest.

    Returns:
        The same kind as ``images``: a tensor [B, H, W, C'] on the input's device with the input's dtype,
        values in [0, 1], where C' keeps alpha and has RGB colour if the input or the model is RGB; or
        PIL image(s).

    Raises:
        ValueError: bad images (rank, channels, dtype), missing StarGAN labels, unknown options or a
            direction the model lacks.
    """
    if options is None:
        options = TranslateOptions(**kwargs)
    elif kwargs:
        options = dataclasses.replace(options, **kwargs)
    options = _condition(model, options)
    net = select_generator(model, options.direction)
    if options.strength is not None and float(options.strength) == 0:
        return _unchanged(images)
    batch = _prepare(images, net, options)
    home = next(net.parameters()).device
    dev = torch.device(options.device) if options.device is not None else home
    p = plan(batch.inp.shape[0], tuple(batch.inp.shape[1:3]), device=dev, bytes_per_pixel=bytes_per_pixel(net),
             can_stream=streaming.supports(net), options=options,
             budget=options.memory_budget if options.memory_budget is not None else default_memory_budget(dev),
             flat=bool((batch.inp.amax((1, 2)) == batch.inp.amin((1, 2))).all(-1).any()))
    p = dataclasses.replace(p, backend=_backend(options, p))
    moved = home != dev
    if moved:
        net.to(dev)
    try:
        result = _execute(net, batch, p, options)
    finally:
        if moved:
            net.to(home)
    return _finish(result, batch, options)


def _condition(model, options: TranslateOptions) -> TranslateOptions:
    """``direction``/``strength`` as the model's family turns them into a generator and its condition (the
    conditional CycleGAN's domain code, :meth:`i2i_models.families.cyclegan._CycleGAN.condition`); explicit
    ``labels`` are kept. Raises ``ValueError`` for a strength the model cannot honour."""
    fam = family(model) if isinstance(model, I2IModel) else None
    if fam is None or not hasattr(fam, "condition"):
        if options.strength is not None and float(options.strength) != 1:
            raise ValueError("strength is for CycleGAN models; StarGAN attributes take strengths through "
                             "i2i_models.edit(model, images, strengths={...})")
        return options
    if options.labels is not None and getattr(model, "conditional", False):
        if options.strength is not None:
            raise ValueError("give either labels (the raw domain code) or strength, not both")
        return options
    direction, labels = fam.condition(model, options.direction, options.strength)
    return dataclasses.replace(options, direction=direction, labels=labels if labels is not None else options.labels)


def _unchanged(images):
    """The images given back as they came (strength 0): a tensor copy, or copies of PIL images."""
    if isinstance(images, torch.Tensor):
        return images.clone()
    if isinstance(images, (list, tuple)):
        return [i.copy() for i in images]
    return images.copy()


def _backend(options: TranslateOptions, p: Plan) -> str:
    """The backend this run uses (:func:`i2i_models.backends.choose`); tiles always stream in PyTorch."""
    if p.tiled:
        if options.backend not in ("torch", "auto"):
            log.info("exact tiles run in PyTorch; backend %r is used for full-frame runs", options.backend)
        return "torch"
    unsupported = ("test-time dropout" if options.dropout else "batch-statistics BatchNorm"
                   if options.batchnorm == "batch" else "compile=True" if options.compile else None)
    return backends.choose(options.backend, device=p.device, precision=p.precision, unsupported=unsupported)


@dataclass
class _Batch:
    """A prepared batch: the network's input [B, h, w, C_in] in [0, 1] (at the working size), the same at
    full size, alpha, labels, and how to give the result back."""

    inp: torch.Tensor
    full: torch.Tensor
    alpha: torch.Tensor | None
    labels: torch.Tensor | None
    signed: bool  # the network sees [-1, 1] images (else raw one-hot label maps)
    out_size: tuple[int, int]
    out_c: int
    out_dtype: torch.dtype
    out_device: torch.device
    pil_back: Callable | None


def _prepare(images, net: Network, options: TranslateOptions) -> _Batch:
    pil_back = None
    c_dim = int(getattr(net, "c_dim", 0) or 0)  # conditional generators (StarGAN) take labels
    label_nc = int(getattr(net, "label_nc", 0) or 0)  # label-map generators (pix2pixHD) take one-hot maps
    edges = bool(getattr(net, "instance_edges", False))  # ... and the instance-edge channel
    instance = options.instance
    if instance is not None and not isinstance(instance, torch.Tensor):
        instance, _ = im.pil_label_ids(instance)
    if not isinstance(images, torch.Tensor):
        images, pil_back = im.pil_label_ids(images) if label_nc else im.from_pil(images)
    if label_nc:
        full = im.label_map_input(images, label_nc, instance, edges)
        inp = _nearest_short_side(full, options.working_size)
        out_device = images.device if isinstance(images, torch.Tensor) else torch.device("cpu")
        return _Batch(inp, full, None, _labels(options.labels, c_dim, full.shape[0]), False, tuple(full.shape[1:3]),
                      im.output_channels(1, net.output_nc), torch.float32, out_device, pil_back)
    if edges:  # an image model with the instance-edge channel (pix2pixHD --label_nc 0 without --no_instance)
        x = im.check_bhwc(images)
        colour, alpha = im.split_alpha(im.to_unit_float(x))
        colour = im.adapt_input(colour, net.input_nc - 1)
        edge = im.edge_channel(instance, tuple(colour.shape[:3]))
        if options.working_size:
            colour, edge = im.resize_short_side(colour, int(options.working_size)), _nearest_short_side(edge, options.working_size)
        inp = torch.cat([colour * 2 - 1, edge], -1)
        return _Batch(inp, inp, alpha, _labels(options.labels, c_dim, x.shape[0]), False, tuple(x.shape[1:3]),
                      im.output_channels(colour.shape[-1], net.output_nc), x.dtype, x.device, pil_back)
    x = im.check_bhwc(images)
    lab = _labels(options.labels, c_dim, x.shape[0])
    colour, alpha = im.split_alpha(im.to_unit_float(x))
    out_c = im.output_channels(colour.shape[-1], net.output_nc)
    full = im.adapt_input(colour, net.input_nc)
    inp = im.resize_short_side(full, int(options.working_size)) if options.working_size else full
    return _Batch(inp, full, alpha, lab, True, tuple(full.shape[1:3]), out_c, x.dtype, x.device, pil_back)


def _nearest_short_side(x: torch.Tensor, short) -> torch.Tensor:
    """[B, H, W, C] resized (nearest: label maps and edges stay 0/1) to a short side of ``short`` (None: as is)."""
    if not short:
        return x
    H, W = x.shape[1:3]
    scale = int(short) / min(H, W)
    size = (max(1, round(H * scale)), max(1, round(W * scale)))
    return torch.nn.functional.interpolate(x.permute(0, 3, 1, 2), size=size, mode="nearest").permute(0, 2, 3, 1)


def _execute(net: Network, batch: _Batch, p: Plan, options: TranslateOptions) -> torch.Tensor:
    """Run the generator on the prepared batch as planned: [B, h, w, C_out] float32 in [0, 1]."""
    inp, lab, dev = batch.inp, batch.labels, p.device
    B, H, W = inp.shape[:3]
    shrink = getattr(net, "size_shrink", 0)
    graph = p.backend != "torch"
    autocast = nullcontext if graph else _autocast(dev, p.precision)
    fn = backends.runner(net, p.backend, p.precision) if graph else _maybe_compile(net, options.compile and not p.tiled)
    mf = torch.channels_last if p.channels_last else torch.contiguous_format
    result = torch.empty(B, H, W, batch.out_c, dtype=torch.float32, device=batch.out_device)
    progress = options.progress
    was_training = net.training
    net.eval()
    try:
        with _modes(net, options.batchnorm, options.dropout), torch.inference_mode():
            for start in range(0, B, p.chunk):
                stop = min(B, start + p.chunk)
                xb = inp[start:stop].to(dev, torch.float32).permute(0, 3, 1, 2)
                if batch.signed:
                    xb = xb * 2 - 1
                xb, pads = im.pad_to_multiple(xb, net.size_multiple, shrink // 2, net.min_size)
                lb = None if lab is None else lab[start:stop].to(dev)
                if p.tiled:
                    def tile_progress(done, n, _i=start):
                        if progress is not None:
                            progress(_i * n + done, B * n)
                    y = streaming.run(net, xb, None if lb is None else lb[0], band_bytes=options.tile_bytes,
                                      ram_bytes=max(options.tile_bytes, 64 << 20), autocast=autocast,
                                      channels_last=p.channels_last, progress=tile_progress,
                                      spill_dir=options.spill_dir,
                                      seed=None if options.seed is None else options.seed + start).to(dev)
                else:
                    xb = xb.contiguous(memory_format=mf)
                    with _rng(dev, options.seed, start, options.dropout), autocast():
                        y = fn(xb, lb) if lb is not None else fn(xb)
                y = im.crop(y.float(), pads, shrink // 2)
                y = ((y + 1) / 2).clamp_(0, 1).permute(0, 2, 3, 1)
                if y.shape[-1] != batch.out_c:
                    y = y.expand(*y.shape[:-1], batch.out_c)
                result[start:stop] = y.to(batch.out_device)
                if progress is not None and not p.tiled:
                    progress(stop, B)
    finally:
        net.train(was_training)
    return result


def _finish(result: torch.Tensor, batch: _Batch, options: TranslateOptions):
    """Back to the input's size (resized, or only the change with ``keep_detail``), alpha, dtype, PIL."""
    if tuple(result.shape[1:3]) != tuple(batch.out_size):
        if options.keep_detail and batch.signed and result.shape[-1] == batch.inp.shape[-1]:
            delta = result - batch.inp.to(result.device, torch.float32)
            result = (batch.full.to(result.device, torch.float32) + im.resize_to(delta, batch.out_size, clamp=False)).clamp_(0, 1)
        else:
            result = im.resize_to(result, batch.out_size)
    if batch.alpha is not None:
        result = torch.cat([result, batch.alpha.to(result.device)], -1)
    result = im.from_unit_float(result, batch.out_dtype)
    return batch.pil_back(result) if batch.pil_back is not None else result


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
            raise ValueError("labels are only used by conditional models (StarGAN, conditional CycleGAN)")
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
