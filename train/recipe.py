"""The recipe contract: what a training recipe (pix2pix, CycleGAN, StarGAN, …) tells the trainer, and
nothing else. A recipe knows its data, its networks and its losses; the trainer (``train/loop.py``) and the
:class:`~train.engine.Engine` it hands the recipe own everything else (device, precision, DDP, EMA,
optimisers and their schedule, seeding, checkpoints, logging, export, push).

The trainer calls, in order: ``Recipe(args, device, dist)``; :meth:`Recipe.train_dataset` (may be
called earlier by :meth:`build_model`, e.g. to measure the data); :meth:`Recipe.build_model`; then it
builds the :class:`~train.engine.Engine` and calls :meth:`Recipe.setup`; then per step
:meth:`Recipe.train_step`; every ``--val_every`` steps :meth:`Recipe.validate` (the family's evaluation
cases, fed by :meth:`Recipe.case_batches`, plus :meth:`Recipe.extra_metrics`); every ``--sample_every``
:meth:`Recipe.save_samples` (:meth:`Recipe.sample_rows`); and :meth:`Recipe.state_dict` /
:meth:`Recipe.load_state_dict` (the engine's state plus :meth:`Recipe.extra_state`) for checkpoints.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from i2i_models.bundles import I2IModel
from i2i_models.families import EvalCase, family

from .engine import Engine
from .evaluation import EditPairs, Reader, contact_sheet, score, to_unit


def set_requires_grad(nets, flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


def save_grid(rows: list[list[torch.Tensor]], path: Path) -> None:
    """Write rows of [C, H, W] images in [0, 1] (each row: input | output | target …) as one PNG
    (:func:`train.evaluation.contact_sheet`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(rows).save(path)


class Recipe(abc.ABC):
    """Base of the recipes: see the module docstring for the calls, the class attributes below for what a
    recipe declares.

    Attributes:
        family: the model family (:mod:`i2i_models.families`), which also says what validation scores.
        optimizer_groups: optimiser name -> the roles it updates (one Adam each; roles the model does not
            have are skipped, e.g. CycleGAN's G_A/G_B in a conditional model).
        best_metric: (validation metric, "min"|"max") that picks the best step.
        metrics_note: a sentence the model card prints under the validation metrics.
        config: the recipe's typed config class (:mod:`train.config`): its options, defaults and preset.
    """

    family = ""
    best_metric = ("l1", "min")
    metrics_note = ""
    optimizer_groups: dict[str, tuple[str, ...]] = {}
    config: type = None

    def __init__(self, args, device: torch.device, dist):
        self.args, self.device, self.dist = args, device, dist
        self.engine: Engine | None = None

    @classmethod
    def create(cls, args, device: torch.device, dist) -> "Recipe":
        """A recipe ready to train: built model (seeded identically on every rank), engine, :meth:`setup`."""
        recipe = cls(args, device, dist)
        torch.manual_seed(args.seed)  # identical initial weights on every rank
        model = recipe.build_model()
        recipe.setup(Engine(model, args, device, dist, cls.optimizer_groups, cls.generator_roles()))
        return recipe

    @classmethod
    def generator_roles(cls) -> tuple[str, ...]:
        """The family's generators (the roles its directions run, and a conditional model's ``generator``),
        which EMA averages; the engine skips those the model does not have."""
        return tuple(dict.fromkeys([*family(cls.family).directions.values(), "generator"]))

    # -- the contract ------------------------------------------------------------------------------
    @abc.abstractmethod
    def train_dataset(self):
        """The training set (a :class:`~train.data.SeededDataset`), built once."""

    def val_dataset(self):
        """The validation set, or ``None`` (no validation metrics)."""
        return None

    @abc.abstractmethod
    def build_model(self) -> I2IModel:
        """The untrained bundle (the engine initialises its weights)."""

    def setup(self, engine: Engine) -> None:
        """Called once the engine exists: build losses, pools … here."""
        self.engine = engine

    @abc.abstractmethod
    def train_step(self, batch: dict[str, Any], step: int) -> dict[str, float]:
        """One optimisation step on ``batch`` (0-based ``step``); returns the losses to log."""

    def case_batches(self, case: EvalCase) -> Iterable[dict[str, Any]] | None:
        """Batches of ``{"source", "target"[, "labels", "source_labels"]}`` for one evaluation case, from the
        validation set (``None``: skip the case). The default reads ``case.source``/``case.target`` from
        each sample (pix2pix ``A``/``B``, CycleGAN valA/valB pairs)."""
        ds = self.val_dataset()
        if ds is None or not len(ds):
            return None
        return ({"source": b[case.source], "target": b[case.target]} for b in self.val_loader(ds))

    def reader(self, case: EvalCase) -> Reader | None:
        """For conditional families: what reads the target labels in an output (see :func:`train.evaluation.score`)."""
        return None

    def extra_metrics(self) -> dict[str, float]:
        """Validation metrics beyond the family's evaluation cases (e.g. cycle error)."""
        return {}

    def sample_rows(self) -> list[list[torch.Tensor]]:
        """Rows of [C, H, W] images in [0, 1] for the sample grid: by default, for the first 4 pairs of each
        evaluation case, source | output | target (several cases side by side)."""
        per_case = []
        for case in self.eval_cases():
            batches = self.case_batches(case)
            if batches is None:
                continue
            rows = []
            for b in batches:
                out = self.eval_case(case, b)
                for i in range(min(4 - len(rows), out.shape[0])):
                    rows.append([to_unit(b["source"][i]), to_unit(out[i]), to_unit(b["target"][i])])
                if len(rows) >= 4:
                    break
            per_case.append(rows)
        if not per_case or not per_case[0]:  # no validation data: the generator on a training image
            s = self.train_dataset()[0]
            case = self.eval_cases()[0]
            x = s.get(case.source, s.get("image", s.get("A")))
            args = (s["label"][None],) if case.conditional else case.fixed_labels(1)
            return [[to_unit(x), to_unit(self.run_eval(self.generator(case.role), x[None], *args))[0]]]
        return [sum(parts, []) for parts in zip(*per_case)]

    def extra_state(self) -> dict[str, Any]:
        """Recipe state beyond networks and optimisers for an exact resume (e.g. image pools)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    # -- provided ------------------------------------------------------------------------------------
    def eval_cases(self) -> list[EvalCase]:
        return family(self.family).eval_cases(self.engine.nets)

    def eval_case(self, case: EvalCase, batch: dict[str, Any]) -> torch.Tensor:
        """The (EMA) generator of ``case`` on a batch's sources, in eval mode: [B, C, H, W] in [-1, 1]."""
        args = (batch["labels"],) if case.conditional else case.fixed_labels(batch["source"].shape[0])
        return self.run_eval(self.generator(case.role), batch["source"], *args)

    def validate(self) -> dict[str, float]:
        """The family's evaluation cases on the validation set (metric names from each case) plus
        :meth:`extra_metrics`: the same protocol ``train.evaluate`` uses (:mod:`train.evaluation`)."""
        res: dict[str, float] = {}
        for case in self.eval_cases():
            batches = self.case_batches(case)
            if batches is None:
                continue
            s = score(case, lambda x, *c, _case=case: self.eval_case(_case, {"source": x, "labels": c[0] if c else None}),
                      batches, self.reader(case))
            if s.images:
                res.update(s.named(case))
        if res or self.val_dataset() is not None:
            res.update(self.extra_metrics())
        return res

    def save_samples(self, path: Path) -> None:
        save_grid(self.sample_rows(), path)

    def export_bundle(self) -> I2IModel:
        return self.engine.export_bundle()

    def state_dict(self) -> dict[str, Any]:
        return {**self.engine.state_dict(), "extra": self.extra_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.engine.load_state_dict(state)
        self.load_extra_state(state.get("extra", {}))

    # -- conveniences for train_step (the engine's) ------------------------------------------------------
    @property
    def model(self) -> I2IModel:
        return self.engine.model

    @property
    def nets(self) -> dict[str, nn.Module]:
        return self.engine.nets

    @property
    def train_nets(self) -> dict[str, nn.Module]:
        return self.engine.train_nets

    @property
    def ema(self) -> dict:
        return self.engine.ema

    def amp(self):
        return self.engine.amp()

    def set_lr(self, lr: float) -> None:
        self.engine.set_lr(lr)

    def step_opt(self, name: str, loss: torch.Tensor, frozen=()) -> None:
        self.engine.step(name, loss, frozen)

    def update_ema(self) -> None:
        self.engine.update_ema()

    def generator(self, role: str) -> nn.Module:
        return self.engine.generator(role)

    def run_eval(self, net: nn.Module, x: torch.Tensor, *args) -> torch.Tensor:
        return self.engine.run_eval(net, x, *args)

    # -- data helpers
    def train_transform(self):
        from .data import Transform

        a = self.args
        return Transform(a.preprocess, a.load_size, a.crop_size, not a.no_flip)

    def hub_pairs(self, split: str, transform):
        """A Hub dataset of image pairs (columns ``--column_A``/``--column_B``)."""
        from .data import HubDataset

        a = self.args
        return HubDataset(a.dataset, split, transform, {"A": a.column_A, "B": a.column_B}, a.dataset_config,
                          a.dataset_revision, a.input_nc, a.output_nc)

    def val_loader(self, ds) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(ds, batch_size=8, shuffle=False, num_workers=0)

    def edit_batches(self, ds, pairs: list[tuple[int, int]]) -> Iterable[dict[str, Any]] | None:
        """Batches of edit pairs (``(source index, target index)`` into an AttributeDataset ``ds``)."""
        return self.val_loader(EditPairs(ds, pairs)) if pairs else None
