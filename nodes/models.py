"""The pack's model folder and model lists: local files and folders, plus the curated public models.

Models live in ComfyUI's ``models/i2i_gans`` (registered with ``folder_paths``; paths from
``extra_model_paths.yaml`` keep priority). A list entry is either a path relative to that folder
(``my-run/`` for a model folder, ``horse2zebra.pth`` for a file) or a catalog key
(``official/cyclegan/horse2zebra``, ``hub/huggan/pix2pix-maps``), fetched into the folder on first use
and found there afterwards without the network.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import folder_paths

from ..i2i_models import catalog, load, peek
from ..i2i_models.bundles import I2IModel
from ..i2i_models.state_dicts import WEIGHT_SUFFIXES

log = logging.getLogger("comfyui-i2i-gans")

FOLDER = "i2i_gans"
EXTENSIONS = set(WEIGHT_SUFFIXES) | {".json"}
HUB_OPTION = "Hub repo…"


PACK_MODELS = Path(__file__).resolve().parent.parent / "example_workflows" / "models"


def register_folder() -> None:
    """Add ``models/i2i_gans`` to ComfyUI's model folders without overriding ``extra_model_paths.yaml``,
    then the pack's own published models (``example_workflows/models``, lowest priority), so the example
    workflows run as soon as the pack is installed."""
    default = os.path.join(folder_paths.models_dir, FOLDER)
    entry = folder_paths.folder_names_and_paths.get(FOLDER)
    if entry is None:
        entry = folder_paths.folder_names_and_paths[FOLDER] = ([default], set(EXTENSIONS))
    paths, exts = entry
    if default not in paths:
        paths.append(default)
    if PACK_MODELS.is_dir() and str(PACK_MODELS) not in paths:
        paths.append(str(PACK_MODELS))
    if isinstance(exts, set) and exts:
        exts.update(EXTENSIONS)


def model_dirs() -> list[Path]:
    return [Path(p) for p in folder_paths.get_folder_paths(FOLDER)]


def download_dir() -> Path:
    """Where catalog models are fetched to: the first model folder (create it if needed)."""
    d = model_dirs()[0]
    d.mkdir(parents=True, exist_ok=True)
    return d


def _is_model_dir(d: Path) -> bool:
    if (d / "config.json").is_file():
        return True
    names = [p.name for p in d.iterdir() if p.is_file()]
    return any(n in ("pytorch_model.bin", "model.safetensors") or "_net_G" in n or n.endswith("-G.ckpt") for n in names)


def _scan(base: Path) -> list[str]:
    """Model folders (``name/``) and loose weights files under ``base``, relative to it."""
    out: list[str] = []
    if not base.is_dir():
        return out
    for root, dirs, files in os.walk(base):
        r = Path(root)
        rel = r.relative_to(base)
        if rel.parts and rel.parts[0] in ("official", "hub", ".cache") or any(p.startswith(".") for p in rel.parts):
            dirs[:] = []
            continue
        if rel.parts and _is_model_dir(r):
            out.append(rel.as_posix() + "/")
            dirs[:] = []
            continue
        dirs.sort()
        for f in sorted(files):
            if f.lower().endswith(WEIGHT_SUFFIXES) and not f.endswith(".part"):
                out.append((rel / f).as_posix())
    return out


_info_cache: dict[tuple[str, float], dict[str, Any]] = {}


def local_info(path: Path) -> dict[str, Any] | None:
    """``i2i_models.peek`` of a local model, cached by modification time; ``None`` if unreadable."""
    try:
        mtime = max((p.stat().st_mtime for p in ([path] + (list(path.iterdir()) if path.is_dir() else [])))
                    , default=0.0)
    except OSError:
        return None
    key = (str(path), mtime)
    if key not in _info_cache:
        try:
            _info_cache[key] = peek(path)
        except Exception as e:  # a broken file must not break the node list
            log.warning("i2i_gans: skipping %s: %s", path, str(e).splitlines()[0])
            _info_cache[key] = None
    return _info_cache[key]


@dataclass
class Choice:
    """One selectable model: its list key, family and what the UI shows about it."""

    key: str
    family: str
    domains: dict[str, str] = field(default_factory=lambda: {"A": "A", "B": "B"})
    directions: list[str] = field(default_factory=lambda: ["AtoB"])
    attributes: list[str] = field(default_factory=list)


def choices(family: str) -> list[Choice]:
    """Local models of ``family`` (first) and the catalog's known models of it."""
    out: list[Choice] = []
    seen = set()
    for base in model_dirs():
        for rel in _scan(base):
            if rel in seen:
                continue
            info = local_info(base / rel)
            if info is None or info["family"] != family:
                continue
            seen.add(rel)
            out.append(Choice(rel, family, info.get("domains") or {"A": "A", "B": "B"}, info.get("directions") or ["AtoB"],
                              info.get("attributes") or []))
    for e in catalog.entries(family):
        d = {"A": e.domains[0], "B": e.domains[1]} if e.domains else {"A": "A", "B": "B"}
        out.append(Choice(e.key, family, d, ["AtoB"]))
    return out


def direction_label(choice_domains: dict[str, str], direction: str) -> str:
    a, b = choice_domains.get("A", "A"), choice_domains.get("B", "B")
    return f"{a} → {b}" if direction == "AtoB" else f"{b} → {a}"


def resolve_path(key: str, progress=None) -> tuple[Path, catalog.Entry | None]:
    """The local path of a list key, fetching catalog models on first use."""
    entry = catalog.find(key)
    if entry is not None:
        return catalog.fetch(entry, download_dir(), progress=progress), entry
    for base in model_dirs():
        p = base / key.rstrip("/")
        if p.exists():
            return p, None
    raise FileNotFoundError(f"model {key!r} is not in the i2i_gans model folder(s) {[str(d) for d in model_dirs()]}; "
                            f"refresh the node list (R) or put the model there")


_model_cache: "OrderedDict[tuple, I2IModel]" = OrderedDict()


def load_choice(key: str, family: str, hub_repo: str = "", progress=None) -> I2IModel:
    """Load a listed model (or a typed-in Hub repo id) as a bundle of ``family``; small LRU cache."""
    if hub_repo.strip():
        repo = hub_repo.strip()
        entry = catalog.Entry(f"hub/{repo}", family, "hub", repo)
        path = catalog.fetch(entry, download_dir(), progress=progress)
    else:
        path, entry = resolve_path(key, progress)
    stamp = max((p.stat().st_mtime for p in ([path] + (list(path.iterdir()) if path.is_dir() else []))), default=0.0)
    ck = (str(path), stamp, family)
    if ck in _model_cache:
        _model_cache.move_to_end(ck)
        return _model_cache[ck]
    model = load(path, family=family)
    if entry is not None and entry.domains and model.config.get("domains", {}).get("A") in (None, "A"):
        model.config["domains"] = {"A": entry.domains[0], "B": entry.domains[1]}
    _model_cache[ck] = model
    while len(_model_cache) > 3:
        _model_cache.popitem(last=False)
    return model
