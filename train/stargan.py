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

    @classmethod
    def has_data(cls, values):
        return values.get("dataset") is not None or values.get("image_dir") is not None

    def finalize(self) -> None:
        if self.image_dir and not self.dataset:
            self.dataset = str(Path(self.image_dir))
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

    def train_dataset(self):
        if getattr(self, "_train", None) is None:
            a = self.args
            self._train = self._make(a.train_split, self.train_transform(), with_pairs=bool(a.lambda_pair))
        return self._train

    def build_model(self) -> StarGANModel:
        a = self.args
        ds = self.train_dataset()
        attrs = list(ds.attributes)
        groups = parse_groups(a.one_hot_groups, attrs, strict="one_hot_groups" in a.explicit)
        c = len(attrs)
        G = StarGANGenerator(a.g_conv_dim, c, a.g_repeat_num, a.input_nc, a.output_nc, upsample=a.upsample,
                             attention_mask=a.attention_mask)
        Dn = StarGANDiscriminator(a.crop_size, a.d_conv_dim, c, a.d_repeat_num, a.input_nc)
        return StarGANModel({"networks": {"generator": G.config, "discriminator": Dn.config}, "attributes": attrs,
                             "attribute_groups": groups, "image_size": a.crop_size, "license": a.license,
                             "dataset": Path(str(a.dataset)).name})

    def __init__(self, args, device, dist):
        super().__init__(args, device, dist)
        self.gan = GANLoss(args.gan_mode)
        self._train = self._val = self._pairs = None
        self._last_g: dict[str, float] = {}

    def train_step(self, batch, step: int) -> dict[str, float]:
        a, dev = self.args, self.device
        x = batch["image"].to(dev, non_blocking=True)
        c_org = batch["label"].to(dev, non_blocking=True)
        c_trg = c_org[torch.randperm(x.size(0)).to(dev)]
        G, Dn = self.train_nets["generator"], self.train_nets["discriminator"]
        G_raw, D_raw = self.nets["generator"], self.nets["discriminator"]
        B = x.size(0)
        set_requires_grad([D_raw], True)
        with torch.no_grad(), self.amp():
            x_fake = G_raw(x, c_trg)
        with self.amp():
            src_real, cls_real = Dn(x)
            src_fake, _ = Dn(x_fake.detach())
            d_real = self.gan(src_real, True, True)
            d_fake = self.gan(src_fake, False, True)
            d_cls = F.binary_cross_entropy_with_logits(cls_real.float(), c_org, reduction="sum") / B
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
                    x_fake, mask = G(x, c_trg, return_mask=True)
                    g_mask = mask.float().mean()
                else:
                    x_fake = G(x, c_trg)
                src, cls = D_raw(x_fake)
                g_fake = self.gan(src, True)
                g_cls = F.binary_cross_entropy_with_logits(cls.float(), c_trg, reduction="sum") / B
                x_rec = G(x_fake, c_org)
                g_rec = F.l1_loss(x_rec.float(), x.float())
                g_loss = g_fake + a.lambda_rec * g_rec + a.lambda_cls * g_cls + a.lambda_mask * g_mask
                if a.lambda_id:  # (logged below under the same condition)
                    g_id = F.l1_loss(G(x, c_org).float(), x.float())
                    g_loss = g_loss + a.lambda_id * g_id
                if a.lambda_pair:
                    g_pair = self.pair_loss(G, batch)
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

    def pair_loss(self, G, batch) -> torch.Tensor:
        """Mean L1 (in [-1, 1] units) between ``G(x, c_pair)`` [B, C, H, W] and the ground-truth edit
        ``pair_image`` over the samples that have one (``has_pair``; 0 when none does) - pix2pix's L1 term on
        the edits a dataset knows, while the adversarial, classification and cycle terms keep working on all
        images. The whole batch goes through G (no data-dependent branch: every DDP rank runs the same graph)."""
        dev = self.device
        has = batch["has_pair"].to(dev, non_blocking=True)
        out = G(batch["image"].to(dev, non_blocking=True), batch["pair_label"].to(dev, non_blocking=True))
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

    def _group_read(self, probs: torch.Tensor, target: torch.Tensor, changed: torch.Tensor) -> torch.Tensor:
        """Per image: does the classifier read every changed attribute as in ``target``? (groups: argmax)."""
        attrs = self.model.attributes
        ok = torch.ones(probs.shape[0], dtype=torch.bool)
        groups = [[attrs.index(x) for x in g] for g in self.model.attribute_groups]
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
        Dn = self.nets["discriminator"]

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
            _, logits = self.run_eval(self.nets["discriminator"], b["image"])
            p = torch.sigmoid(logits.cpu())
            acc.add({"attr_acc": self._group_read(p, b["label"], torch.ones_like(b["label"], dtype=torch.bool)).double()})
        return acc.result()

    def sample_rows(self) -> list[list[torch.Tensor]]:
        """Each of four images, then the same image with single attributes switched on (its first two
        groups, three members each)."""
        ds = self.val_dataset() or self.train_dataset()
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


def parser():
    return build_parser(StarGANConfig, f"python -m {__package__}.stargan", __doc__)


def main(argv=None):
    return run(StarGANRecipe, argv)


def command() -> int:
    """The console script (``i2i-train-stargan``): :func:`main` with errors as one line."""
    return cli(main)


if __name__ == "__main__":
    sys.exit(command())
