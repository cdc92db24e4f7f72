"""Execution backends for :func:`i2i_models.translate`: PyTorch (always), or the generator exported to ONNX
(:mod:`i2i_models.export`) and run by OpenVINO or ONNX Runtime on CPU.

Which is fastest was measured, not assumed (``python -m i2i_models.bench --backends``, README *Speed*): on
this project's CPU machine OpenVINO's fp32 plugin beats ONNX Runtime's CPU provider on all three default
generators and both beat eager PyTorch, with outputs equal to PyTorch's within ~3e-5 in [-1, 1]. So
``backend="auto"`` picks, for an fp32 run on CPU, OpenVINO if installed, else ONNX Runtime, else PyTorch;
on GPUs, and for what the exported graph cannot do (exact streamed tiles, test-time dropout,
batch-statistics BatchNorm, ``compile``), it runs PyTorch. ``precision="bf16"`` with ``backend="openvino"``
runs OpenVINO's bf16 kernels (the fastest reduced-precision path on CPUs with AVX-512 bf16).

Exported files are cached on disk under the weights' SHA-256 (:func:`cache_dir`), so only the first run of a
model exports (seconds); the compiled session is kept with the network object itself (a weak reference),
so it lives exactly as long as whoever owns the model (ComfyUI's cache, a script) keeps it — never in a
pack-level cache — and is rebuilt when the weights change.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn as nn

log = logging.getLogger("i2i_models")

BACKENDS = ("auto", "torch", "openvino", "onnxruntime")
FAST_ORDER = ("openvino", "onnxruntime")  # measured order, fastest first (README, Speed)
_MODULES = {"openvino": ("openvino", "onnx", "onnxruntime"), "onnxruntime": ("onnxruntime", "onnx")}
_sessions: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def available() -> list[str]:
    """The backends that can run here: ``torch`` and each exported-graph backend whose packages import."""
    return ["torch"] + [b for b in FAST_ORDER if all(importlib.util.find_spec(m) for m in _MODULES[b])]


def cache_dir() -> Path:
    """Where exported ONNX files are kept: ``$I2I_CACHE/onnx``, else ``$XDG_CACHE_HOME/i2i_gans/onnx`` (default
    ``~/.cache/i2i_gans/onnx``; the training tools' cache convention). Files are named by the SHA-256 of the
    generator's config and weights, so a changed model never reuses a stale file; delete the folder to reclaim
    the space."""
    base = os.environ.get("I2I_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                                                       "i2i_gans")
    return Path(base).expanduser() / "onnx"


def choose(backend: str, *, device: torch.device, precision: str, unsupported: str | None = None) -> str:
    """The backend a run uses.

    Args:
        backend: one of :data:`BACKENDS`.
        device: where the run happens; exported-graph backends run on CPU only.
        precision: the resolved precision (``fp32``/``bf16``/``fp16``).
        unsupported: what in this run an exported graph cannot do (``"exact streamed tiles"``,
            ``"test-time dropout"`` …), or ``None``.

    ``auto`` → the fastest installed exact backend for fp32 CPU runs the graph can do, else ``torch``. An
    explicit exported-graph backend for a run it cannot do raises ``ValueError`` saying why; one that is not
    installed raises ``ImportError`` naming the packages.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "torch":
        return "torch"
    if backend == "auto":
        if device.type != "cpu" or precision != "fp32" or unsupported:
            return "torch"
        have = available()
        return next((b for b in FAST_ORDER if b in have), "torch")
    if backend not in available():
        pkgs = " ".join(_MODULES[backend])
        raise ImportError(f"backend {backend!r} needs {pkgs}: pip install 'comfyui-i2i-gans[{backend}]' (or pip install {pkgs})")
    if unsupported:
        raise ValueError(f"backend {backend!r} cannot run {unsupported}; use backend='torch' (or 'auto') for it")
    if device.type != "cpu":
        raise ValueError(f"backend {backend!r} runs on CPU only; use backend='torch' (or 'auto') on {device}")
    if precision == "fp16" or (precision == "bf16" and backend != "openvino"):
        raise ValueError(f"backend {backend!r} runs fp32{' or bf16' if backend == 'openvino' else ''} only, "
                         f"not {precision}; use backend='torch' for {precision}")
    return backend


def runner(net: nn.Module, backend: str, precision: str = "fp32") -> Callable[..., torch.Tensor]:
    """A callable ``f(x[, labels]) -> y`` (torch tensors [B, C, H, W] float32 in and out, on CPU) that runs
    ``net``'s exported graph with ``backend``; built on first use (export to the disk cache if needed, then
    compile) and kept with ``net`` until its weights change or it is garbage-collected."""
    if backend == "torch":
        return net
    key = tuple((p.data_ptr(), p._version) for p in net.parameters())
    with _lock:
        entry = _sessions.setdefault(net, {})
        hit = entry.get((backend, precision))
        if hit is None or hit[0] != key:
            path = exported_file(net)
            hit = (key, _build(backend, precision, path), path.stat().st_size)
            entry[(backend, precision)] = hit
    return hit[1]


def attached_bytes(module: nn.Module) -> int:
    """Bytes of the exported graphs kept with ``module``'s networks (their weights live in the backend's
    own memory too): what a memory manager should count on top of the module's own weights."""
    total = 0
    for m in module.modules():
        for _key, _fn, size in (_sessions.get(m) or {}).values():
            total += size
    return total


def release(module: nn.Module) -> None:
    """Drop the compiled graphs kept with ``module``'s networks (they are rebuilt from the disk cache when
    needed again)."""
    with _lock:
        for m in module.modules():
            _sessions.pop(m, None)


def exported_file(net: nn.Module) -> Path:
    """The network's ONNX file in :func:`cache_dir`, exported (and checked against PyTorch) when absent."""
    from .export import export_generator, weights_sha256

    path = cache_dir() / f"{weights_sha256(net)[:40]}.onnx"
    if not path.exists():
        log.info("exporting %s to ONNX once (cached in %s)", net.config.get("arch"), path.parent)
        export_generator(net, path)
    return path


def _build(backend: str, precision: str, path: Path) -> Callable[..., torch.Tensor]:
    threads = max(1, torch.get_num_threads())
    if backend == "onnxruntime":
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]

        def run_ort(*args: torch.Tensor) -> torch.Tensor:
            feeds = {n: a.detach().float().contiguous().cpu().numpy() for n, a in zip(names, args)}
            return torch.from_numpy(session.run(["output"], feeds)[0])
        return run_ort
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(path)), "CPU", {
        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads})
    return _OpenVINORunner(compiled)


class _OpenVINORunner:
    """One OpenVINO infer request of a compiled model, used under a lock (calls from several threads run one
    after the other). Released request first, compiled model second: OpenVINO crashes when a request outlives
    its compiled model, which closures and thread-locals cannot promise at garbage collection."""

    def __init__(self, compiled):
        self.compiled = compiled
        self.names = [i.get_any_name() for i in compiled.inputs]
        self.out = compiled.output(0)
        self.request = compiled.create_infer_request()
        self.lock = threading.Lock()

    def __call__(self, *args: torch.Tensor) -> torch.Tensor:
        feeds = {n: a.detach().float().contiguous().cpu().numpy() for n, a in zip(self.names, args)}
        with self.lock:
            return torch.from_numpy(self.request.infer(feeds)[self.out].copy())

    def __del__(self):
        self.request = None
        self.out = None
        self.compiled = None


__all__ = ["BACKENDS", "available", "cache_dir", "choose", "runner", "attached_bytes", "release", "exported_file"]
