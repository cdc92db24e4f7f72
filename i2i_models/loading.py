"""``load(source)``: one entry point for every model source.

source → local path (as given, or fetched from the Hub through :mod:`i2i_models.hub`) → our folder
(``config.json`` + ``model.safetensors``), or weights files of another codebase recognised by
:mod:`i2i_models.formats` → bundle of the right family, weights loaded strictly, ``eval()`` mode.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import hub
from .bundles import FORMAT, I2IModel, family_class
from .families import FAMILIES, domains_from_name
from .families import family as family_of
from .errors import ConfigError, CorruptCheckpointError, FamilyMismatchError, ModelNotFoundError, UnknownCheckpointError
from .formats import Detection, complete_config, detect, split_roles
from .state_dicts import WEIGHT_SUFFIXES, read_json, read_state_dict, read_weights


# File-name conventions of the reference codebases: (regex, codebase). Groups: role, step.
_FILE_ROLES = [
    (re.compile(r"^(?P<step>.+)_net_(?P<role>G_A|G_B|D_A|D_B|G|D)\.pth$"), "junyanz"),
    (re.compile(r"^(?P<step>\d+)-(?P<role>G|D)\.ckpt$"), "yunjey"),
    (re.compile(r"^(?P<role>G_AB|G_BA|D_A|D_B|generator|discriminator)_(?P<step>\d+)\.pth$"), "pytorch-gan"),
    (re.compile(r"^(?P<role>G_A2B|G_B2A|D_A|D_B|G|D)_(?P<step>\d+)\.pkl$"), "wangguanan"),
]
_ROLE_ALIASES = {"G_AB": "G_A", "G_A2B": "G_A", "G_BA": "G_B", "G_B2A": "G_B", "generator": "G", "discriminator": "D"}
_SINGLE_FILES = ("model.safetensors", "pytorch_model.bin", "diffusion_pytorch_model.safetensors")


@dataclass
class _Item:
    path: Path
    hint: str | None  # "G", "D", "G_A", "G_B", "D_A", "D_B" or None
    det: Detection


def _file_role(name: str) -> tuple[str | None, Any]:
    """(role hint, sortable step) from a reference file name, or (None, None)."""
    for rx, _ in _FILE_ROLES:
        m = rx.match(name)
        if m:
            role = _ROLE_ALIASES.get(m.group("role"), m.group("role"))
            step = m.group("step")
            if step == "latest":
                key = (2, 0)
            else:
                digits = re.sub(r"\D", "", step)
                key = (1, int(digits)) if digits else (0, 0)
            return role, key
    return None, None


def looks_local(text: str) -> bool:
    """Whether ``text`` names a local file or folder rather than a Hub repo: it starts with ``.``, ``/``,
    ``~`` or a drive letter, uses backslashes, its first component exists here (``runs/nope`` when
    ``runs/`` exists), or it is ``name/file`` with a weights suffix (a Hub repo id has no file suffix).
    ``hf://org/name/file.pth`` always means the Hub."""
    if text.startswith("hf://"):
        return False
    if text.startswith((".", "/", "~")) or "\\" in text or re.match(r"^[A-Za-z]:", text):
        return True
    parts = [p for p in text.split("/") if p]
    if not parts:
        return True
    if Path(parts[0]).expanduser().exists():
        return True
    return len(parts) == 2 and parts[1].lower().endswith(WEIGHT_SUFFIXES + (".json",))


def missing_path_message(text: str) -> str:
    """"not an existing file or folder", with the deepest part of the path that exists and close names in it."""
    import difflib

    path = Path(text).expanduser()
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    msg = f"{text!r} is not an existing file or folder"
    if parent.exists() and parent.is_dir() and str(parent) not in (".", ""):
        msg += f" ({parent} exists"
        try:
            names = sorted(p.name for p in parent.iterdir())
        except OSError:
            names = []
        close = difflib.get_close_matches(path.relative_to(parent).parts[0] if path.is_relative_to(parent) else path.name,
                                          names, n=3, cutoff=0.6)
        msg += f"; did you mean {', '.join(repr(str(parent / c)) for c in close)}?)" if close else ")"
    return msg + ". A Hub repo is written org/name (hf://org/name/file.pth for one file of a repo)"


def resolve(source: str | os.PathLike, *, revision: str | None = None, local_dir: str | os.PathLike | None = None,
            progress=None) -> Path:
    """Turn ``source`` into a local file or folder, downloading from the Hub when it is a repo id.

    Accepts a local file, a local folder, ``owner/name`` (a Hub repo), ``owner/name/path/in/repo.pth``
    (one file of a Hub repo), the same with an ``hf://`` prefix, and ``@revision`` after a repo id.
    Local paths win over Hub ids; a source that looks like a local path (:func:`looks_local`) but does not
    exist is reported as a missing file or folder, never tried on the Hub. ``progress(bytes_done,
    bytes_total)`` is passed to the Hub download. Raises ``ModelNotFoundError`` (and ``DownloadError``, see
    :func:`i2i_models.hub.download`).
    """
    text = os.fspath(source)
    path = Path(text).expanduser()
    if path.exists():
        return path
    if looks_local(text):
        raise ModelNotFoundError(missing_path_message(text))
    try:
        repo_id, filename, rev = hub.split_source(text)
    except ValueError:
        raise ModelNotFoundError(f"{text!r} is not an existing file or folder, nor a Hub repo id like "
                                 f"'owner/name'") from None
    try:
        return hub.download(repo_id, revision=revision or rev, filename=filename, local_dir=local_dir,
                            progress=progress)
    except ModelNotFoundError as e:
        raise ModelNotFoundError(f"{text!r} is no local file or folder, so it was taken for a Hub repo id: {e}") from None


def load(source: str | os.PathLike, *, family: str | None = None, revision: str | None = None,
         device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> I2IModel:
    """Load a translator from anywhere and return its bundle, in ``eval()`` mode, ready for inference.

    Args:
        source: a Hub repo id (``"org/name"``, or ``"org/name/file.pth"`` for one file of a repo), a local
            folder (ours, a junyanz ``checkpoints/<name>`` folder, a StarGAN ``models`` folder, a HugGAN
            snapshot …) or one weights file of any supported format (``.safetensors``, ``.pth``,
            ``.bin``, ``.ckpt``, ``.pkl``; zip or legacy pickles, read with ``weights_only=True``).
        family: ``"pix2pix"``, ``"cyclegan"`` or ``"stargan"``. For sources that say what they are (our
            folders, StarGAN files) a different family is an error; a bare one-direction generator file
            (junyanz, HugGAN) becomes a bundle of the family asked for (default: U-Net → pix2pix,
            ResNet → one-direction CycleGAN).
        revision: Hub branch, tag or commit.
        device, dtype: where and in which floating dtype to put the weights (default: CPU, float32).

    Returns:
        :class:`Pix2PixModel` (``.generator``, ``.discriminator``), :class:`CycleGANModel` (``.G_A`` A→B,
        ``.G_B`` B→A, ``.D_A``, ``.D_B``) or :class:`StarGANModel` (``.generator`` called ``G(x, c)``,
        ``.discriminator``). Absent networks are ``None``. All networks take [B, C, H, W] in [-1, 1].

    Raises:
        ModelNotFoundError: no such path / Hub repo / revision / file, or not cached while offline.
        DownloadError: a Hub download failed part-way (wrong size, dropped connection).
        UnknownCheckpointError: readable weights in a layout no detector knows (lists known layouts).
        CorruptCheckpointError: truncated or damaged file, or not a weights file.
        UnsafeCheckpointError: a pickle that would run code.
        FamilyMismatchError: ``family`` given and the source is another family.
        ConfigError: a malformed ``config.json``, or weights that do not fit it.
    """
    if family is not None and family not in FAMILIES:
        raise ValueError(f"family must be one of {tuple(FAMILIES)}, got {family!r}")
    path = resolve(source, revision=revision)
    model = load_path(path, family=family, label=os.fspath(source))
    if family is not None and model.family != family:
        what = model.config.get("source", {}).get("kind") or model.family
        raise FamilyMismatchError(f"{os.fspath(source)!r} is a {model.family} model ({what}), not a {family} model")
    if device is not None or dtype is not None:
        model.to(device=device, dtype=dtype)
    return model.eval()


def load_path(path: Path, *, family: str | None = None, label: str | None = None) -> I2IModel:
    """Load a local file or folder (see :func:`load`)."""
    label = label or str(path)
    if path.is_file():
        if path.name in ("config.json", "model.safetensors") and (path.parent / "config.json").is_file() \
                and read_json(path.parent / "config.json").get("format") == FORMAT:
            return load_path(path.parent, family=family, label=label)
        return _from_files(_with_siblings(path), family, label)
    run_model = run_folder_model(path)
    if run_model is not None:
        return load_path(run_model, family=family, label=label)
    cfg_path = path / "config.json"
    if cfg_path.is_file():
        cfg = read_json(cfg_path)
        if cfg.get("format") == FORMAT:
            if not (path / "model.safetensors").is_file():
                raise ModelNotFoundError(f"{path} has our config.json but no model.safetensors: the folder is "
                                         f"incomplete; copy or download it again")
            return _load_own_folder(path, cfg, family)
    files = _pick_files(path)
    return _from_files(files, family, label)


def run_folder_model(path: Path) -> Path | None:
    """The model of a training run folder (``args.json`` + ``checkpoints/``, as ``python -m train.*``
    writes it): its final model (``final/``, or the ``--output`` it was given), else its latest checkpoint.
    ``None`` when ``path`` is not a run folder. Raises ``ModelNotFoundError`` for a run that has neither yet."""
    if not (path.is_dir() and (path / "args.json").is_file() and not (path / "config.json").is_file()):
        return None
    try:
        output = read_json(path / "args.json").get("output")
    except (ConfigError, CorruptCheckpointError):
        output = None
    for final in ([Path(output)] if output else []) + [path / "final"]:
        if (final / "config.json").is_file() and (final / "model.safetensors").is_file():
            return final
    latest = path / "checkpoints" / "LATEST"
    if latest.is_file():
        ck = path / "checkpoints" / latest.read_text().strip()
        if (ck / "config.json").is_file():
            return ck
    raise ModelNotFoundError(f"{path} is a training run folder without a final model or a checkpoint yet; wait for "
                             f"its first checkpoint (--save_every) or its end")


def check_own_config(cfg: dict, where: str) -> None:
    """Raise ``ConfigError`` unless ``cfg`` has the shape of our ``config.json``: a known ``family``, a
    ``networks`` object of ``{"arch": name, …}`` objects (or null), ``domains`` an object of names,
    ``attributes`` a list of names, ``attribute_groups`` a list of lists."""
    from .families import FAMILIES

    fam = cfg.get("family")
    if not isinstance(fam, str) or fam not in FAMILIES:
        raise ConfigError(f"{where}: unknown model family {fam!r}; known: {', '.join(sorted(FAMILIES))}")
    nets = cfg.get("networks")
    if not isinstance(nets, dict) or not nets:
        raise ConfigError(f"{where}: 'networks' must be an object of role → network config")
    for role, n in nets.items():
        if n is not None and not (isinstance(n, dict) and isinstance(n.get("arch"), str)):
            raise ConfigError(f"{where}: networks.{role} must be an object with an 'arch' name, got {n!r:.80}")
    dom = cfg.get("domains")
    if dom is not None and not (isinstance(dom, dict) and all(isinstance(v, str) for v in dom.values())):
        raise ConfigError(f"{where}: 'domains' must map A/B to names, got {dom!r:.80}")
    attrs = cfg.get("attributes")
    if attrs is not None and not (isinstance(attrs, list) and all(isinstance(a, str) for a in attrs)):
        raise ConfigError(f"{where}: 'attributes' must be a list of names, got {attrs!r:.80}")
    groups = cfg.get("attribute_groups")
    if groups is not None and not (isinstance(groups, list) and all(isinstance(g, list) for g in groups)):
        raise ConfigError(f"{where}: 'attribute_groups' must be a list of lists of names, got {groups!r:.80}")


def _load_own_folder(path: Path, cfg: dict, family: str | None) -> I2IModel:
    check_own_config(cfg, str(path / "config.json"))
    cls = family_class(cfg.get("family"))
    if family is not None and cls.family != family:
        raise FamilyMismatchError(f"{path} holds a {cls.family} model, not a {family} model")
    with torch.device("meta"):  # size the networks the config describes before allocating them
        probe = cls(cfg)
    need = sum(t.numel() for t in probe.state_dict().values())
    stored = read_weights(path / "model.safetensors", lazy=True)  # names and shapes only; corrupt files raise here
    have = sum(t.numel() for t in stored.values() if isinstance(t, torch.Tensor))
    if need > 2 * have + (1 << 22):  # grossly more (a damaged or foreign config): refuse before allocating it;
        # a near miss goes on to the per-tensor shape check, whose message names the tensors
        raise ConfigError(f"{path / 'config.json'} describes networks of {need:,} values, more than the {have:,} "
                          f"model.safetensors holds: the config does not belong to these weights; restore or "
                          f"re-download the folder")
    model = cls(cfg)
    model.load_weights_file(path / "model.safetensors")
    return model


def _weight_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(WEIGHT_SUFFIXES))


def _pick_files(folder: Path) -> list[Path]:
    """Which weights files of a folder make up the model: a single standard file, or the newest step of
    the reference naming conventions (``latest`` before numbered epochs), or the only weights file."""
    files = _weight_files(folder)
    if not files and (folder / "models").is_dir():  # StarGAN run folder: <run>/models/<step>-G.ckpt
        files = _weight_files(folder / "models")
    if not files:
        raise ModelNotFoundError(f"{folder} contains no weights file ({', '.join(WEIGHT_SUFFIXES)})")
    for name in _SINGLE_FILES:
        match = [f for f in files if f.name == name]
        if match:
            return match
    named = [(f, *_file_role(f.name)) for f in files]
    with_role = [(f, r, s) for f, r, s in named if r is not None]
    if with_role:
        best = max(s for _, _, s in with_role)
        return [f for f, _, s in with_role if s == best]
    if len(files) == 1:
        return files
    raise ModelNotFoundError(f"{folder} holds several weights files and none follows a known naming convention "
                             f"({', '.join(f.name for f in files[:8])}); pass the one file to load")


def _with_siblings(path: Path) -> list[Path]:
    """A StarGAN ``<step>-G.ckpt`` brings its ``<step>-D.ckpt`` (the classifier needed for label-free editing)."""
    m = re.match(r"^(.*)-G\.ckpt$", path.name)
    if m:
        d = path.with_name(f"{m.group(1)}-D.ckpt")
        if d.is_file():
            return [path, d]
    return [path]


def _plan(files: list[Path], family: str | None, label: str, peek: bool = False) -> tuple[dict[str, Any], dict[str, _Item]]:
    """Detect the networks in ``files`` and decide the bundle config (without building it)."""
    items: list[_Item] = []
    skipped: list[str] = []  # a run folder's discriminator file in an unknown layout: the generator still loads
    for f in files:
        sd = read_state_dict(f, lazy=peek)
        parts = split_roles(sd)
        if parts is not None:  # a bare model.safetensors of ours, without its config.json
            for role, part in parts.items():
                hint = {"generator": "G", "discriminator": "D"}.get(role, role)
                items.append(_Item(f, hint, detect(part, where=f"{f} [{role}]")))
            continue
        hint, _ = _file_role(f.name)
        try:
            items.append(_Item(f, hint, detect(sd, where=str(f))))
        except UnknownCheckpointError:
            if hint not in ("D", "D_A", "D_B") or len(files) < 2:
                raise
            skipped.append(f"{f.name} not loaded: a discriminator layout this loader does not know (e.g. NVIDIA's "
                           f"multi-scale D); translation needs only the generator")
    if not items:
        raise UnknownCheckpointError(f"{label}: no generator among {', '.join(f.name for f in files)}; " + "; ".join(skipped))
    fam, roles = _assign_roles(items, family, label)
    config: dict[str, Any] = {"family": fam, "networks": {role: it.det.network for role, it in roles.items()}}
    complete_config(config, [it.det for it in roles.values()], files)
    names = config.pop("name_hints", [])
    domains = domains_from_name(*names, files[0].parent.name, files[0].stem)
    if domains and not family_of(fam).conditional:
        config["domains"] = domains
    first = next(iter(roles.values())).det
    config["source"] = {
        "codebase": first.codebase,
        "kind": ", ".join(sorted({it.det.kind for it in roles.values()})),
        "files": {role: it.path.name for role, it in roles.items()},
        "notes": sorted({n for it in roles.values() for n in it.det.notes} | set(skipped)),
    }
    return config, roles


def _from_files(files: list[Path], family: str | None, label: str) -> I2IModel:
    config, roles = _plan(files, family, label)
    model = family_class(config["family"])(config)
    sd = {f"{role}.{k}": v for role, it in roles.items() for k, v in it.det.state_dict.items()}
    model.load_state_dict_checked(sd, label)
    return model


def peek(source: str | os.PathLike, *, family: str | None = None) -> dict[str, Any]:
    """What a local model file or folder holds, cheaply (no network is built, tensors are not read):
    ``{"family", "networks", "domains", "attributes", "attribute_groups", "directions", "source"}``.

    Used by model lists (the ComfyUI loaders) to show domain and attribute names. Raises as :func:`load`.
    """
    path = Path(source)
    path = run_folder_model(path) or path
    cfg = None
    if path.is_file() and path.name in ("config.json", "model.safetensors") and (path.parent / "config.json").is_file():
        path = path.parent
    if path.is_dir() and (path / "config.json").is_file():
        c = read_json(path / "config.json")
        if c.get("format") == FORMAT:
            check_own_config(c, str(path / "config.json"))
            cfg = c
    if cfg is None:
        files = _with_siblings(path) if path.is_file() else _pick_files(path)
        cfg, _ = _plan(files, family, str(source), peek=True)
    nets = cfg.get("networks", {})
    out = {k: cfg.get(k) for k in ("family", "domains", "attributes", "attribute_groups", "source", "hub_repo")}
    out["networks"] = {r: n.get("arch") for r, n in nets.items() if n}
    fam = family_of(cfg["family"])
    out["directions"] = fam.available_directions(nets)
    if len(fam.directions) > 1:
        out["domains"] = out["domains"] or {"A": "A", "B": "B"}
    return out


def _assign_roles(items: list[_Item], family: str | None, label: str) -> tuple[str, dict[str, _Item]]:
    """Decide the family (from the detected networks, the file names' role hints and ``family``) and the
    role of each detected network (the family's :meth:`~i2i_models.families.Family.role_of_file`)."""
    conditional = sorted({it.det.family for it in items if family_of(it.det.family).conditional})
    if conditional:
        fam = conditional[0]
        kind = next(it.det.kind for it in items if it.det.family == fam)
        if len(conditional) > 1 or any(it.det.family != fam for it in items):
            raise ConfigError(f"{label} mixes {family_of(fam).summary} networks with others")
        if family not in (None, fam):
            raise FamilyMismatchError(f"{label} is a {fam} model ({kind}), not a {family} model")
    elif family is not None:
        if family_of(family).conditional:
            raise FamilyMismatchError(f"{label} is a {items[0].det.kind} ({items[0].det.family}), not a {family} model")
        fam = family
    else:
        hinted = [f.name for f in FAMILIES.values()
                  if any(it.hint not in (None, "G", "D") and it.hint in f.file_roles for it in items)]
        gens = [it for it in items if it.det.role == "generator"]
        fam = hinted[0] if hinted else (gens or items)[0].det.family
    roles: dict[str, _Item] = {}
    spec = family_of(fam)
    for it in items:
        role = spec.role_of_file(it.hint, it.det.role)
        if role is None:
            raise FamilyMismatchError(f"{label}: {it.path.name} is a {it.hint} file of another family, not a {fam} "
                                      f"network")
        if role in roles:
            raise ConfigError(f"{label}: both {roles[role].path.name} and {it.path.name} would be the {role}; "
                              f"load one file at a time")
        roles[role] = it
    return fam, roles
