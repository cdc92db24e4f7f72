"""Datasets for the three recipes, in the layouts people already have, plus Hub datasets.

* paired (pix2pix): ``A/[split/]<name>`` + ``B/[split/]<name>`` with the same file names, or junyanz's
  "aligned" files (A|B side by side) in ``[split/]``;
* unpaired (CycleGAN): ``trainA/ trainB/`` (``valA/ valB/``, ``testA/ testB/``); same-name files in the
  val folders are treated as ground-truth pairs for metrics;
* attributes (StarGAN): an image folder + a CelebA-style ``list_attr`` file (``--selected_attrs``), or
  one folder per domain (RaFD style);
* a Hub dataset id (``user/name``) through ``datasets`` with the image/label columns named by options.

Images are opened with Pillow: RGBA/LA/P with transparency are composited on white, everything else is
converted to RGB (or L for 1-channel models). Unreadable files are skipped and counted. Augmentation
(junyanz ``preprocess``: ``resize_and_crop``, ``crop``, ``scale_width``, ``none``; horizontal flip) draws
from a generator seeded by (seed, epoch, index), so every sample is reproducible whatever the worker,
which is what makes resumed runs exact. Tensors are [C, H, W] in [-1, 1].
"""

from __future__ import annotations

import csv
import json
import logging
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

log = logging.getLogger("train")
IMG_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif")
PREPROCESS = ("resize_and_crop", "crop", "scale_width", "none")


class DataError(ValueError):
    """A dataset problem found before training starts; the message says what to fix."""


class UnreadableImageError(OSError):
    """An image file that cannot be decoded (truncated, damaged, not an image); ``path`` names it."""

    def __init__(self, path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


# ------------------------------------------------------------------------------------------------ images
def open_image(src, channels: int = 3) -> Image.Image:
    """Open a file path or PIL image as RGB (or L), compositing transparency on white."""
    im = src if isinstance(src, Image.Image) else Image.open(src)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    im = im.convert("L" if channels == 1 else "RGB")
    return im


def read_image(path, channels: int = 3) -> Image.Image:
    """:func:`open_image` of a file, fully decoded; a file that cannot be decoded raises
    :class:`UnreadableImageError` naming it (Pillow says "image file is truncated" without the name)."""
    try:
        with Image.open(path) as f:
            im = open_image(f, channels)
            im.load()
            return im
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise UnreadableImageError(path, str(e) or type(e).__name__) from None


def to_tensor(im: Image.Image) -> torch.Tensor:
    """PIL -> [C, H, W] float in [-1, 1]."""
    a = np.asarray(im, dtype=np.float32) / 127.5 - 1.0
    if a.ndim == 2:
        a = a[:, :, None]
    return torch.from_numpy(a.transpose(2, 0, 1).copy())


def content_extent(im: "Image.Image | str | os.PathLike", tol: int = 24) -> float | None:
    """How much of the canvas an image's subject spans, for images drawn on a plain background.

    ``im`` is a PIL image or a path (transparency is composited on white, as for training; an unreadable
    file raises Pillow's error).

    The background colour is the median of the 1-px border; subject pixels differ from it by more than
    ``tol`` (0-255) in some channel. Returns max(bbox width / W, bbox height / H) in (0, 1], or ``None``
    when the border is not mostly background (a photo, a subject cut by the frame) or nothing differs.
    """
    a = np.asarray(open_image(im), dtype=np.int16)
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    bg = np.median(border, 0)
    if (np.abs(border - bg).max(-1) <= tol).mean() < 0.5:
        return None
    ys, xs = np.nonzero(np.abs(a - bg).max(-1) > tol)
    if not len(ys):
        return None
    return max((xs.max() - xs.min() + 1) / a.shape[1], (ys.max() - ys.min() + 1) / a.shape[0])


def estimate_reframe(images_A, images_B, min_share: float = 0.5, tolerance: float = 0.02) -> tuple[float, str]:
    """The scale that gives domain A's subjects domain B's framing: mean subject extent of B over A's
    (:func:`content_extent`; e.g. 0.945 for Twemoji -> Noto, whose art keeps a ~3% margin on each side).

    ``images_A``/``images_B`` are iterables of PIL images or paths. Returns ``(scale, reason)``: 1.0 (no
    change) with the reason when fewer than ``min_share`` of either domain's images have a plain
    background (photos) or when the ratio is within ``tolerance`` of 1 (styles framed alike: a zoom that
    small would only resample), else the ratio rounded to 3 decimals.
    """
    ext = []
    for name, images in (("A", images_A), ("B", images_B)):
        images = list(images)
        vals = [e for e in map(content_extent, images) if e is not None]
        if not images or len(vals) < min_share * len(images):
            return 1.0, f"domain {name}: {len(vals)} of {len(images)} images have a plain background"
        ext.append(float(np.mean(vals)))
    why = f"mean subject extent A {ext[0]:.3f}, B {ext[1]:.3f}"
    ratio = ext[1] / ext[0]
    if abs(ratio - 1) < tolerance:
        return 1.0, f"{why}: within {tolerance:.0%} of 1, no zoom"
    return round(ratio, 3), why


def domain_samples(ds, n: int = 300) -> tuple[list, list]:
    """Up to ``n`` evenly spaced domain-A and domain-B images (paths or PIL images) of an
    :class:`UnpairedDataset` or a two-column :class:`HubDataset`, for :func:`estimate_reframe`."""
    def spaced(seq):
        step = max(1, len(seq) // n)
        return list(seq[::step][:n])
    if isinstance(ds, UnpairedDataset):
        return spaced(ds.a), spaced(ds.b)
    rows = spaced(range(len(ds)))
    return [ds.ds[i][ds.columns["A"]] for i in rows], [ds.ds[i][ds.columns["B"]] for i in rows]


@dataclass
class Transform:
    """junyanz-style preprocessing with explicit randomness (shared by the images of one sample)."""

    preprocess: str = "resize_and_crop"
    load_size: int = 286
    crop_size: int = 256
    flip: bool = True

    def params(self, size: tuple[int, int], rng: random.Random) -> dict[str, Any]:
        w, h = size
        if self.preprocess == "resize_and_crop":
            nw = nh = self.load_size
        elif self.preprocess == "scale_width":
            nw, nh = self.load_size, max(self.crop_size, round(h * self.load_size / w))
        else:
            nw, nh = w, h
        x = rng.randint(0, max(0, nw - self.crop_size))
        y = rng.randint(0, max(0, nh - self.crop_size))
        return {"size": (nw, nh), "pos": (x, y), "flip": self.flip and rng.random() > 0.5}

    def __call__(self, im: Image.Image, p: dict[str, Any]) -> Image.Image:
        if self.preprocess != "none":
            w, h = p["size"]
            if w < self.crop_size or h < self.crop_size:
                raise DataError(f"an image of {im.size[0]}x{im.size[1]} ({'after resizing to ' + str(w) + 'x' + str(h) if p['size'] != im.size else 'as is'}) "
                                f"is smaller than the crop {self.crop_size}x{self.crop_size}: use --preprocess resize_and_crop "
                                f"with --load_size >= --crop_size, or a smaller --crop_size")
        if p["size"] != im.size:
            im = im.resize(p["size"], Image.BICUBIC)
        if self.preprocess == "none":
            w, h = im.size
            im = im.resize((max(4, round(w / 4) * 4), max(4, round(h / 4) * 4)), Image.BICUBIC)
        else:
            x, y = p["pos"]
            im = im.crop((x, y, x + self.crop_size, y + self.crop_size))
        if p["flip"]:
            im = im.transpose(Image.FLIP_LEFT_RIGHT)
        return im


def eval_transform(size: int) -> "Transform":
    """Validation: bicubic resize to ``size``², no randomness (the evaluation protocol)."""
    return Transform("resize_and_crop", size, size, False)


def sample_rng(seed: int, epoch: int, index: int) -> random.Random:
    return random.Random((seed * 1_000_003 + epoch) * 10_000_019 + index)


def _list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMG_EXT and p.is_file())


def cache_dir() -> Path:
    """Where the training tools cache things about data sets: ``$I2I_CACHE`` or ``~/.cache/i2i_gans``."""
    base = os.environ.get("I2I_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "i2i_gans")
    return Path(base).expanduser()


def _decode(path: Path) -> tuple[int, int] | str:
    """(width, height) of a fully decoded image, or why it cannot be decoded."""
    try:
        with Image.open(path) as im:
            im.load()
            return im.size
    except Exception as e:  # noqa: BLE001 - any failure to decode makes the file unusable
        return str(e) or type(e).__name__


def _record(p: Path, res: tuple[int, int] | str, ok: dict, bad: list) -> None:
    if isinstance(res, tuple):
        ok[p] = res
    else:
        bad.append((p, res))


def verify_images(paths: list[Path], what: str) -> dict[Path, tuple[int, int]]:
    """Decode every image once before training (in parallel threads, with a progress bar on a terminal)
    and return ``{path: (width, height)}`` of the readable ones; unreadable files are skipped, counted
    and named in the log. Results are cached by path, size and modification time
    (``cache_dir()/decoded/``), so a second start only looks at what changed."""
    import concurrent.futures as cf
    import hashlib
    import sys
    import time

    if not paths:
        return {}
    key = hashlib.sha1(str(Path(paths[0]).resolve().parent).encode()).hexdigest()[:16]
    cache_file = cache_dir() / "decoded" / f"{key}.json"
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    out: dict[Path, tuple[int, int]] = {}
    bad: list[tuple[Path, str]] = []
    todo = []
    for p in paths:
        try:
            st = p.stat()
        except OSError as e:
            bad.append((p, str(e)))
            continue
        stamp = [st.st_size, st.st_mtime_ns]
        hit = cache.get(str(p))
        if hit and hit[:2] == stamp:
            _record(p, tuple(hit[2]) if isinstance(hit[2], list) else hit[2], out, bad)
        else:
            todo.append((p, stamp))
    if todo:
        t0 = time.perf_counter()
        bar = None
        if sys.stderr.isatty() and len(todo) > 50:
            try:
                from tqdm import tqdm

                bar = tqdm(total=len(todo), desc=f"checking images ({what})", unit="img", leave=False)
            except ImportError:
                bar = None
        with cf.ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 1) + 1)) as ex:
            for (p, stamp), res in zip(todo, ex.map(lambda t: _decode(t[0]), todo)):
                cache[str(p)] = stamp + [list(res) if isinstance(res, tuple) else res]
                _record(p, res, out, bad)
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()
        log.info("%s: decoded %d image(s) in %.1f s (%d known from the cache)", what, len(todo),
                 time.perf_counter() - t0, len(paths) - len(todo))
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(cache))
            os.replace(tmp, cache_file)
        except OSError:
            pass  # a read-only cache only costs time
    if bad:
        log.warning("%s: skipped %d unreadable file(s) of %d: %s", what, len(bad), len(paths),
                    "; ".join(f"{p.name} ({why[:80]})" for p, why in bad[:10]) + (" …" if len(bad) > 10 else ""))
    return out


def _readable(paths: list[Path], what: str) -> list[Path]:
    ok = verify_images(paths, what)
    return [p for p in paths if p in ok]


def _split_dir(root: Path, sub: str, split: str) -> Path:
    """``root/sub/split`` when it exists (the shared datasets' layout), else ``root/sub``."""
    d = root / sub / split
    return d if d.is_dir() else root / sub


# ------------------------------------------------------------------------------------------------ datasets
class SeededDataset(torch.utils.data.Dataset):
    """Base: ``epoch`` (set by the loop) + ``seed`` make every sample's augmentation reproducible.

    Subclasses implement ``get(i)``. A file that became unreadable after the check before training is
    skipped with its name logged (once), and the next sample takes its place - the same one on every run,
    so resumed runs stay exact."""

    seed = 0
    epoch = 0
    skipped = 0
    _warned: set = set()

    def get(self, i: int) -> dict[str, Any]:
        raise NotImplementedError

    def __getitem__(self, i: int) -> dict[str, Any]:
        n = len(self)
        for k in range(min(n, 32)):
            try:
                return self.get((i + k) % n)
            except UnreadableImageError as e:
                self.skipped += 1
                if str(e.path) not in SeededDataset._warned:
                    SeededDataset._warned.add(str(e.path))
                    log.warning("skipped unreadable image %s (%s); another sample takes its place", e.path, e.reason)
        raise DataError(f"{min(n, 32)} images in a row could not be read (the last: see the warnings above); "
                        f"is the data set's disk still there?")


class PairedDataset(SeededDataset):
    """pix2pix pairs: yields ``{"A": [C,H,W], "B": [C,H,W], "name": str}`` in [-1, 1] (A = input, B = target
    for ``direction="AtoB"``; swapped for ``BtoA``)."""

    def __init__(self, root: str | os.PathLike, split: str, transform: Transform, direction: str = "AtoB",
                 input_nc: int = 3, output_nc: int = 3):
        root = Path(root)
        self.transform, self.direction, self.input_nc, self.output_nc = transform, direction, input_nc, output_nc
        a_dir, b_dir = _split_dir(root, "A", split), _split_dir(root, "B", split)
        if a_dir.is_dir() and b_dir.is_dir():
            a = {p.name: p for p in _list_images(a_dir)}
            b = {p.name: p for p in _list_images(b_dir)}
            common = sorted(set(a) & set(b))
            only = sorted(set(a) ^ set(b))
            if not common:
                raise DataError(f"{a_dir} and {b_dir} share no file names: a paired dataset needs the same name in "
                                f"A/ and B/ for each pair (e.g. A/{split}/0001.png and B/{split}/0001.png)")
            if only:
                log.warning("paired dataset: %d file(s) without a partner ignored (e.g. %s)", len(only), only[:3])
            pairs = [(a[n], b[n]) for n in common]
            keep = set(_readable([p for pair in pairs for p in pair], f"{root} [{split}]"))
            self.pairs = [(x, y) for x, y in pairs if x in keep and y in keep]
            self.aligned = False
        else:
            folder = root / split if (root / split).is_dir() else root
            sizes = verify_images(_list_images(folder), f"{folder}")
            files = [p for p in _list_images(folder) if p in sizes]
            if not files:
                raise DataError(f"no paired images in {root}: expected A/{split}/ + B/{split}/ (or A/ + B/) with the "
                                f"same file names, or aligned A|B images in {root}/{split}/")
            odd = [(p, sizes[p]) for p in files if abs(sizes[p][0] - 2 * sizes[p][1]) > 1]
            if odd:
                (p, (w, h)) = odd[0]
                raise DataError(f"{folder} holds images that are not aligned A|B pairs ({len(odd)} of {len(files)}, e.g. "
                                f"{p.name} is {w}x{h}; an aligned pair is twice as wide as high). pix2pix data is "
                                f"A/{split}/ + B/{split}/ (or A/ + B/) with the same file names, or aligned A|B images "
                                f"in {split}/ or the data set's folder")
            self.pairs = [(p, p) for p in files]
            self.aligned = True
        if not self.pairs:
            raise DataError(f"no readable image pairs in {root} [{split}]")

    def __len__(self) -> int:
        return len(self.pairs)

    def load(self, i: int) -> tuple[Image.Image, Image.Image]:
        pa, pb = self.pairs[i]
        if self.aligned:
            ab = read_image(pa)
            w, h = ab.size
            a, b = ab.crop((0, 0, w // 2, h)), ab.crop((w // 2, 0, w, h))
        else:
            a, b = read_image(pa), read_image(pb)
        if self.direction == "BtoA":
            a, b = b, a
        if b.size != a.size:
            b = b.resize(a.size, Image.BICUBIC)
        if self.input_nc == 1:
            a = a.convert("L")
        if self.output_nc == 1:
            b = b.convert("L")
        return a, b

    def get(self, i: int) -> dict[str, Any]:
        a, b = self.load(i)
        p = self.transform.params(a.size, sample_rng(self.seed, self.epoch, i))
        return {"A": to_tensor(self.transform(a, p)), "B": to_tensor(self.transform(b, p)), "name": self.pairs[i][0].name}


class UnpairedDataset(SeededDataset):
    """CycleGAN: domain A and B images, independently drawn. Length = the larger domain; B is drawn at a
    random index (seeded), as junyanz ``unaligned`` does with ``serial_batches`` off."""

    def __init__(self, root: str | os.PathLike, split: str, transform: Transform, input_nc: int = 3, output_nc: int = 3):
        root = Path(root)
        self.transform, self.input_nc, self.output_nc = transform, input_nc, output_nc
        self.a = _readable(_list_images(root / f"{split}A"), f"{root}/{split}A")
        self.b = _readable(_list_images(root / f"{split}B"), f"{root}/{split}B")
        if not self.a or not self.b:
            raise DataError(f"CycleGAN data needs images in {root}/{split}A and {root}/{split}B (found {len(self.a)} "
                            f"and {len(self.b)})")

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def get(self, i: int) -> dict[str, Any]:
        rng = sample_rng(self.seed, self.epoch, i)
        pa = self.a[i % len(self.a)]
        pb = self.b[rng.randrange(len(self.b))]
        a = read_image(pa, self.input_nc)
        b = read_image(pb, self.output_nc)
        ta = self.transform(a, self.transform.params(a.size, rng))
        tb = self.transform(b, self.transform.params(b.size, rng))
        return {"A": to_tensor(ta), "B": to_tensor(tb), "name": pa.name}


class NamedPairs(torch.utils.data.Dataset):
    """Validation pairs by file name across two folders (``valA``/``valB``, or ``A/val``/``B/val``); deterministic."""

    def __init__(self, a_dir: Path, b_dir: Path, size: int, input_nc: int = 3, output_nc: int = 3, limit: int | None = None):
        a = {p.name: p for p in _readable(_list_images(a_dir), str(a_dir))}
        b = {p.name: p for p in _readable(_list_images(b_dir), str(b_dir))}
        self.names = sorted(set(a) & set(b))[:limit] if limit else sorted(set(a) & set(b))
        self.a, self.b, self.size, self.input_nc, self.output_nc = a, b, size, input_nc, output_nc

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, i: int) -> dict[str, Any]:
        n = self.names[i]
        t = eval_transform(self.size)
        a = read_image(self.a[n], self.input_nc)
        b = read_image(self.b[n], self.output_nc)
        p = t.params(a.size, random.Random(0))
        return {"A": to_tensor(t(a, p)), "B": to_tensor(t(b, t.params(b.size, random.Random(0)))), "name": n}


def read_list_attr(path: Path) -> tuple[list[str], dict[str, list[int]]]:
    """CelebA ``list_attr_celeba.txt``: line 1 count, line 2 names, then ``file v1 v2 …`` with 1/-1."""
    lines = path.read_text().splitlines()
    if len(lines) < 2:
        raise DataError(f"{path} is not a CelebA-style attribute file (count line, names line, then rows)")
    names = lines[1].split()
    rows = {}
    for line in lines[2:]:
        parts = line.split()
        if len(parts) == len(names) + 1:
            rows[parts[0]] = [1 if v == "1" else 0 for v in parts[1:]]
    return names, rows


def read_edit_pairs(csv_path: str | os.PathLike, image_dir: str | os.PathLike,
                    items: list[tuple[Path, torch.Tensor]], attributes: list[str] | None = None) -> list[tuple[int, int]]:
    """Ground-truth edits: ``(src, tgt)`` indices into ``items`` (``(path, label)`` as
    :class:`AttributeDataset` keeps them) for the rows of an ``edit_pairs.csv`` (columns ``src_file``,
    ``tgt_file``, paths relative to ``image_dir``, as ``../shared/datasets/emoji_people_attrs`` ships it)
    whose two files are both present and whose labels differ (a row that changes only an attribute the
    model does not learn is no edit for it); with ``attributes``, only rows whose ``attribute`` column is one
    of them. In file order. Raises :class:`DataError` for a file without those columns."""
    image_dir = Path(image_dir)
    index = {}
    for i, (p, _) in enumerate(items):
        try:
            index[p.relative_to(image_dir).as_posix()] = i
        except ValueError:
            continue
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        if not {"src_file", "tgt_file"} <= set(reader.fieldnames or ()):
            raise DataError(f"{csv_path} needs the columns src_file and tgt_file (got {reader.fieldnames})")
        rows = [(index.get(r["src_file"]), index.get(r["tgt_file"])) for r in reader
                if attributes is None or r.get("attribute") in attributes]
    return [(s, t) for s, t in rows if s is not None and t is not None and not torch.equal(items[s][1], items[t][1])]


class AttributeDataset(SeededDataset):
    """StarGAN: ``{"image": [C,H,W], "label": [c_dim] float {0,1}, "name": str}``.

    CelebA style (``image_dir`` + ``attr_path`` with ``selected_attrs``) or folder-per-domain (``image_dir``
    holding one sub-folder per domain; labels one-hot over the sorted folder names, as RaFD in yunjey).
    With ``edit_pairs`` (an ``edit_pairs.csv``, :func:`read_edit_pairs`) every sample also carries a
    ground-truth edit of its image drawn from the sample's own seeded generator: ``"pair_image"``
    [C,H,W] (same crop and flip as ``"image"``), ``"pair_label"`` [c_dim] and ``"has_pair"`` (1.0, or 0.0
    with the image itself and its own label when the image has no partner). Raises :class:`DataError`
    when the file yields no pair.
    """

    def __init__(self, image_dir: str | os.PathLike, transform: Transform, attr_path: str | os.PathLike | None = None,
                 selected_attrs: list[str] | None = None, input_nc: int = 3,
                 edit_pairs: str | os.PathLike | None = None, domain_dirs: list[tuple[str, Path]] | None = None):
        image_dir = Path(image_dir)
        self.transform, self.input_nc = transform, input_nc
        if domain_dirs:  # named domains in given folders (e.g. a CycleGAN set's trainA/trainB)
            missing = [str(d) for _, d in domain_dirs if not Path(d).is_dir()]
            if missing:
                raise DataError(f"no such folder(s): {missing}")
            items = [(p, [int(k == j) for k in range(len(domain_dirs))]) for j, (_, d) in enumerate(domain_dirs)
                     for p in _list_images(Path(d))]
            self.attributes = [n for n, _ in domain_dirs]
        elif attr_path:
            names, rows = read_list_attr(Path(attr_path))
            selected = selected_attrs or names
            unknown = [a for a in selected if a not in names]
            if unknown:
                raise DataError(f"unknown attribute(s) {unknown} in --selected_attrs; {attr_path} has: {' '.join(names)}")
            idx = [names.index(a) for a in selected]
            items = [(image_dir / f, [r[j] for j in idx]) for f, r in rows.items()]
            self.attributes = list(selected)
        else:
            domains = sorted(d.name for d in image_dir.iterdir() if d.is_dir()) if image_dir.is_dir() else []
            if not domains:
                raise DataError(f"{image_dir} has neither an attribute file (--attr_path) nor one folder per domain")
            items = [(p, [int(k == j) for k in range(len(domains))]) for j, d in enumerate(domains)
                     for p in _list_images(image_dir / d)]
            self.attributes = domains
        present = [(p, l) for p, l in items if p.is_file()]
        if len(present) < len(items):
            log.warning("attribute dataset: %d listed file(s) missing", len(items) - len(present))
        keep = set(_readable([p for p, _ in present], str(image_dir)))
        self.items = [(p, torch.tensor(l, dtype=torch.float32)) for p, l in present if p in keep]
        if not self.items:
            raise DataError(f"no readable images with labels under {image_dir}")
        self.partners: dict[int, list[int]] | None = None
        if edit_pairs is not None:
            pairs = read_edit_pairs(edit_pairs, image_dir, self.items)
            if not pairs:
                raise DataError(f"{edit_pairs}: no row pairs two images of {image_dir} whose labels differ in the "
                                f"selected attributes {self.attributes}; check its src_file/tgt_file paths")
            self.partners = {}
            for s_, t_ in pairs:
                self.partners.setdefault(s_, []).append(t_)

    def __len__(self) -> int:
        return len(self.items)

    def get(self, i: int) -> dict[str, Any]:
        p, label = self.items[i]
        im = read_image(p, self.input_nc)
        rng = sample_rng(self.seed, self.epoch, i)
        params = self.transform.params(im.size, rng)
        out = {"image": to_tensor(self.transform(im, params)), "label": label, "name": p.name}
        if self.partners is not None:
            options = self.partners.get(i)
            j = options[rng.randrange(len(options))] if options else i
            pair = out["image"]
            if j != i:
                pim = read_image(self.items[j][0], self.input_nc)
                pim = pim if pim.size == im.size else pim.resize(im.size, Image.BICUBIC)
                pair = to_tensor(self.transform(pim, params))
            out.update(pair_image=pair, pair_label=self.items[j][1], has_pair=torch.tensor(float(j != i)))
        return out


class JointDataset(SeededDataset):
    """StarGAN across datasets (Choi et al., CVPR 2018, §3.2): several labelled datasets (each a dataset with
    ``attributes`` and ``[c_k]`` labels) as one, every sample carrying the **joint** label vector
    ``"label"`` [sum c_k] (its own dataset's labels in its span, zeros - unknown - elsewhere) and the one-hot
    **mask vector** ``"mask"`` [K] naming its dataset. Item ``i`` is sample ``(i // K) mod len_k`` of dataset
    ``k = i mod K``, so every dataset contributes equally to an epoch (a smaller one repeats; length
    ``K · max len_k``) and a shuffled batch mixes them (the paper alternates whole batches; with per-sample
    masks the losses are the same in expectation). ``seed`` and ``epoch`` pass through to the parts."""

    def __init__(self, parts: list[SeededDataset]):
        self.parts = list(parts)
        self.sizes = [len(p.attributes) for p in self.parts]
        self.offsets = [sum(self.sizes[:k]) for k in range(len(self.parts))]
        self.attributes = [a for p in self.parts for a in p.attributes]
        dup = sorted({a for a in self.attributes if self.attributes.count(a) > 1})
        if dup:
            raise DataError(f"attribute name(s) {dup} appear in more than one dataset; the mask vector keeps the "
                            f"datasets' labels apart, so give them distinct names")

    def __setattr__(self, name, value):
        super().__setattr__(name, value)
        if name in ("seed", "epoch"):
            for p in getattr(self, "parts", []):
                setattr(p, name, value)

    def __len__(self) -> int:
        return len(self.parts) * max(len(p) for p in self.parts)

    def get(self, i: int) -> dict[str, Any]:
        K = len(self.parts)
        k = i % K
        part = self.parts[k]
        s = part[(i // K) % len(part)]
        label = torch.zeros(len(self.attributes))
        label[self.offsets[k]:self.offsets[k] + self.sizes[k]] = s["label"]
        mask = torch.zeros(K)
        mask[k] = 1
        out = {"image": s["image"], "label": label, "mask": mask, "name": s["name"]}
        if any(getattr(p, "partners", None) is not None for p in self.parts):  # ground-truth edits (--lambda_pair)
            pair_label = label.clone()
            if "pair_label" in s:
                pair_label[self.offsets[k]:self.offsets[k] + self.sizes[k]] = s["pair_label"]
            out.update(pair_image=s.get("pair_image", s["image"]), pair_label=pair_label,
                       has_pair=s.get("has_pair", torch.tensor(0.0)))
        return out


class HubDataset(SeededDataset):
    """A ``datasets`` split with image columns (and, for StarGAN, label columns) mapped to our sample dicts."""

    def __init__(self, dataset_id: str, split: str, transform: Transform, columns: dict[str, str], config: str | None = None,
                 revision: str | None = None, input_nc: int = 3, output_nc: int = 3, label_columns: list[str] | None = None):
        import datasets

        try:
            ds = datasets.load_dataset(dataset_id, config, split=split, revision=revision)
        except ValueError as e:
            raise DataError(f"Hub dataset {dataset_id!r} has no split {split!r} ({e})") from None
        except Exception as e:
            raise DataError(f"cannot load Hub dataset {dataset_id!r}: {e}") from None
        missing = [c for c in list(columns.values()) + (label_columns or []) if c not in ds.column_names]
        if missing:
            raise DataError(f"Hub dataset {dataset_id!r} [{split}] has no column(s) {missing}; its columns are "
                            f"{ds.column_names}: choose them with --column_A/--column_B (or --label_columns)")
        self.ds, self.transform, self.columns = ds, transform, columns
        self.input_nc, self.output_nc, self.label_columns = input_nc, output_nc, label_columns
        self.attributes = label_columns or []

    def __len__(self) -> int:
        return len(self.ds)

    def get(self, i: int) -> dict[str, Any]:
        row = self.ds[i]
        rng = sample_rng(self.seed, self.epoch, i)
        out: dict[str, Any] = {"name": str(i)}
        params = None
        for key, col in self.columns.items():
            try:
                im = open_image(row[col], self.input_nc if key in ("A", "image") else self.output_nc)
            except (OSError, ValueError) as e:
                raise UnreadableImageError(f"row {i} column {col!r}", str(e)) from None
            if params is None:  # one set of crop/flip parameters for all images of the sample
                params = self.transform.params(im.size, rng)
            out[key] = to_tensor(self.transform(im, params))
        if self.label_columns:
            out["label"] = torch.tensor([float(row[c]) > 0 for c in self.label_columns], dtype=torch.float32)
        return out


def is_hub_dataset(spec: str) -> bool:
    """Whether ``--dataset`` names a Hub dataset: the library's rules for sources (:mod:`i2i_models.hub`,
    :func:`i2i_models.loading.looks_local`): not an existing path, not local-looking, ``owner/name``."""
    from i2i_models.hub import is_hub_id
    from i2i_models.loading import looks_local

    spec = str(spec)
    return not Path(spec).exists() and not looks_local(spec) and is_hub_id(spec) and len(spec.split("/")) == 2


class EpochSampler(torch.utils.data.Sampler):
    """Deterministic per-epoch shuffling (a permutation seeded by seed+epoch), sharded over distributed
    ranks (``indices[rank::world]``), starting ``offset`` samples into the epoch (for exact resume)."""

    def __init__(self, n: int, seed: int, epoch: int, shuffle: bool = True, rank: int = 0, world: int = 1, offset: int = 0):
        self.n, self.seed, self.epoch, self.shuffle, self.rank, self.world, self.offset = n, seed, epoch, shuffle, rank, world, offset

    def indices(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 7919 + self.epoch)
            perm = torch.randperm(self.n, generator=g).tolist()
        else:
            perm = list(range(self.n))
        usable = len(perm) - len(perm) % self.world
        return perm[:usable][self.offset:][self.rank::self.world]

    def __iter__(self):
        return iter(self.indices())

    def __len__(self) -> int:
        return len(self.indices())
