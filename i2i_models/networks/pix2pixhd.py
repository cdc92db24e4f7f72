"""pix2pixHD generators (Wang et al., CVPR 2018, §3.2; NVIDIA/pix2pixHD ``models/networks.py``), NVIDIA's
module layout, so their ``latest_net_G.pth`` files load without key mapping.

* :class:`GlobalGenerator` (G1, ``--netG global``): ``model`` = ``[pad3, conv7, norm, ReLU]``,
  ``n_downsample_global`` × ``[conv3 s2, norm, ReLU]``, ``n_blocks_global`` ResnetBlocks, as many
  ``[convT3 s2, norm, ReLU]``, ``[pad3, conv7, Tanh]``. Unlike junyanz's ResNet every conv has a bias and the
  number of down-samplings is free (NVIDIA's default 4; junyanz's is always 2).
* :class:`LocalEnhancer` (G1 + G2, ``--netG local``): the global trunk (without its last three layers) at
  ``ngf·2**n_local_enhancers`` filters runs on the input down-sampled ``n_local_enhancers`` times by a 3×3
  average pool (stride 2, ``count_include_pad=False``); each enhancer ``n`` (``model<n>_1`` front end:
  ``[pad3, conv7, norm, ReLU, conv3 s2, norm, ReLU]``; ``model<n>_2``: ``n_blocks_local`` ResnetBlocks,
  ``[convT3 s2, norm, ReLU]``, and for the last one ``[pad3, conv7, Tanh]``) adds the coarser level's features
  to its front end's output before its residual blocks.

Inputs are images ([-1, 1]), or for label-map models (``label_nc > 0``) the one-hot label map (values 0/1,
``label_nc`` channels) followed by the instance-edge map (one channel) when ``instance_edges``;
:func:`i2i_models.translate` builds that input from an integer label map.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .common import Generator, check_choice, norm_layer, NORMS
from .resnet import PADDING_TYPES, ResnetBlock


def _global_layers(input_nc: int, output_nc: int, ngf: int, n_down: int, n_blocks: int, norm: str,
                   padding_type: str) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7), norm_layer(norm, ngf), nn.ReLU(True)]
    for i in range(n_down):
        m = 2 ** i
        layers += [nn.Conv2d(ngf * m, ngf * m * 2, 3, stride=2, padding=1), norm_layer(norm, ngf * m * 2), nn.ReLU(True)]
    m = 2 ** n_down
    layers += [ResnetBlock(ngf * m, padding_type, norm, use_dropout=False, use_bias=True) for _ in range(n_blocks)]
    for i in range(n_down):
        m = 2 ** (n_down - i)
        layers += [nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, stride=2, padding=1, output_padding=1),
                   norm_layer(norm, ngf * m // 2), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
    return layers


def _net_input_nc(input_nc: int, label_nc: int, instance_edges: bool) -> int:
    return (label_nc or input_nc) + int(instance_edges)


class GlobalGenerator(Generator):
    """pix2pixHD's global generator G1: [B, C_in, H, W] -> [B, output_nc, H, W] in [-1, 1] (tanh).

    Args:
        input_nc: image channels (ignored when ``label_nc > 0``); C_in = ``(label_nc or input_nc) + instance_edges``.
        output_nc: output image channels.
        ngf: filters of the first layer; n_downsample_global: stride-2 down-samplings (H, W multiples of
            ``2**n_downsample_global``); n_blocks_global: residual blocks.
        norm: ``instance`` (NVIDIA's default) | ``batch``; padding_type: ``reflect`` | ``replicate`` | ``zero``.
        label_nc, instance_edges: a label-map model's classes and whether it takes the instance-edge channel.

    Raises ``ValueError`` for bad choices.
    """

    arch = "pix2pixhd_global"

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_downsample_global: int = 4,
                 n_blocks_global: int = 9, norm: str = "instance", padding_type: str = "reflect", label_nc: int = 0,
                 instance_edges: bool = False):
        super().__init__()
        check_choice("norm", norm, NORMS)
        check_choice("padding_type", padding_type, PADDING_TYPES)
        if n_downsample_global < 0 or n_blocks_global < 0:
            raise ValueError("n_downsample_global and n_blocks_global must be >= 0")
        self._remember(locals())
        net_in = _net_input_nc(input_nc, label_nc, instance_edges)
        self.model = nn.Sequential(*_global_layers(net_in, output_nc, ngf, n_downsample_global, n_blocks_global, norm,
                                                   padding_type))
        self.input_nc, self.output_nc = net_in, output_nc
        self.label_nc, self.instance_edges = label_nc, instance_edges
        self.multiple = 2 ** n_downsample_global
        self.smallest = 2 * self.multiple if norm == "instance" else self.multiple  # InstanceNorm needs >1 px

    @classmethod
    def examples(cls) -> list[dict]:
        return [dict(ngf=8, n_downsample_global=3, n_blocks_global=2),
                dict(ngf=8, n_downsample_global=2, n_blocks_global=1, norm="batch"),
                dict(ngf=8, n_downsample_global=3, n_blocks_global=1, label_nc=5, instance_edges=True)]

    @property
    def body(self) -> nn.Module:
        return self.model

    def forward(self, x: torch.Tensor, return_mask: bool = False, reframe: bool = True):
        """``G1(x)``: [B, C_in, H, W] -> [B, output_nc, H, W]."""
        return self._finish(x, self.model(x), return_mask, reframe)


class LocalEnhancer(Generator):
    """pix2pixHD's coarse-to-fine generator G1 + G2 (see the module docstring): [B, C_in, H, W] ->
    [B, output_nc, H, W] in [-1, 1]; H and W multiples of ``2**(n_downsample_global + n_local_enhancers)``.

    Args: as :class:`GlobalGenerator`, with ``ngf`` the filters of the finest enhancer (the global trunk has
    ``ngf·2**n_local_enhancers``; NVIDIA's default ngf 32, n_downsample_global 3), ``n_local_enhancers``
    enhancers of ``n_blocks_local`` residual blocks each.
    """

    arch = "pix2pixhd_local"

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 32, n_downsample_global: int = 3,
                 n_blocks_global: int = 9, n_local_enhancers: int = 1, n_blocks_local: int = 3, norm: str = "instance",
                 padding_type: str = "reflect", label_nc: int = 0, instance_edges: bool = False):
        super().__init__()
        check_choice("norm", norm, NORMS)
        check_choice("padding_type", padding_type, PADDING_TYPES)
        if n_local_enhancers < 1:
            raise ValueError(f"n_local_enhancers={n_local_enhancers} must be >= 1 (0 is the global generator)")
        self._remember(locals())
        net_in = _net_input_nc(input_nc, label_nc, instance_edges)
        trunk = _global_layers(net_in, output_nc, ngf * 2 ** n_local_enhancers, n_downsample_global, n_blocks_global,
                               norm, padding_type)
        self.model = nn.Sequential(*trunk[:-3])  # without the final pad, conv and tanh
        for n in range(1, n_local_enhancers + 1):
            g = ngf * 2 ** (n_local_enhancers - n)
            front = [nn.ReflectionPad2d(3), nn.Conv2d(net_in, g, 7), norm_layer(norm, g), nn.ReLU(True),
                     nn.Conv2d(g, g * 2, 3, stride=2, padding=1), norm_layer(norm, g * 2), nn.ReLU(True)]
            back: list[nn.Module] = [ResnetBlock(g * 2, padding_type, norm, use_dropout=False, use_bias=True)
                                     for _ in range(n_blocks_local)]
            back += [nn.ConvTranspose2d(g * 2, g, 3, stride=2, padding=1, output_padding=1), norm_layer(norm, g),
                     nn.ReLU(True)]
            if n == n_local_enhancers:
                back += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
            setattr(self, f"model{n}_1", nn.Sequential(*front))
            setattr(self, f"model{n}_2", nn.Sequential(*back))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
        self.input_nc, self.output_nc = net_in, output_nc
        self.label_nc, self.instance_edges = label_nc, instance_edges
        self.n_local_enhancers = n_local_enhancers
        self.multiple = 2 ** (n_downsample_global + n_local_enhancers)
        self.smallest = 2 * self.multiple if norm == "instance" else self.multiple

    @classmethod
    def examples(cls) -> list[dict]:
        return [dict(ngf=4, n_downsample_global=2, n_blocks_global=1, n_local_enhancers=1, n_blocks_local=1),
                dict(ngf=4, n_downsample_global=1, n_blocks_global=1, n_local_enhancers=2, n_blocks_local=1,
                     norm="batch"),
                dict(ngf=4, n_downsample_global=2, n_blocks_global=1, n_blocks_local=1, label_nc=4,
                     instance_edges=True)]

    def enhancer_parameters(self):
        """The parameters of the finest local enhancer (``model<n_local_enhancers>_*``): what pix2pixHD trains
        alone for ``--niter_fix_global`` before fine-tuning everything."""
        n = self.n_local_enhancers
        return [p for name, p in self.named_parameters() if name.startswith(f"model{n}_")]

    def forward(self, x: torch.Tensor, return_mask: bool = False, reframe: bool = True):
        """``G(x)`` as NVIDIA's ``LocalEnhancer.forward``: input pyramid, coarsest level through the global
        trunk, then each enhancer on ``front(x_n) + features of the coarser level``."""
        pyramid = [x]
        for _ in range(self.n_local_enhancers):
            pyramid.append(self.downsample(pyramid[-1]))
        out = self.model(pyramid[-1])
        for n in range(1, self.n_local_enhancers + 1):
            front, back = getattr(self, f"model{n}_1"), getattr(self, f"model{n}_2")
            out = back(front(pyramid[self.n_local_enhancers - n]) + out)
        return self._finish(x, out, return_mask, reframe)

    def stream(self, g, x, labels=None):
        """Exact streamed tiles: the average-pool pyramid, the trunk, the enhancers' sums (as :meth:`forward`)."""
        pyramid = [x]
        for _ in range(self.n_local_enhancers):
            pyramid.append(g.build(self.downsample, pyramid[-1]))
        out = g.build(self.model, pyramid[-1])
        for n in range(1, self.n_local_enhancers + 1):
            front, back = getattr(self, f"model{n}_1"), getattr(self, f"model{n}_2")
            out = g.build(back, g.add(g.build(front, pyramid[self.n_local_enhancers - n]), out))
        return out
