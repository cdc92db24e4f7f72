"""``python -m train.pix2pix``: pix2pix (Isola et al., CVPR 2017) - U-Net generator, conditional 70x70
PatchGAN on cat(A, B), vanilla GAN + lambda_L1 * L1; Adam 2e-4, beta1 0.5 (the paper's defaults).

pix2pixHD (Wang et al., CVPR 2018) with --netG global or local (NVIDIA's names and defaults: multi-scale
instance-norm discriminator, LSGAN, feature matching --lambda_feat 10, no L1; each overridable). Coarse to
fine as NVIDIA trains it: a global run at half size, then --netG local --load_pretrain <that run> with
--niter_fix_global steps that train only the outermost enhancer before all weights are fine-tuned.

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

import i2i_models
from i2i_models import Pix2PixModel
from i2i_models.networks import define_D, define_G

from . import data as D
from .config import PatchGANOptions, TrainConfig, build_parser, opt, redefault
from .loop import cli, run
from .losses import GANLoss, VGGLoss, feature_matching, gradient_penalty
from .recipe import Recipe, set_requires_grad
from .runs import UsageError


@dataclass
class Pix2PixConfig(TrainConfig, PatchGANOptions):
    """python -m train.pix2pix options (the paper's defaults unless said)."""

    family: ClassVar[str] = "pix2pix"
    embedded_dataset: ClassVar[str] = "emoji_line2color"
    embedded_license: ClassVar[str | None] = "cc-by-sa-4.0"
    preset: ClassVar[dict] = {"crop_size": 128, "netG": "unet_128", "max_steps": 200, "batch_size": 4, "sample_every": 100,
                              "val_every": 100, "save_every": 100, "print_every": 10, "val_limit": 12}
    netG: str = opt("unet_256", "generator: unet_128 | unet_256 | resnet_6blocks | resnet_9blocks | global | local "
                                "(pix2pixHD: global generator, or it plus local enhancers)", group="architecture")
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
    # pix2pixHD (NVIDIA/pix2pixHD option names and defaults)
    n_downsample_global: int = opt(4, "global generator: stride-2 down-samplings", group="pix2pixHD")
    n_blocks_global: int = opt(9, "global generator: residual blocks", group="pix2pixHD")
    n_local_enhancers: int = opt(1, "netG local: local enhancers (each doubles the resolution)", group="pix2pixHD")
    n_blocks_local: int = opt(3, "netG local: residual blocks per enhancer", group="pix2pixHD")
    niter_fix_global: int = opt(0, "netG local: steps that train only the outermost local enhancer (the global "
                                   "trunk, e.g. from --load_pretrain, frozen) before all weights train", group="pix2pixHD")
    load_pretrain: str | None = opt(None, "start the generator from this model (folder, file or run folder; e.g. a "
                                          "--netG global run for --netG local): every weight whose name and shape "
                                          "match is copied", group="pix2pixHD", metavar="MODEL")
    lambda_feat: float = opt(0.0, "weight of the discriminator feature-matching loss (default 10 with netG "
                                  "global/local, else 0)", group="pix2pixHD")
    vgg_weights: str | None = opt(None, "VGG19 ImageNet weights file (torchvision's vgg19-dcbb9e9d.pth or a "
                                        ".safetensors with its keys) for pix2pixHD's perceptual loss; it is never "
                                        "downloaded, so the loss is off without it", group="pix2pixHD", metavar="FILE")
    lambda_vgg: float = opt(10.0, "weight of the VGG loss (with --vgg_weights; NVIDIA uses lambda_feat)",
                            group="pix2pixHD")

    # NVIDIA's defaults where they differ from pix2pix's, applied to netG global/local unless given
    HD_DEFAULTS: ClassVar[dict] = {"netD": "multiscale", "num_D": 2, "norm": "instance", "gan_mode": "lsgan",
                                   "lambda_feat": 10.0, "lambda_L1": 0.0, "no_dropout": True}

    @property
    def hd(self) -> bool:
        return self.netG in ("global", "local")

    def finalize(self) -> None:
        super().finalize()
        if self.hd:
            for k, v in self.HD_DEFAULTS.items():
                if k not in self.explicit:
                    setattr(self, k, v)
        if self.niter_fix_global and self.netG != "local":
            raise UsageError("--niter_fix_global needs --netG local (it trains the local enhancer alone first)")
        if self.attention_mask and self.hd:
            raise UsageError(f"--attention_mask is for the U-Net and ResNet generators, not --netG {self.netG}")


class Pix2PixRecipe(Recipe):
    family = "pix2pix"
    optimizer_groups = {"G": ("generator",), "D": ("discriminator",)}
    best_metric = ("l1", "min")
    config = Pix2PixConfig

    def build_model(self) -> Pix2PixModel:
        a = self.args
        G = define_G(a.netG, a.input_nc, a.output_nc, a.ngf, a.norm, not a.no_dropout, a.upsample,
                     attention_mask=a.attention_mask, n_downsample_global=a.n_downsample_global,
                     n_blocks_global=a.n_blocks_global, n_local_enhancers=a.n_local_enhancers,
                     n_blocks_local=a.n_blocks_local)
        Dn = define_D(a.netD, a.input_nc + a.output_nc, a.ndf, a.n_layers_D, a.norm, a.num_D, a.spectral_norm)
        names = Path(str(a.dataset)).name
        return Pix2PixModel({"networks": {"generator": G.config, "discriminator": Dn.config},
                             "direction": a.direction, "image_size": a.crop_size, "license": a.license,
                             "domains": {"A": a.domain_A or "A", "B": a.domain_B or "B"}, "dataset": names})

    def __init__(self, args, device, dist):
        super().__init__(args, device, dist)
        self.gan = GANLoss(args.gan_mode)
        self.vgg = None
        self._val = self._train = None

    def setup(self, engine) -> None:
        super().setup(engine)
        a = self.args
        if a.vgg_weights:
            try:
                self.vgg = VGGLoss(a.vgg_weights).to(self.device)
            except (OSError, ValueError) as e:
                raise UsageError(f"--vgg_weights: {e}") from None
        if a.load_pretrain and not a.resume:
            try:
                src = i2i_models.load(a.load_pretrain, family="pix2pix")
            except i2i_models.I2IError as e:
                raise UsageError(f"--load_pretrain: {e}") from None
            if src.generator is None:
                raise UsageError(f"--load_pretrain {a.load_pretrain}: the model has no generator")
            n, total = engine.load_pretrained("generator", src.generator.state_dict())
            if not n:
                raise UsageError(f"--load_pretrain {a.load_pretrain}: none of its generator weights fits --netG "
                                 f"{a.netG} (for --netG local, the global run's ngf must be ngf x 2**n_local_enhancers "
                                 f"and its n_downsample_global/n_blocks_global the same)")
            print(f"load_pretrain: {n} of the generator's {total} tensors from {a.load_pretrain}", flush=True)

    def frozen(self, step: int) -> list:
        """The generator parameters not trained at ``step``: during the first ``niter_fix_global`` steps of a
        local-enhancer run, all but the outermost enhancer's (NVIDIA ``update_fixed_params``)."""
        a = self.args
        if a.netG != "local" or step >= a.niter_fix_global:
            return []
        keep = {id(p) for p in self.nets["generator"].enhancer_parameters()}
        return [p for p in self.nets["generator"].parameters() if id(p) not in keep]

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
        logs = {}
        with self.amp():
            fake_AB = torch.cat([real_A, fake_B], 1)
            if a.lambda_feat:
                fake_feats = _scales(D_raw.features(fake_AB))
                loss_G_GAN = self.gan([f[-1] for f in fake_feats], True)
                with torch.no_grad():
                    real_feats = _scales(D_raw.features(torch.cat([real_A, real_B], 1)))
                loss_G = loss_G_GAN + (feature_matching(fake_feats, real_feats) * a.lambda_feat)
                logs["G_feat"] = (loss_G - loss_G_GAN).item()
            else:
                loss_G_GAN = self.gan(D_raw(fake_AB), True)
                loss_G = loss_G_GAN
            if a.lambda_L1:
                loss_G_L1 = F.l1_loss(fake_B.float(), real_B.float()) * a.lambda_L1
                loss_G = loss_G + loss_G_L1
                logs["G_L1"] = loss_G_L1.item()
            if self.vgg is not None:
                loss_G_VGG = self.vgg(fake_B, real_B) * a.lambda_vgg
                loss_G = loss_G + loss_G_VGG
                logs["G_VGG"] = loss_G_VGG.item()
        self.step_opt("G", loss_G, self.frozen(step))
        set_requires_grad([D_raw], True)
        if self.ema:
            self.update_ema()
        return {"G_GAN": loss_G_GAN.item(), **logs, "D_real": loss_D_real.item(), "D_fake": loss_D_fake.item()}


def _scales(feats):
    """Discriminator features as a list per scale (a single PatchGAN gives one scale)."""
    return [feats] if feats and torch.is_tensor(feats[0]) else feats


def parser():
    return build_parser(Pix2PixConfig, f"python -m {__package__}.pix2pix", __doc__)


def main(argv=None):
    return run(Pix2PixRecipe, argv)


def command() -> int:
    """The console script (``i2i-train-pix2pix``): :func:`main` with errors as one line."""
    return cli(main)


if __name__ == "__main__":
    sys.exit(command())
