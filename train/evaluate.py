"""``python -m train.evaluate MODEL --dataset DATA``: score any model on a dataset split with the quality
issue's protocol and its do-nothing baselines.

MODEL is anything ``i2i_models.load`` takes (a run folder's ``final``/checkpoint, a Hub id, a reference
checkpoint). Protocol: RGBA composited on white; images resized with PIL bicubic to ``--size``; per image
L1 and PSNR on [0, 1] RGB (PSNR capped at 60 dB) and SSIM (11×11 Gaussian, σ 1.5, valid, mean over
channels), then averaged over images.

* pix2pix: ``A/<split>`` -> ``B/<split>`` pairs; baseline: identity (the input itself).
* CycleGAN: ``<split>A``/``<split>B`` same-name pairs, both directions the model has; baseline: identity.
* StarGAN: ``<split>/edit_pairs.csv`` rows whose attribute is in ``--edit_attributes`` (default gender and
  skin_tone): the source image edited to the target image's labels, scored against the real target image;
  whether an **independent** CNN attribute classifier (trained on the train split only, its own accuracy
  on real val images reported) reads the target attribute; baseline: identity (the unedited source).

``--json`` writes the numbers; ``--card`` appends them to the model folder's README.md (the model card),
which ``--push_to_hub`` then publishes with the folder.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import torch

import i2i_models

from .data import DataError, NamedPairs, PairedDataset, eval_transform
from .metrics import MeanMeter, image_metrics


def _unit(x):
    return ((x.float().cpu() + 1) / 2).clamp(0, 1)


@torch.no_grad()
def _run(net, x, *args):
    return net(x.to(next(net.parameters()).device), *args).float().cpu()


def _result(meter_model: MeanMeter, meter_ident: MeanMeter) -> dict[str, float]:
    return {**meter_model.result("model_"), **meter_ident.result("identity_"), "images": meter_model.n}


def eval_pix2pix(model, root: Path, split: str, size: int) -> dict:
    ds = PairedDataset(root, split, eval_transform(size), model.config.get("direction", "AtoB"),
                       model.generator.input_nc, model.generator.output_nc)
    m, ident = MeanMeter(), MeanMeter()
    for b in torch.utils.data.DataLoader(ds, batch_size=16):
        out = _run(model.generator, b["A"])
        m.add(image_metrics(_unit(out).expand(-1, 3, -1, -1), _unit(b["B"]).expand(-1, 3, -1, -1)))
        ident.add(image_metrics(_unit(b["A"]).expand(-1, 3, -1, -1), _unit(b["B"]).expand(-1, 3, -1, -1)))
    return {"AtoB": _result(m, ident)}


def eval_cyclegan(model, root: Path, split: str, size: int) -> dict:
    out = {}
    for direction, src, tgt in (("AtoB", "A", "B"), ("BtoA", "B", "A")):
        if direction not in model.directions:
            continue
        net = model.generator_for(direction)
        ds = NamedPairs(root / f"{split}{src}", root / f"{split}{tgt}", size, net.input_nc, net.output_nc)
        if not len(ds):
            raise DataError(f"no same-name pairs in {root}/{split}{src} and {root}/{split}{tgt}")
        m, ident = MeanMeter(), MeanMeter()
        for b in torch.utils.data.DataLoader(ds, batch_size=16):
            y = _run(net, b["A"])
            m.add(image_metrics(_unit(y), _unit(b["B"])))
            ident.add(image_metrics(_unit(b["A"]), _unit(b["B"])))
        out[direction] = _result(m, ident)
    return out


def eval_stargan(model, root: Path, split: str, size: int, edit_attributes: list[str], cache_dir: Path) -> dict:
    from .attr_classifier import load_or_train, val_dataset

    attrs = model.attributes
    groups = [g for g in model.attribute_groups if len(g) > 1]
    ds = val_dataset(root, attrs, split, size)
    index = {str(p.relative_to(root / split / "images")): i for i, (p, _) in enumerate(ds.items)}
    rows = [r for r in csv.DictReader(open(root / split / "edit_pairs.csv"))
            if r["attribute"] in edit_attributes and r["src_file"] in index and r["tgt_file"] in index]
    if not rows:
        raise DataError(f"no edit pairs for {edit_attributes} in {root / split / 'edit_pairs.csv'}")
    clf = load_or_train(root, attrs, groups, cache_dir)
    clf_acc = clf.accuracy(val_dataset(root, attrs, split, clf.size))
    m, ident, read = MeanMeter(), MeanMeter(), MeanMeter()
    G = model.generator
    group_of = {a: k for k, g in enumerate(groups) for a in g}
    for i in range(0, len(rows), 32):
        chunk = rows[i:i + 32]
        src = torch.stack([ds[index[r["src_file"]]]["image"] for r in chunk])
        tgt = torch.stack([ds[index[r["tgt_file"]]]["image"] for r in chunk])
        c_src = torch.stack([ds.items[index[r["src_file"]]][1] for r in chunk])
        c_tgt = torch.stack([ds.items[index[r["tgt_file"]]][1] for r in chunk])
        out = _run(G, src, c_tgt.to(next(G.parameters()).device))
        m.add(image_metrics(_unit(out), _unit(tgt)))
        ident.add(image_metrics(_unit(src), _unit(tgt)))
        ok = torch.zeros(len(chunk), dtype=torch.bool)
        for j in range(len(chunk)):
            changed = [group_of[a] for k, a in enumerate(attrs) if c_src[j, k] != c_tgt[j, k] and a in group_of]
            ok[j] = bool(clf.reads(out[j:j + 1], c_tgt[j:j + 1], sorted(set(changed)))[0])
        read.add({"target_read": ok.double()})
    return {"edits": {**_result(m, ident), **read.result("model_"), "classifier_accuracy_on_real_val": clf_acc,
                      "edit_attributes": edit_attributes}}


def evaluate(source: str, dataset: str, split: str = "val", size: int | None = None, family: str | None = None,
             edit_attributes: list[str] | None = None, cache_dir: str | None = None) -> dict:
    """Metrics of ``source`` on ``dataset``/``split`` (see the module docstring); returns a JSON-able dict."""
    model = i2i_models.load(source, family=family)
    size = size or int(model.config.get("image_size") or 128)
    root = Path(dataset)
    if model.family == "pix2pix":
        res = eval_pix2pix(model, root, split, size)
    elif model.family == "cyclegan":
        res = eval_cyclegan(model, root, split, size)
    else:
        from .data import cache_dir as default_cache

        res = eval_stargan(model, root, split, size, edit_attributes or ["gender", "skin_tone"],
                           Path(cache_dir) if cache_dir else default_cache())
    return {"model": str(source), "family": model.family, "dataset": str(dataset), "split": split, "size": size,
            "results": res}


def markdown(report: dict) -> str:
    lines = [f"## Evaluation on `{Path(report['dataset']).name}` [{report['split']}] at {report['size']} px", "",
             "| case | images | model L1 · PSNR · SSIM | identity L1 · PSNR · SSIM |" +
             (" target read |" if report["family"] == "stargan" else ""),
             "|---|---|---|---|" + ("---|" if report["family"] == "stargan" else "")]
    for case, r in report["results"].items():
        row = (f"| {case} | {r['images']} | {r['model_l1']:.4f} · {r['model_psnr']:.2f} · {r['model_ssim']:.3f} | "
               f"{r['identity_l1']:.4f} · {r['identity_psnr']:.2f} · {r['identity_ssim']:.3f} |")
        if "model_target_read" in r:
            row += f" {100 * r['model_target_read']:.1f}% |"
        lines.append(row)
    for case, r in report["results"].items():
        if "classifier_accuracy_on_real_val" in r:
            acc = ", ".join(f"{k} {100 * v:.1f}%" for k, v in r["classifier_accuracy_on_real_val"].items())
            lines += ["", f"Independent attribute classifier (trained on the train split) on real val images: {acc}."]
    lines += ["", "Command: `python -m train.evaluate` (protocol in train/evaluate.py)."]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="model folder, run folder (its final model, or its latest checkpoint), Hub id or "
                                  "checkpoint file")
    ap.add_argument("--dataset", required=True, help="dataset root in the shared layouts")
    ap.add_argument("--split", default="val", help="split to score")
    ap.add_argument("--size", type=int, help="evaluation size in px (default: the model's training size)")
    ap.add_argument("--family", choices=["pix2pix", "cyclegan", "stargan"], help="expected family")
    ap.add_argument("--edit_attributes", nargs="+", default=["gender", "skin_tone"],
                    help="StarGAN: edit_pairs.csv 'attribute' values to score")
    ap.add_argument("--cache_dir", help="where the attribute classifier is cached (default: $I2I_CACHE or "
                                         "~/.cache/i2i_gans)")
    ap.add_argument("--json", help="write the report as JSON here")
    ap.add_argument("--card", action="store_true", help="append the table to the model folder's README.md")
    args = ap.parse_args(argv)
    src = Path(args.model)
    from i2i_models.loading import run_folder_model

    src = run_folder_model(src) or src  # a run folder: its final model, or its latest checkpoint
    report = evaluate(str(src), args.dataset, args.split, args.size, args.family, args.edit_attributes, args.cache_dir)
    md = markdown(report)
    print(md)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    if args.card:
        card = src / "README.md"
        if not card.is_file():
            raise FileNotFoundError(f"{card} does not exist (--card needs a local model folder)")
        card.write_text(card.read_text().rstrip() + "\n\n" + md + "\n")
    return 0


if __name__ == "__main__":
    from .loop import cli

    sys.exit(cli(lambda argv: main(argv) == 0 or None))
