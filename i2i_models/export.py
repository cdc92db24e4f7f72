"""ONNX export: one ``.onnx`` file per generator of a bundle, runnable with onnxruntime alone.

Each file takes ``image`` [B, C_in, H, W] float32 (batch, height and width are dynamic) and, for
conditional generators, ``labels`` [B, c_dim] float32 (StarGAN: the target attributes; a conditional
CycleGAN: the domain code [B, 1], +strength towards B, −strength towards A); it returns ``output`` [B, C_out, H', W']
float32 in [-1, 1] (tanh). ``image`` is the network's input exactly as :func:`i2i_models.translate` feeds
it: an RGB/gray image scaled to [-1, 1] (``(x / 255) * 2 - 1``), or for pix2pixHD label-map models the
one-hot label map (plus the instance-edge channel), values 0/1. H and W must be multiples of
``size_multiple`` and at least ``min_size`` (pad first, crop after; ``translate`` does this for you).

The file's metadata (``metadata_props``, strings; JSON for structured values) says how to use it without
this project: ``family``, ``role``, ``direction``, ``value_range``, ``size_multiple``, ``min_size``,
``input_nc``, ``output_nc``, ``c_dim``, ``label_nc``, ``instance_edges``, ``domains``, ``attributes``,
``attribute_groups``, ``network`` (the arch config), ``weights_sha256`` (of this generator's weights) and
``exporter``.

The graph is traced with PyTorch's TorchScript-based ONNX exporter (``torch.onnx.export(...,
dynamo=False)``, opset 17): it exports every architecture we have in seconds and needs no extra package;
the dynamo exporter (which needs ``onnxscript``) is the fallback where the former is unavailable.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import torch

from .bundles import I2IModel
from .errors import I2IError
from .families import family
from .networks import Network

log = logging.getLogger("i2i_models")
OPSET = 17
CHECK_TOLERANCE = 1e-4
EXPORTER = "torch.onnx (TorchScript) opset 17"


class ExportError(I2IError, RuntimeError):
    """An export could not be written, or the written file does not reproduce the torch generator."""


def weights_sha256(net: Network) -> str:
    """SHA-256 over a network's config and its state dict (names, dtypes, shapes, bytes): the key under which
    exported files are cached, so changed weights never reuse a stale file."""
    h = hashlib.sha256(json.dumps(net.config, sort_keys=True).encode())
    for name, t in sorted(net.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.dtype != torch.bool else t.numpy().tobytes())
    return h.hexdigest()


def example_size(net: Network) -> int:
    """The smallest square size the generator accepts (a multiple of ``size_multiple``, ≥ ``min_size``)."""
    m = int(net.size_multiple)
    return max(m, -(-int(net.min_size) // m) * m)


def generator_inputs(net: Network, batch: int, height: int, width: int, *, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs of the right kind for ``net``: an image [B, C_in, H, W] in [-1, 1] (a one-hot label map
    plus 0/1 edges for label-map generators) and, for conditional generators, labels [B, c_dim] in {0, 1} —
    for a conditional CycleGAN's ``residual_strength`` generator, signed codes in [-1.5, 1.5] (0 included),
    so that both directions, partial strengths and the framing zoom are checked."""
    g = torch.Generator().manual_seed(seed)
    label_nc = int(getattr(net, "label_nc", 0) or 0)
    if label_nc:
        ids = torch.randint(0, label_nc, (batch, height, width), generator=g)
        x = torch.nn.functional.one_hot(ids, label_nc).permute(0, 3, 1, 2).float()
        if net.input_nc > label_nc:
            x = torch.cat([x, (torch.rand(batch, net.input_nc - label_nc, height, width, generator=g) > 0.9).float()], 1)
    else:
        x = torch.rand(batch, net.input_nc, height, width, generator=g) * 2 - 1
    c_dim = int(getattr(net, "c_dim", 0) or 0)
    if c_dim and getattr(net, "residual_strength", False):
        code = torch.rand(batch, c_dim, generator=g) * 3 - 1.5
        if batch > 1:
            code[0] = 0.0  # strength 0: the input, zoom skipped for that image only
        return x, code
    if c_dim:
        return x, (torch.rand(batch, c_dim, generator=g) > 0.5).float()
    return (x,)


def _metadata(model: I2IModel | None, role: str, net: Network, sha: str) -> dict[str, str]:
    cfg = model.config if model is not None else {}
    meta = {
        "family": cfg.get("family", ""), "role": role, "value_range": json.dumps(cfg.get("value_range", [-1, 1])),
        "size_multiple": str(int(net.size_multiple)), "min_size": str(int(net.min_size)),
        "input_nc": str(int(net.input_nc)), "output_nc": str(int(net.output_nc)),
        "c_dim": str(int(getattr(net, "c_dim", 0) or 0)), "label_nc": str(int(getattr(net, "label_nc", 0) or 0)),
        "instance_edges": json.dumps(bool(getattr(net, "instance_edges", False))),
        "network": json.dumps(net.config, sort_keys=True), "weights_sha256": sha, "exporter": EXPORTER,
        "torch_version": torch.__version__,
    }
    if model is not None:
        fam = family(model)
        meta["direction"] = next((d for d, r in fam.directions.items() if r == role), "")
        if cfg.get("family") == "cyclegan" and role == "generator":  # one conditional generator: both ways
            meta["direction"] = "both: labels [B, 1] = +strength AtoB, -strength BtoA"
        for key in ("domains", "attributes", "attribute_groups", "image_size"):
            if cfg.get(key) is not None:
                meta[key] = json.dumps(cfg[key])
    return meta


def _trace(net: Network, args: tuple[torch.Tensor, ...]) -> bytes:
    """The ONNX bytes of ``net`` on example ``args``, dynamic batch/height/width."""
    names = ["image", "labels"][:len(args)]
    axes = {"image": {0: "batch", 2: "height", 3: "width"}, "output": {0: "batch", 2: "out_height", 3: "out_width"}}
    if len(args) > 1:
        axes["labels"] = {0: "batch"}
    buf = io.BytesIO()
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                torch.onnx.export(net, args, buf, dynamo=False, input_names=names, output_names=["output"],
                                  dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
            except TypeError:  # a torch without the TorchScript exporter
                batch, dyn = torch.export.Dim("batch"), torch.export.Dim.DYNAMIC
                shapes = [{0: batch, 2: dyn, 3: dyn}] + ([{0: batch}] if len(args) > 1 else [])
                prog = torch.onnx.export(net, args, dynamo=True, input_names=names, output_names=["output"],
                                         dynamic_shapes=tuple(shapes), opset_version=max(OPSET, 18))
                prog.save(buf)
    finally:
        net.train(was_training)
    return buf.getvalue()


def _with_metadata(data: bytes, meta: dict[str, str], doc: str) -> bytes:
    import onnx

    proto = onnx.load_from_string(data)
    del proto.metadata_props[:]
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.doc_string = doc
    proto.producer_name = "comfyui-i2i-gans"
    return proto.SerializeToString()


def check_file(path: str | os.PathLike, net: Network, *, sizes: tuple[int, ...] | None = None, batch: int = 2,
               tolerance: float = CHECK_TOLERANCE) -> float:
    """Run the ONNX file with onnxruntime on random inputs of three sizes (three squares and rectangles from
    the smallest accepted size up) and compare with ``net``'s torch forward. Returns the max |difference|
    (in the output's [-1, 1]); raises :class:`ExportError` when it exceeds ``tolerance``."""
    import onnxruntime as ort

    m, base = int(net.size_multiple), example_size(net)
    sizes = sizes or (base, base + m, base + 2 * m)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    net_was_training = net.training
    net.eval()
    try:
        for i, s in enumerate(sizes):
            h, w = s, sizes[(i + 1) % len(sizes)]
            args = generator_inputs(net, batch, h, w, seed=i)
            with torch.no_grad():
                ref = net(*[a.to(next(net.parameters()).device) for a in args]).float().cpu()
            feeds = {n: a.numpy() for n, a in zip(["image", "labels"], args)}
            out = torch.from_numpy(session.run(["output"], feeds)[0])
            if out.shape != ref.shape:
                raise ExportError(f"{path}: ONNX output shape {tuple(out.shape)} != torch {tuple(ref.shape)} at {h}×{w}")
            worst = max(worst, (out - ref).abs().max().item())
    finally:
        net.train(net_was_training)
    if not worst <= tolerance:
        raise ExportError(f"{path}: ONNX output differs from torch by {worst:.2e} (> {tolerance:.0e}); "
                          f"the export is not faithful, please report the model's architecture")
    return worst


def export_generator(net: Network, path: str | os.PathLike, *, model: I2IModel | None = None, role: str = "generator",
                     check: bool = True) -> Path:
    """Export one generator to ``path`` (written atomically) and, with ``check``, verify it with
    :func:`check_file`. Raises :class:`ExportError` (export failed, or the check did), ``ImportError``
    naming the extra to install when ``onnx``/``onnxruntime`` are missing."""
    _require()
    path = Path(path)
    sha = weights_sha256(net)
    s = example_size(net)
    src = next(net.parameters())
    home = (src.device, src.dtype)
    needs_move = home != (torch.device("cpu"), torch.float32)
    if needs_move:  # trace on CPU in fp32; give the caller's network back where it was
        net.to("cpu", torch.float32)
    try:
        try:
            data = _trace(net, generator_inputs(net, 1, s, s))
        except Exception as e:
            raise ExportError(f"could not export the {role} ({net.config.get('arch')}): {type(e).__name__}: {e}") from e
        doc = (f"comfyui-i2i-gans {model.family if model is not None else ''} {role}: image [B,{net.input_nc},H,W] "
               f"float32 → output [B,{net.output_nc},H,W] in [-1, 1]; H, W multiples of {net.size_multiple}, "
               f"≥ {net.min_size}.")
        data = _with_metadata(data, _metadata(model, role, net, sha), doc)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            if check:
                diff = check_file(tmp, net)
                log.info("exported %s: max |onnxruntime - torch| = %.1e", path.name, diff)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    finally:
        if needs_move:
            net.to(*home)
    return path


def export(model: I2IModel, out: str | os.PathLike, *, format: str = "onnx", check: bool = True) -> list[Path]:
    """Export every generator of a bundle: ``<out>/<role>.onnx`` (pix2pix and StarGAN ``generator.onnx``,
    CycleGAN ``G_A.onnx`` (A→B) and ``G_B.onnx`` (B→A)). Each file is checked against torch unless
    ``check=False``. Returns the paths written. Raises ``ValueError`` for an unknown format or a bundle
    without generators, :class:`ExportError` when an export or its check fails."""
    if format != "onnx":
        raise ValueError(f"unknown export format {format!r}; supported: onnx")
    gens = model.generators()
    if not gens:
        raise ValueError("this bundle holds no generator to export (it was made from a discriminator file)")
    out = Path(out)
    return [export_generator(net, out / f"{role}.onnx", model=model, role=role, check=check) for role, net in gens.items()]


def _require() -> None:
    missing = [m for m in ("onnx", "onnxruntime") if not _importable(m)]
    if missing:
        raise ImportError(f"ONNX export needs {' and '.join(missing)}: pip install 'comfyui-i2i-gans[onnx]' "
                          f"(or pip install onnx onnxruntime)")


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


__all__ = ["ExportError", "export", "export_generator", "check_file", "weights_sha256", "generator_inputs", "OPSET"]
