"""The model card body written into the final model folder (and pushed to the Hub)."""

from __future__ import annotations


def _table(metrics: dict[str, float]) -> str:
    if not metrics:
        return "(no validation split)"
    rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in sorted(metrics.items()))
    return f"| metric | value |\n|---|---|\n{rows}"


def model_card(trainer, bundle, sample_name: str | None) -> str:
    """Markdown: what was trained on what, the exact command, final and best validation metrics (with the
    step they came from) and a sample grid (input | output | target)."""
    a = trainer.args
    fam = bundle.family
    dom = bundle.config.get("domains")
    what = {"pix2pix": "paired image-to-image translation (pix2pix)",
            "cyclegan": "unpaired image-to-image translation (CycleGAN)",
            "stargan": "multi-attribute editing (StarGAN)"}[fam]
    lines = [f"# {a.name}", "", f"{'An' if what[0] in 'aeiou' else 'A'} {what} model trained with "
             f"[comfyui-i2i-gans](https://github.com/comfyui-i2i-gans/comfyui-i2i-gans)."]
    if dom and fam != "stargan":
        lines.append(f"Domains: **{dom.get('A')} → {dom.get('B')}**.")
    if fam == "stargan":
        lines.append("Attributes: " + ", ".join(f"`{x}`" for x in bundle.config.get("attributes", [])) + ".")
    lines += ["", "## Training", "", f"- dataset: `{a.dataset}` (train split `{a.train_split}`)",
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
