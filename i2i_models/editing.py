"""StarGAN editing without source labels: ``predict_attributes`` and ``edit``.

StarGAN's generator needs the *target* label vector. Its users rarely know their photo's labels
(yunjey #46, #108), so we read them off the discriminator's classification head (label-free editing) and
move each attribute from there by a strength: for an attribute with probability ``p`` and strength ``s``
the target is ``p + s·(1 − p)`` for ``s > 0`` (towards "on") and ``p + s·p`` for ``s < 0`` (towards "off");
``|s| > 1`` extrapolates (the label's magnitude controls the attribute's strength). In a one-hot group
(e.g. hair colour) the group is first normalised to sum 1, and changing one member rescales the others so
the group keeps summing to 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from . import images as im
from .bundles import StarGANModel
from .inference import translate


def _require_stargan(model) -> StarGANModel:
    if not isinstance(model, StarGANModel):
        raise TypeError(f"editing needs a StarGAN model, got {type(model).__name__} ({getattr(model, 'family', '?')})")
    return model


def predict_attributes(model: StarGANModel, images) -> torch.Tensor:
    """The discriminator classifier's attribute probabilities: [B, c_dim] in [0, 1] (sigmoid of its logits).

    ``images`` as for :func:`~i2i_models.translate` ([B, H, W, C] in [0, 1], or PIL); they are resized
    (area averaging, alpha dropped, channels adapted) to the discriminator's ``image_size``.
    Raises ``ValueError`` when the bundle has no discriminator.
    """
    model = _require_stargan(model)
    d = model.discriminator
    if d is None:
        raise ValueError("this StarGAN bundle has no discriminator, so it cannot detect the images' attributes; "
                         "pass the source labels explicitly (source={...})")
    if not isinstance(images, torch.Tensor):
        images, _ = im.from_pil(images)
    x = im.check_bhwc(images)
    colour, _ = im.split_alpha(im.to_unit_float(x))
    colour = im.adapt_input(colour, d.input_nc)
    dev = next(d.parameters()).device
    xb = colour.permute(0, 3, 1, 2).to(dev) * 2 - 1
    if xb.shape[-2:] != (d.image_size, d.image_size):
        xb = F.interpolate(xb, size=(d.image_size, d.image_size), mode="area" if xb.shape[-1] > d.image_size else "bilinear",
                           **({} if xb.shape[-1] > d.image_size else {"align_corners": False}))
    was = d.training
    d.eval()
    try:
        with torch.inference_mode():
            _, logits = d(xb)
    finally:
        d.train(was)
    return torch.sigmoid(logits.float()).cpu()


def _labels_from(source, model: StarGANModel, batch: int) -> torch.Tensor | None:
    if source is None:
        return None
    attrs = model.attributes
    if isinstance(source, Mapping):
        bad = [k for k in source if k not in attrs]
        if bad:
            raise ValueError(f"unknown attribute(s) {bad}; this model's attributes are {attrs}")
        return None  # merged later with the predictions
    lab = torch.as_tensor(source, dtype=torch.float32)
    if lab.dim() == 1:
        lab = lab.unsqueeze(0).expand(batch, -1)
    if lab.shape != (batch, len(attrs)):
        raise ValueError(f"source labels must be [{batch}, {len(attrs)}] or [{len(attrs)}] in the order {attrs}")
    return lab.clone()


def target_labels(model: StarGANModel, source: torch.Tensor, strengths: Mapping[str, float]) -> torch.Tensor:
    """Target labels [B, c_dim] from source probabilities/labels [B, c_dim] and per-attribute strengths.

    Implements the rule in the module docstring. Raises ``ValueError`` for unknown attribute names.
    """
    model = _require_stargan(model)
    attrs = model.attributes
    bad = [k for k in strengths if k not in attrs]
    if bad:
        raise ValueError(f"unknown attribute(s) {bad}; this model's attributes are {attrs}")
    t = source.clone().float()
    groups = [[attrs.index(a) for a in g] for g in model.attribute_groups]
    group_of = {i: g for g in groups for i in g}
    for g in groups:  # independent sigmoids -> a distribution over the group
        tot = t[:, g].sum(1, keepdim=True)
        t[:, g] = torch.where(tot > 0, t[:, g] / tot.clamp_min(1e-8), torch.full_like(t[:, g], 1.0 / len(g)))
    for name, s in strengths.items():
        s = float(s)
        if s == 0:
            continue
        i = attrs.index(name)
        p = t[:, i].clone()
        new = p + s * (1 - p) if s > 0 else p + s * p
        g = group_of.get(i)
        if g:
            others = [j for j in g if j != i]
            rest = t[:, others]
            rest_sum = rest.sum(1, keepdim=True)
            remaining = (1 - new).unsqueeze(1)
            share = torch.where(rest_sum > 1e-8, rest / rest_sum.clamp_min(1e-8), torch.full_like(rest, 1.0 / max(1, len(others))))
            t[:, others] = share * remaining
        t[:, i] = new
    return t


def edit(model: StarGANModel, images, strengths: Mapping[str, float] | None = None, source=None, *,
         return_attributes: bool = False, **options):
    """Edit attributes of ``images`` with a StarGAN model; returns what :func:`~i2i_models.translate` returns
    (with ``return_attributes``, the pair ``(images, attributes)``: the images' own attributes [B, c_dim]
    in [0, 1] the edit started from, detected or given, in the order of ``model.attributes``).

    Args:
        strengths: ``{"Blond_Hair": 1.0, "Male": -0.5}``; 0 or absent = keep; see the module docstring. A
            model trained on several datasets (``train.stargan --datasets``) edits one dataset's attributes
            per pass, with that dataset's mask vector, in dataset order (e.g. gender, then style). When
            every strength is 0 nothing is asked to change, and the images come back unchanged (a copy,
            without running the network: a generator asked for an image's own labels only approximates it).
        source: the images' own attributes: ``None`` (detected by the discriminator's classifier), a
            ``{name: value}`` dict (missing names detected), or labels [B, c_dim] / [c_dim].
        return_attributes: also return the attributes (so a caller that shows them needs no second pass of
            the discriminator).
        options: passed to ``translate`` (device, precision, tiled, …).

    Raises:
        ValueError: an unknown attribute name, wrongly shaped labels, or no discriminator and no ``source``
            (when the attributes are needed: an edit that changes something, or ``return_attributes``).
    """
    model = _require_stargan(model)
    strengths = dict(strengths or {})
    if not isinstance(images, torch.Tensor):
        x, back = im.from_pil(images)
    else:
        x, back = im.check_bhwc(images), None
    bad = [k for k in strengths if k not in model.attributes]
    if bad:
        raise ValueError(f"unknown attribute(s) {bad}; this model's attributes are {model.attributes}")
    changes = any(float(v) for v in strengths.values())
    lab = _source_labels(model, x, source) if changes or return_attributes else None
    if changes:
        target = target_labels(model, lab, strengths)
        out = x
        # one pass per dataset whose attributes change (the mask vector selects one dataset's labels per pass;
        # a one-dataset model makes one pass)
        for k in sorted({model.dataset_of(a) for a, v in strengths.items() if float(v)}):
            out = translate(model, out, labels=model.condition(target, k), **options)
    else:
        out = x.clone()
    out = back(out) if back is not None else out
    return (out, lab) if return_attributes else out


def _source_labels(model: StarGANModel, x: torch.Tensor, source) -> torch.Tensor:
    """The images' own attributes [B, c_dim]: ``source`` (labels, or a dict completed by detection) or the
    discriminator's reading (:func:`predict_attributes`)."""
    batch = x.shape[0]
    lab = _labels_from(source, model, batch)
    if lab is not None:
        return lab
    if isinstance(source, Mapping) and model.discriminator is None:
        if len(source) != len(model.attributes):
            missing = [a for a in model.attributes if a not in source]
            raise ValueError(f"no discriminator to detect {missing}: give all attributes in source")
        return torch.tensor([[float(source[a]) for a in model.attributes]] * batch)
    lab = predict_attributes(model, x)
    if isinstance(source, Mapping):
        for name, v in source.items():
            lab[:, model.attributes.index(name)] = float(v)
    return lab


def parse_attribute_text(text: str, attributes: Sequence[str]) -> dict[str, float]:
    """``"Male=1, Young=0.3"`` -> ``{"Male": 1.0, "Young": 0.3}``; raises ``ValueError`` naming bad entries."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.replace(";", ",").replace("\n", ",").split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in attributes:
            raise ValueError(f"cannot read {part!r}: write name=value with names from {list(attributes)}")
        try:
            out[name] = float(value)
        except ValueError:
            raise ValueError(f"cannot read the value in {part!r}: use a number such as 1, 0 or 0.5") from None
    return out
