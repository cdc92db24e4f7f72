"""The model card body written into the final model folder (and pushed to the Hub).

Cards carry no path of the machine that trained the model: the data set appears by name (or Hub id) with
where its images come from, and the command with ``DATA/<name>`` for its data (see
:func:`train.loop.portable_command`). ``python -m train.card MODEL_DIR [--dataset DIR]`` rewrites an
existing model folder's card and ``config.json`` that way (for models made before this rule).
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path


def _table(metrics: dict[str, float]) -> str:
    if not metrics:
        return "(no validation split)"
    rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in sorted(metrics.items()))
    return f"| metric | value |\n|---|---|\n{rows}"


def model_card(trainer, bundle, sample_name: str | None) -> str:
    """Markdown: what was trained on what, the exact command, final and best validation metrics (with the
    step they came from) and a sample grid (input | output | target)."""
    from i2i_models.families import family

    a = trainer.args
    spec = family(bundle)
    what = spec.summary
    lines = [f"# {a.name}", "", f"{'An' if what[0] in 'aeiou' else 'A'} {what} model trained with "
             f"[comfyui-i2i-gans](https://github.com/comfyui-i2i-gans/comfyui-i2i-gans)."]
    lines += spec.card_lines(bundle.config)
    lines += ["", "## Training", "", f"- data: {data_description(a.dataset)} (train split `{a.train_split}`)",
              f"- steps: {trainer.step} (batch {a.batch_size} x {trainer.dist.world} process(es)), crop {a.crop_size} px",
              f"- license: {a.license or 'see the dataset'}", "", "```bash", trainer.command(), "```", "",
              "## Validation", "", f"Final (step {trainer.step}):", "", _table(trainer.last_val), ""]
    if trainer.last_val and trainer.recipe.metrics_note:
        lines += [trainer.recipe.metrics_note, ""]
    if trainer.best:
        lines += [f"Best {trainer.best['metric']} at step {trainer.best['step']}:", "", _table(trainer.best["metrics"]), ""]
    if sample_name:
        lines += ["## Samples", "", "input | output | target (validation images):", "",
                  f"![samples](samples/{sample_name})", ""]
    return "\n".join(lines)


def data_description(spec: str | None) -> str:
    """A data set as a card describes it: ``emoji_people_attrs`` (its folder name, or Hub id), what it is
    (its README's title) and where its images come from (its ATTRIBUTION.md), and whether a sample of it
    ships with this repository (``train/data``). No machine path."""
    from .config import EMBEDDED
    from .runs import dataset_label

    if not spec:
        spec = None
    label = dataset_label(spec)
    name = Path(label).name
    if spec is None or not Path(str(spec)).exists():
        return f"`{label}`" + (" (Hugging Face Hub dataset)" if spec and "/" in str(spec) else "")
    folder = Path(str(spec))
    text = f"`{name}`"
    readme = folder / "README.md"
    if readme.is_file():
        title = next((ln[2:].strip() for ln in readme.read_text(encoding="utf-8").splitlines() if ln.startswith("# ")), "")
        text += f" ({title.split(' - ', 1)[-1]})" if title else ""
    attribution = folder / "ATTRIBUTION.md"
    if attribution.is_file():
        srcs, cur = [], None
        for ln in attribution.read_text(encoding="utf-8").splitlines():
            m = re.match(r"^\* \*\*(.+?)\*\*(.*)", ln.strip())
            if m:
                cur = m.group(1).split(" (")[0].strip()
                if "no images" in m.group(2) + ln:
                    cur = None
                    continue
                srcs.append(cur)
            elif cur and "licen" in ln.lower() and ":" in ln and srcs and srcs[-1] == cur:
                srcs[-1] = f"{cur}, {ln.split(':', 1)[1].strip().split(' (')[0]}"
                cur = None
        if srcs:
            text += "; images from " + "; ".join(srcs) + " (its ATTRIBUTION.md)"
    sample = EMBEDDED / name
    if sample.is_dir():
        text += ("; this is the sample that ships in `train/data/" + name + "`" if folder.resolve() == sample.resolve()
                 else "; a sample of it ships with comfyui-i2i-gans in `train/data/" + name + "`")
    return text


def make_portable(model_dir: str | Path, dataset: str | None = None) -> None:
    """Rewrite a model folder's ``config.json`` (``training.command``/``dataset``) and ``README.md`` so they
    name no path of the machine that trained it; ``dataset`` (a local folder) adds where its data comes from."""
    from .runs import dataset_label, portable_command

    model_dir = Path(model_dir)
    cfg_path = model_dir / "config.json"
    cfg = json.loads(cfg_path.read_text())
    tr = cfg.get("training") or {}
    old_cmd, old_data = tr.get("command", ""), tr.get("dataset", "")
    new_cmd = old_cmd
    if old_cmd.startswith("python -m "):
        parts = shlex.split(old_cmd)
        new_cmd = "python -m " + parts[2] + " " + portable_command(parts[3:])
    tr.update(command=new_cmd, dataset=dataset_label(dataset or old_data) if (dataset or old_data) else old_data)
    if dataset is None and old_data and not Path(old_data).exists():
        tr["dataset"] = Path(old_data).name
    cfg["training"] = tr
    tmp = cfg_path.with_name("config.json.tmp")
    tmp.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    tmp.replace(cfg_path)
    card = model_dir / "README.md"
    if card.is_file():
        text = card.read_text(encoding="utf-8")
        if old_cmd:
            text = text.replace(old_cmd, new_cmd)
        text = re.sub(r"^- dataset: `[^`]*`", "- data: " + data_description(dataset or old_data).replace("\\", "\\\\"),
                      text, flags=re.M)
        card.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog=f"python -m {__package__}.card", description=make_portable.__doc__)
    ap.add_argument("model_dir", nargs="+", help="model folder(s) to rewrite in place")
    ap.add_argument("--dataset", help="the local data set folder the model was trained on (for the card's data line)")
    args = ap.parse_args(argv)
    for d in args.model_dir:
        make_portable(d, args.dataset)
        print(f"rewrote {d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
