"""``python -m train.gallery MODEL --dataset DATA --out sheet.jpg``: a contact sheet of a model's outputs on
validation images (each row: input | output | true target), for model cards and the README.

pix2pix: ``A/<split>`` -> ``B/<split>``; CycleGAN: ``<split>A`` -> ``<split>B`` (and B -> A when the model
has G_B); StarGAN: rows of ``edit_pairs.csv`` (source | edited to the target's labels | true target).
Images are shown at ``--size`` px, picked evenly over the split (deterministic).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import torch
from PIL import Image

import i2i_models

from .data import open_image, to_tensor


def _img(path: Path, size: int) -> torch.Tensor:
    """The evaluation protocol's input: composited on white, bicubic to size², [3, size, size] in [-1, 1]."""
    return to_tensor(open_image(path).resize((size, size), Image.BICUBIC))


def _pick(items: list, n: int) -> list:
    step = max(1, len(items) // n)
    return items[::step][:n]


def rows_for(model, root: Path, split: str, n: int, size: int) -> list[list[torch.Tensor]]:
    """Rows of [3, size, size] images in [-1, 1]."""
    rows = []
    if model.family == "pix2pix":
        names = _pick(sorted(p.name for p in (root / "A" / split).iterdir()), n)
        for name in names:
            a, b = _img(root / "A" / split / name, size), _img(root / "B" / split / name, size)
            rows.append([a, _run(model, a), b])
    elif model.family == "cyclegan":
        names = _pick(sorted(p.name for p in (root / f"{split}A").iterdir() if (root / f"{split}B" / p.name).exists()), n)
        for name in names:
            a, b = _img(root / f"{split}A" / name, size), _img(root / f"{split}B" / name, size)
            row = [a, _run(model, a, direction="AtoB"), b]
            if "BtoA" in model.directions:
                row += [b, _run(model, b, direction="BtoA"), a]
            rows.append(row)
    else:
        from .data import read_list_attr

        names, labels = read_list_attr(root / split / "list_attr.txt")
        idx = [names.index(a) for a in model.attributes]
        pairs = [r for r in csv.DictReader(open(root / split / "edit_pairs.csv")) if r["attribute"] in ("gender", "skin_tone")]
        for r in _pick(pairs, n):
            src, tgt = _img(root / split / "images" / r["src_file"], size), _img(root / split / "images" / r["tgt_file"], size)
            c = torch.tensor([[float(labels[r["tgt_file"]][i]) for i in idx]])
            rows.append([src, _run(model, src, labels=c), tgt])
    return rows


def _run(model, x: torch.Tensor, **kw) -> torch.Tensor:
    img = ((x.permute(1, 2, 0)[None] + 1) / 2).clamp(0, 1)
    y = i2i_models.translate(model, img, **kw)[0]
    return y.permute(2, 0, 1) * 2 - 1


def sheet(rows: list[list[torch.Tensor]], pad: int = 4) -> Image.Image:
    h, w = rows[0][0].shape[1:]
    cols = max(len(r) for r in rows)
    canvas = Image.new("RGB", (cols * (w + pad) + pad, len(rows) * (h + pad) + pad), "white")
    for i, row in enumerate(rows):
        for j, t in enumerate(row):
            arr = ((t.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
            canvas.paste(Image.fromarray(arr), (pad + j * (w + pad), pad + i * (h + pad)))
    return canvas


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.gallery", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="anything i2i_models.load takes: a model or run folder, a Hub id, a checkpoint file")
    ap.add_argument("--dataset", required=True, help="dataset root (shared layouts)")
    ap.add_argument("--split", default="val")
    ap.add_argument("--rows", type=int, default=6)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--out", required=True, help="image file to write (.jpg or .png)")
    args = ap.parse_args(argv)
    model = i2i_models.load(args.model)
    sheet(rows_for(model, Path(args.dataset), args.split, args.rows, args.size)).save(args.out, quality=92)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    from .loop import cli

    sys.exit(cli(lambda argv: main(argv) == 0 or None))
