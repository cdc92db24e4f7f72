"""Getting model files from the Hugging Face Hub (or its offline cache) with huggingface_hub itself.

Everything goes through ``HfApi.model_info`` and ``hf_hub_download``, so ``HF_ENDPOINT``, ``HF_HOME``,
``HF_HUB_CACHE``, ``HF_TOKEN`` and ``HF_HUB_OFFLINE=1`` behave as they do for every HF library, and a
file downloaded once is found again without the network.

One metadata request comes first (``model_info``, a single attempt with a short timeout): it tells a
missing repo, revision or file from an unreachable Hub within seconds, instead of the minute of retries
that probing file after file costs, and it lists the repo's files, so only the files the model needs are
fetched. When the Hub cannot be reached, what the local cache holds is used.
Errors come back as our :class:`~i2i_models.errors.ModelNotFoundError` / :class:`DownloadError` with a
message that names the repo and says whether it is missing or the Hub unreachable, and what to do.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable
from pathlib import Path

from .errors import DownloadError, I2IError, ModelNotFoundError
from .state_dicts import WEIGHT_SUFFIXES

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
# Files worth fetching from a repo that has no config.json of ours (reference checkpoints, HugGAN repos).
WEIGHT_PATTERNS = ["*" + s for s in WEIGHT_SUFFIXES] + ["config.json", "train_opt.txt", "*/train_opt.txt"]
METADATA_TIMEOUT = 6.0  # seconds for the one metadata request (connect and read)


def is_hub_id(text: str) -> bool:
    """``owner/name`` (optionally followed by ``/path/in/repo``) with Hub-legal characters."""
    parts = text.split("/")
    return len(parts) >= 2 and bool(HUB_ID.match("/".join(parts[:2]))) and ".." not in parts


def split_source(text: str) -> tuple[str, str | None, str | None]:
    """``"org/name[/path/in/repo][@revision]"`` (optionally ``hf://``-prefixed) → (repo_id, filename, revision).

    Raises ``ValueError`` when the text is not of that form."""
    text = text.strip()
    if text.startswith("hf://"):
        text = text[5:]
    revision = None
    if "@" in text:
        text, revision = text.rsplit("@", 1)
        revision = revision.strip() or None
    if not is_hub_id(text):
        raise ValueError(f"{text!r} is not a Hub repo id: write org/name, org/name/file.pth or org/name@revision")
    parts = text.split("/")
    return "/".join(parts[:2]), "/".join(parts[2:]) or None, revision


def hub_url(repo_id: str, revision: str | None = None) -> str:
    """The Hub page of a repo (at a revision), on the configured endpoint."""
    return f"{_endpoint().rstrip('/')}/{repo_id}" + (f"/tree/{revision}" if revision else "")


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def progress_tqdm(progress: Callable[[int, int], None], total: int | None = None, done_before: int = 0):
    """A tqdm class for huggingface_hub's ``tqdm_class`` that reports bytes as ``progress(done, total)``.

    ``total`` (bytes of all files of this download, when known) makes one bar over several files;
    otherwise each file reports its own size. ``progress`` may raise to cancel the download."""
    from tqdm.auto import tqdm

    state = {"done": done_before}

    class _Progress(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._file_total = kwargs.get("total") or 0

        def update(self, n=1):
            state["done"] += n or 0
            progress(state["done"], total or max(self._file_total, state["done"]))

    return _Progress


def _reason(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:200]


def _is_network_error(e: BaseException) -> bool:
    """A failure to reach the Hub (DNS, refused, timeout, TLS, 5xx), as opposed to an answer from it."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if isinstance(e, OfflineModeIsEnabled):
        return True
    if isinstance(e, HfHubHTTPError):
        status = getattr(getattr(e, "response", None), "status_code", None)
        return status is None or status >= 500 or status in (408, 429)
    try:
        import httpx2 as httpx
    except ImportError:  # huggingface_hub < 2 used httpx / requests
        try:
            import httpx  # type: ignore[no-redef]
        except ImportError:
            httpx = None
    if httpx is not None and isinstance(e, httpx.HTTPError):
        return True
    return isinstance(e, (OSError, TimeoutError))


def _choose_files(repo_id: str, files: list[str], where: str, fetch_config: Callable[[], dict]) -> list[str]:
    """Which files of a repo make up the model (see :func:`download`)."""
    from .bundles import FORMAT

    if "config.json" in files:
        if fetch_config().get("format") == FORMAT:
            if "model.safetensors" not in files:
                raise ModelNotFoundError(f"Hub repo {where} has our config.json but no model.safetensors: the "
                                         f"upload is incomplete; ask its owner to push the model again")
            return ["config.json", "model.safetensors"]
    for name in ("model.safetensors", "pytorch_model.bin"):
        if name in files:
            return [name]
    chosen = [f for f in files if any(fnmatch.fnmatch(f, p) for p in WEIGHT_PATTERNS)]
    if not any(f.lower().endswith(WEIGHT_SUFFIXES) for f in chosen):
        shown = ", ".join(files[:8]) + (" …" if len(files) > 8 else "")
        raise ModelNotFoundError(f"Hub repo {where} holds no weights file ({', '.join(WEIGHT_SUFFIXES)}); its files: "
                                 f"{shown or 'none'}")
    return chosen


def download(repo_id: str, *, revision: str | None = None, filename: str | None = None,
             local_dir: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
             token: str | bool | None = None, progress: Callable[[int, int], None] | None = None) -> Path:
    """Fetch what is needed to load ``repo_id`` and return a local folder (or the one file asked for).

    One ``model_info`` request (a single attempt, :data:`METADATA_TIMEOUT` seconds) lists the repo's files
    at ``revision``; then, at that commit: ``filename`` if given; else our ``config.json`` +
    ``model.safetensors``; else ``model.safetensors`` or ``pytorch_model.bin``; else every weights file
    (plus ``train_opt.txt``). ``local_dir`` downloads into that folder instead of the shared cache (what the
    ComfyUI loaders do). ``progress(bytes_done, bytes_total)`` is called while downloading and may raise to
    cancel. If the Hub cannot be reached, the files are taken from the local cache when it has them.

    Raises:
        ModelNotFoundError: the repo, revision or file does not exist (or is private/gated without a
            token); or the Hub cannot be reached (or ``HF_HUB_OFFLINE=1``) and the files are not cached.
            The message names the repo, the endpoint, which of these it was, and what to try.
        DownloadError: a transfer failed part-way or delivered a file of the wrong size.
    """
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download
    from huggingface_hub.errors import (EntryNotFoundError, GatedRepoError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    where = f"{repo_id!r}" + (f" at revision {revision!r}" if revision else "")
    kw = dict(cache_dir=cache_dir, local_dir=local_dir, token=token)

    def get(name: str, rev: str | None, offline: bool = False, tqdm_class=None) -> Path:
        return Path(hf_hub_download(repo_id, name, revision=rev, local_files_only=offline, tqdm_class=tqdm_class, **kw))

    def from_cache(why: str, todo: str) -> Path:
        try:
            if filename:
                return get(filename, revision, offline=True)
            try:
                cfg = get("config.json", revision, offline=True)
                from .bundles import FORMAT
                from .state_dicts import read_json

                if read_json(cfg).get("format") == FORMAT:
                    get("model.safetensors", revision, offline=True)
                    return cfg.parent
            except (LocalEntryNotFoundError, EntryNotFoundError):
                pass
            for name in ("model.safetensors", "pytorch_model.bin"):
                try:
                    return get(name, revision, offline=True).parent
                except (LocalEntryNotFoundError, EntryNotFoundError):
                    continue
            folder = Path(snapshot_download(repo_id, revision=revision, allow_patterns=WEIGHT_PATTERNS,
                                            local_files_only=True, **kw))
            if any(p.name.lower().endswith(WEIGHT_SUFFIXES) for p in folder.rglob("*") if ".cache" not in p.parts):
                return folder
        except (LocalEntryNotFoundError, EntryNotFoundError):
            pass
        raise ModelNotFoundError(f"{why}, and {where}{' file ' + repr(filename) if filename else ''} is not in the "
                                 f"local Hugging Face cache: {todo}") from None

    if _offline():
        return from_cache("HF_HUB_OFFLINE=1 forbids downloads", "unset HF_HUB_OFFLINE once to download it, or copy "
                          "the model folder to disk and load it by path")
    try:
        info = HfApi(token=token).model_info(repo_id, revision=revision, timeout=METADATA_TIMEOUT,
                                             files_metadata=True)
    except GatedRepoError:
        raise ModelNotFoundError(f"Hub repo {where} is gated: accept its terms on the Hub and set HF_TOKEN") from None
    except RepositoryNotFoundError:
        raise ModelNotFoundError(
            f"Hub repo {where} was not found at {_endpoint()} (a typo, or a private repo: log in with "
            f"`hf auth login` or set HF_TOKEN)") from None
    except RevisionNotFoundError:
        raise ModelNotFoundError(f"Hub repo {repo_id!r} has no revision {revision!r} (branch, tag or commit); "
                                 f"check the name, or leave the revision empty for 'main'") from None
    except Exception as e:  # noqa: BLE001 - classified below
        if not _is_network_error(e):
            raise
        return from_cache(f"the Hub at {_endpoint()} could not be reached ({_reason(e)})",
                          "check the network or HF_ENDPOINT, or load a local copy by path")
    files = [s.rfilename for s in info.siblings or []]
    sizes = {s.rfilename: s.size for s in info.siblings or [] if getattr(s, "size", None)}
    # the revision as asked (not the commit it resolves to): huggingface_hub then records the ref in its
    # cache, so the same call works offline later
    commit = revision
    try:
        if filename:
            if files and filename not in files:
                raise ModelNotFoundError(f"Hub repo {where} has no file {filename!r}")
            wanted = [filename]
        else:
            wanted = _choose_files(repo_id, files, where, lambda: _read_config(get("config.json", commit)))
        total = sum(sizes.get(f, 0) for f in wanted) if all(f in sizes for f in wanted) else None
        done = 0
        paths = []
        for name in wanted:
            tq = progress_tqdm(progress, total, done) if progress is not None else None
            paths.append(get(name, commit, tqdm_class=tq))
            done += sizes.get(name, 0)
        if filename:
            return paths[0]
        return Path(local_dir) if local_dir else _snapshot_root(paths, wanted)
    except GatedRepoError:
        raise ModelNotFoundError(f"Hub repo {where} is gated: accept its terms on the Hub and set HF_TOKEN") from None
    except EntryNotFoundError:
        raise ModelNotFoundError(f"Hub repo {where} has no file {filename!r}") from None
    except I2IError:
        raise
    except Exception as e:  # noqa: BLE001
        if isinstance(e, OSError) or _is_network_error(e):  # incomplete body, dropped connection, disk full ...
            raise DownloadError(f"downloading {where} from {_endpoint()} failed: {_reason(e)}. Nothing was loaded; "
                                f"retry (a partial file is resumed or re-fetched)") from e
        raise


def _read_config(path: Path) -> dict:
    from .state_dicts import read_json

    return read_json(path)


def _snapshot_root(paths: list[Path], names: list[str]) -> Path:
    """The folder that holds files ``names`` (repo-relative) downloaded to ``paths``."""
    p, n = paths[0], names[0]
    return Path(str(p)[: len(str(p)) - len(n)].rstrip("/\\")) if str(p).replace("\\", "/").endswith(n) else p.parent
