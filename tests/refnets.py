"""Independent re-statements of other codebases' networks, written from the layer sequences in
``../shared/reference/checkpoint-formats.md`` (§3 HugGAN/PyTorch-GAN, §5 wangguanan), used only to
make fixture checkpoints with the original key layout and the original forward pass. They share no
code with ``i2i_models`` on purpose: a test passes only if our loader's mapping reproduces them.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class HugGANGeneratorResNet(nn.Module):
    """PyTorch-GAN ``GeneratorResNet(input_shape, num_residual_blocks)``: ReflectionPad(C), IN, nearest upsampling."""

    def __init__(self, channels: int = 3, n: int = 9):
        super().__init__()

        class Block(nn.Module):
            def __init__(self, f):
                super().__init__()
                self.block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(f, f, 3), nn.InstanceNorm2d(f), nn.ReLU(True),
                                           nn.ReflectionPad2d(1), nn.Conv2d(f, f, 3), nn.InstanceNorm2d(f))

            def forward(self, x):
                return x + self.block(x)

        m = [nn.ReflectionPad2d(channels), nn.Conv2d(channels, 64, 7), nn.InstanceNorm2d(64), nn.ReLU(True)]
        f = 64
        for _ in range(2):
            m += [nn.Conv2d(f, f * 2, 3, stride=2, padding=1), nn.InstanceNorm2d(f * 2), nn.ReLU(True)]
            f *= 2
        m += [Block(f) for _ in range(n)]
        for _ in range(2):
            m += [nn.Upsample(scale_factor=2), nn.Conv2d(f, f // 2, 3, stride=1, padding=1), nn.InstanceNorm2d(f // 2),
                  nn.ReLU(True)]
            f //= 2
        m += [nn.ReflectionPad2d(channels), nn.Conv2d(f, channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*m)

    def forward(self, x):
        return self.model(x)


class HugGANGeneratorUNet(nn.Module):
    """PyTorch-GAN / HugGAN pix2pix ``GeneratorUNet``: skip concatenated after the up-sampled features."""

    def __init__(self, cin: int = 3, cout: int = 3):
        super().__init__()

        def down(i, o, norm=True, drop=0.0):
            mod = nn.Module()
            layers = [nn.Conv2d(i, o, 4, 2, 1, bias=False)] + ([nn.InstanceNorm2d(o)] if norm else []) + [nn.LeakyReLU(0.2)]
            layers += [nn.Dropout(drop)] if drop else []
            mod.model = nn.Sequential(*layers)
            return mod

        def up(i, o, drop=0.0):
            mod = nn.Module()
            layers = [nn.ConvTranspose2d(i, o, 4, 2, 1, bias=False), nn.InstanceNorm2d(o), nn.ReLU(True)]
            layers += [nn.Dropout(drop)] if drop else []
            mod.model = nn.Sequential(*layers)
            return mod

        self.down1, self.down2, self.down3 = down(cin, 64, False), down(64, 128), down(128, 256)
        self.down4, self.down5, self.down6, self.down7 = (down(256, 512, drop=.5), down(512, 512, drop=.5),
                                                          down(512, 512, drop=.5), down(512, 512, drop=.5))
        self.down8 = down(512, 512, False, .5)
        self.up1, self.up2, self.up3, self.up4 = up(512, 512, .5), up(1024, 512, .5), up(1024, 512, .5), up(1024, 512, .5)
        self.up5, self.up6, self.up7 = up(1024, 256), up(512, 128), up(256, 64)
        self.final = nn.Sequential(nn.Upsample(scale_factor=2), nn.ZeroPad2d((1, 0, 1, 0)), nn.Conv2d(128, cout, 4, padding=1),
                                   nn.Tanh())

    def forward(self, x):
        ds = []
        for k in range(1, 9):
            x = getattr(self, f"down{k}").model(x)
            ds.append(x)
        u = ds[-1]
        for k in range(1, 8):
            u = torch.cat((getattr(self, f"up{k}").model(u), ds[-1 - k]), 1)
        return self.final(u)


class HugGANDiscriminator(nn.Module):
    def __init__(self, cin: int = 3, final_bias: bool = True):
        super().__init__()
        layers, i = [], cin
        for o, norm in ((64, False), (128, True), (256, True), (512, True)):
            layers += [nn.Conv2d(i, o, 4, 2, 1)] + ([nn.InstanceNorm2d(o)] if norm else []) + [nn.LeakyReLU(0.2, True)]
            i = o
        layers += [nn.ZeroPad2d((1, 0, 1, 0)), nn.Conv2d(512, 1, 4, padding=1, bias=final_bias)]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class WangGenerator(nn.Module):
    """wangguanan ``Generator`` (cyclegan: class_num 0; stargan: class_num c): yunjey's layout under ``model.``."""

    def __init__(self, conv_dim: int = 16, layer_num: int = 3, class_num: int = 0):
        super().__init__()

        class Res(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.model = nn.Sequential(
                    nn.Conv2d(d, d, 3, 1, 1, bias=False), nn.InstanceNorm2d(d, affine=True, track_running_stats=True),
                    nn.ReLU(True), nn.Conv2d(d, d, 3, 1, 1, bias=False),
                    nn.InstanceNorm2d(d, affine=True, track_running_stats=True))

            def forward(self, x):
                return self.model(x) + x

        def inorm(d):
            return nn.InstanceNorm2d(d, affine=True, track_running_stats=True)

        L = [nn.Conv2d(3 + class_num, conv_dim, 7, 1, 3, bias=False), inorm(conv_dim), nn.ReLU(True)]
        d = conv_dim
        for _ in range(2):
            L += [nn.Conv2d(d, d * 2, 4, 2, 1, bias=False), inorm(d * 2), nn.ReLU(True)]
            d *= 2
        L += [Res(d) for _ in range(layer_num)]
        for _ in range(2):
            L += [nn.ConvTranspose2d(d, d // 2, 4, 2, 1, bias=False), inorm(d // 2), nn.ReLU(True)]
            d //= 2
        L += [nn.Conv2d(d, 3, 7, 1, 3, bias=False), nn.Tanh()]
        self.model = nn.Sequential(*L)
        self.class_num = class_num

    def forward(self, x, c=None):
        if self.class_num:
            c = c.view(c.size(0), c.size(1), 1, 1).repeat(1, 1, x.size(2), x.size(3))
            x = torch.cat([x, c], 1)
        return self.model(x)


class WangStarDiscriminator(nn.Module):
    def __init__(self, image_size: int = 64, conv_dim: int = 8, layer_num: int = 4, class_num: int = 4):
        super().__init__()
        L = [nn.Conv2d(3, conv_dim, 4, 2, 1), nn.LeakyReLU(0.01)]
        d = conv_dim
        for _ in range(1, layer_num):
            L += [nn.Conv2d(d, d * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
            d *= 2
        self.model = nn.Sequential(*L)
        self.conv_src = nn.Conv2d(d, 1, 3, 1, 1, bias=False)
        self.conv_cls = nn.Conv2d(d, class_num, image_size // 2 ** layer_num, bias=False)

    def forward(self, x):
        h = self.model(x)
        return self.conv_src(h), self.conv_cls(h).view(x.size(0), -1)


def randomize_(net: nn.Module, seed: int = 0) -> nn.Module:
    """Give every parameter and running-stat buffer non-trivial random values (so a wrong mapping shows)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if t.dtype.is_floating_point:
                if name.endswith("running_var"):
                    t.copy_(torch.rand(t.shape, generator=g) + 0.5)
                elif name.endswith(("running_mean", "bias")):
                    t.copy_(torch.randn(t.shape, generator=g) * 0.1)
                elif t.dim() == 1:
                    t.copy_(1 + torch.randn(t.shape, generator=g) * 0.1)
                else:
                    fan_in = t[0].numel()
                    t.copy_(torch.randn(t.shape, generator=g) / fan_in ** 0.5)
    return net
