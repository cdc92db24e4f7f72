"""Networks of eriklindernoren/PyTorch-GAN, as pushed to the Hub by the HugGAN sprint
(huggingface/community-events ``huggan/pytorch``) and copied by wangguanan's course code.

Only the networks whose layer sequence differs from junyanz's live here: the pix2pix
``GeneratorUNet`` (fixed widths, skip concatenated *after* the up-sampled features, a final
nearest-upsample + zero-pad + 4×4 conv) and the PatchGAN ``Discriminator``. Their ResNet generator is
:class:`~i2i_models.networks.resnet.ResnetGenerator` with ``upsample="nearest"`` (the loader maps its keys).
Key layout is the original (``down1.model.0.weight`` …, ``final.2.weight``; ``model.<i>``).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .common import Generator, Network


class _Down(nn.Module):
    def __init__(self, in_size: int, out_size: int, normalize: bool = True, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_size, out_size, 4, 2, 1, bias=False)]
        if normalize:
            layers.append(nn.InstanceNorm2d(out_size))
        layers.append(nn.LeakyReLU(0.2))
        if dropout:
            layers.append(nn.Dropout(dropout))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def stream(self, g, x):
        return g.build(self.model, x)


class _Up(nn.Module):
    def __init__(self, in_size: int, out_size: int, dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.ConvTranspose2d(in_size, out_size, 4, 2, 1, bias=False),
                                   nn.InstanceNorm2d(out_size), nn.ReLU(inplace=True)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.model(x), skip), 1)

    def stream(self, g, x, skip):
        return g.cat([g.build(self.model, x), skip])


class PyTorchGANUnetGenerator(Generator):
    """PyTorch-GAN / HugGAN pix2pix ``GeneratorUNet``: [B, input_nc, H, W] in [-1, 1] -> [B, output_nc, H, W].

    8 down-samplings with hard-coded widths 64…512 (H and W multiples of 256); InstanceNorm without
    parameters; Dropout(0.5) in down4–8 and up1–4 (inactive in ``eval()``, which HugGAN's
    ``from_pretrained`` calls).
    """

    arch = "pytorchgan_unet"
    multiple = 256  # 8 down-samplings
    memory_factor = 12

    def __init__(self, input_nc: int = 3, output_nc: int = 3):
        super().__init__()
        self._remember(locals())
        self.down1 = _Down(input_nc, 64, normalize=False)
        self.down2 = _Down(64, 128)
        self.down3 = _Down(128, 256)
        self.down4 = _Down(256, 512, dropout=0.5)
        self.down5 = _Down(512, 512, dropout=0.5)
        self.down6 = _Down(512, 512, dropout=0.5)
        self.down7 = _Down(512, 512, dropout=0.5)
        self.down8 = _Down(512, 512, normalize=False, dropout=0.5)
        self.up1 = _Up(512, 512, dropout=0.5)
        self.up2 = _Up(1024, 512, dropout=0.5)
        self.up3 = _Up(1024, 512, dropout=0.5)
        self.up4 = _Up(1024, 512, dropout=0.5)
        self.up5 = _Up(1024, 256)
        self.up6 = _Up(512, 128)
        self.up7 = _Up(256, 64)
        self.final = nn.Sequential(nn.Upsample(scale_factor=2), nn.ZeroPad2d((1, 0, 1, 0)),
                                   nn.Conv2d(128, output_nc, 4, padding=1), nn.Tanh())
        self.input_nc, self.output_nc = input_nc, output_nc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d1 = self.down1(x)
        d2 = self.down2(d1)
        d3 = self.down3(d2)
        d4 = self.down4(d3)
        d5 = self.down5(d4)
        d6 = self.down6(d5)
        d7 = self.down7(d6)
        d8 = self.down8(d7)
        u = self.up1(d8, d7)
        u = self.up2(u, d6)
        u = self.up3(u, d5)
        u = self.up4(u, d4)
        u = self.up5(u, d3)
        u = self.up6(u, d2)
        u = self.up7(u, d1)
        return self.final(u)

    @classmethod
    def examples(cls) -> list[dict]:
        return [dict(input_nc=3, output_nc=3)]

    def stream(self, g, x, labels=None):
        """Exact streamed tiles: the same skip wiring as :meth:`forward`."""
        ds = []
        for k in range(1, 9):
            x = getattr(self, f"down{k}").stream(g, x)
            ds.append(x)
        u = ds[-1]
        for k in range(1, 8):
            u = getattr(self, f"up{k}").stream(g, u, ds[-1 - k])
        return g.build(self.final, u)


class PyTorchGANDiscriminator(Network):
    """PyTorch-GAN / HugGAN PatchGAN: four ``[conv4 s2, (IN), LReLU(0.2)]`` blocks, ZeroPad(1,0,1,0), conv4 -> 1.

    pix2pix's takes ``cat(A, B)`` (``input_nc`` = 2 × image channels) and its last conv has no bias;
    CycleGAN's takes one image and its last conv has a bias. Output: logits [B, 1, H/16, W/16].
    """

    arch = "pytorchgan_d"
    role = "discriminator"

    def __init__(self, input_nc: int = 3, final_bias: bool = True):
        super().__init__()
        self._remember(locals())
        layers: list[nn.Module] = []
        cin = input_nc
        for cout, normalize in ((64, False), (128, True), (256, True), (512, True)):
            layers.append(nn.Conv2d(cin, cout, 4, stride=2, padding=1))
            if normalize:
                layers.append(nn.InstanceNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = cout
        layers += [nn.ZeroPad2d((1, 0, 1, 0)), nn.Conv2d(512, 1, 4, padding=1, bias=final_bias)]
        self.model = nn.Sequential(*layers)
        self.input_nc = input_nc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
