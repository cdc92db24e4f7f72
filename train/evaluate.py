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

  A model trained on several datasets (``train.stargan --datasets``) is scored on the dataset whose
  attributes the split's ``list_attr.txt`` has (its mask vector set accordingly).
* ``--style_edit SRC TGT`` (StarGAN): the split's ``labels.csv`` images of style SRC edited to style TGT (the
  model's attribute named TGT or ``Style_TGT`` switched on; a multi-dataset model may have learnt it from
  another dataset) and scored against the true image of the same emoji (``code``) in style TGT;
  ``--exclude_names_in DIR ...`` leaves out emoji whose file name appears in those folders (e.g. a style
  set the model was trained on). Baseline: identity.

Every case also reports locality (:func:`train.metrics.locality`): ``keep_l1``, the mean change where the true
target keeps the source's pixels, and ``changed``, the share of pixels the output moves (beside
``true_changed``, the target's).

``--strengths 0 0.5 1 …`` (CycleGAN) scores each direction at each translation strength (a strength-controlled
model from ``train.cyclegan --conditional``; others take 0, 1, -1).

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
from .data import DataError
from .evaluation import CaseScore, case_pairs, score


def _runner(net, case):
    dev = next(net.parameters()).device

    @torch.no_grad()
    def run(x, *labels):
        labels = labels or case.fixed_labels(x.shape[0])
        return net(x.to(dev), *(c.to(dev) for c in labels)).float().cpu()
    return run


def _named(s: CaseScore) -> dict:
    out = {**{f"model_{k}": v for k, v in s.model.items()}, **{f"identity_{k}": v for k, v in s.identity.items()},
           "images": s.images}
    if s.read is not None:
        out["model_target_read"] = s.read
    return out


def strength_sweep(source: str, dataset: str, strengths: list[float], split: str = "val",
                   size: int | None = None) -> dict:
    """Each direction of a CycleGAN model scored at each of ``strengths`` (:func:`i2i_models.translate`'s
    ``strength``; a conditional model takes any, a two-generator model 0, 1 and -1) against the true target
    and against the source; returns a report like :func:`evaluate`'s with cases ``AtoB @ s``."""
    from i2i_models.families import family as family_of

    model = i2i_models.load(source, family="cyclegan")
    size = size or int(model.config.get("image_size") or 128)
    results = {}
    for case in family_of(model).eval_cases(model.networks()):
        pairs = case_pairs(case, model, Path(dataset), split, size)
        for s in strengths:
            def run(x, _d=case.direction, _s=s):
                img = ((x.permute(0, 2, 3, 1) + 1) / 2).clamp(0, 1)
                y = i2i_models.translate(model, img, direction=_d, strength=_s)
                return y.permute(0, 3, 1, 2) * 2 - 1
            res = score(case, run, torch.utils.data.DataLoader(pairs, batch_size=16))
            results[f"{case.name} @ {s:g}"] = _named(res)
    return {"model": str(source), "family": "cyclegan", "dataset": str(dataset), "split": split, "size": size,
            "results": results}


def evaluate(source: str, dataset: str, split: str = "val", size: int | None = None, family: str | None = None,
             edit_attributes: list[str] | None = None, cache_dir: str | None = None) -> dict:
    """Metrics of ``source`` on ``dataset``/``split`` (see the module docstring); returns a JSON-able dict.
    The cases are the model family's (:meth:`i2i_models.families.Family.eval_cases`), scored by
    :func:`train.evaluation.score`; conditional families' edits are read by the independent classifier."""
    from i2i_models.families import family as family_of

    model = i2i_models.load(source, family=family)
    size = size or int(model.config.get("image_size") or 128)
    root = Path(dataset)
    model = _scored_part(model, root, split)
    spec = family_of(model)
    results = {}
    for case in spec.eval_cases(model.networks()):
        attrs = (edit_attributes or ["gender", "skin_tone"]) if case.conditional else None
        pairs = case_pairs(case, model, root, split, size, edit_attributes=attrs)
        reader, extra = None, {}
        if case.conditional:
            reader, extra = _independent_reader(model, root, split, Path(cache_dir) if cache_dir else cache_dir_default())
            extra["edit_attributes"] = attrs
        res = score(case, _runner(getattr(model, case.role), case), torch.utils.data.DataLoader(pairs, batch_size=16), reader)
        results[case.name] = {**_named(res), **extra}
    return {"model": str(source), "family": model.family, "dataset": str(dataset), "split": split, "size": size,
            "results": results}


def _scored_part(model, root: Path, split: str):
    """A multi-dataset StarGAN model as the view of the dataset whose attributes ``root/split/list_attr.txt``
    has (:meth:`i2i_models.StarGANModel.dataset_view`); any other model as it is."""
    parts = getattr(model, "datasets", None) or []
    attr_file = root / split / "list_attr.txt"
    if not parts or not attr_file.is_file():
        return model
    from .data import read_list_attr

    names = set(read_list_attr(attr_file)[0])
    for k, p in enumerate(parts):
        if set(p["attributes"]) <= names:
            return model.dataset_view(k)
    raise DataError(f"{attr_file} has none of this model's datasets' attributes "
                    f"({'; '.join(', '.join(p['attributes']) for p in parts)})")


class _StylePairs(torch.utils.data.Dataset):
    """Images of one style and the same emoji in another, from ``<split>/labels.csv`` (file, style, code)."""

    def __init__(self, root: Path, split: str, src: str, tgt: str, size: int, labels: torch.Tensor,
                 source_labels: torch.Tensor, exclude: set[str]):
        import csv

        from .data import eval_transform, read_image, to_tensor

        rows = list(csv.DictReader(open(root / split / "labels.csv", newline="")))
        by = {(r["style"], r["code"]): r["file"] for r in rows}
        self.pairs = sorted((f, by[(tgt, c)]) for (st, c), f in by.items()
                            if st == src and (tgt, c) in by and Path(f).name not in exclude)
        if not self.pairs:
            raise DataError(f"no emoji in both styles {src!r} and {tgt!r} in {root / split / 'labels.csv'}")
        self.dir, self.t = root / split / "images", eval_transform(size)
        self.labels, self.source_labels = labels, source_labels
        self._to_tensor, self._read_image = to_tensor, read_image

    def _read(self, f: str) -> torch.Tensor:
        import random

        im = self._read_image(self.dir / f)
        return self._to_tensor(self.t(im, self.t.params(im.size, random.Random(0))))  # (no randomness at eval)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict:
        s, t = self.pairs[i]
        return {"source": self._read(s), "target": self._read(t), "labels": self.labels,
                "source_labels": self.source_labels, "name": s}


def style_edit(source: str, dataset: str, src: str, tgt: str, split: str = "val", size: int | None = None,
               exclude_names_in: list[str] | None = None) -> dict:
    """Score a StarGAN model's style edits ``src`` -> ``tgt`` against the true images (see the module
    docstring); returns a report like :func:`evaluate`'s, one case ``style src→tgt``. Raises
    :class:`DataError` when the model has no attribute for ``tgt`` or the split no such pairs."""
    from i2i_models.families import EvalCase

    model = i2i_models.load(source, family="stargan")
    size = size or int(model.config.get("image_size") or 128)
    name = next((n for n in (tgt, f"Style_{tgt}") if n in model.attributes), None)
    if name is None:
        raise DataError(f"the model has no attribute {tgt!r} (or Style_{tgt}); its attributes: {model.attributes}")
    k = model.dataset_of(name)
    view = model.dataset_view(k) if model.datasets else model
    attrs = view.attributes
    group = next((g for g in view.attribute_groups if name in g), [name])
    target = torch.zeros(len(attrs))
    target[attrs.index(name)] = 1
    own = torch.zeros(len(attrs))
    src_name = next((n for n in (src, f"Style_{src}") if n in group), None)
    if src_name is not None:
        own[attrs.index(src_name)] = 1
    exclude = {p.name for d in exclude_names_in or [] for p in Path(d).iterdir()}
    pairs = _StylePairs(Path(dataset), split, src, tgt, size, target, own, exclude)
    case = EvalCase(f"style {src}→{tgt}", "generator", "source", "target", "labels", conditional=True)
    res = score(case, _runner(view.generator, case), torch.utils.data.DataLoader(pairs, batch_size=16))
    extra = {"excluded_names_in": [Path(d).name for d in exclude_names_in or []]} if exclude_names_in else {}
    return {"model": str(source), "family": "stargan", "dataset": str(dataset), "split": split, "size": size,
            "results": {case.name: {**_named(res), **extra}}}


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
        if report["family"] == "stargan":
            row += f" {100 * r['model_target_read']:.1f}% |" if "model_target_read" in r else " – |"
        lines.append(row)
    lines += ["", "Locality (the output against the source):", "",
              "| case | change where the target keeps the source (mean abs, [0, 1]) | pixels changed, output | "
              "pixels changed, true target |", "|---|---|---|---|"]
    for case, r in report["results"].items():
        if "model_keep_l1" in r:
            lines.append(f"| {case} | {r['model_keep_l1']:.4f} | {100 * r['model_changed']:.1f}% | "
                         f"{100 * r['model_true_changed']:.1f}% |")
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
    ap.add_argument("--style_edit", nargs=2, metavar=("SRC", "TGT"),
                    help="StarGAN: score style edits SRC -> TGT against the true images (labels.csv pairs) instead")
    ap.add_argument("--exclude_names_in", nargs="+", metavar="DIR",
                    help="with --style_edit: leave out emoji whose file name appears in these folders")
    ap.add_argument("--strengths", type=float, nargs="+",
                    help="CycleGAN: score each direction at these strengths (e.g. 0 0.25 0.5 0.75 1 1.5)")
    ap.add_argument("--json", help="write the report as JSON here")
    ap.add_argument("--card", action="store_true", help="append the table to the model folder's README.md")
    args = ap.parse_args(argv)
    src = Path(args.model)
    from i2i_models.loading import run_folder_model

    src = run_folder_model(src) or src  # a run folder: its final model, or its latest checkpoint
    if args.strengths:
        report = strength_sweep(str(src), args.dataset, args.strengths, args.split, args.size)
    elif args.style_edit:
        report = style_edit(str(src), args.dataset, *args.style_edit, split=args.split, size=args.size,
                            exclude_names_in=args.exclude_names_in)
    else:
        report = evaluate(str(src), args.dataset, args.split, args.size, args.family, args.edit_attributes,
                          args.cache_dir)
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
