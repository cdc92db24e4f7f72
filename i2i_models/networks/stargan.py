"""StarGAN generator and discriminator (Choi et al., CVPR 2018, appendix; yunjey/stargan ``model.py``).

Module layout and state-dict keys are yunjey's (``main.<i>``, ``main.<i>.main.<j>``, ``conv1``,
``conv2``), so ``<step>-G.ckpt`` / ``<step>-D.ckpt`` files load without key mapping.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .common import Generator, InstanceNormStats, Network, check_attention, check_choice, init_attention_bias, upsample_conv, UPSAMPLES


def _in(dim: int, track: bool, use_running: bool) -> nn.Module:
    return InstanceNormStats(dim, track_running_stats=track, use_running_stats=use_running)


class ResidualBlock(nn.Module):
    """``x + main(x)``, ``main = [conv3, IN, ReLU, conv3, IN]`` (convs without bias)."""

    def __init__(self, dim: int, track: bool, use_running: bool):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, 3, stride=1, padding=1, bias=False), _in(dim, track, use_running), nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, stride=1, padding=1, bias=False), _in(dim, track, use_running))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)

    def stream(self, g, x):
        """Exact streamed tiles: the residual sum, materialised (see :mod:`i2i_models.streaming`)."""
        return g.add(x, g.build(self.main, x))


class StarGANGenerator(Generator):
    """StarGAN generator ``G(x, c)``: x [B, input_nc, H, W] in [-1, 1], c [B, c_dim] target labels
    (float; {0, 1} for trained attributes, other magnitudes extrapolate) -> [B, output_nc, H, W] in [-1, 1].

    The label is tiled to [B, c_dim, H, W] and concatenated **after** the image channels (yunjey).
    ``c_dim = 0`` gives a plain image-to-image generator (the wangguanan CycleGAN generator).

    Args:
        conv_dim: filters of the first layer; repeat_num: residual blocks (6 in the paper).
        track_running_stats: the InstanceNorm layers carry running statistics (yunjey's pretrained files
            do, PyTorch 0.3); use_running_stats: use them in ``eval()`` (wangguanan CycleGAN). The
            default, and yunjey's runtime behaviour, is per-image statistics.
        upsample: ``transpose`` (ConvTranspose 4×4, the paper) | ``nearest`` (nearest ×2 + conv3).
        attention_mask: the last conv (then with a bias) also predicts a mask A and the output is
            ``A·x + (1−A)·C`` (GANimation eq. 1, :func:`~i2i_models.networks.common.attention_output`):
            unedited pixels stay the input's. Off by default (the paper's network).

    H and W must be multiples of 4. Raises ``ValueError`` when ``c`` does not match ``c_dim``.
    """

    arch = "stargan_g"
    multiple, smallest = 4, 8  # two stride-2 layers; the residual trunk's InstanceNorm needs >1 pixel

    def __init__(self, conv_dim: int = 64, c_dim: int = 5, repeat_num: int = 6, input_nc: int = 3,
                 output_nc: int = 3, track_running_stats: bool = False, use_running_stats: bool = False,
                 upsample: str = "transpose", attention_mask: bool = False):
        super().__init__()
        check_choice("upsample", upsample, UPSAMPLES)
        last_nc = check_attention(attention_mask, input_nc, output_nc)
        self._remember(locals())
        t, u = track_running_stats, use_running_stats
        layers: list[nn.Module] = [nn.Conv2d(input_nc + c_dim, conv_dim, 7, stride=1, padding=3, bias=False),
                                   _in(conv_dim, t, u), nn.ReLU(inplace=True)]
        cur = conv_dim
        for _ in range(2):
            layers += [nn.Conv2d(cur, cur * 2, 4, stride=2, padding=1, bias=False), _in(cur * 2, t, u),
                       nn.ReLU(inplace=True)]
            cur *= 2
        for _ in range(repeat_num):
            layers.append(ResidualBlock(cur, t, u))
        for _ in range(2):
            layers += [upsample_conv(cur, cur // 2, upsample, kernel_size=4, padding=1, bias=False),
                       _in(cur // 2, t, u), nn.ReLU(inplace=True)]
            cur //= 2
        layers += [nn.Conv2d(cur, last_nc, 7, stride=1, padding=3, bias=attention_mask),
                   nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.input_nc, self.output_nc, self.c_dim = input_nc, output_nc, c_dim
        self.attention_mask = attention_mask
        if attention_mask:
            init_attention_bias(self)

    @classmethod
    def examples(cls) -> list[dict]:
        return [dict(conv_dim=8, c_dim=3, repeat_num=2, upsample="nearest"),
                dict(conv_dim=8, c_dim=3, repeat_num=1, upsample="transpose", attention_mask=True),
                dict(conv_dim=8, c_dim=0, repeat_num=1, track_running_stats=True, use_running_stats=True)]

    @property
    def body(self) -> nn.Module:
        return self.main

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None, return_mask: bool = False):
        """``G(x, c)`` [B, output_nc, H, W]; with ``return_mask`` (attention models only) also the mask
        A [B, 1, H, W] in [0, 1] (1 = copy the input), for a mask penalty in training."""
        return self._finish(x, self.main(self.body_input(x, c)), return_mask)


class StarGANDiscriminator(Network):
    """StarGAN discriminator: x [B, input_nc, image_size, image_size] in [-1, 1] ->
    (out_src [B, 1, image_size/64, image_size/64] PatchGAN logits, out_cls [B, c_dim] attribute logits).

    ``main`` = repeat_num × [conv4 s2 (bias), LeakyReLU(0.01)]; ``conv1`` (3×3, no bias) gives the
    real/fake map, ``conv2`` (kernel image_size/2**repeat_num, no bias) the attribute logits. The
    classifier needs exactly ``image_size`` inputs (resize first); raises ``ValueError`` otherwise.
    """

    arch = "stargan_d"
    role = "discriminator"

    def __init__(self, image_size: int = 128, conv_dim: int = 64, c_dim: int = 5, repeat_num: int = 6,
                 input_nc: int = 3):
        super().__init__()
        self._remember(locals())
        if image_size % (2 ** repeat_num):
            raise ValueError(f"image_size={image_size} must be a multiple of 2**repeat_num={2 ** repeat_num}")
        layers: list[nn.Module] = [nn.Conv2d(input_nc, conv_dim, 4, stride=2, padding=1), nn.LeakyReLU(0.01)]
        cur = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(cur, cur * 2, 4, stride=2, padding=1), nn.LeakyReLU(0.01)]
            cur *= 2
        k = image_size // 2 ** repeat_num
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(cur, 1, 3, stride=1, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cur, c_dim, k, bias=False)
        self.image_size, self.c_dim, self.input_nc = image_size, c_dim, input_nc

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(f"StarGAN discriminator takes {self.image_size}x{self.image_size} images, got "
                             f"{tuple(x.shape[-2:])}; resize first")
        h = self.main(x)
        return self.conv1(h), self.conv2(h).view(x.size(0), -1)
