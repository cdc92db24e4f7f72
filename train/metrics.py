"""Image-quality metrics of the evaluation protocol (the quality issue's table):

images in [0, 1] RGB (RGBA composited on white, resized with PIL bicubic to the run's size), per image
L1 (mean absolute error) and PSNR (capped at 60 dB), SSIM with an 11×11 Gaussian window (σ = 1.5) and
*valid* filtering, averaged over channels; then each metric averaged over images.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

PSNR_CAP = 60.0


def _check(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape or x.dim() != 4:
        raise ValueError(f"metrics need two [B, C, H, W] tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")


def l1(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image mean absolute error of [B, C, H, W] images in [0, 1] -> [B]."""
    _check(x, y)
    return (x.double() - y.double()).abs().flatten(1).mean(1)


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB (peak 1.0, capped at 60 dB) -> [B]."""
    _check(x, y)
    mse = ((x.double() - y.double()) ** 2).flatten(1).mean(1)
    out = 10 * torch.log10(1.0 / mse.clamp_min(1e-30))
    return out.clamp(max=PSNR_CAP)


def _gauss(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    ax = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(ax ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    return torch.outer(g, g)


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM (Wang et al. 2004; 11×11 Gaussian σ=1.5, valid filtering, K1=0.01, K2=0.03, L=1),
    averaged over channels -> [B]. Images smaller than 11 px are compared with a window of their size."""
    _check(x, y)
    x, y = x.double(), y.double()
    C = x.shape[1]
    k = min(11, x.shape[-1], x.shape[-2])
    w = _gauss(k, 1.5).to(x.device).expand(C, 1, k, k)

    def f(t):
        return F.conv2d(t, w, groups=C)

    mu_x, mu_y = f(x), f(y)
    sxx = f(x * x) - mu_x ** 2
    syy = f(y * y) - mu_y ** 2
    sxy = f(x * y) - mu_x * mu_y
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    m = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (sxx + syy + c2))
    return m.flatten(2).mean(2).mean(1)


def image_metrics(pred: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """``{"l1", "psnr", "ssim"}`` per image for [B, C, H, W] tensors in [0, 1]."""
    return {"l1": l1(pred, target), "psnr": psnr(pred, target), "ssim": ssim(pred, target)}


def locality(pred: torch.Tensor, source: torch.Tensor, target: torch.Tensor, keep_tol: float = 2 / 255,
             change_tol: float = 8 / 255) -> dict[str, torch.Tensor]:
    """How much an edit or translation leaves alone, per image, for [B, C, H, W] tensors in [0, 1]:

    * ``keep_l1``: mean |pred − source| over the pixels the true target keeps (|target − source| ≤ ``keep_tol``
      in every channel; 0 for an image without such pixels) — change where nothing should change;
    * ``changed``: share of pixels the prediction moves by more than ``change_tol`` (any channel), beside
      ``true_changed``, the same share for the true target.
    Thresholds in [0, 1] units (2 and 8 steps of 8 bits)."""
    _check(pred, source)
    _check(target, source)
    keep = ((target - source).abs().amax(1) <= keep_tol).float()  # [B, H, W]
    diff = (pred - source).abs()
    keep_l1 = (diff.mean(1) * keep).flatten(1).sum(1) / keep.flatten(1).sum(1).clamp(min=1)
    return {"keep_l1": keep_l1, "changed": (diff.amax(1) > change_tol).float().flatten(1).mean(1),
            "true_changed": ((target - source).abs().amax(1) > change_tol).float().flatten(1).mean(1)}


class MeanMeter:
    """Averages per-image metric tensors over a dataset."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.n = 0

    def add(self, values: dict[str, torch.Tensor]) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v.sum())
        self.n += int(next(iter(values.values())).numel())

    def result(self, prefix: str = "") -> dict[str, float]:
        return {f"{prefix}{k}": (v / self.n if self.n else math.nan) for k, v in self.sums.items()}
