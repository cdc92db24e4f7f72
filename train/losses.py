"""GAN objectives, the WGAN-GP gradient penalty, the total-variation prior and the image pool.

* ``vanilla``: BCE-with-logits (pix2pix, Isola et al. 2017);
* ``lsgan``: least squares, targets 1/0 (CycleGAN, Mao et al. 2017);
* ``wgangp``: Wasserstein critic ``-E[D(real)] + E[D(fake)]`` + ``lambda_gp``·penalty (StarGAN, Gulrajani et al. 2017);
* ``hinge``: ``E[relu(1 - D(real))] + E[relu(1 + D(fake))]``, generator ``-E[D(fake)]`` (Lim & Ye 2017).

Discriminator outputs may be tensors or lists of tensors (multi-scale); losses average over the list.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

GAN_MODES = ("vanilla", "lsgan", "wgangp", "hinge")


class GANLoss:
    def __init__(self, gan_mode: str):
        if gan_mode not in GAN_MODES:
            raise ValueError(f"gan_mode must be one of {GAN_MODES}, got {gan_mode!r}")
        self.mode = gan_mode

    def _one(self, pred: torch.Tensor, real: bool, for_discriminator: bool) -> torch.Tensor:
        pred = pred.float()
        if self.mode == "vanilla":
            target = torch.ones_like(pred) if real else torch.zeros_like(pred)
            return F.binary_cross_entropy_with_logits(pred, target)
        if self.mode == "lsgan":
            return F.mse_loss(pred, torch.full_like(pred, 1.0 if real else 0.0))
        if self.mode == "wgangp":
            return -pred.mean() if real else pred.mean()
        if for_discriminator:  # hinge
            return F.relu(1 - pred).mean() if real else F.relu(1 + pred).mean()
        return -pred.mean()

    def __call__(self, pred, real: bool, for_discriminator: bool = False) -> torch.Tensor:
        preds = pred if isinstance(pred, (list, tuple)) else [pred]
        return sum(self._one(p, real, for_discriminator) for p in preds) / len(preds)


def gradient_penalty(D, real: torch.Tensor, fake: torch.Tensor, output_index: int | None = None) -> torch.Tensor:
    """WGAN-GP: ``E[(||∇_x̂ D(x̂)||₂ - 1)²]`` at random interpolates x̂ of real and fake (fp32, outside autocast,
    so the penalty is exact under mixed precision). ``output_index`` picks the adversarial head when D
    returns several outputs (StarGAN: 0)."""
    with torch.autocast(real.device.type, enabled=False):
        alpha = torch.rand(real.size(0), 1, 1, 1, device=real.device)
        x = (alpha * real.detach().float() + (1 - alpha) * fake.detach().float()).requires_grad_(True)
        out = D(x)
        if output_index is not None:
            out = out[output_index]
        outs = out if isinstance(out, (list, tuple)) else [out]
        grads = torch.autograd.grad([o.float().sum() for o in outs], x, create_graph=True)[0]
        return ((grads.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic L1 total variation of images ``x`` [B, C, H, W] (any value range; ours are [-1, 1]):
    ``mean|x[..., i+1, j] - x[..., i, j]| + mean|x[..., i, j+1] - x[..., i, j]|``, a float32 scalar in
    the units of ``x`` per pixel step (0 for a flat image; 4 for a one-pixel [-1, 1] checkerboard, 2 per
    direction).

    The smoothness prior of Rudin, Osher & Fatemi (1992), used as a regulariser on generated images by
    Johnson et al. (ECCV 2016, "Perceptual losses", Sec. 3.3). Its gradient has the same size for a small
    step as for a large one, so it flattens low-amplitude grain in flat regions while an edge the other
    losses ask for survives. Raises ValueError for fewer than 2 rows or columns."""
    if x.dim() != 4 or x.shape[-1] < 2 or x.shape[-2] < 2:
        raise ValueError(f"total_variation needs images [B, C, H, W] with H, W >= 2, got {tuple(x.shape)}")
    x = x.float()
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


class ImagePool:
    """junyanz's history of generated images (Shrivastava et al. 2017): with probability 0.5 the
    discriminator sees an older fake instead of the newest one. Its randomness has its own generator
    and its content is part of the training state (exact resume)."""

    def __init__(self, pool_size: int, seed: int = 0):
        self.pool_size = pool_size
        self.images: list[torch.Tensor] = []
        self.rng = random.Random(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.pool_size == 0:
            return images
        out = []
        for im in images.detach():
            im = im.unsqueeze(0)
            if len(self.images) < self.pool_size:
                self.images.append(im.clone())
                out.append(im)
            elif self.rng.uniform(0, 1) > 0.5:
                j = self.rng.randint(0, self.pool_size - 1)
                old = self.images[j].clone()
                self.images[j] = im.clone()
                out.append(old)
            else:
                out.append(im)
        return torch.cat(out, 0)

    def state_dict(self) -> dict:
        return {"images": [t.cpu() for t in self.images], "rng": self.rng.getstate()}

    def load_state_dict(self, state: dict, device) -> None:
        self.images = [t.to(device) for t in state["images"]]
        self.rng.setstate(_tuplify(state["rng"]))


def _tuplify(x):
    return tuple(_tuplify(v) for v in x) if isinstance(x, (list, tuple)) else x
