"""``python -m train.cyclegan``: CycleGAN (Zhu et al., ICCV 2017) - two ResNet generators (G_A: A->B,
G_B: B->A), two PatchGANs, LSGAN, lambda_cycle 10, lambda_identity 0.5, image pools of 50; Adam 2e-4,
beta1 0.5 (the paper's defaults, as junyanz ``cycle_gan_model.py``). Three defaults differ, chosen by
measurement (README, Quality): nearest-upsample + conv generators, an EMA of their weights (0.999) and
``--reframe_A auto``, a zoom measured from the training images when the two styles frame their subjects
differently (1, i.e. off, for photos); ``--upsample transpose --ema 0 --reframe_A 1`` is the reference model.

``--conditional`` trains **one** generator and one discriminator for both directions instead, the domain
given as a code (+1 = B, -1 = A) - strength-controlled translation (``translate(..., strength=s)``, the
CycleGAN Translate node's ``strength``); see :meth:`CycleGANRecipe.conditional_step`.

With no --dataset it trains briefly on the embedded Twemoji <-> Noto sample (train/data). Data:
trainA/ trainB/ (valA/ valB/ with same-name pairs enable L1/PSNR/SSIM to the true translation), or a
Hub dataset (--dataset user/name --column_A a --column_B b).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F

from i2i_models import CycleGANModel
from i2i_models.networks import define_D, define_G

from . import data as D
from .config import MaskPenaltyOptions, PatchGANOptions, TrainConfig, build_parser, opt
from .loop import cli, run
from .losses import GANLoss, ImagePool, gradient_penalty, total_variation
from .evaluation import to_unit
from .metrics import MeanMeter, l1
from .recipe import Recipe, set_requires_grad


@dataclass
class CycleGANConfig(TrainConfig, PatchGANOptions, MaskPenaltyOptions):
    """python -m train.cyclegan options (the paper's defaults unless said)."""

    family: ClassVar[str] = "cyclegan"
    embedded_dataset: ClassVar[str] = "emoji_twemoji2noto"
    embedded_license: ClassVar[str | None] = "cc-by-4.0"
    preset: ClassVar[dict] = {"crop_size": 64, "netG": "resnet_6blocks", "ngf": 32, "ndf": 32, "max_steps": 150,
                              "batch_size": 2, "sample_every": 75, "val_every": 75, "save_every": 75, "print_every": 10,
                              "val_limit": 12, "domain_A": "twemoji", "domain_B": "noto"}
    lambda_cycle: float = opt(10.0, "weight of the cycle-consistency L1 losses", group="CycleGAN")
    lambda_identity: float = opt(0.5, "identity loss weight, relative to lambda_cycle (0 = off)", group="CycleGAN")
    lambda_gp: float = opt(10.0, "gradient penalty weight (gan_mode wgangp)", group="CycleGAN")
    reframe_A: str = opt("auto", "zoom domain-A images by this scale before G_A (and G_B's output by its inverse) when "
                                 "the two styles frame their subjects differently (a convolutional generator cannot learn "
                                 "a global scale); 'auto' (default) estimates it from the training images' subject extents "
                                 "on plain backgrounds (0.945 for Twemoji -> Noto) and stays at 1 for photos and for styles "
                                 "framed within 2%% of each other; 1 = off, the paper's model", group="CycleGAN")
    cycle_noise: float = opt(0.0, "standard deviation of Gaussian noise (in [-1, 1] units) added to each translated image "
                                  "before it is translated back for the cycle loss, so the generators cannot hide the "
                                  "source in an invisible pattern (Bashkirova et al. 2019); 0 = off, the paper's model",
                             group="CycleGAN")
    lambda_tv: float = opt(0.0, "weight of an L1 total-variation prior on both translated images (mean absolute "
                                "difference of neighbouring pixels, [-1, 1] units; Johnson et al. 2016): flattens the "
                                "low-amplitude grain a PatchGAN leaves in flat fills; 0 = off, the paper's model",
                           group="CycleGAN")
    pool_size: int = opt(50, "image pool of previously generated images (0 = off)", group="CycleGAN")
    column_A: str = opt("A", "Hub dataset: column with domain A images", group="CycleGAN")
    column_B: str = opt("B", "Hub dataset: column with domain B images", group="CycleGAN")
    domain_A: str | None = opt(None, "name of domain A (e.g. horse), shown in ComfyUI", group="CycleGAN")
    domain_B: str | None = opt(None, "name of domain B (e.g. zebra)", group="CycleGAN")
    conditional: bool = opt(False, "one generator G(x, c) and one discriminator for both directions, the domain as "
                                   "a code c (+1 = B, -1 = A; a PatchGAN sees it as an extra channel), trained with the "
                                   "cycle losses both ways and a self-supervised term (an image asked for its own "
                                   "domain comes back unchanged). At test time the code is a strength: 0 unchanged, "
                                   "1 the trained translation, >1 exaggerated, the sign the direction (see "
                                   "--strength_control). ResNet generators", group="CycleGAN", flag="store_true")
    strength_control: str = opt("residual", "--conditional: how the code's magnitude acts. residual (default): the "
                                            "network translates with the code's sign and the magnitude s scales its "
                                            "change, x + s*(G(x) - x), and the --reframe_A zoom by reframe_A**code - "
                                            "gradual by construction; code: the network reads the magnitude itself "
                                            "(the first release's models), taught by the strength term "
                                            "(--lambda_strength; measured: still close to on/off after 1000 "
                                            "iterations)", group="CycleGAN", choices=["residual", "code"])
    lambda_strength: float = opt(10.0, "--conditional --strength_control code: weight of the strength term, L1 "
                                       "between G(x, s*c) for a random s in (0, 1) and the blend x + s*(G(x, c) - x) "
                                       "of the image and its full translation (held fixed); 0 = off", group="CycleGAN")

    @classmethod
    def _from_v1(cls, d):
        super()._from_v1(d)
        d.setdefault("reframe_A", "1")  # runs from before --reframe_A existed trained without the zoom

    @classmethod
    def migrations(cls):
        return {**super().migrations(), 2: cls._from_v2}

    @classmethod
    def _from_v2(cls, d):
        d.setdefault("strength_control", "code")  # conditional runs before --strength_control read the code


class CycleGANRecipe(Recipe):
    family = "cyclegan"
    optimizer_groups = {"G": ("G_A", "G_B", "generator"), "D": ("D_A", "D_B", "discriminator")}
    best_metric = ("AtoB_l1", "min")
    config = CycleGANConfig

    def reframe_scale(self) -> float:
        """``--reframe_A`` as a number: given, or estimated from the training images (``auto``). A conditional
        model zooms by ``reframe_A ** code`` (``--strength_control residual``); one that reads the code itself
        (``code``) has no zoom (1)."""
        spec = str(self.args.reframe_A).strip().lower()
        if self.args.conditional and self.args.strength_control == "code":
            if spec not in ("auto", "1", "1.0"):
                raise D.DataError(f"--reframe_A {self.args.reframe_A} cannot be used with --conditional "
                                  "--strength_control code; leave it out, or use --strength_control residual")
            return 1.0
        if spec != "auto":
            try:
                scale = float(spec)
            except ValueError:
                raise D.DataError(f"--reframe_A {self.args.reframe_A!r}: give a scale such as 0.95, 1 (off) or auto") from None
            if not scale > 0:
                raise D.DataError(f"--reframe_A {scale} must be > 0 (1 = off)")
            return scale
        scale, why = D.estimate_reframe(*D.domain_samples(self.train_dataset()))
        if self.dist.main:
            print(f"--reframe_A auto: {scale} ({why})", flush=True)
        return scale

    def build_model(self) -> CycleGANModel:
        a = self.args
        s = self.reframe_scale()
        if a.conditional:
            if a.input_nc != a.output_nc:
                raise D.DataError(f"--conditional needs the same channels in both domains (one generator serves both "
                                  f"directions); got --input_nc {a.input_nc} --output_nc {a.output_nc}")
            residual = a.strength_control == "residual"
            try:
                G = define_G(a.netG, a.input_nc, a.output_nc, a.ngf, a.norm, not a.no_dropout, a.upsample,
                             a.attention_mask, c_dim=1, residual_strength=residual,
                             **({"reframe_input": s} if residual and s != 1 else {}))
            except ValueError as e:
                raise D.DataError(f"--conditional: {e}") from None
            nets = {"generator": G,
                    "discriminator": define_D(a.netD, a.output_nc + 1, a.ndf, a.n_layers_D, a.norm, a.num_D,
                                              a.spectral_norm)}
        else:
            nets = self._two_generators(s)
        return CycleGANModel({"networks": {k: v.config for k, v in nets.items()}, "image_size": a.crop_size,
                              "domains": {"A": a.domain_A or "A", "B": a.domain_B or "B"}, "license": a.license,
                              "dataset": Path(str(a.dataset)).name})

    def _two_generators(self, s: float) -> dict:
        a = self.args
        return {"G_A": define_G(a.netG, a.input_nc, a.output_nc, a.ngf, a.norm, not a.no_dropout, a.upsample, a.attention_mask,
                               reframe_input=s),
                "G_B": define_G(a.netG, a.output_nc, a.input_nc, a.ngf, a.norm, not a.no_dropout, a.upsample, a.attention_mask,
                               reframe_output=1 / s),
                "D_A": define_D(a.netD, a.output_nc, a.ndf, a.n_layers_D, a.norm, a.num_D, a.spectral_norm),
                "D_B": define_D(a.netD, a.input_nc, a.ndf, a.n_layers_D, a.norm, a.num_D, a.spectral_norm)}

    def __init__(self, args, device, dist):
        super().__init__(args, device, dist)
        self._val = self._train = None
        self.gan = GANLoss(args.gan_mode)
        self.pool_A = ImagePool(args.pool_size, seed=args.seed * 2 + 1 + 1000 * dist.rank)
        self.pool_B = ImagePool(args.pool_size, seed=args.seed * 2 + 2 + 1000 * dist.rank)

    def train_dataset(self):
        """The training set, built once (``--reframe_A auto`` reads it before the loop does)."""
        a = self.args
        if self._train is None:
            self._train = (self.hub_pairs(a.train_split, self.train_transform()) if D.is_hub_dataset(a.dataset) else
                           D.UnpairedDataset(a.dataset, a.train_split, self.train_transform(), a.input_nc, a.output_nc))
        return self._train

    def val_dataset(self):
        if self._val is None and self.args.val_split and not D.is_hub_dataset(self.args.dataset):
            root, s = Path(self.args.dataset), self.args.val_split
            ds = D.NamedPairs(root / f"{s}A", root / f"{s}B", self.args.crop_size, self.args.input_nc,
                              self.args.output_nc, self.args.val_limit)
            self._val = ds if len(ds) else None
        return self._val

    def extra_state(self):
        return {"pool_A": self.pool_A.state_dict(), "pool_B": self.pool_B.state_dict()}

    def load_extra_state(self, state):
        if "pool_A" in state:
            self.pool_A.load_state_dict(state["pool_A"], self.device)
            self.pool_B.load_state_dict(state["pool_B"], self.device)

    def cycle_input(self, fake: torch.Tensor) -> torch.Tensor:
        """The translated image [B, C, H, W] in [-1, 1] as the reconstructing generator sees it: with
        ``--cycle_noise`` sigma, plus Gaussian noise of that standard deviation (in [-1, 1] units, gradient
        flows through). A generator can otherwise satisfy the cycle loss by hiding the source image in a
        low-amplitude high-frequency pattern (Chu et al. 2017, "CycleGAN, a master of steganography"); the
        noise drowns that channel (Bashkirova et al., "Adversarial self-defense for cycle-consistent GANs",
        NeurIPS 2019). On Twemoji -> Noto it did not change the validation SSIM (README, ablations). The noise
        comes from torch's global generator, whose state the training checkpoints keep."""
        sigma = self.args.cycle_noise
        return fake + sigma * torch.randn_like(fake) if sigma > 0 else fake

    @staticmethod
    def d_input(x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """The conditional discriminator's input: image [B, C, H, W] with the domain code [B, 1] as a constant
        extra channel -> [B, C+1, H, W] (the conditioning of conditional PatchGANs, e.g. pix2pix's
        ``cat(A, B)``)."""
        return torch.cat([x, code.to(x.dtype).view(-1, 1, 1, 1).expand(-1, 1, *x.shape[2:])], 1)

    def conditional_step(self, real_A: torch.Tensor, real_B: torch.Tensor) -> dict[str, float]:
        """One step of the conditional model (``--conditional``): one generator ``G(x, c)``, one PatchGAN
        ``D(cat(x, c))``, domain codes ``c = -1`` (A) / ``+1`` (B). With ``x = cat(A, B)`` and ``t`` the other
        domain's codes (+1 for the A half, -1 for the B half):

        * adversarial (LSGAN by default): ``D(G(x, t), t)`` judged real, per half as the two-generator model;
        * cycle (x -> y -> x and y -> x -> y): ``lambda_cycle · |G(G(x, t), -t) - x|``, each half;
        * self-supervised (the design notes' term; CycleGAN's identity loss in this model):
          ``lambda_cycle · lambda_identity · |G(x, -t) - x|``, each half, without the ``--reframe_A`` zoom (a
          real image already has its own domain's framing) - an image asked for its own domain comes back
          unchanged, which lets the model be used without knowing an input's domain. With ``--strength_control
          code`` the code is ``u·(-t)``, ``u ~ U[0, 1]`` per image (any strength of its own domain: no change);
        * strength (``--strength_control code`` only, ``--lambda_strength``): ``|G(x, s·t) - (x + s·(G(x, t) -
          x))|`` with ``s ~ U(0, 1)`` per image and the full translation held fixed - partial codes towards
          partial translations. ``residual`` generators give exactly that blend by construction
          (:meth:`~i2i_models.networks.common.Generator.strength_output`), so they need no such term;
        * discriminator: ``D(real_B, +1)``, ``D(real_A, -1)`` real, pooled fakes with their codes fake (0.5 each,
          junyanz), WGAN-GP optional.

        The generator runs on the batched halves (2B images per call, three calls — the same work as the two
        generators' six — and a fourth for the strength term). A ``residual`` generator applies the
        ``reframe_A ** code`` zoom itself: A images shrink by ``reframe_A`` before the translation to B, B
        images grow by its inverse before the translation to A (the two-generator model's zooms)."""
        a, dev = self.args, self.device
        B = real_A.shape[0]
        G, D_raw, dn = self.train_nets["generator"], self.nets["discriminator"], self.train_nets["discriminator"]
        ones = torch.ones(B, 1, device=dev)
        t = torch.cat([ones, -ones])  # the target domain of each image: A -> B (+1), B -> A (-1)
        x = torch.cat([real_A, real_B])
        losses = {}
        set_requires_grad([D_raw], False)
        with self.amp():
            loss_mask = 0.0
            if a.lambda_mask and getattr(self.nets["generator"], "attention_mask", False):
                fake, mask = G(x, t, return_mask=True)
                loss_mask = 2 * a.lambda_mask * mask.float().mean()
                losses["mask"] = loss_mask.item()
            else:
                fake = G(x, t)
            rec = G(self.cycle_input(fake), -t)
            loss_idt = 0.0
            code_mode = a.strength_control == "code"
            if a.lambda_identity > 0:
                same = G(x, -t * torch.rand(2 * B, 1, device=dev)) if code_mode else G(x, -t, reframe=False)
                w = a.lambda_cycle * a.lambda_identity
                li_A, li_B = (F.l1_loss(same[:B].float(), real_A.float()) * w,
                              F.l1_loss(same[B:].float(), real_B.float()) * w)
                loss_idt = li_A + li_B
                losses.update(idt_A=li_A.item(), idt_B=li_B.item())
            if code_mode and a.lambda_strength > 0:  # partial strengths between "unchanged" and the translation
                st = torch.rand(2 * B, 1, device=dev)
                blend = x + st.view(-1, 1, 1, 1) * (fake.detach() - x)
                loss_str = a.lambda_strength * F.l1_loss(G(x, t * st).float(), blend.float())
                loss_idt = loss_idt + loss_str
                losses["strength"] = loss_str.item()
            pred = D_raw(self.d_input(fake, t))
            loss_G_A = self.gan(_half(pred, 0, B), True)
            loss_G_B = self.gan(_half(pred, 1, B), True)
            loss_cyc_A = F.l1_loss(rec[:B].float(), real_A.float()) * a.lambda_cycle
            loss_cyc_B = F.l1_loss(rec[B:].float(), real_B.float()) * a.lambda_cycle
            loss_tv = 0.0
            if a.lambda_tv > 0:
                loss_tv = a.lambda_tv * (total_variation(fake[:B]) + total_variation(fake[B:]))
                losses["tv"] = loss_tv.item()
            loss_G = loss_G_A + loss_G_B + loss_cyc_A + loss_cyc_B + loss_idt + loss_mask + loss_tv
        self.step_opt("G", loss_G)
        if self.ema:
            self.update_ema()
        set_requires_grad([D_raw], True)
        fb, fa = self.pool_B.query(fake[:B].detach()), self.pool_A.query(fake[B:].detach())
        with self.amp():
            real_pred = dn(self.d_input(torch.cat([real_B, real_A]), t))
            fake_pred = dn(self.d_input(torch.cat([fb, fa]), t))
            loss_D_A = 0.5 * (self.gan(_half(real_pred, 0, B), True, True) + self.gan(_half(fake_pred, 0, B), False, True))
            loss_D_B = 0.5 * (self.gan(_half(real_pred, 1, B), True, True) + self.gan(_half(fake_pred, 1, B), False, True))
        if a.gan_mode == "wgangp":
            gp = gradient_penalty(lambda z: D_raw(self.d_input(z, t)), torch.cat([real_B, real_A]), torch.cat([fb, fa]))
            loss_D_A = loss_D_A + a.lambda_gp * gp
        self.step_opt("D", loss_D_A + loss_D_B)
        losses.update(G_A=loss_G_A.item(), G_B=loss_G_B.item(), cycle_A=loss_cyc_A.item(), cycle_B=loss_cyc_B.item(),
                      D_A=loss_D_A.item(), D_B=loss_D_B.item())
        return losses

    def train_step(self, batch, step: int) -> dict[str, float]:
        a, dev = self.args, self.device
        real_A, real_B = batch["A"].to(dev, non_blocking=True), batch["B"].to(dev, non_blocking=True)
        if a.conditional:
            return self.conditional_step(real_A, real_B)
        G_A, G_B = self.train_nets["G_A"], self.train_nets["G_B"]
        D_A, D_B = self.nets["D_A"], self.nets["D_B"]
        # generators (junyanz order: G step first, then D)
        set_requires_grad([D_A, D_B], False)
        with self.amp():
            losses = {}
            loss_mask = 0.0
            if a.lambda_mask and getattr(self.nets["G_A"], "attention_mask", False):
                (fake_B, mask_A), (fake_A, mask_B) = G_A(real_A, return_mask=True), G_B(real_B, return_mask=True)
                loss_mask = a.lambda_mask * (mask_A.float().mean() + mask_B.float().mean())
                losses["mask"] = loss_mask.item()
            else:
                fake_B, fake_A = G_A(real_A), G_B(real_B)
            rec_A = G_B(self.cycle_input(fake_B))
            rec_B = G_A(self.cycle_input(fake_A))
            loss_idt = 0.0
            if a.lambda_identity > 0:
                idt_A = G_A(real_B, reframe=False)  # a real target image already has the target's framing
                idt_B = G_B(real_A, reframe=False)
                li_A = F.l1_loss(idt_A.float(), real_B.float()) * a.lambda_cycle * a.lambda_identity
                li_B = F.l1_loss(idt_B.float(), real_A.float()) * a.lambda_cycle * a.lambda_identity
                loss_idt = li_A + li_B
                losses.update(idt_A=li_A.item(), idt_B=li_B.item())
            loss_G_A = self.gan(D_A(fake_B), True)
            loss_G_B = self.gan(D_B(fake_A), True)
            loss_cyc_A = F.l1_loss(rec_A.float(), real_A.float()) * a.lambda_cycle
            loss_cyc_B = F.l1_loss(rec_B.float(), real_B.float()) * a.lambda_cycle
            loss_tv = 0.0
            if a.lambda_tv > 0:
                loss_tv = a.lambda_tv * (total_variation(fake_B) + total_variation(fake_A))
                losses["tv"] = loss_tv.item()
            loss_G = loss_G_A + loss_G_B + loss_cyc_A + loss_cyc_B + loss_idt + loss_mask + loss_tv
        self.step_opt("G", loss_G)
        if self.ema:
            self.update_ema()
        # discriminators
        set_requires_grad([D_A, D_B], True)
        fb, fa = self.pool_B.query(fake_B.detach()), self.pool_A.query(fake_A.detach())
        dA, dB = self.train_nets["D_A"], self.train_nets["D_B"]
        with self.amp():
            loss_D_A = 0.5 * (self.gan(dA(real_B), True, True) + self.gan(dA(fb), False, True))
            loss_D_B = 0.5 * (self.gan(dB(real_A), True, True) + self.gan(dB(fa), False, True))
        if a.gan_mode == "wgangp":
            loss_D_A = loss_D_A + a.lambda_gp * gradient_penalty(D_A, real_B, fb)
            loss_D_B = loss_D_B + a.lambda_gp * gradient_penalty(D_B, real_A, fa)
        self.step_opt("D", loss_D_A + loss_D_B)
        losses.update(G_A=loss_G_A.item(), G_B=loss_G_B.item(), cycle_A=loss_cyc_A.item(), cycle_B=loss_cyc_B.item(),
                      D_A=loss_D_A.item(), D_B=loss_D_B.item())
        return losses

    def extra_metrics(self) -> dict[str, float]:
        """Cycle error of the validation images: L1 between A and G_B(G_A(A)), on [0, 1]."""
        ds = self.val_dataset()
        if ds is None:
            return {}
        cyc = MeanMeter()
        if self.args.conditional:
            G = self.generator("generator")
            for b in self.val_loader(ds):
                n = b["A"].shape[0]
                ones = torch.ones(n, 1)
                fake = self.run_eval(G, b["A"], ones)
                cyc.add({"l1": l1(to_unit(self.run_eval(G, fake, -ones)), to_unit(b["A"]))})
            return cyc.result("cycle_A_")
        GA, GB = self.generator("G_A"), self.generator("G_B")
        for b in self.val_loader(ds):
            cyc.add({"l1": l1(to_unit(self.run_eval(GB, self.run_eval(GA, b["A"]))), to_unit(b["A"]))})
        return cyc.result("cycle_A_")


def _half(pred, i: int, n: int):
    """The ``i``-th half (first ``n`` or last) of a discriminator's batched prediction (a tensor, or per-scale
    lists of them for multiscale PatchGANs)."""
    if isinstance(pred, (list, tuple)):
        return type(pred)(_half(p, i, n) for p in pred)
    return pred[:n] if i == 0 else pred[n:]


def parser():
    return build_parser(CycleGANConfig, f"python -m {__package__}.cyclegan", __doc__)


def main(argv=None):
    return run(CycleGANRecipe, argv)


def command() -> int:
    """The console script (``i2i-train-cyclegan``): :func:`main` with errors as one line."""
    return cli(main)


if __name__ == "__main__":
    sys.exit(command())
