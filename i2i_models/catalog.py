"""Known public models, and fetching them into a model folder once.

Two kinds of entries:

* ``official``: the papers' pix2pix and CycleGAN generators, downloaded from the authors' server as the
  reference repo's ``scripts/download_*_model.sh`` do (``<base>/cyclegan/pretrained_models/<name>.pth``,
  ``<base>/pix2pix/models-pytorch/<name>.pth``). The base URL comes from ``I2I_GANS_OFFICIAL_URL``
  (default ``http://efrosgans.eecs.berkeley.edu``), so tests serve files from a loopback server.
* ``hub``: Hugging Face Hub repos (HugGAN sprint models and others), through huggingface_hub, so
  ``HF_ENDPOINT``/``HF_HUB_OFFLINE``/``HF_TOKEN`` apply.

:func:`fetch` downloads an entry into ``<models_dir>/official/<family>/<name>.pth`` or
``<models_dir>/hub/<org>--<name>/`` and afterwards finds it there without touching the network.
"""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import DownloadError, I2IError, ModelNotFoundError
from .state_dicts import WEIGHT_SUFFIXES

DEFAULT_OFFICIAL_URL = "http://efrosgans.eecs.berkeley.edu"

OFFICIAL_CYCLEGAN = ["apple2orange", "orange2apple", "summer2winter_yosemite", "winter2summer_yosemite", "horse2zebra",
                     "zebra2horse", "monet2photo", "style_monet", "style_cezanne", "style_ukiyoe", "style_vangogh",
                     "sat2map", "map2sat", "cityscapes_photo2label", "cityscapes_label2photo", "facades_photo2label",
                     "facades_label2photo", "iphone2dslr_flower"]
OFFICIAL_PIX2PIX = ["edges2shoes", "sat2map", "map2sat", "facades_label2photo", "day2night"]


@dataclass(frozen=True)
class Entry:
    """One known model. ``key`` is what lists show (``official/cyclegan/horse2zebra``, ``hub/huggan/pix2pix-maps``)."""

    key: str
    family: str
    kind: str  # "official" | "hub"
    source: str  # official model name, or Hub "org/name[/file]"
    domains: tuple[str, str] | None = None
    note: str = ""

    @property
    def folder_name(self) -> str:
        """Where :func:`fetch` puts it, relative to the model folder: ``official/<family>/<name>.pth`` or
        ``hub/<org>--<name>[@<revision>]`` (a pinned revision gets its own folder)."""
        if self.kind == "official":
            return f"official/{self.family}/{self.source}.pth"
        from .hub import split_source

        repo_id, _, rev = split_source(self.source)
        return "hub/" + repo_id.replace("/", "--") + (f"@{rev}" if rev else "")

    @property
    def url(self) -> str:
        """Where a person can see or get the model (the file URL, or the Hub repo's page)."""
        if self.kind == "official":
            return official_url(self)
        from .hub import hub_url, split_source

        repo_id, _, rev = split_source(self.source)
        return hub_url(repo_id, rev)


def _domains(name: str) -> tuple[str, str] | None:
    from .families import domains_from_name

    d = domains_from_name(name)
    return (d["A"], d["B"]) if d else None


ENTRIES: list[Entry] = (
    [Entry(f"official/cyclegan/{n}", "cyclegan", "official", n, _domains(n),
           "CycleGAN paper, resnet_9blocks (one direction)") for n in OFFICIAL_CYCLEGAN]
    + [Entry(f"official/pix2pix/{n}", "pix2pix", "official", n, _domains(n), "pix2pix paper, unet_256")
       for n in OFFICIAL_PIX2PIX]
    + [Entry(f"hub/{r}", f, "hub", r, d, note) for r, f, d, note in [
        ("huggan/pix2pix-maps", "pix2pix", ("satellite", "map"), "HugGAN sprint"),
        ("huggan/pix2pix-edge2shoes", "pix2pix", ("edges", "shoes"), "HugGAN sprint"),
        ("huggan/pix2pix-night2day", "pix2pix", ("night", "day"), "HugGAN sprint"),
        ("huggan/pix2pix-facades-demo", "pix2pix", ("label", "facade"), "HugGAN sprint"),
        ("huggan/pix2pix-uavid-15", "pix2pix", ("aerial", "segmentation"), "HugGAN sprint"),
        ("nielsr/pix2pix-cityscapes", "pix2pix", ("label", "photo"), "HugGAN sprint"),
        ("huggan/sim2real_cyclegan", "cyclegan", ("sim", "real"), "HugGAN sprint, GeneratorResNet"),
        ("Chris1/sim2real-512", "cyclegan", ("sim", "real"), "HugGAN sprint, 512 px"),
        ("Chris1/real2sim-512", "cyclegan", ("real", "sim"), "HugGAN sprint, 512 px"),
        ("lllyasviel/Annotators/netG.pth", "pix2pix", ("anime", "sketch"), "Anime2Sketch (junyanz U-Net, 3->1)"),
    ]]
)


def entries(family: str | None = None) -> list[Entry]:
    """Known models, optionally of one family."""
    return [e for e in ENTRIES if family is None or e.family == family]


def find(key: str) -> Entry | None:
    return next((e for e in ENTRIES if e.key == key), None)


def official_url(entry: Entry) -> str:
    base = os.environ.get("I2I_GANS_OFFICIAL_URL", DEFAULT_OFFICIAL_URL).rstrip("/")
    sub = "cyclegan/pretrained_models" if entry.family == "cyclegan" else "pix2pix/models-pytorch"
    return f"{base}/{sub}/{entry.source}.pth"


def local_path(entry: Entry, models_dir: str | os.PathLike) -> Path:
    return Path(models_dir) / entry.folder_name


def is_fetched(entry: Entry, models_dir: str | os.PathLike) -> bool:
    """Whether ``fetch`` would find the model on disk (no network needed)."""
    p = local_path(entry, models_dir)
    if entry.kind == "official":
        return p.is_file()
    return p.is_dir() and any(f.name.lower().endswith(WEIGHT_SUFFIXES) for f in p.rglob("*") if ".cache" not in f.parts)


def fetch(entry: Entry, models_dir: str | os.PathLike, *, progress: Callable[[int, int], None] | None = None,
          revision: str | None = None) -> Path:
    """Return the local path of ``entry``, downloading it into ``models_dir`` the first time.

    Official files are written to ``<name>.pth.part`` and renamed when complete and readable; Hub repos
    are downloaded with ``local_dir`` (huggingface_hub keeps partial files out of place). Whatever a failed
    or cancelled download leaves is removed (the ``.part`` file, a Hub folder this call created), so no
    later run mistakes it for a model. ``progress(bytes_done, bytes_total)`` is called while downloading
    and may raise to cancel (the exception propagates after the clean-up).

    Raises:
        DownloadError: the download failed; the message names the file, the URL, the folder and what to do.
        ModelNotFoundError: a Hub repo, revision or file does not exist, the Hub cannot be reached (or
            offline) and the model was never downloaded.
    """
    dest = local_path(entry, models_dir)
    if is_fetched(entry, models_dir):
        return dest if entry.kind == "official" else _hub_target(entry, dest)
    if entry.kind == "official":
        return download_url(official_url(entry), dest, progress=progress)
    from .hub import download, split_source

    repo_id, filename, rev = split_source(entry.source)
    created = [d for d in (dest, *dest.parents) if not d.exists() and Path(models_dir) in d.parents]
    try:
        download(repo_id, revision=revision or rev, filename=filename, local_dir=dest, progress=progress)
    except BaseException as e:
        for d in created:  # innermost first: the repo folder, then an empty hub/ this call made
            if d == dest:
                shutil.rmtree(d, ignore_errors=True)
            else:
                try:
                    d.rmdir()
                except OSError:
                    pass
        if isinstance(e, DownloadError):
            raise DownloadError(f"{e} (into folder {dest}; run again to retry)") from e
        raise
    return _hub_target(entry, dest)


def _hub_target(entry: Entry, dest: Path) -> Path:
    from .hub import split_source

    _, filename, _ = split_source(entry.source)
    return dest / filename if filename else dest


def hub_entry(text: str, family: str) -> Entry:
    """A catalog-style entry for a typed-in Hub source ``org/name[/file][@revision]`` (raises ``ValueError``)."""
    from .hub import split_source

    split_source(text)
    known = find(f"hub/{text.strip()}")
    return known if known is not None and known.family == family else Entry(f"hub/{text.strip()}", family, "hub", text.strip())


def download_url(url: str, dest: Path, *, progress: Callable[[int, int], None] | None = None,
                 timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` atomically (``dest.part`` + rename after a size and readability check).

    ``progress(bytes_done, bytes_total)`` (total 0 when the server sends no length) is called per 256 KiB and
    may raise to cancel; the ``.part`` file is removed whatever ends the download early. Raises
    :class:`ModelNotFoundError` (HTTP 404) or :class:`DownloadError` (anything else)."""
    from .state_dicts import read_state_dict

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    what = f"{dest.name} from {url} into {dest.parent}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r, open(part, "wb") as f:
            total = int(r.headers.get("Content-Length") or 0)
            done = 0
            while True:
                chunk = r.read(256 << 10)
                if not chunk:
                    break
                f.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        if total and done != total:
            raise DownloadError(f"downloading {what} stopped at {done} of {total} bytes; run again to retry")
        read_state_dict(part)  # refuse to install an HTML error page or a truncated file
        os.replace(part, dest)
        return dest
    except (urllib.error.URLError, OSError, I2IError) as e:
        if isinstance(e, DownloadError):
            raise
        reason = getattr(e, "reason", None) or e
        if isinstance(e, urllib.error.HTTPError) and e.code == 404:
            raise ModelNotFoundError(f"{url} does not exist (HTTP 404) while downloading {what}") from None
        raise DownloadError(f"downloading {what} failed: {reason}. Check the network (or I2I_GANS_OFFICIAL_URL), "
                            f"or download the file yourself and put it at {dest}") from None
    finally:  # also on cancel (progress raised): never leave a half file
        part.unlink(missing_ok=True)
