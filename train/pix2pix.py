"""``python -m train.pix2pix``: pix2pix (Isola et al., CVPR 2017) - U-Net generator, conditional 70x70
PatchGAN on cat(A, B), vanilla GAN + lambda_L1 * L1; Adam 2e-4, beta1 0.5 (the paper's defaults).

With no --dataset it trains briefly on the embedded OpenMoji line-art -> colour sample (train/data) and
prints where the model is. Data: A/<split>/ + B/<split>/ with the same file names, aligned A|B files,
or a Hub dataset (--dataset user/name --column_A input --column_B target).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F

from i2i_models import Pix2PixModel
from i2i_models.networks import define_D, define_G

from . import data as D
from .config import PatchGANOptions, TrainConfig, build_parser, opt, redefault
from .loop import cli, run
from .losses import GANLoss, gradient_penalty
from .recipe import Recipe, set_requires_grad


@dataclass
class Pix2PixConfig(TrainConfig, PatchGANOptions):
    """python -m train.pix2pix options (the paper's defaults unless said)."""

    family: ClassVar[str] = "pix2pix"
    embedded_dataset: ClassVar[str] = "emoji_line2color"
    embedded_license: ClassVar[str | None] = "cc-by-sa-4.0"
    preset: ClassVar[dict] = {"crop_size": 128, "netG": "unet_128", "max_steps": 200, "batch_size": 4, "sample_every": 100,
                              "val_every": 100, "save_every": 100, "print_every": 10, "val_limit": 12}
    netG: str = redefault(PatchGANOptions, "netG", "unet_256")
    norm: str = redefault(PatchGANOptions, "norm", "batch")
    no_dropout: bool = redefault(PatchGANOptions, "no_dropout", False)
    gan_mode: str = redefault(TrainConfig, "gan_mode", "vanilla")
    attention_init: float = redefault(TrainConfig, "attention_init", 0.98)
    lambda_L1: float = opt(100.0, "weight of the L1 loss to the target", group="pix2pix")
    lambda_gp: float = opt(10.0, "gradient penalty weight (gan_mode wgangp)", group="pix2pix")
    direction: str = opt("AtoB", "translate A->B or B->A", group="pix2pix", choices=["AtoB", "BtoA"])
    column_A: str = opt("A", "Hub dataset: column with the input images", group="pix2pix")
    column_B: str = opt("B", "Hub dataset: column with the target images", group="pix2pix")
    domain_A: str | None = opt(None, "name of the input domain (shown in ComfyUI and the card)", group="pix2pix")
    domain_B: str | None = opt(None, "name of the output domain", group="pix2pix")


class Pix2PixRecipe(Recipe):
    family = "pix2pix"
    optimizer_groups = {"G": ("generator",), "D": ("discriminator",)}
    best_metric = ("l1", "min")
    config = Pix2PixConfig

    def build_model(self) -> Pix2PixModel:
        a = self.args
        G = define_G(a.netG, a.input_nc, a.output_nc, a.ngf, a.norm, not a.no_dropout, a.upsample,
                     attention_mask=a.attention_mask)
        Dn = define_D(a.netD, a.input_nc + a.output_nc, a.ndf, a.n_layers_D, a.norm, a.num_D, a.spectral_norm)
        names = Path(str(a.dataset)).name
        return Pix2PixModel({"networks": {"generator": G.config, "discriminator": Dn.config},
                             "direction": a.direction, "image_size": a.crop_size, "license": a.license,
                             "domains": {"A": a.domain_A or "A", "B": a.domain_B or "B"}, "dataset": names})

    def __init__(self, args, device, dist):
        super().__init__(args, device, dist)
        self.gan = GANLoss(args.gan_mode)
        self._val = self._train = None

    # -- data
    def train_dataset(self):
        a = self.args
        if self._train is None:
            self._train = (self.hub_pairs(a.train_split, self.train_transform()) if D.is_hub_dataset(a.dataset) else
                           D.PairedDataset(a.dataset, a.train_split, self.train_transform(), a.direction, a.input_nc,
                                           a.output_nc))
        return self._train

    def val_dataset(self):
        if self._val is None:
            a = self.args
            if not a.val_split:
                return None
            try:
                t = D.eval_transform(a.crop_size)
                if D.is_hub_dataset(a.dataset):
                    ds = self.hub_pairs(a.val_split, t)
                else:
                    ds = D.PairedDataset(a.dataset, a.val_split, t, a.direction, a.input_nc, a.output_nc)
                ds = torch.utils.data.Subset(ds, range(min(len(ds), a.val_limit)))
            except D.DataError:
                return None
            self._val = ds
        return self._val

    # -- training
    def train_step(self, batch, step: int) -> dict[str, float]:
        a, dev = self.args, self.device
        real_A, real_B = batch["A"].to(dev, non_blocking=True), batch["B"].to(dev, non_blocking=True)
        G, Dn = self.train_nets["generator"], self.train_nets["discriminator"]
        D_raw = self.nets["discriminator"]
        with self.amp():
            fake_B = G(real_A)
        set_requires_grad([D_raw], True)
        with self.amp():
            pred_fake = Dn(torch.cat([real_A, fake_B.detach()], 1))
            pred_real = Dn(torch.cat([real_A, real_B], 1))
            loss_D_fake = self.gan(pred_fake, False, True)
            loss_D_real = self.gan(pred_real, True, True)
            loss_D = 0.5 * (loss_D_fake + loss_D_real)
        if a.gan_mode == "wgangp":
            loss_D = loss_D + a.lambda_gp * gradient_penalty(D_raw, torch.cat([real_A, real_B], 1),
                                                             torch.cat([real_A, fake_B], 1))
        self.step_opt("D", loss_D)
        set_requires_grad([D_raw], False)
        with self.amp():
            loss_G_GAN = self.gan(D_raw(torch.cat([real_A, fake_B], 1)), True)
            loss_G_L1 = F.l1_loss(fake_B.float(), real_B.float()) * a.lambda_L1
            loss_G = loss_G_GAN + loss_G_L1
        self.step_opt("G", loss_G)
        set_requires_grad([D_raw], True)
        if self.ema:
            self.update_ema()
        return {"G_GAN": loss_G_GAN.item(), "G_L1": loss_G_L1.item(), "D_real": loss_D_real.item(),
                "D_fake": loss_D_fake.item()}


def parser():
    return build_parser(Pix2PixConfig, f"python -m {__package__}.pix2pix", __doc__)


def main(argv=None):
    return run(Pix2PixRecipe, argv)


def command() -> int:
    """The console script (``i2i-train-pix2pix``): :func:`main` with errors as one line."""
    return cli(main)


if __name__ == "__main__":
    sys.exit(command())
