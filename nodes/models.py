"""The pack's model folder and model lists: local files and folders, plus the curated public models.

Models live in ComfyUI's ``models/i2i_gans`` (registered with ``folder_paths``; paths from
``extra_model_paths.yaml`` keep priority). A list entry is either a path relative to that folder
(``my-run/`` for a model folder, ``horse2zebra.pth`` for a file) or a catalog key
(``official/cyclegan/horse2zebra``, ``hub/huggan/pix2pix-maps``), fetched into the folder on first use
and found there afterwards without the network.

Nothing here keeps a model alive: every load builds a fresh bundle, which the node hands to ComfyUI
(its output cache and model management decide how long it lives). Only the cheap list metadata
(family, domains, attributes: no tensors) is remembered, keyed by path and modification time.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import folder_paths

from i2i_models import catalog, load, peek
from i2i_models.bundles import REPO_URL, I2IModel
from i2i_models.errors import ModelNotFoundError
from i2i_models.families import family
from i2i_models.state_dicts import WEIGHT_SUFFIXES

log = logging.getLogger("comfyui-i2i-gans")

FOLDER = "i2i_gans"
EXTENSIONS = set(WEIGHT_SUFFIXES) | {".json"}
HUB_OPTION = "Hub repo…"
HUB_SYNTAX = "org/name, org/name/file.pth or org/name@revision"


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


_info_cache: dict[tuple[str, float], tuple[dict[str, Any] | None, str | None]] = {}


def _mtime(path: Path) -> float:
    return max((p.stat().st_mtime for p in ([path] + (list(path.iterdir()) if path.is_dir() else []))), default=0.0)


def local_info(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """``(i2i_models.peek(path), None)`` for a readable local model, ``(None, reason)`` for a damaged one;
    remembered by path and modification time (metadata only, no tensors)."""
    try:
        key = (str(path), _mtime(path))
    except OSError as e:
        return None, str(e)
    if key not in _info_cache:
        try:
            _info_cache[key] = (peek(path), None)
        except Exception as e:  # a broken file must not break the node list
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            log.warning("i2i_gans: %s cannot be loaded: %s", path, reason)
            _info_cache[key] = (None, reason)
    return _info_cache[key]


@dataclass
class Choice:
    """One selectable model: its list key, family and what the UI shows about it. ``error`` is set for a
    damaged file (listed under every family, so the artist sees it and, on choosing it, why it fails)."""

    key: str
    family: str
    domains: dict[str, str] = field(default_factory=lambda: {"A": "A", "B": "B"})
    directions: list[str] = field(default_factory=lambda: ["AtoB"])
    attributes: list[str] = field(default_factory=list)
    error: str | None = None
    path: Path | None = None
    config: dict[str, Any] = field(default_factory=dict)


def choices(family: str) -> list[Choice]:
    """Local models of ``family`` (first), damaged local files (any family) and the catalog's models."""
    out: list[Choice] = []
    seen = set()
    for base in model_dirs():
        for rel in _scan(base):
            if rel in seen:
                continue
            info, error = local_info(base / rel)
            if info is not None and info["family"] != family:
                continue
            seen.add(rel)
            if info is None:
                out.append(Choice(rel, family, error=error, path=base / rel))
                continue
            out.append(Choice(rel, family, info.get("domains") or {"A": "A", "B": "B"}, info.get("directions") or ["AtoB"],
                              info.get("attributes") or [], path=base / rel, config=info))
    for e in catalog.entries(family):
        d = {"A": e.domains[0], "B": e.domains[1]} if e.domains else {"A": "A", "B": "B"}
        out.append(Choice(e.key, family, d, ["AtoB"]))
    return out


def direction_label(choice_domains: dict[str, str], direction: str, family_name: str = "cyclegan") -> str:
    """A direction as the loaders show it, named after the model's domains (the family's display rule)."""
    return family(family_name).direction_label(choice_domains, direction)


# ------------------------------------------------------------------------------------------- provenance
def source_of(choice: Choice) -> dict[str, Any] | None:
    """Where a listed model can be obtained, for the workflow's metadata (see ``web/js/i2i_gans.js``):
    a catalog entry (``{"catalog", "url"}``), a model that ships with this pack (``{"pack", "url"}``), a
    folder whose config names the Hub repo it was published to (``{"repo_id", "url"}``), else ``None``."""
    entry = catalog.find(choice.key)
    if entry is not None:
        return {"catalog": entry.key, "url": entry.url}
    if choice.path is not None and PACK_MODELS in choice.path.parents:
        return {"pack": "comfyui-i2i-gans", "url": f"{REPO_URL}/tree/main/example_workflows/models/{choice.key.rstrip('/')}"}
    repo = (choice.config or {}).get("hub_repo")
    if repo:
        from i2i_models.hub import hub_url

        return {"repo_id": repo, "url": hub_url(repo)}
    return None


def sources(family: str) -> dict[str, dict[str, Any]]:
    """``{key: source}`` of every listed model of ``family`` that has one (:func:`source_of`)."""
    return {c.key: s for c in choices(family) if (s := source_of(c)) is not None}


def how_to_get(key: str, meta: dict[str, Any] | None) -> str:
    """A sentence telling the artist how to get the model ``key``, from the workflow's saved metadata."""
    src = (meta or {}).get("source") or {}
    dest = model_dirs()[0] / key.rstrip("/")
    if src.get("repo_id"):
        rev = f"@{src['revision']}" if src.get("revision") else ""
        return (f"This workflow says it comes from the Hub repo {src['repo_id']}{rev} ({src.get('url', '')}): choose "
                f"'{HUB_OPTION}' in the model list and type {src['repo_id']}{rev}, or download it into {dest}")
    if src.get("pack"):
        return (f"It ships with the comfyui-i2i-gans node pack ({src.get('url', REPO_URL)}): update the pack "
                f"(git pull in custom_nodes/comfyui-i2i-gans, or the Manager), or copy the folder into {dest}")
    if src.get("url"):
        return f"This workflow says it comes from {src['url']}: download it into {dest}"
    return (f"Ask whoever shared the workflow where to get it and put it into {dest} (a model folder or a "
            f"weights file), or choose another model")


def missing_model_message(key: str, family: str, meta: dict[str, Any] | None = None) -> str:
    """The error for a model a workflow names that is not installed: names it, where it was looked for,
    and how to get it (never a silent fall-back to another model)."""
    dirs = ", ".join(str(d) for d in model_dirs())
    return (f"the {family} model {key!r} that this workflow names is not installed: it is not in the i2i_gans model "
            f"folder(s) ({dirs}). {how_to_get(key, meta)}; then press R to refresh the node lists.")


# ------------------------------------------------------------------------------------------- loading
def _check_key(key: str, family: str) -> PurePosixPath:
    rel = PurePosixPath(key.strip().rstrip("/"))
    if not key.strip() or rel.is_absolute() or ".." in rel.parts or str(rel) in (".", ""):
        raise ModelNotFoundError(f"no {family} model chosen (got {key!r}): pick one in the model list, or "
                                 f"'{HUB_OPTION}' and a repo id ({HUB_SYNTAX})")
    return rel


def resolve_path(key: str, family: str = "model", progress: Callable[[int, int], None] | None = None,
                 meta: dict[str, Any] | None = None) -> tuple[Path, catalog.Entry | None]:
    """The local path of a list key, fetching catalog models on first use.

    Only a model folder or weights file *under* a model folder answers to a key: an empty key or the
    model folder itself never loads whatever it happens to contain. Raises ``ModelNotFoundError`` naming
    the key and how to get it (from the workflow's saved metadata ``meta``, when it has some)."""
    entry = catalog.find(key)
    if entry is not None:
        return catalog.fetch(entry, download_dir(), progress=progress), entry
    rel = _check_key(key, family)
    for base in model_dirs():
        p = base / rel
        if p.is_file() or (p.is_dir() and _is_model_dir(p)):
            return p, None
    raise ModelNotFoundError(missing_model_message(key, family, meta))


def load_choice(key: str, family: str, hub_repo: str = "", progress: Callable[[int, int], None] | None = None,
                meta: dict[str, Any] | None = None) -> I2IModel:
    """Load a listed model (or a typed-in Hub source ``org/name[/file][@revision]``) as a new bundle of
    ``family``. ``progress(bytes_done, bytes_total)`` follows a download and may raise to cancel it.
    Nothing is cached here: ComfyUI keeps the loader's output (and frees it) as it does for its own models.
    Raises the library's errors (``ModelNotFoundError`` naming the model and how to get it, ...)."""
    if hub_repo.strip():
        try:
            entry = catalog.hub_entry(hub_repo, family)
        except ValueError as e:
            raise ValueError(f"{e} in repo_id") from None
        path = catalog.fetch(entry, download_dir(), progress=progress)
    else:
        path, entry = resolve_path(key, family, progress, meta)
        if entry is None:
            info, error = local_info(path)
            if info is None:
                raise ModelNotFoundError(f"{key!r} in {path.parent} cannot be loaded: {error}. Replace or remove the "
                                         f"file, then press R to refresh the node lists") if error else \
                    ModelNotFoundError(f"{key!r} cannot be loaded")
    model = load(path, family=family)
    if entry is not None and entry.domains and model.config.get("domains", {}).get("A") in (None, "A"):
        model = model.with_config(domains={"A": entry.domains[0], "B": entry.domains[1]})
    return model
