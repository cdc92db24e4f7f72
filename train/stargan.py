"""``python -m train.stargan``: StarGAN (Choi et al., CVPR 2018) - one generator G(x, c) for all attributes,
a discriminator with an adversarial (PatchGAN) and a classification head; WGAN-GP with n_critic 5,
lambda_cls 1, lambda_rec 10, lambda_gp 10, Adam 1e-4 (0.5, 0.999), linear decay over the second half
(yunjey/stargan's defaults). Defaults that differ, chosen by measurement (README, Quality): an identity loss
``--lambda_id 10`` (L1 between G(x, c_org) and x), nearest-upsample + conv in G and an EMA of its weights
(0.999); ``--lambda_id 0 --upsample transpose --ema 0`` is yunjey's model.

Data: ``--dataset ROOT`` holding ``<split>/images`` + ``<split>/list_attr.txt`` (the shared
emoji_people_attrs layout), or CelebA style ``--image_dir DIR --attr_path list_attr_celeba.txt``, or one
folder per domain (RaFD style, ``--image_dir DIR``), or a Hub dataset (``--dataset user/name --column_image
image --label_columns Male Young``). ``--selected_attrs`` picks the attributes; ``--one_hot_groups``
declares which of them are mutually exclusive (e.g. hair colours; ``"Man,Woman,Neutral;Skin_Light,..."``).
Several datasets whose labels differ (the paper's CelebA + RaFD, §3.2): ``--datasets PATH=ATTRS ...``, one
entry per dataset, ATTRS its attributes with ';' between one-hot groups and ',' inside one (a group of one is
an independent yes/no attribute); PATH any of the layouts above (the attributes name its columns or domain
folders), or an unpaired CycleGAN set (``trainA/``, ``trainB/``: ATTRS names its two domains), e.g.
``--datasets DATA/emoji_people_attrs="Man,Woman,Neutral;Skin_Default,...,Skin_Dark"
DATA/emoji_twemoji2noto=twemoji,noto``. The labels are concatenated into one vector, a one-hot mask vector
says which dataset's part an image has, and the classification losses use the known part only
(:meth:`StarGANRecipe.train_step`); validation scores the first dataset.

If ``<val split>/edit_pairs.csv`` exists (src_file, tgt_file, …), validation also scores edits against
the true target images; ``--lambda_pair W`` also trains on the train split's ground-truth edits (an L1 term
to the true target, pix2pix style). With no data options it trains briefly on the embedded emoji sample.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F

from i2i_models import StarGANModel
from i2i_models.networks import StarGANDiscriminator, StarGANGenerator

from . import data as D
from .config import MaskPenaltyOptions, TrainConfig, build_parser, opt, redefault
from .loop import cli, run
from .losses import GANLoss, gradient_penalty
from .evaluation import edit_pair_indices, to_unit
from .metrics import MeanMeter
from .recipe import Recipe, set_requires_grad

EMOJI_ATTRS = ["Man", "Woman", "Neutral", "Skin_Default", "Skin_Light", "Skin_Medium_Light", "Skin_Medium",
               "Skin_Medium_Dark", "Skin_Dark"]
EMOJI_GROUPS = "Man,Woman,Neutral;Skin_Default,Skin_Light,Skin_Medium_Light,Skin_Medium,Skin_Medium_Dark,Skin_Dark"


@dataclass
class StarGANConfig(TrainConfig, MaskPenaltyOptions):
    """python -m train.stargan options (yunjey/stargan's defaults unless said)."""

    family: ClassVar[str] = "stargan"
    embedded_dataset: ClassVar[str] = "emoji_people_attrs"
    embedded_license: ClassVar[str | None] = "cc-by-4.0"
    preset: ClassVar[dict] = {"crop_size": 64, "g_conv_dim": 32, "d_conv_dim": 32, "g_repeat_num": 4, "d_repeat_num": 5,
                              "max_steps": 200, "batch_size": 8, "sample_every": 100, "val_every": 100, "save_every": 100,
                              "print_every": 10, "val_limit": 48, "selected_attrs": EMOJI_ATTRS,
                              "one_hot_groups": EMOJI_GROUPS}
    lr: float = redefault(TrainConfig, "lr", 1e-4)
    n_epochs: int = redefault(TrainConfig, "n_epochs", 20)
    n_epochs_decay: int = redefault(TrainConfig, "n_epochs_decay", 10)
    crop_size: int = redefault(TrainConfig, "crop_size", 128)
    batch_size: int = redefault(TrainConfig, "batch_size", 16)
    load_size: int | None = opt(None, "resize to this (default: crop_size, i.e. resize only, as yunjey after its "
                                      "centre crop)")
    gan_mode: str = redefault(TrainConfig, "gan_mode", "wgangp")
    image_dir: str | None = opt(None, "CelebA-style image folder (or one sub-folder per domain)", group="StarGAN")
    attr_path: str | None = opt(None, "CelebA-style attribute file (list_attr_celeba.txt)", group="StarGAN")
    selected_attrs: list[str] | None = opt(None, "attributes to learn, in label order (default: all in the file)",
                                           group="StarGAN")
    one_hot_groups: str | None = opt(None, "mutually exclusive attributes, groups separated by ';' (e.g. "
                                           "'Black_Hair,Blond_Hair,Brown_Hair')", group="StarGAN")
    column_image: str = opt("image", "Hub dataset: image column", group="StarGAN")
    label_columns: list[str] | None = opt(None, "Hub dataset: label columns (default: --selected_attrs)", group="StarGAN")
    g_conv_dim: int = opt(64, "generator filters in the first layer", group="StarGAN")
    d_conv_dim: int = opt(64, "discriminator filters in the first layer", group="StarGAN")
    g_repeat_num: int = opt(6, "generator residual blocks", group="StarGAN")
    d_repeat_num: int = opt(6, "discriminator strided convolutions", group="StarGAN")
    lambda_cls: float = opt(1.0, "attribute classification loss weight", group="StarGAN")
    lambda_rec: float = opt(10.0, "reconstruction (cycle) loss weight", group="StarGAN")
    lambda_gp: float = opt(10.0, "gradient penalty weight", group="StarGAN")
    lambda_id: float = opt(10.0, "identity loss weight: L1 between G(x, c_org) and x, i.e. asking for the attributes an "
                                 "image already has changes nothing (AttGAN's self-reconstruction; CycleGAN's identity "
                                 "loss); it teaches the generator - and an attention mask - to leave what an edit does not "
                                 "concern untouched. Default 10, chosen by measurement (README, Quality); 0 = off, "
                                 "yunjey/stargan's model", group="StarGAN")
    lambda_pair: float = opt(0.0, "weight of an L1 loss to ground-truth edits, for datasets that know some (an "
                                  "edit_pairs.csv listing an image and the same image with other attributes, as "
                                  "emoji_people_attrs has): pix2pix's L1 term on those pairs, on top of StarGAN's unpaired "
                                  "losses. 0 = off (StarGAN is unpaired)", group="StarGAN")
    edit_pairs: str | None = opt(None, "CSV of ground-truth edits for --lambda_pair (columns src_file, tgt_file, relative "
                                       "to the train image folder; default <train split>/edit_pairs.csv)", group="StarGAN")
    n_critic: int = opt(5, "discriminator updates per generator update", group="StarGAN")
    datasets: list[str] | None = opt(None, "train on several datasets whose labels differ, with StarGAN's mask "
                                           "vector: one PATH=ATTRS per dataset (ATTRS: ';' between one-hot groups, ',' "
                                           "inside one), e.g. DATA/emoji_people_attrs='Man,Woman,Neutral' "
                                           "DATA/emoji_twemoji2noto=twemoji,noto (a trainA/trainB set: its two domains)",
                                     group="StarGAN", metavar="PATH=ATTRS")

    @classmethod
    def has_data(cls, values):
        return any(values.get(k) is not None for k in ("dataset", "image_dir", "datasets"))

    def finalize(self) -> None:
        if self.image_dir and not self.dataset:
            self.dataset = str(Path(self.image_dir))
        if self.datasets:
            clash = [f"--{k}" for k in ("selected_attrs", "one_hot_groups", "image_dir", "attr_path", "label_columns")
                     if k in self.explicit]
            if clash:
                raise D.DataError(f"{' '.join(clash)} cannot be combined with --datasets (each entry names its own "
                                  f"attributes as PATH=ATTRS)")
            specs = parse_datasets(self.datasets)
            if not self.dataset:
                self.dataset = specs[0][0]
        if "load_size" not in self.explicit:
            self.load_size = self.crop_size  # resize only (no crop jitter), as yunjey after its centre crop
        super().finalize()
        if self.selected_attrs is None and str(self.dataset).endswith(self.embedded_dataset):
            self.selected_attrs, self.one_hot_groups = list(EMOJI_ATTRS), self.one_hot_groups or EMOJI_GROUPS

    @classmethod
    def _from_v1(cls, d):
        super()._from_v1(d)
        d.setdefault("lambda_id", 0.0)  # runs from before --lambda_id existed trained without it


def parse_groups(spec: str | None, attrs: list[str], strict: bool = True) -> list[list[str]]:
    """``--one_hot_groups`` ("A,B;C,D,E") as lists of attribute names. Every name must be one of ``attrs``
    (raises :class:`DataError` naming the unknown ones, as ``--selected_attrs`` does), unless ``strict`` is
    off (a preset's groups): then names outside ``attrs`` are dropped, and groups left with one member."""
    groups = [[x.strip() for x in g.split(",") if x.strip()] for g in (spec or "").split(";") if g.strip()]
    unknown = [x for g in groups for x in g if x not in attrs]
    if unknown and strict:
        raise D.DataError(f"unknown attribute(s) {unknown} in --one_hot_groups; the attributes are: {' '.join(attrs)}")
    groups = [[x for x in g if x in attrs] for g in groups]
    seen = [x for g in groups for x in g]
    dup = sorted({x for x in seen if seen.count(x) > 1})
    if dup and strict:
        raise D.DataError(f"attribute(s) {dup} appear in more than one --one_hot_groups group")
    return [g for g in groups if len(g) > 1]


def parse_datasets(specs: list[str]) -> list[tuple[str, list[str], list[list[str]]]]:
    """``--datasets`` entries ``PATH=ATTRS`` as ``(path, attributes, one-hot groups)``; ATTRS has ';' between
    groups and ',' inside one (groups of one are independent attributes). Raises :class:`DataError` for an
    entry without ``=`` or attributes, or fewer than two entries."""
    out = []
    for spec in specs:
        path, sep, attrs = str(spec).rpartition("=")
        groups = [[x.strip() for x in g.split(",") if x.strip()] for g in attrs.split(";")]
        groups = [g for g in groups if g]
        if not sep or not path or not groups:
            raise D.DataError(f"--datasets entry {spec!r}: write PATH=ATTRIBUTES, e.g. "
                              f"DATA/emoji_people_attrs='Man,Woman,Neutral;Skin_Light,Skin_Dark'")
        out.append((path, [a for g in groups for a in g], [g for g in groups if len(g) > 1]))
    if len(out) < 2:
        raise D.DataError("--datasets takes two or more PATH=ATTRS entries (one dataset: --dataset and --selected_attrs)")
    return out


class StarGANRecipe(Recipe):
    family = "stargan"
    optimizer_groups = {"G": ("generator",), "D": ("discriminator",)}
    best_metric = ("edit_l1", "min")
    metrics_note = ("`attr_acc` and `edit_target_read` are read by this model's own discriminator, which the generator "
                    "is trained to satisfy, so they overstate; `python -m train.evaluate` reads edits with an "
                    "independent classifier.")
    config = StarGANConfig

    def _paths(self, split: str):
        a = self.args
        root = Path(a.dataset)
        if a.image_dir:
            return Path(a.image_dir), (Path(a.attr_path) if a.attr_path else None)
        if (root / split / "images").is_dir():
            attr = root / split / "list_attr.txt"
            return root / split / "images", attr if attr.is_file() else None
        return root, (Path(a.attr_path) if a.attr_path else None)

    def _make(self, split: str, transform, with_pairs: bool = False):
        a = self.args
        if self.multi:  # validation: the first dataset
            path, attrs, _ = parse_datasets(a.datasets)[0]
            return self._make_part(path, attrs, split, transform)
        if D.is_hub_dataset(a.dataset):
            if with_pairs:
                raise D.DataError("--lambda_pair needs a local dataset with an edit_pairs.csv (--edit_pairs); "
                                  "Hub datasets have none here")
            return D.HubDataset(a.dataset, split, transform, {"image": a.column_image}, a.dataset_config,
                                a.dataset_revision, a.input_nc, label_columns=a.label_columns or a.selected_attrs)
        image_dir, attr = self._paths(split)
        pairs = None
        if with_pairs:
            pairs = Path(a.edit_pairs) if a.edit_pairs else image_dir.parent / "edit_pairs.csv"
            if not pairs.is_file():
                raise D.DataError(f"--lambda_pair {a.lambda_pair} needs ground-truth edits: {pairs} does not exist; "
                                  "give one with --edit_pairs (columns src_file, tgt_file relative to the image "
                                  "folder) or drop --lambda_pair")
        return D.AttributeDataset(image_dir, transform, attr, a.selected_attrs, a.input_nc, edit_pairs=pairs)

    def _make_part(self, path: str, attrs: list[str], split: str, transform):
        """One ``--datasets`` entry as an attribute dataset of its ``attrs`` (see the module docstring)."""
        a = self.args
        if D.is_hub_dataset(path):
            return D.HubDataset(path, split, transform, {"image": a.column_image}, a.dataset_config, a.dataset_revision,
                                a.input_nc, label_columns=attrs)
        root = Path(path)
        if (root / split / "images").is_dir():
            return D.AttributeDataset(root / split / "images", transform, root / split / "list_attr.txt", attrs, a.input_nc)
        if (root / f"{split}A").is_dir() and (root / f"{split}B").is_dir():
            if len(attrs) != 2:
                raise D.DataError(f"{path} is an unpaired set ({split}A/, {split}B/): name its two domains, e.g. "
                                  f"{path}=twemoji,noto")
            return D.AttributeDataset(root, transform, None, attrs, a.input_nc,
                                      domain_dirs=[(attrs[0], root / f"{split}A"), (attrs[1], root / f"{split}B")])
        base = root / split if (root / split).is_dir() else root
        return D.AttributeDataset(base, transform, None, attrs, a.input_nc, domain_dirs=[(x, base / x) for x in attrs])

    def _with_pairs(self, ds):
        """The first ``--datasets`` entry with its ground-truth edits (``--lambda_pair``; its train split's
        edit_pairs.csv, or ``--edit_pairs``)."""
        a = self.args
        if not isinstance(ds, D.AttributeDataset) or not (Path(a.dataset) / a.train_split / "images").is_dir():
            raise D.DataError("--lambda_pair with --datasets needs the first dataset in the <split>/images + "
                              "list_attr.txt + edit_pairs.csv layout")
        image_dir = Path(a.dataset) / a.train_split / "images"
        pairs = Path(a.edit_pairs) if a.edit_pairs else image_dir.parent / "edit_pairs.csv"
        if not pairs.is_file():
            raise D.DataError(f"--lambda_pair {a.lambda_pair} needs ground-truth edits: {pairs} does not exist")
        return D.AttributeDataset(image_dir, ds.transform, image_dir.parent / "list_attr.txt", ds.attributes,
                                  a.input_nc, edit_pairs=pairs)

    @property
    def multi(self) -> bool:
        """Trained on several datasets (``--datasets``)."""
        return bool(self.args.datasets)

    def train_dataset(self):
        if getattr(self, "_train", None) is None:
            a = self.args
            if self.multi:
                parts = [self._make_part(p, attrs, a.train_split, self.train_transform())
                         for p, attrs, _ in parse_datasets(a.datasets)]
                if a.lambda_pair:  # ground-truth edits of the first dataset
                    parts[0] = self._with_pairs(parts[0])
                self._train = D.JointDataset(parts)
            else:
                self._train = self._make(a.train_split, self.train_transform(), with_pairs=bool(a.lambda_pair))
        return self._train

    def build_model(self) -> StarGANModel:
        a = self.args
        ds = self.train_dataset()
        attrs = list(ds.attributes)
        extra = {}
        if self.multi:
            specs = parse_datasets(a.datasets)
            parts = [{"name": Path(p.rstrip("/")).name if not D.is_hub_dataset(p) else p, "attributes": list(at),
                      "attribute_groups": g} for p, at, g in specs]
            groups = [g for p in parts for g in p["attribute_groups"]]
            extra = {"datasets": parts}
            dataset_name = " + ".join(p["name"] for p in parts)
        else:
            groups = parse_groups(a.one_hot_groups, attrs, strict="one_hot_groups" in a.explicit)
            dataset_name = Path(str(a.dataset)).name
        c = len(attrs)
        G = StarGANGenerator(a.g_conv_dim, c + len(extra.get("datasets", [])), a.g_repeat_num, a.input_nc, a.output_nc,
                             upsample=a.upsample, attention_mask=a.attention_mask)
        Dn = StarGANDiscriminator(a.crop_size, a.d_conv_dim, c, a.d_repeat_num, a.input_nc)
        return StarGANModel({"networks": {"generator": G.config, "discriminator": Dn.config}, "attributes": attrs,
                             "attribute_groups": groups, "image_size": a.crop_size, "license": a.license,
                             "dataset": dataset_name, **extra})

    def __init__(self, args, device, dist):
        super().__init__(args, device, dist)
        self.gan = GANLoss(args.gan_mode)
        self._train = self._val = self._pairs = None
        self._last_g: dict[str, float] = {}

    def known_labels(self, mask: torch.Tensor) -> torch.Tensor:
        """Which joint labels each sample knows: [B, n_attributes] in {0, 1} from the mask vectors [B, K]
        (1 on the span of the sample's dataset)."""
        ds = self.train_dataset()
        M = torch.zeros(len(ds.parts), len(ds.attributes), device=mask.device)
        for k, (o, n) in enumerate(zip(ds.offsets, ds.sizes)):
            M[k, o:o + n] = 1
        return mask @ M

    def target_labels(self, c_org: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Target labels for the fakes: another image's labels of the batch (yunjey shuffles the batch) -
        with several datasets, another image of the *same* dataset (a permutation within each)."""
        B = c_org.size(0)
        if mask is None:
            return c_org[torch.randperm(B).to(c_org.device)]
        c_trg = c_org.clone()
        ds_of = mask.argmax(1)
        for k in range(mask.shape[1]):
            idx = (ds_of == k).nonzero().flatten()
            if idx.numel() > 1:
                c_trg[idx] = c_org[idx[torch.randperm(idx.numel()).to(idx.device)]]
        return c_trg

    def cls_loss(self, logits: torch.Tensor, target: torch.Tensor, known: torch.Tensor | None) -> torch.Tensor:
        """Attribute classification loss: BCE summed over the labels, mean over the batch (yunjey), over the
        labels each sample knows only when trained on several datasets (the mask vector's role, §3.2)."""
        bce = F.binary_cross_entropy_with_logits(logits.float(), target, reduction="none")
        if known is not None:
            bce = bce * known
        return bce.sum() / logits.shape[0]

    def train_step(self, batch, step: int) -> dict[str, float]:
        a, dev = self.args, self.device
        x = batch["image"].to(dev, non_blocking=True)
        c_org = batch["label"].to(dev, non_blocking=True)
        mask = batch["mask"].to(dev, non_blocking=True) if "mask" in batch else None
        known = self.known_labels(mask) if mask is not None else None
        c_trg = self.target_labels(c_org, mask)

        def cond(c):  # the generator's input: labels, and with several datasets the mask vector after them
            return c if mask is None else torch.cat([c * known, mask], 1)

        G, Dn = self.train_nets["generator"], self.train_nets["discriminator"]
        G_raw, D_raw = self.nets["generator"], self.nets["discriminator"]
        set_requires_grad([D_raw], True)
        with torch.no_grad(), self.amp():
            x_fake = G_raw(x, cond(c_trg))
        with self.amp():
            src_real, cls_real = Dn(x)
            src_fake, _ = Dn(x_fake.detach())
            d_real = self.gan(src_real, True, True)
            d_fake = self.gan(src_fake, False, True)
            d_cls = self.cls_loss(cls_real, c_org, known)
            d_loss = d_real + d_fake + a.lambda_cls * d_cls
        gp = torch.zeros((), device=dev)
        if a.gan_mode == "wgangp":
            gp = gradient_penalty(D_raw, x, x_fake, output_index=0)
            d_loss = d_loss + a.lambda_gp * gp
        self.step_opt("D", d_loss)
        out = {"D_real": d_real.item(), "D_fake": d_fake.item(), "D_cls": d_cls.item(), "D_gp": gp.item()}
        if (step + 1) % a.n_critic == 0:
            set_requires_grad([D_raw], False)
            with self.amp():
                g_mask = torch.zeros((), device=dev)
                if a.lambda_mask and getattr(G_raw, "attention_mask", False):
                    x_fake, att = G(x, cond(c_trg), return_mask=True)
                    g_mask = att.float().mean()
                else:
                    x_fake = G(x, cond(c_trg))
                src, cls = D_raw(x_fake)
                g_fake = self.gan(src, True)
                g_cls = self.cls_loss(cls, c_trg, known)
                x_rec = G(x_fake, cond(c_org))
                g_rec = F.l1_loss(x_rec.float(), x.float())
                g_loss = g_fake + a.lambda_rec * g_rec + a.lambda_cls * g_cls + a.lambda_mask * g_mask
                if a.lambda_id:  # (logged below under the same condition)
                    g_id = F.l1_loss(G(x, cond(c_org)).float(), x.float())
                    g_loss = g_loss + a.lambda_id * g_id
                if a.lambda_pair:
                    g_pair = self.pair_loss(G, batch, cond)
                    g_loss = g_loss + a.lambda_pair * g_pair
            self.step_opt("G", g_loss)
            set_requires_grad([D_raw], True)
            if self.ema:
                self.update_ema()
            self._last_g = {"G_fake": g_fake.item(), "G_cls": g_cls.item(), "G_rec": g_rec.item()}
            if a.lambda_mask:
                self._last_g["G_mask"] = g_mask.item()
            if a.lambda_id:
                self._last_g["G_id"] = g_id.item()
            if a.lambda_pair:
                self._last_g["G_pair"] = g_pair.item()
        return {**out, **self._last_g}

    def extra_state(self):
        """The last generator losses (logged again on the discriminator-only steps of ``--n_critic``), so a
        resumed run's log equals an uninterrupted one's."""
        return {"last_g": dict(self._last_g)}

    def load_extra_state(self, state):
        self._last_g = dict(state.get("last_g") or {})

    def pair_loss(self, G, batch, cond=lambda c: c) -> torch.Tensor:
        """Mean L1 (in [-1, 1] units) between ``G(x, c_pair)`` [B, C, H, W] and the ground-truth edit
        ``pair_image`` over the samples that have one (``has_pair``; 0 when none does) - pix2pix's L1 term on
        the edits a dataset knows, while the adversarial, classification and cycle terms keep working on all
        images. The whole batch goes through G (no data-dependent branch: every DDP rank runs the same graph);
        ``cond`` turns labels into the generator's input (with several datasets: the mask vector appended)."""
        dev = self.device
        has = batch["has_pair"].to(dev, non_blocking=True)
        out = G(batch["image"].to(dev, non_blocking=True), cond(batch["pair_label"].to(dev, non_blocking=True)))
        err = (out.float() - batch["pair_image"].to(dev, non_blocking=True).float()).abs().mean((1, 2, 3))
        return (err * has).sum() / has.sum().clamp(min=1)

    # -- evaluation
    def val_dataset(self):
        if self._val is None and self.args.val_split:
            try:
                ds = self._make(self.args.val_split, D.eval_transform(self.args.crop_size))
                self._val = ds
            except (D.DataError, FileNotFoundError, OSError):
                self._val = None
        return self._val

    def edit_pairs(self) -> list[tuple[int, int]]:
        """(src, tgt) indices into the val dataset from ``edit_pairs.csv`` whose labels differ (an even subset
        of ``--val_limit``; :func:`train.evaluation.edit_pair_indices`)."""
        if self._pairs is None:
            self._pairs = []
            ds = self.val_dataset()
            if ds is None or D.is_hub_dataset(self.args.dataset):
                return self._pairs
            image_dir, _ = self._paths(self.args.val_split)
            csv_path = image_dir.parent / "edit_pairs.csv"
            if csv_path.is_file():
                self._pairs = edit_pair_indices(ds, csv_path, limit=self.args.val_limit, image_dir=image_dir)
        return self._pairs

    def scored(self):
        """What validation scores: the model, or for several datasets its first dataset's view
        (:meth:`i2i_models.StarGANModel.dataset_view`)."""
        return self.model.dataset_view(0) if self.multi else self.model

    def part_nets(self, role: str) -> torch.nn.Module:
        """The (EMA) generator or the discriminator as validation runs it: for several datasets fed/reading the
        first dataset's labels only."""
        from i2i_models.families.stargan import _PartDiscriminator, _PartGenerator

        net = self.generator(role) if role == "generator" else self.nets[role]
        if not self.multi:
            return net
        return (_PartGenerator if role == "generator" else _PartDiscriminator)(self.model, 0, net)

    def eval_case(self, case, batch):
        return self.run_eval(self.part_nets("generator"), batch["source"], batch["labels"])

    def _group_read(self, probs: torch.Tensor, target: torch.Tensor, changed: torch.Tensor) -> torch.Tensor:
        """Per image: does the classifier read every changed attribute as in ``target``? (groups: argmax)."""
        view = self.scored()
        attrs = view.attributes
        ok = torch.ones(probs.shape[0], dtype=torch.bool)
        groups = [[attrs.index(x) for x in g] for g in view.attribute_groups]
        in_group = {i for g in groups for i in g}
        for g in groups:
            touched = changed[:, g].any(1)
            hit = probs[:, g].argmax(1) == target[:, g].argmax(1)
            ok &= ~touched | hit
        for i in range(len(attrs)):
            if i not in in_group:
                ok &= ~changed[:, i] | ((probs[:, i] > 0.5) == (target[:, i] > 0.5))
        return ok

    def case_batches(self, case):
        """The val split's edit pairs (source image, target image and labels)."""
        ds = self.val_dataset()
        return self.edit_batches(ds, self.edit_pairs()) if ds is not None else None

    def reader(self, case):
        """The model's own discriminator reads the edits (it overstates: see ``metrics_note``)."""
        Dn = self.part_nets("discriminator")

        def read(out, c_tgt, c_src):
            _, logits = self.run_eval(Dn, out)
            return self._group_read(torch.sigmoid(logits.cpu()), c_tgt.cpu(), (c_src != c_tgt).cpu())
        return read

    def extra_metrics(self) -> dict[str, float]:
        """How often the discriminator reads all attributes of real val images right (``attr_acc``)."""
        ds = self.val_dataset()
        if ds is None:
            return {}
        acc = MeanMeter()
        for b in self.val_loader(ds):
            _, logits = self.run_eval(self.part_nets("discriminator"), b["image"])
            p = torch.sigmoid(logits.cpu())
            acc.add({"attr_acc": self._group_read(p, b["label"], torch.ones_like(b["label"], dtype=torch.bool)).double()})
        return acc.result()

    def sample_rows(self) -> list[list[torch.Tensor]]:
        """Each of four images, then the same image with single attributes switched on (its first two
        groups, three members each)."""
        ds = self.val_dataset() or self.train_dataset()
        if self.multi:
            return self._multi_sample_rows(ds)
        G = self.generator("generator")
        attrs = self.model.attributes
        rows = []
        for i in range(0, min(len(ds), 4 * max(1, len(ds) // 4)), max(1, len(ds) // 4)):
            s = ds[i]
            x, c = s["image"][None], s["label"][None]
            row = [to_unit(s["image"])]
            for g in (self.model.attribute_groups or [[a] for a in attrs])[:2]:
                for name in g[:3]:
                    t = c.clone()
                    j = attrs.index(name)
                    if len(g) > 1:
                        t[:, [attrs.index(n) for n in g]] = 0
                        t[:, j] = 1
                    else:
                        t[:, j] = 1 - t[:, j]
                    row.append(to_unit(self.run_eval(G, x, t.to(self.device)))[0])
            rows.append(row)
        return rows

    def _multi_sample_rows(self, ds) -> list[list[torch.Tensor]]:
        """Four images of the first dataset, then each switched to up to three members of every dataset's
        first group (or attributes), with that dataset's mask vector: the cross-dataset edits."""
        G, m = self.generator("generator"), self.model
        rows = []
        for i in range(0, min(len(ds), 4 * max(1, len(ds) // 4)), max(1, len(ds) // 4)):
            s = ds[i]
            x = s["image"][None]
            own = torch.zeros(1, len(m.attributes))
            own[:, m.span(0)] = s["label"][None] if "mask" not in s else s["label"][None][:, m.span(0)]
            row = [to_unit(s["image"])]
            for k, part in enumerate(m.datasets):
                group = (part["attribute_groups"] or [[a] for a in part["attributes"]])[0]
                for name in group[:3]:
                    t = own.clone()  # (the other datasets' parts are zeros: condition() keeps only dataset k's)
                    j = m.attributes.index(name)
                    if len(group) > 1:
                        t[:, [m.attributes.index(n) for n in group]] = 0
                        t[:, j] = 1
                    else:
                        t[:, j] = 1 - t[:, j]
                    row.append(to_unit(self.run_eval(G, x, m.condition(t, k).to(self.device)))[0])
            rows.append(row)
        return rows


def parser():
    return build_parser(StarGANConfig, f"python -m {__package__}.stargan", __doc__)


def main(argv=None):
    return run(StarGANRecipe, argv)


def command() -> int:
    """The console script (``i2i-train-stargan``): :func:`main` with errors as one line."""
    return cli(main)


if __name__ == "__main__":
    sys.exit(command())
