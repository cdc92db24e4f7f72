"""The family registry: one object per family (pix2pix, CycleGAN, StarGAN, …) that owns what the rest of
the code would otherwise branch on — its bundle class and roles, its directions and the generator for
each, how reference files name their roles, its evaluation cases, its model-card summary and its display
names. Inference, loading, evaluation, galleries, model cards and the ComfyUI nodes ask :func:`family`
instead of testing types.

A new family is one module here (its bundle class and a :class:`Family`) plus its training recipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class EvalCase:
    """One thing to score a model on, for the trainer's validation, ``train.evaluate`` and ``train.gallery``
    alike: run the generator in ``role`` on the ``source`` images (with the ``labels`` of the ``target``
    for conditional families) and compare with the ``target`` images; the identity baseline compares
    ``source`` with ``target`` directly.

    ``layout`` says where the pairs come from in a data set (``"paired"``: pix2pix ``A/<split>`` →
    ``B/<split>``; ``"named_pairs"``: same-name files in ``<split><source>``/``<split><target>``;
    ``"edit_pairs"``: ``<split>/edit_pairs.csv`` rows, source edited to the target's labels).
    ``prefix``/``identity_prefix`` name the metrics (``l1`` → ``<prefix>l1``)."""

    name: str
    role: str
    source: str
    target: str
    layout: str
    direction: str | None = None
    prefix: str = ""
    identity_prefix: str = "identity_"
    conditional: bool = False
    code: tuple[float, ...] | None = None

    def fixed_labels(self, batch: int) -> tuple:
        """The generator's extra arguments when the case fixes its condition (the conditional CycleGAN's
        domain code, ``code``): ``(labels [batch, len(code)],)``; ``()`` otherwise."""
        if self.code is None:
            return ()
        import torch

        return (torch.tensor(self.code, dtype=torch.float32).expand(batch, -1),)


@dataclass(frozen=True)
class Family:
    """What one family is (see the module docstring). ``bundle`` is its :class:`~i2i_models.I2IModel`
    subclass; ``file_roles`` maps the role hints of reference file names (``G_A``, ``G``, ``D`` …) to its
    roles; ``directions`` its translation directions with the generator role of each."""

    name: str
    bundle: Any
    summary: str
    loader: str
    paper: str
    file_roles: dict[str, str]
    directions: dict[str, str] = field(default_factory=lambda: {"AtoB": "generator"})
    conditional: bool = False

    @property
    def roles(self) -> tuple[str, ...]:
        return self.bundle.roles

    def available_directions(self, networks: dict) -> list[str]:
        """The directions whose generator is present in ``networks`` (a bundle's networks or config)."""
        return [d for d, role in self.directions.items() if networks.get(role)]

    def generator(self, model, direction: str | None = None):
        """The generator ``translate`` runs for ``direction`` (default: the first available).
        Raises ``ValueError`` for a direction the family or this model does not have."""
        have = self.available_directions(model.networks())
        if direction is None:
            direction = (have or list(self.directions))[0]
        role = self.directions.get(direction)
        if role is None:
            if len(self.directions) == 1:
                raise ValueError(f"a {self.name} model translates in one direction only; got direction={direction!r}")
            raise ValueError(f"direction must be one of {list(self.directions)}, got {direction!r}")
        net = getattr(model, role, None)
        if net is None:
            if len(self.directions) == 1:
                raise ValueError(f"this {self.name} bundle holds no generator (it was made from a discriminator file)")
            raise ValueError(f"this {self.name} bundle has no {role}, so it cannot translate {direction}; "
                             f"available: {have}")
        return net

    def direction_label(self, domains: dict[str, str] | None, direction: str) -> str:
        """How people see a direction: named after the domains (``horse → zebra``)."""
        a, b = (domains or {}).get("A", "A"), (domains or {}).get("B", "B")
        return f"{a} → {b}" if direction == "AtoB" else f"{b} → {a}"

    def role_of_file(self, hint: str | None, network_role: str) -> str | None:
        """The role of a detected network from a reference file's name hint; ``None`` when the hint belongs
        to another family (e.g. a CycleGAN ``G_A`` file where a pix2pix model is wanted)."""
        if hint in (None, "G", "D"):  # generic names: the detected network decides
            return {"generator": next(iter(self.directions.values())),
                    "discriminator": self.file_roles.get("D", "discriminator")}[network_role]
        return self.file_roles.get(hint)

    def eval_cases(self, networks: dict | None = None) -> list[EvalCase]:
        """What to score a model of this family on: for a bundle's ``networks`` (or its config's), only the
        directions and generators it has; all of the family's cases when ``None``."""
        raise NotImplementedError

    def card_lines(self, config: dict) -> list[str]:
        """Lines for a model card under its title: the domains or attributes."""
        dom = config.get("domains")
        return [f"Domains: **{dom.get('A')} → {dom.get('B')}**."] if dom else []


def domains_from_name(*names: str) -> dict[str, str] | None:
    """Domain names from the naming conventions of the reference code's data sets and models, trying
    ``names`` in order: ``horse2zebra_pretrained`` → ``{"A": "horse", "B": "zebra"}``, ``style_monet`` →
    ``{"A": "photo", "B": "monet"}``; ``pix2pix`` and names without such a part give ``None``."""
    import re

    for name in names:
        name = name or ""
        if name.startswith("style_") and len(name) > 6:
            return {"A": "photo", "B": name[len("style_"):]}
        m = re.search(r"(?:^|[_\-/])([A-Za-z]+)2([A-Za-z]+)(?:$|[_\-.])", name)
        if m and m.group(1).lower() != m.group(2).lower():  # not "pix2pix"
            return {"A": m.group(1), "B": m.group(2)}
    return None


FAMILIES: dict[str, Family] = {}


def register(fam: Family) -> Family:
    FAMILIES[fam.name] = fam
    return fam


def family(name_or_model) -> Family:
    """The :class:`Family` of a name, a bundle or a bundle class; raises ``ValueError`` naming the known ones."""
    name = name_or_model if isinstance(name_or_model, str) else getattr(name_or_model, "family", None)
    fam = FAMILIES.get(name or "")
    if fam is None:
        raise ValueError(f"unknown model family {name!r}; known: {', '.join(sorted(FAMILIES))}")
    return fam


from . import pix2pix, cyclegan, stargan  # noqa: E402,F401  (each registers its family)

__all__ = ["EvalCase", "Family", "FAMILIES", "domains_from_name", "family", "register"]
