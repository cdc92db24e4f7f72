"""PatchGAN discriminators: NLayer (70×70 PatchGAN for n_layers=3), PixelGAN, and multi-scale.

NLayer and Pixel follow junyanz ``networks.py`` layer for layer (keys ``model.<i>`` / ``net.<i>``);
the multi-scale discriminator is pix2pixHD's (Wang et al., CVPR 2018, §3.2): ``num_D`` NLayer
discriminators applied to the input down-sampled by 1, 2, 4, … (AvgPool 3×3, stride 2).
All take [B, input_nc, H, W] in [-1, 1] and return raw logits (no sigmoid); the GAN loss decides
how to read them (BCE-with-logits for vanilla, MSE for lsgan, identity for wgangp/hinge).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .common import Network, check_choice, conv_bias, norm_layer, NORMS


class NLayerDiscriminator(Network):
    """junyanz ``NLayerDiscriminator``: [B, input_nc, H, W] -> logits [B, 1, h, w].

    ``[conv4 s2 (bias), LReLU(0.2)]``, then ``n_layers-1`` × ``[conv4 s2, norm, LReLU]``, then
    ``[conv4 s1, norm, LReLU]`` and ``conv4 s1 -> 1`` (bias). Widths ``ndf·min(2**k, 8)``. With
    ``n_layers=3`` every output logit sees a 70×70 patch. For pix2pix ``input_nc`` is
    ``input_nc + output_nc`` of the generator, the input being ``cat(A, B)``.
    ``use_spectral_norm`` wraps every conv in spectral normalisation (Miyato et al., 2018).
    """

    arch = "nlayer"
    role = "discriminator"

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "batch",
                 use_spectral_norm: bool = False):
        super().__init__()
        check_choice("norm", norm, NORMS)
        self._remember(locals())
        use_bias = conv_bias(norm)
        sn = nn.utils.parametrizations.spectral_norm if use_spectral_norm else (lambda m: m)
        seq: list[nn.Module] = [sn(nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1)), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            seq += [sn(nn.Conv2d(ndf * prev, ndf * mult, 4, stride=2, padding=1, bias=use_bias)),
                    norm_layer(norm, ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        seq += [sn(nn.Conv2d(ndf * prev, ndf * mult, 4, stride=1, padding=1, bias=use_bias)),
                norm_layer(norm, ndf * mult), nn.LeakyReLU(0.2, True),
                sn(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))]
        self.model = nn.Sequential(*seq)
        self.input_nc = input_nc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's output, as pix2pixHD's ``getIntermFeat`` returns them: after each LeakyReLU
        (``n_layers + 1`` feature maps [B, C_k, h_k, w_k]) and, last, the logits [B, 1, h, w] (equal to
        :meth:`forward`). Used by the feature-matching loss (Wang et al. 2018, eq. 4)."""
        out = []
        for layer in self.model:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                out.append(x)
        out.append(x)
        return out


class PixelDiscriminator(Network):
    """junyanz ``PixelDiscriminator`` (1×1 PatchGAN, "PixelGAN"): [B, input_nc, H, W] -> logits [B, 1, H, W]."""

    arch = "pixel"
    role = "discriminator"

    def __init__(self, input_nc: int = 3, ndf: int = 64, norm: str = "batch"):
        super().__init__()
        check_choice("norm", norm, NORMS)
        self._remember(locals())
        use_bias = conv_bias(norm)
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, 1, stride=1, padding=0), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 1, stride=1, padding=0, bias=use_bias), norm_layer(norm, ndf * 2),
            nn.LeakyReLU(0.2, True), nn.Conv2d(ndf * 2, 1, 1, stride=1, padding=0, bias=use_bias))
        self.input_nc = input_nc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MultiscaleDiscriminator(Network):
    """pix2pixHD multi-scale discriminator: ``num_D`` NLayer PatchGANs at scales 1, 1/2, 1/4, …

    ``forward`` returns a list of ``num_D`` logit maps, finest first; GAN losses in ``train`` average
    over the list. Keys: ``discriminators.<k>.model.<i>``.
    """

    arch = "multiscale"
    role = "discriminator"

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "batch",
                 num_D: int = 2, use_spectral_norm: bool = False):
        super().__init__()
        self._remember(locals())
        if num_D < 1:
            raise ValueError(f"num_D={num_D} must be >= 1")
        self.discriminators = nn.ModuleList(
            NLayerDiscriminator(input_nc, ndf, n_layers, norm, use_spectral_norm) for _ in range(num_D))
        self.input_nc = input_nc

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for k, d in enumerate(self.discriminators):
            if k:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outs.append(d(x))
        return outs

    def features(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        """Per scale (finest first), every layer's output (:meth:`NLayerDiscriminator.features`; the last of
        each list is that scale's logits): what pix2pixHD's feature-matching loss compares."""
        outs = []
        for k, d in enumerate(self.discriminators):
            if k:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outs.append(d.features(x))
        return outs
