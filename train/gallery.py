"""``python -m train.gallery MODEL --dataset DATA --out sheet.jpg``: a contact sheet of a model's outputs on
validation images (each row: input | output | true target), for model cards and the README.

pix2pix: ``A/<split>`` -> ``B/<split>``; CycleGAN: ``<split>A`` -> ``<split>B`` (and B -> A when the model
has G_B); StarGAN: rows of ``edit_pairs.csv`` (source | edited to the target's labels | true target).
Images are shown at ``--size`` px, picked evenly over the split (deterministic). ``--strengths 0 0.5 1 1.5``
(CycleGAN) shows one direction at each strength instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from PIL import Image

import i2i_models

from .evaluation import case_pairs, contact_sheet, to_unit


def _pick(n_items: int, n: int) -> list[int]:
    step = max(1, n_items // n)
    return list(range(0, n_items, step))[:n]


def rows_for(model, root: Path, split: str, n: int, size: int,
             strengths: list[float] | None = None) -> list[list[torch.Tensor]]:
    """Rows of [C, size, size] images in [-1, 1]: for each of the family's evaluation cases (the same pairs
    ``train.evaluate`` scores), source | output | true target, side by side when there are several
    (CycleGAN: A → B, then B → A). With ``strengths`` (CycleGAN): source | the output at each strength | true
    target, the first case only (a strength sweep strip)."""
    from i2i_models.families import family

    spec = family(model)
    per_case = []
    if strengths:
        case = spec.eval_cases(model.networks())[0]
        pairs = case_pairs(case, model, root, split, size)
        return [[pairs[i]["source"], *(_run(model, pairs[i]["source"], direction=case.direction, strength=s)
                                       for s in strengths), pairs[i]["target"]] for i in _pick(len(pairs), n)]
    for case in spec.eval_cases(model.networks()):
        pairs = case_pairs(case, model, root, split, size,
                           edit_attributes=["gender", "skin_tone"] if case.conditional else None)
        rows = []
        for i in _pick(len(pairs), n):
            p = pairs[i]
            kw = {"labels": p["labels"][None]} if case.conditional else {"direction": case.direction}
            rows.append([p["source"], _run(model, p["source"], **kw), p["target"]])
        per_case.append(rows)
    return [sum(parts, []) for parts in zip(*per_case)]


def _run(model, x: torch.Tensor, **kw) -> torch.Tensor:
    """The model through the inference engine (as the nodes run it) on [C, H, W] in [-1, 1]."""
    img = ((x.permute(1, 2, 0)[None] + 1) / 2).clamp(0, 1)
    y = i2i_models.translate(model, img, **{k: v for k, v in kw.items() if v is not None})[0]
    return y.permute(2, 0, 1) * 2 - 1


def sheet(rows: list[list[torch.Tensor]], pad: int = 4) -> Image.Image:
    """Rows of [C, H, W] images in [-1, 1] as one sheet (:func:`train.evaluation.contact_sheet`)."""
    return contact_sheet([[to_unit(t) for t in row] for row in rows], pad)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog=f"python -m {__package__}.gallery", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="anything i2i_models.load takes: a model or run folder, a Hub id, a checkpoint file")
    ap.add_argument("--dataset", required=True, help="dataset root (shared layouts)")
    ap.add_argument("--split", default="val")
    ap.add_argument("--rows", type=int, default=6)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--strengths", type=float, nargs="+",
                    help="CycleGAN: a strength sweep instead (source | output at each strength | true target), e.g. "
                         "0 0.25 0.5 0.75 1 1.5")
    ap.add_argument("--out", required=True, help="image file to write (.jpg or .png)")
    args = ap.parse_args(argv)
    model = i2i_models.load(args.model)
    sheet(rows_for(model, Path(args.dataset), args.split, args.rows, args.size, args.strengths)).save(args.out, quality=92)
    print(f"wrote {args.out}")
    return 0


def command() -> int:
    """The console script: :func:`main` with errors as one line."""
    from .loop import cli

    return cli(lambda argv: main(argv) == 0 or None)


if __name__ == "__main__":
    sys.exit(command())
