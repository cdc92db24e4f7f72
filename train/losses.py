"""GAN objectives, the WGAN-GP gradient penalty, the total-variation prior and the image pool.

* ``vanilla``: BCE-with-logits (pix2pix, Isola et al. 2017);
* ``lsgan``: least squares, targets 1/0 (CycleGAN, Mao et al. 2017);
* ``wgangp``: Wasserstein critic ``-E[D(real)] + E[D(fake)]`` + ``lambda_gp``·penalty (StarGAN, Gulrajani et al. 2017);
* ``hinge``: ``E[relu(1 - D(real))] + E[relu(1 + D(fake))]``, generator ``-E[D(fake)]`` (Lim & Ye 2017).

Discriminator outputs may be tensors or lists of tensors (multi-scale); losses average over the list.
Also pix2pixHD's feature-matching loss (:func:`feature_matching`) and VGG perceptual loss (:class:`VGGLoss`).
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


def feature_matching(fake: list[list[torch.Tensor]], real: list[list[torch.Tensor]]) -> torch.Tensor:
    """pix2pixHD's discriminator feature-matching loss (Wang et al., CVPR 2018, eq. 4; NVIDIA
    ``Pix2PixHDModel.forward``): ``sum_i sum_j (1/num_D)·(4/(n_layers_D+1))·L1(D_i^j(fake), D_i^j(real))`` over
    scales i and every layer j but the last (the logits), ``real`` detached. ``fake``/``real``: per scale the
    list of layer outputs (:meth:`~i2i_models.networks.MultiscaleDiscriminator.features`); one scale may be
    given as a plain list. Returns a scalar (times ``lambda_feat`` in the recipe)."""
    if fake and torch.is_tensor(fake[0]):
        fake, real = [fake], [real]
    num_D = len(fake)
    loss = fake[0][0].new_zeros((), dtype=torch.float32)
    for f_scale, r_scale in zip(fake, real):
        feat_weight = 4.0 / (len(f_scale) - 1)  # n_layers_D + 1 intermediate maps
        for f, r in zip(f_scale[:-1], r_scale[:-1]):
            loss = loss + (feat_weight / num_D) * F.l1_loss(f.float(), r.detach().float())
    return loss


VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512)
VGG_SLICES = (2, 7, 12, 21, 30)  # relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 (ends of NVIDIA's Vgg19 slices)


class VGGLoss(torch.nn.Module):
    """pix2pixHD's perceptual loss (NVIDIA ``VGGLoss``): ``sum_k w_k·L1(VGG19_k(fake), VGG19_k(real))`` at relu1_1
    … relu5_1 with weights 1/32, 1/16, 1/8, 1/4, 1, on images in [-1, 1] as NVIDIA feeds them (no ImageNet
    normalisation). [B, 3, H, W] inputs.

    The ImageNet weights are not downloaded: ``weights`` is a file the user supplies, torchvision's
    ``vgg19-dcbb9e9d.pth`` (a state dict with ``features.<i>.weight``/``bias`` keys; the classifier is
    ignored) or a ``.safetensors`` with the same keys; read with ``weights_only=True``. Raises ``ValueError``
    when the file lacks a VGG19 layer or has other shapes."""

    def __init__(self, weights: str):
        super().__init__()
        from i2i_models.state_dicts import read_state_dict

        layers: list[torch.nn.Module] = []
        c = 3
        for v in VGG19_CFG:
            if v == "M":
                layers.append(torch.nn.MaxPool2d(2, 2))
            else:
                layers += [torch.nn.Conv2d(c, v, 3, padding=1), torch.nn.ReLU(inplace=False)]
                c = v
        self.features = torch.nn.Sequential(*layers)
        sd = read_state_dict(weights)
        sd = {k[len("features."):]: v for k, v in sd.items() if k.startswith("features.")}
        want = self.features.state_dict()
        missing = sorted(set(want) - set(sd), key=lambda k: int(k.split(".")[0]))
        if missing:
            raise ValueError(f"{weights} is not a VGG19 weights file: no features.{missing[0]} (expected torchvision's "
                             f"vgg19 state dict, keys features.<i>.weight/bias)")
        bad = [k for k in want if sd[k].shape != want[k].shape]
        if bad:
            raise ValueError(f"{weights}: features.{bad[0]} has shape {tuple(sd[bad[0]].shape)}, VGG19's is "
                             f"{tuple(want[bad[0]].shape)}")
        self.features.load_state_dict({k: sd[k].float() for k in want})
        self.requires_grad_(False).eval()
        self.weights = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)

    def train(self, mode: bool = True):  # always in eval mode (no dropout/BN here, but keep it fixed)
        return super().train(False)

    def _slices(self, x: torch.Tensor) -> list[torch.Tensor]:
        out, start = [], 0
        for end in VGG_SLICES:
            x = self.features[start:end](x)
            out.append(x)
            start = end
        return out

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        loss = fake.new_zeros((), dtype=torch.float32)
        with torch.no_grad():
            real_f = self._slices(real.float())
        for w, f, r in zip(self.weights, self._slices(fake.float()), real_f):
            loss = loss + w * F.l1_loss(f, r)
        return loss


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
