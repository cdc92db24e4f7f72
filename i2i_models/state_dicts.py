"""Reading weights files safely, and putting their state dicts into a plain, comparable form.

Only two readers are ever used: ``safetensors`` and ``torch.load(..., weights_only=True)``, which
refuses any pickle that would import a class or call a function. Nothing here executes code from a file.
"""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import torch

from .errors import CorruptCheckpointError, ModelNotFoundError, UnsafeCheckpointError

WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin", ".ckpt", ".pkl", ".tar")
WRAPPER_KEYS = ("state_dict", "model", "netG", "net_g", "G", "generator", "params_ema", "params")

StateDict = dict[str, torch.Tensor]


def _is_safetensors(path: Path, size: int) -> bool:
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 0 < n < size and head[8:9] == b"{"


def read_weights(path: str | Path, lazy: bool = False) -> dict:
    """Read a weights file into a dict without running any code.

    ``*.safetensors`` (or any file with a safetensors header) through ``safetensors.torch.load_file``;
    everything else through ``torch.load(map_location="cpu", weights_only=True)``, which reads both the
    zip format (PyTorch >= 1.6) and legacy pickles (PyTorch 0.3–1.5). Tensors come back on the CPU.
    ``lazy=True`` only needs names and shapes: safetensors come back as ``meta`` tensors and zip
    checkpoints memory-mapped, so nothing large is read.

    Raises:
        ModelNotFoundError: no such file.
        CorruptCheckpointError: empty, truncated or damaged file, or not a weights file at all.
        UnsafeCheckpointError: a pickle that needs classes or functions to load (e.g. a whole pickled
            ``nn.Module``); we never execute it.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"no such file: {path}")
    size = path.stat().st_size
    if size == 0:
        raise CorruptCheckpointError(f"{path} is empty (0 bytes): the download or copy did not finish; fetch it again")
    if path.suffix == ".safetensors" or _is_safetensors(path, size):
        from safetensors.torch import load_file

        try:
            if lazy:
                from safetensors import safe_open

                with safe_open(str(path), framework="pt") as f:
                    return {k: torch.empty(f.get_slice(k).get_shape(), device="meta") for k in f.keys()}
            return load_file(str(path), device="cpu")
        except Exception as e:  # safetensors raises its own SafetensorError and OSError variants
            raise CorruptCheckpointError(
                f"{path} ({size} bytes) is not a readable safetensors file ({e}); it is probably truncated or "
                f"damaged: download or copy it again") from None
    try:
        if lazy:
            try:
                return torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError:
                pass  # legacy (non-zip) pickles cannot be memory-mapped: read them whole
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        msg = str(e)
        if "Unsupported global" in msg or "GLOBAL" in msg or "Unsupported class" in msg:
            what = msg.split("Unsupported global:")[-1].split("\n")[0].strip() if "Unsupported global" in msg else ""
            raise UnsafeCheckpointError(
                f"{path} is a pickle that would have to import and run code to load{(' (' + what + ')') if what else ''}. "
                f"We only load plain weights (safetensors, or state dicts through torch.load(weights_only=True)). "
                f"If you trust the file, re-save its state_dict with the code that made it: "
                f"torch.save(model.state_dict(), 'weights.pth').") from None
        raise CorruptCheckpointError(_not_a_checkpoint(path, size, msg)) from None
    except (RuntimeError, EOFError, OSError, ValueError, struct.error, KeyError, IndexError, AttributeError,
            TypeError, MemoryError, OverflowError, RecursionError, AssertionError) as e:
        # MemoryError/OverflowError: a damaged pickle declaring an absurd size (we never allocate what it claims);
        # AssertionError: torch's legacy reader on a damaged storage table (found by tests/fuzz_loaders.py)
        raise CorruptCheckpointError(_not_a_checkpoint(path, size, f"{type(e).__name__}: {e}")) from None


def _not_a_checkpoint(path: Path, size: int, detail: str) -> str:
    with open(path, "rb") as f:
        head = f.read(64)
    hint = "it is probably truncated or damaged: download or copy it again"
    if head.lstrip()[:1] in (b"<", b"{"):
        hint = "it looks like an HTML or JSON page, not weights (an error page saved by a failed download?)"
    elif head.startswith(b"version https://git-lfs"):
        hint = "it is a Git LFS pointer, not the weights: fetch the real file (git lfs pull)"
    return f"cannot read {path} ({size} bytes) as a PyTorch checkpoint: {hint}. ({detail.splitlines()[0][:200]})"


def _tensor_dict(obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def unwrap_state_dict(obj, where: str = "file") -> StateDict:
    """Find the state dict inside what ``read_weights`` returned and normalise it.

    Unwraps ``{"state_dict": …}``-style wrappers (keys ``state_dict``, ``model``, ``netG``, ``G``,
    ``generator``, ``params_ema``, ``params``), drops non-tensor entries of a wrapper (``epoch`` …), and
    strips a prefix every key shares that DataParallel or ``torch.compile`` adds (``module.``,
    ``_orig_mod.``). The result is a plain dict (so legacy ``_metadata`` is gone).

    Raises ``CorruptCheckpointError`` when no tensors are found.
    """
    sd = obj
    for _ in range(3):
        if _tensor_dict(sd):
            break
        if isinstance(sd, dict):
            inner = next((sd[k] for k in WRAPPER_KEYS if isinstance(sd.get(k), dict)), None)
            if inner is None:
                tensors = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
                if tensors:
                    sd = tensors
                    break
                nested = [v for v in sd.values() if isinstance(v, dict) and any(isinstance(t, torch.Tensor) for t in v.values())]
                if len(nested) == 1:
                    inner = nested[0]
            if inner is None:
                break
            sd = inner
    if not _tensor_dict(sd):
        keys = list(obj)[:10] if isinstance(obj, dict) else type(obj).__name__
        raise CorruptCheckpointError(f"{where} holds no state dict of tensors (top level: {keys})")
    sd = {str(k): v for k, v in sd.items()}
    for prefix in ("module.", "_orig_mod.", "module."):
        if all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix):]: v for k, v in sd.items()}
    return sd


def read_state_dict(path: str | Path, lazy: bool = False) -> StateDict:
    """``unwrap_state_dict(read_weights(path, lazy))``: the normalised state dict of one weights file."""
    return unwrap_state_dict(read_weights(path, lazy), where=str(path))


def describe_keys(sd: StateDict, n: int = 8) -> str:
    """A short listing of the first keys with shapes, for error messages."""
    items = [f"{k} {tuple(v.shape)}" for k, v in list(sd.items())[:n]]
    more = f", … ({len(sd)} keys)" if len(sd) > n else ""
    return ", ".join(items) + more


def read_json(path: str | Path) -> dict:
    """Read a JSON object; raise ``CorruptCheckpointError`` with the path when it is not valid JSON."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorruptCheckpointError(f"{path} is not valid JSON ({e}); restore or re-download it") from None
    except RecursionError:
        raise CorruptCheckpointError(f"{path} nests JSON too deeply to be a model's config; restore or re-download it") from None
    if not isinstance(data, dict):
        raise CorruptCheckpointError(f"{path} holds JSON {type(data).__name__}, not an object")
    if _depth(data) > MAX_JSON_DEPTH:
        raise CorruptCheckpointError(f"{path} nests JSON more than {MAX_JSON_DEPTH} levels deep; no config of ours "
                                     f"does: restore or re-download it")
    return data


MAX_JSON_DEPTH = 32


def _depth(obj) -> int:
    """Nesting depth of JSON data, without recursion."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        deepest = max(deepest, d)
        if d > MAX_JSON_DEPTH:
            break
        if isinstance(o, dict):
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            stack.extend((v, d + 1) for v in o)
    return deepest
