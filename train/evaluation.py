"""One evaluation protocol for the trainer's validation, ``train.evaluate`` and ``train.gallery``.

What to score comes from the model's family (:meth:`i2i_models.families.Family.eval_cases`: which generator,
which images are source and target, where the pairs come from); this module reads those pairs from a data
set in the shared layouts (:func:`case_pairs`) and scores a generator on them (:func:`score`): per-image
L1, PSNR and SSIM on [0, 1] RGB against the target, the **identity baseline** (the source itself against
the target, the same function for everyone) and, for conditional families, whether a *reader* (the model's
own discriminator during training, an independent classifier in ``train.evaluate``) sees the target
labels in the output. Tensors are [B, C, H, W] in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from i2i_models.families import EvalCase

from .data import AttributeDataset, DataError, NamedPairs, PairedDataset, eval_transform, read_edit_pairs
from .metrics import MeanMeter, image_metrics, locality


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> [0, 1] (clamped), float32 on the CPU."""
    return ((x.detach().float().cpu() + 1) / 2).clamp(0, 1)


def contact_sheet(rows: list[list[torch.Tensor]], pad: int = 2):
    """Rows of [C, H, W] images in [0, 1] (each row: source | output | target …) on white, ``pad`` px apart,
    as one PIL image: the trainer's sample grids and ``train.gallery`` sheets."""
    import numpy as np
    from PIL import Image

    cells = [[t.expand(3, -1, -1) if t.shape[0] == 1 else t for t in row] for row in rows]
    h, w = cells[0][0].shape[1:]
    cols = max(len(r) for r in cells)
    grid = torch.ones(3, len(cells) * (h + pad) + pad, cols * (w + pad) + pad)
    for i, row in enumerate(cells):
        for j, t in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            grid[:, y:y + h, x:x + w] = t.float().cpu().clamp(0, 1)
    return Image.fromarray((grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))


def _rgb(x: torch.Tensor) -> torch.Tensor:
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


@dataclass
class CaseScore:
    """The result of one case: mean metrics of the model's outputs and of the identity baseline against the
    targets, the share of outputs a reader read as the target (conditional families), and the image count."""

    model: dict[str, float] = field(default_factory=dict)
    identity: dict[str, float] = field(default_factory=dict)
    read: float | None = None
    images: int = 0

    def named(self, case: EvalCase) -> dict[str, float]:
        """The trainer's metric names: ``<prefix>l1`` … and ``<identity_prefix>l1`` … (``edit_target_read``)."""
        out = {f"{case.prefix}{k}": v for k, v in self.model.items()}
        out.update({f"{case.identity_prefix}{k}": v for k, v in self.identity.items()})
        if self.read is not None:
            out[f"{case.prefix}target_read"] = self.read
        return out


Reader = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def score(case: EvalCase, run: Callable[..., torch.Tensor], batches: Iterable[dict[str, Any]],
          reader: Reader | None = None) -> CaseScore:
    """Score one case. ``run(source[, target_labels])`` returns the generator's output [B, C, H, W] in
    [-1, 1]; ``batches`` yield ``{"source", "target"}`` (+ ``"labels"``, ``"source_labels"`` [B, c_dim] for
    conditional cases); ``reader(output, target_labels, source_labels)`` -> [B] bool. Beside L1, PSNR and
    SSIM the model's outputs get :func:`train.metrics.locality` (``keep_l1``, ``changed``, ``true_changed``):
    what an edit changes where the true target does not."""
    m, ident, read = MeanMeter(), MeanMeter(), MeanMeter()
    for b in batches:
        src, tgt = b["source"], b["target"]
        out = run(src, b["labels"]) if case.conditional else run(src)
        o, t, x = _rgb(to_unit(out)), _rgb(to_unit(tgt)), _rgb(to_unit(src))
        m.add({**image_metrics(o, t), **(locality(o, x, t) if o.shape == x.shape else {})})
        ident.add(image_metrics(_rgb(to_unit(src)), _rgb(to_unit(tgt))))
        if reader is not None and case.conditional:
            read.add({"target_read": reader(out, b["labels"], b["source_labels"]).double()})
    return CaseScore(m.result(), ident.result(), read.result().get("target_read") if read.n else None, m.n)


# ------------------------------------------------------------------------------------------------ data
class _Renamed(torch.utils.data.Dataset):
    """A paired/named-pairs dataset's ``A``/``B`` samples as ``source``/``target``."""

    def __init__(self, ds, a: str = "A", b: str = "B"):
        self.ds, self.a, self.b = ds, a, b

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int) -> dict[str, Any]:
        s = self.ds[i]
        return {"source": s[self.a], "target": s[self.b], "name": s.get("name", str(i))}


class EditPairs(torch.utils.data.Dataset):
    """``(source image, target image, target labels, source labels)`` of edit pairs in an
    :class:`~train.data.AttributeDataset` (indices from :func:`edit_pair_indices`)."""

    def __init__(self, ds: AttributeDataset, pairs: list[tuple[int, int]]):
        self.ds, self.pairs = ds, pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict[str, Any]:
        s, t = self.pairs[i]
        return {"source": self.ds[s]["image"], "target": self.ds[t]["image"], "labels": self.ds.items[t][1],
                "source_labels": self.ds.items[s][1], "name": self.ds.items[s][0].name}


def edit_pair_indices(ds: AttributeDataset, csv_path: Path, attributes: list[str] | None = None,
                      limit: int | None = None, image_dir: Path | None = None) -> list[tuple[int, int]]:
    """(source, target) indices into ``ds`` for the rows of an ``edit_pairs.csv`` next to its image folder
    (:func:`train.data.read_edit_pairs`: both images present, labels differ; optionally only rows whose
    ``attribute`` is in ``attributes``), evenly subsampled to ``limit``."""
    if image_dir is None:
        image_dir = Path(csv_path).parent / "images" if (Path(csv_path).parent / "images").is_dir() else Path(csv_path).parent
    pairs = read_edit_pairs(csv_path, image_dir, ds.items, attributes)
    if limit:
        pairs = pairs[::max(1, len(pairs) // limit)][:limit]
    return pairs


def case_pairs(case: EvalCase, model, root: Path, split: str, size: int, *, limit: int | None = None,
               edit_attributes: list[str] | None = None) -> torch.utils.data.Dataset:
    """The pairs a case reads from a local data set in the shared layouts (see :class:`EvalCase.layout`),
    resized to ``size``² as the evaluation protocol does. Raises :class:`DataError` when there are none."""
    root = Path(root)
    net = getattr(model, case.role)
    in_nc, out_nc = net.input_nc, net.output_nc
    if case.layout == "paired":
        ds = _Renamed(PairedDataset(root, split, eval_transform(size), model.config.get("direction", "AtoB"), in_nc, out_nc))
    elif case.layout == "named_pairs":
        a, b = root / f"{split}{case.source}", root / f"{split}{case.target}"
        ds = _Renamed(NamedPairs(a, b, size, in_nc, out_nc, limit))
        if not len(ds):
            raise DataError(f"no same-name pairs in {a} and {b}")
    elif case.layout == "edit_pairs":
        images = AttributeDataset(root / split / "images", eval_transform(size), root / split / "list_attr.txt",
                                  model.attributes)
        pairs = edit_pair_indices(images, root / split / "edit_pairs.csv", edit_attributes, limit)
        if not pairs:
            raise DataError(f"no edit pairs{' for ' + str(edit_attributes) if edit_attributes else ''} in "
                            f"{root / split / 'edit_pairs.csv'}")
        ds = EditPairs(images, pairs)
    else:
        raise ValueError(f"unknown evaluation layout {case.layout!r}")
    if limit and len(ds) > limit and case.layout == "paired":
        ds = torch.utils.data.Subset(ds, range(limit))
    return ds
