"""Typed, versioned training configs: one dataclass per recipe, the command line generated from it.

Each option is a dataclass field declared once, with its type, its default *for that recipe* and its
``--help`` text (:func:`opt`); :class:`TrainConfig` holds the options every recipe shares, mixins the ones
some share (:class:`PatchGANOptions`: junyanz's ``--netG``/``--netD``… for pix2pix and CycleGAN), and each
recipe's config adds its own and overrides defaults by redeclaring a field. The command line is Python's
``argparse``, built from the fields (:func:`build_parser`): flag names, ``store_true`` flags,
``--x/--no-x`` switches and ``nargs`` lists are the ones the CLIs always had, and argparse's errors stay
one line. (tyro, simple-parsing and jsonargparse were measured against the existing commands and each
broke some: see the README's architecture section.)

:func:`parse` applies a recipe's **preset** (the embedded-sample schedule used without ``--dataset``)
before the command-line values, so an option given on the command line always wins, then derives what
depends on others (:meth:`TrainConfig.finalize`). ``args.json`` stores the config with its
``config_version``; :func:`load_saved` turns any earlier ``args.json`` into today's config through
explicit migrations (:meth:`TrainConfig.migrations`), so runs made by earlier versions resume as they
trained.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

CONFIG_VERSION = 3
EMBEDDED = Path(__file__).resolve().parent / "data"


def opt(default: Any = None, help: str = "", *, group: str = "data", choices: list | None = None,
        flag: str | None = None, metavar: str | None = None, hidden: bool = False) -> Any:
    """A config field that is also a command-line option ``--<name>``. ``flag``: ``"store_true"`` (a bare
    switch) or ``"switch"`` (``--x`` / ``--no-x``); list-typed fields take ``nargs="+"``."""
    meta = {"help": help, "group": group, "choices": choices, "flag": flag, "metavar": metavar, "hidden": hidden}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def redefault(base: type, name: str, value: Any) -> Any:
    """Redeclare option ``name`` of ``base`` with another default (same help, group, flags): how a recipe's
    config sets its own defaults, e.g. ``lr: float = redefault(TrainConfig, "lr", 1e-4)``."""
    m = dict(base.__dataclass_fields__[name].metadata)
    return opt(value, m.pop("help"), **m)


def internal(default: Any = None) -> Any:
    """A config field that is not a command-line option (bookkeeping the trainer fills in)."""
    return field(default=default, metadata={"internal": True})


@dataclass
class TrainConfig:
    """Options every recipe shares."""

    family: ClassVar[str] = ""
    preset: ClassVar[dict[str, Any]] = {}  # the embedded-sample schedule (applied without --dataset)
    embedded_dataset: ClassVar[str] = ""
    embedded_license: ClassVar[str | None] = None

    # data
    dataset: str | None = opt(None, "local folder or Hub dataset id (user/name); default: the small embedded sample "
                                    "shipped in train/data with a short schedule")
    dataset_config: str | None = opt(None, "Hub dataset configuration name")
    dataset_revision: str | None = opt(None, "Hub dataset revision")
    train_split: str = opt("train", "split (sub-folder or Hub split) to train on")
    val_split: str = opt("val", "split used for validation metrics ('' = none)")
    val_limit: int = opt(64, "at most this many validation images per evaluation")
    preprocess: str = opt("resize_and_crop", "junyanz preprocessing: resize to load_size then random crop, crop only, "
                                             "scale width, none", choices=["resize_and_crop", "crop", "scale_width", "none"])
    load_size: int | None = opt(None, "resize to this before cropping (default 1.12 x crop)")
    crop_size: int = opt(256, "training crop size (and validation size)")
    no_flip: bool = opt(False, "no random horizontal flips", flag="store_true")
    num_workers: int | None = opt(None, "DataLoader worker processes (default: min(4, cores-1))")
    input_nc: int = opt(3, "input image channels (1 = gray)")
    output_nc: int = opt(3, "output image channels")
    # optimisation
    batch_size: int = opt(1, "images per step and process (global batch = this x processes)", group="optimisation")
    n_epochs: int = opt(100, "epochs at the initial learning rate", group="optimisation")
    n_epochs_decay: int = opt(100, "epochs of linear decay to zero", group="optimisation")
    max_steps: int | None = opt(None, "train for this many steps instead (the same constant/decay proportions, per step)",
                                group="optimisation")
    lr: float = opt(2e-4, "Adam learning rate (G and D)", group="optimisation")
    beta1: float = opt(0.5, "Adam beta1", group="optimisation")
    beta2: float = opt(0.999, "Adam beta2", group="optimisation")
    lr_policy: str = opt("linear", "linear: constant then linear decay; step: x0.1 every lr_decay_iters steps; cosine "
                                   "over the run", group="optimisation", choices=["linear", "step", "cosine"])
    lr_decay_iters: int = opt(5000, "step policy: steps between decays", group="optimisation")
    warmup_steps: int = opt(0, "linear learning-rate warm-up steps", group="optimisation")
    ema: float = opt(0.999, "exponential moving average of generator weights (0 = off, as the reference code); the "
                            "exported model uses the averaged weights", group="optimisation")
    seed: int = opt(0, "random seed (data order, augmentation, init)", group="optimisation")
    # architecture
    upsample: str = opt("nearest", "transposed convolutions (the papers) or nearest x2 + conv (no checkerboard "
                                   "artifacts; our default, see the README's ablation)", group="architecture",
                        choices=["transpose", "nearest"])
    attention_mask: bool = opt(False, "the generator also predicts a per-pixel mask A and returns A*input + "
                                      "(1-A)*colour (GANimation/AttentionGAN): pixels that need no change are copied "
                                      "exactly (helps pix2pix; collapses to a copy for CycleGAN/StarGAN here, see the "
                                      "README's ablation)", group="architecture", flag="switch")
    attention_init: float = opt(0.5, "initial value of the attention mask A in (0, 1): near 1 starts at the identity "
                                     "mapping (fine with a paired L1 loss), 0.5 is neutral (needed where "
                                     "identity/reconstruction losses would keep a closed mask closed)", group="architecture")
    init_type: str = opt("normal", "weight initialisation (junyanz init_weights)", group="architecture",
                         choices=["normal", "xavier", "kaiming", "orthogonal"])
    init_gain: float = opt(0.02, "scale of the weight initialisation", group="architecture")
    gan_mode: str = opt("lsgan", "adversarial objective", group="architecture",
                        choices=["vanilla", "lsgan", "wgangp", "hinge"])
    # runtime
    device: str | None = opt(None, "cpu | cuda | cuda:N (default: cuda if available)", group="runtime")
    precision: str = opt("fp32", "autocast precision (fp16 uses a GradScaler per optimiser)", group="runtime",
                         choices=["fp32", "bf16", "fp16"])
    channels_last: bool = opt(False, "channels-last memory format", group="runtime", flag="store_true")
    compile: bool = opt(False, "torch.compile the networks", group="runtime", flag="store_true")
    broadcast_buffers: int = opt(1, "DDP broadcast_buffers (1/0)", group="runtime")
    sync_bn: bool = opt(False, "SyncBatchNorm under DDP on CUDA (batch norm only)", group="runtime", flag="store_true")
    # run folder, logging, checkpoints
    name: str | None = opt(None, "run name (default: <family>-<dataset>)", group="run folder, logging, checkpoints")
    checkpoints_dir: str = opt("runs", "parent folder of run folders", group="run folder, logging, checkpoints")
    output: str | None = opt(None, "where to write the final model folder (default: <run>/final)",
                             group="run folder, logging, checkpoints")
    resume: str | None = opt(None, "continue a run exactly from its last checkpoint", metavar="RUN_DIR",
                             group="run folder, logging, checkpoints")
    print_every: int = opt(20, "steps between metrics.jsonl loss lines", group="run folder, logging, checkpoints")
    sample_every: int = opt(500, "steps between sample grids (input | output | target)",
                            group="run folder, logging, checkpoints")
    val_every: int = opt(500, "steps between validation metrics", group="run folder, logging, checkpoints")
    save_every: int = opt(1000, "steps between checkpoints", group="run folder, logging, checkpoints")
    keep_last: int = opt(3, "checkpoints kept", group="run folder, logging, checkpoints")
    no_tensorboard: bool = opt(False, "do not write TensorBoard logs even if installed", flag="store_true",
                               group="run folder, logging, checkpoints")
    stop_after: int | None = opt(None, "tests: behave as Ctrl-C after this step", hidden=True,
                                 group="run folder, logging, checkpoints")
    debug: bool = opt(False, "show the traceback of an error (also I2I_DEBUG=1)", flag="store_true",
                      group="run folder, logging, checkpoints")
    # Hugging Face Hub
    push_to_hub: str | None = opt(None, "push the final model folder (and card) to this Hub repo", metavar="REPO",
                                  group="Hugging Face Hub")
    hub_private: bool = opt(False, "create the Hub repo private", flag="store_true", group="Hugging Face Hub")
    push_every: int = opt(0, "also push every N checkpoints (0 = only at the end)", group="Hugging Face Hub")
    license: str | None = opt(None, "license for the model card (default: the embedded data's)", group="Hugging Face Hub")
    # bookkeeping
    explicit: list[str] = internal(None)
    run_id: str | None = internal(None)
    config_version: int = internal(CONFIG_VERSION)

    def __post_init__(self):
        if self.explicit is None:
            self.explicit = []

    @classmethod
    def has_data(cls, values: dict[str, Any]) -> bool:
        """Whether the command line names training data (else the embedded sample and its preset are used)."""
        return values.get("dataset") is not None

    # -- derived values
    def finalize(self) -> None:
        """Fill what depends on other options (called after presets and command-line values)."""
        if self.load_size is None:
            self.load_size = int(round(self.crop_size * 1.12))
        if self.name is None:
            self.name = f"{self.family}-{Path(str(self.dataset).rstrip('/')).name.replace('/', '-')}"

    @classmethod
    def migrations(cls) -> dict[int, Any]:
        """``{version: fn}``: ``fn(d)`` turns a saved config dict of ``version`` into one of ``version + 1``
        (in place). Version 1 = the untyped ``args.json`` of releases before typed configs."""
        return {1: cls._from_v1}

    @classmethod
    def _from_v1(cls, d: dict[str, Any]) -> None:
        d["explicit"] = d.pop("_explicit", []) or []


@dataclass
class PatchGANOptions:
    """junyanz's architecture options (pix2pix and CycleGAN)."""

    netG: str = opt("resnet_9blocks", "generator: unet_128 | unet_256 | resnet_6blocks | resnet_9blocks",
                    group="architecture")
    netD: str = opt("basic", "discriminator: basic (70x70 PatchGAN) | n_layers | pixel | multiscale", group="architecture")
    n_layers_D: int = opt(3, "PatchGAN layers for netD n_layers/multiscale", group="architecture")
    num_D: int = opt(2, "scales of the multiscale discriminator", group="architecture")
    ngf: int = opt(64, "generator filters in the first layer", group="architecture")
    ndf: int = opt(64, "discriminator filters in the first layer", group="architecture")
    norm: str = opt("instance", "batch | instance | none", group="architecture")
    no_dropout: bool = opt(True, "no dropout in the generator", group="architecture", flag="store_true")
    spectral_norm: bool = opt(False, "spectral normalisation in the discriminator", group="architecture",
                              flag="store_true")


@dataclass
class MaskPenaltyOptions:
    """GANimation's attention loss (CycleGAN and StarGAN, where identity/reconstruction losses can close the mask)."""

    lambda_mask: float = opt(0.0, "with --attention_mask: weight of the mean mask value A of translated images "
                                  "(GANimation's attention loss, lambda_A = 0.1), which keeps identity/reconstruction "
                                  "losses from closing the mask into a copy of the input (needs --attention_mask)",
                             group="architecture")


# ------------------------------------------------------------------------------------------------ parsing
class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows "(default: X)" only where there is a default to show (not for options that default to
    nothing, or whose help already says what their default is)."""

    def _get_help_string(self, action):
        if action.default in (None, argparse.SUPPRESS) or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


GROUPS = ("data", "optimisation", "architecture", "runtime", "run folder, logging, checkpoints", "Hugging Face Hub")


def _options(cls) -> list[dataclasses.Field]:
    return [f for f in fields(cls) if not f.metadata.get("internal")]


def build_parser(cls, prog: str, description: str = "") -> argparse.ArgumentParser:
    """The command line of config class ``cls``: one ``--<field>`` per option field, in groups."""
    p = argparse.ArgumentParser(prog=prog, description=description, formatter_class=HelpFormatter)
    groups: dict[str, Any] = {}
    for name in GROUPS:
        groups[name] = p.add_argument_group(name)
    hints = typing.get_type_hints(cls)
    for f in _options(cls):
        m = f.metadata
        g = groups.get(m["group"]) or groups.setdefault(m["group"], p.add_argument_group(m["group"]))
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        kw: dict[str, Any] = {"default": default, "help": argparse.SUPPRESS if m["hidden"] else m["help"]}
        if m["flag"] == "store_true":
            kw["action"] = "store_true"
        elif m["flag"] == "switch":
            kw["action"] = argparse.BooleanOptionalAction
        else:
            typ = hints[f.name]
            args = [a for a in typing.get_args(typ) if a is not type(None)] or [typ]
            base = args[0]
            if typing.get_origin(base) is list:
                kw["nargs"] = "+"
                base = typing.get_args(base)[0]
            kw["type"] = base if base in (int, float) else str
            if m["choices"]:
                kw["choices"] = m["choices"]
            if m["metavar"]:
                kw["metavar"] = m["metavar"]
        g.add_argument(f"--{f.name}", **kw)
    return p


def explicit_options(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Names of the options given on the command line (a preset must not override them)."""
    p = copy.deepcopy(parser)
    for action in p._actions:
        action.default = argparse.SUPPRESS
    return sorted(vars(p.parse_args(argv)))


def parse(cls, argv: list[str], prog: str, description: str = ""):
    """Parse ``argv`` into a config of ``cls``: the class's defaults, then its preset when no dataset is
    given (not for ``--resume``), then the command line; then :meth:`TrainConfig.finalize`."""
    parser = build_parser(cls, prog, description)
    ns = parser.parse_args(argv)
    given = explicit_options(parser, argv)
    values = vars(ns)
    if not cls.has_data(values) and not values.get("resume") and cls.embedded_dataset:
        values["dataset"] = str(EMBEDDED / cls.embedded_dataset)
        values.update({k: copy.deepcopy(v) for k, v in cls.preset.items() if k not in given})
        if values.get("license") is None:
            values["license"] = cls.embedded_license
    cfg = cls(**values, explicit=given)
    if not cfg.resume:
        cfg.finalize()
    return cfg


def to_json(cfg: TrainConfig) -> str:
    """``args.json``: every field, with ``config_version``."""
    return json.dumps({**dataclasses.asdict(cfg), "config_version": CONFIG_VERSION}, indent=2)


def load_saved(cls, saved: dict[str, Any]) -> TrainConfig:
    """Today's config from a saved ``args.json`` dict of any version (:meth:`TrainConfig.migrations`);
    keys today's config does not know are dropped."""
    d = dict(saved)
    version = int(d.pop("config_version", 1) or 1)
    steps = cls.migrations()
    while version < CONFIG_VERSION:
        step = steps.get(version)
        if step is not None:
            step(d)
        version += 1
    known = {f.name for f in fields(cls)}
    cfg = cls(**{k: v for k, v in d.items() if k in known})
    cfg.config_version = CONFIG_VERSION
    return cfg
