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
import json
import sys
from pathlib import Path

import torch

import i2i_models

from .data import cache_dir as cache_dir_default
from .evaluation import CaseScore, case_pairs, score


def _runner(net):
    dev = next(net.parameters()).device

    @torch.no_grad()
    def run(x, *labels):
        return net(x.to(dev), *(c.to(dev) for c in labels)).float().cpu()
    return run


def _named(s: CaseScore) -> dict:
    out = {**{f"model_{k}": v for k, v in s.model.items()}, **{f"identity_{k}": v for k, v in s.identity.items()},
           "images": s.images}
    if s.read is not None:
        out["model_target_read"] = s.read
    return out


def evaluate(source: str, dataset: str, split: str = "val", size: int | None = None, family: str | None = None,
             edit_attributes: list[str] | None = None, cache_dir: str | None = None) -> dict:
    """Metrics of ``source`` on ``dataset``/``split`` (see the module docstring); returns a JSON-able dict.
    The cases are the model family's (:meth:`i2i_models.families.Family.eval_cases`), scored by
    :func:`train.evaluation.score`; conditional families' edits are read by the independent classifier."""
    from i2i_models.families import family as family_of

    model = i2i_models.load(source, family=family)
    size = size or int(model.config.get("image_size") or 128)
    root = Path(dataset)
    spec = family_of(model)
    results = {}
    for case in spec.eval_cases(spec.available_directions(model.networks())):
        attrs = (edit_attributes or ["gender", "skin_tone"]) if case.conditional else None
        pairs = case_pairs(case, model, root, split, size, edit_attributes=attrs)
        reader, extra = None, {}
        if case.conditional:
            reader, extra = _independent_reader(model, root, split, Path(cache_dir) if cache_dir else cache_dir_default())
            extra["edit_attributes"] = attrs
        res = score(case, _runner(getattr(model, case.role)), torch.utils.data.DataLoader(pairs, batch_size=16), reader)
        results[case.name] = {**_named(res), **extra}
    return {"model": str(source), "family": model.family, "dataset": str(dataset), "split": split, "size": size,
            "results": results}


def _independent_reader(model, root: Path, split: str, cache: Path):
    """The independent attribute classifier (trained on the train split only) as a reader of edits, and its
    accuracy on real images of ``split``."""
    from .attr_classifier import load_or_train, val_dataset

    attrs = model.attributes
    groups = [g for g in model.attribute_groups if len(g) > 1]
    group_of = {a: k for k, g in enumerate(groups) for a in g}
    clf = load_or_train(root, attrs, groups, cache)
    acc = clf.accuracy(val_dataset(root, attrs, split, clf.size))

    def reader(out, c_tgt, c_src):
        ok = torch.zeros(out.shape[0], dtype=torch.bool)
        for j in range(out.shape[0]):
            changed = [group_of[a] for k, a in enumerate(attrs) if c_src[j, k] != c_tgt[j, k] and a in group_of]
            ok[j] = bool(clf.reads(out[j:j + 1], c_tgt[j:j + 1], sorted(set(changed)))[0])
        return ok
    return reader, {"classifier_accuracy_on_real_val": acc}


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
    ap = argparse.ArgumentParser(prog=f"python -m {__package__}.evaluate", description=__doc__,
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


def command() -> int:
    """The console script: :func:`main` with errors as one line."""
    from .loop import cli

    return cli(lambda argv: main(argv) == 0 or None)


if __name__ == "__main__":
    sys.exit(command())
