"""Getting model files from the Hugging Face Hub (or its offline cache) with huggingface_hub itself.

Everything goes through ``hf_hub_download`` / ``snapshot_download``, so ``HF_ENDPOINT``, ``HF_HOME``,
``HF_HUB_CACHE``, ``HF_TOKEN`` and ``HF_HUB_OFFLINE=1`` behave as they do for every HF library, and a
file downloaded once is found again without the network. Errors come back as our
:class:`~i2i_models.errors.ModelNotFoundError` with a message that says what to do.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import DownloadError, I2IError, ModelNotFoundError
from .state_dicts import WEIGHT_SUFFIXES

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
# Files worth fetching from a repo that has no config.json of ours (reference checkpoints, HugGAN repos).
WEIGHT_PATTERNS = ["*" + s for s in WEIGHT_SUFFIXES] + ["config.json", "train_opt.txt", "*/train_opt.txt"]


def is_hub_id(text: str) -> bool:
    """``owner/name`` (optionally followed by ``/path/in/repo``) with Hub-legal characters."""
    parts = text.split("/")
    return len(parts) >= 2 and bool(HUB_ID.match("/".join(parts[:2]))) and ".." not in parts


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def download(repo_id: str, *, revision: str | None = None, filename: str | None = None,
             local_dir: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
             token: str | bool | None = None) -> Path:
    """Fetch what is needed to load ``repo_id`` and return a local folder (or the one file asked for).

    Order: ``config.json``; if it is ours, ``model.safetensors`` beside it. Otherwise the usual single
    weights files (``model.safetensors``, ``pytorch_model.bin``); otherwise every weights file of the
    repo (``snapshot_download`` with weight patterns). ``local_dir`` downloads into that folder instead
    of the shared cache (what the ComfyUI loaders do).

    Raises:
        DownloadError: the transfer failed or delivered a file of the wrong size.
        ModelNotFoundError: the repo, revision or file does not exist (or is private/gated without a
            token), or, offline, is not in the cache. The message names the repo, revision, endpoint and
            what to try.
    """
    from huggingface_hub import hf_hub_download, snapshot_download
    from huggingface_hub.errors import (EntryNotFoundError, GatedRepoError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    kw = dict(revision=revision, cache_dir=cache_dir, local_dir=local_dir, token=token)
    where = f"{repo_id!r}" + (f" at revision {revision!r}" if revision else "")
    try:
        if filename:
            return Path(hf_hub_download(repo_id, filename, **kw))
        folder = None
        try:
            cfg = Path(hf_hub_download(repo_id, "config.json", **kw))
            folder = cfg.parent
            from .bundles import FORMAT
            from .state_dicts import read_json

            if read_json(cfg).get("format") == FORMAT:
                hf_hub_download(repo_id, "model.safetensors", **kw)
                return folder
        except EntryNotFoundError:
            pass
        for name in ("model.safetensors", "pytorch_model.bin"):
            try:
                return Path(hf_hub_download(repo_id, name, **kw)).parent
            except EntryNotFoundError:
                continue
        return Path(snapshot_download(repo_id, allow_patterns=WEIGHT_PATTERNS, **kw))
    except GatedRepoError:
        raise ModelNotFoundError(f"Hub repo {where} is gated: accept its terms on the Hub and set HF_TOKEN") from None
    except RepositoryNotFoundError:
        raise ModelNotFoundError(
            f"Hub repo {where} was not found at {_endpoint()} (a typo, or a private repo: log in with "
            f"`hf auth login` or set HF_TOKEN)") from None
    except RevisionNotFoundError:
        raise ModelNotFoundError(f"Hub repo {repo_id!r} has no revision {revision!r} (branch, tag or commit); "
                                 f"check the name, or leave the revision empty for 'main'") from None
    except LocalEntryNotFoundError:
        if _offline():
            raise ModelNotFoundError(
                f"{where}{' file ' + repr(filename) if filename else ''} is not in the local Hugging Face cache and "
                f"HF_HUB_OFFLINE=1 forbids downloading it: unset HF_HUB_OFFLINE once to download it, or copy the "
                f"model folder to disk and load it by path") from None
        raise ModelNotFoundError(
            f"could not reach {_endpoint()} to download {where} and it is not cached: check the network or "
            f"HF_ENDPOINT, or load a local copy by path") from None
    except EntryNotFoundError:
        raise ModelNotFoundError(f"Hub repo {where} has no file {filename!r}") from None
    except I2IError:
        raise
    except OSError as e:  # incomplete body, dropped connection, disk full ...
        raise DownloadError(f"downloading {where} from {_endpoint()} failed: {e}. Nothing was loaded; retry (a "
                            f"partial file is resumed or re-fetched)") from e
