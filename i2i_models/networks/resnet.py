"""ResNet generator of CycleGAN (Zhu et al., ICCV 2017, appendix 7.2; Johnson et al. 2016), junyanz layout.

``nn.Sequential`` ``model``: ``[pad 0, conv7 1, norm 2, ReLU 3]``, two ``[conv3 s2, norm, ReLU]`` at 4 and 7,
``n_blocks`` ResnetBlocks at 10…9+n, two ``[up, norm, ReLU]`` at 10+n and 13+n, then
``[pad, conv7, Tanh]`` with the final conv at ``model.(17+n)``: the keys of junyanz
``networks.ResnetGenerator``, so its checkpoints load directly.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .common import Generator, check_attention, check_reframe, check_choice, init_attention_bias, conv_bias, norm_layer, upsample_conv, NORMS, UPSAMPLES

PADDING_TYPES = ("reflect", "replicate", "zero")
RESNET_PRESETS = {"resnet_6blocks": 6, "resnet_9blocks": 9}


def _pad(padding_type: str, size: int) -> list[nn.Module]:
    if padding_type == "reflect":
        return [nn.ReflectionPad2d(size)]
    if padding_type == "replicate":
        return [nn.ReplicationPad2d(size)]
    return []


class ResnetBlock(nn.Module):
    """``x + conv_block(x)``; ``conv_block`` = ``[pad, conv3, norm, ReLU, (Dropout 0.5), pad, conv3, norm]``
    (no pad layers and conv padding 1 for ``padding_type="zero"``), as junyanz ``ResnetBlock``."""

    def __init__(self, dim: int, padding_type: str, norm: str, use_dropout: bool, use_bias: bool):
        super().__init__()
        p = 1 if padding_type == "zero" else 0
        block: list[nn.Module] = _pad(padding_type, 1)
        block += [nn.Conv2d(dim, dim, 3, padding=p, bias=use_bias), norm_layer(norm, dim), nn.ReLU(True)]
        if use_dropout:
            block.append(nn.Dropout(0.5))
        block += _pad(padding_type, 1)
        block += [nn.Conv2d(dim, dim, 3, padding=p, bias=use_bias), norm_layer(norm, dim)]
        self.conv_block = nn.Sequential(*block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)

    def stream(self, g, x):
        """Exact streamed tiles: the residual sum, materialised (see :mod:`i2i_models.streaming`)."""
        return g.add(x, g.build(self.conv_block, x))


class ResnetGenerator(Generator):
    """CycleGAN ResNet generator: [B, input_nc, H, W] in [-1, 1] -> [B, output_nc, H, W] in [-1, 1].

    Args:
        input_nc, output_nc: image channels.
        ngf: filters of the first layer (then 2ngf, 4ngf in the residual trunk).
        n_blocks: residual blocks (6 = ``resnet_6blocks`` for 128 px, 9 = ``resnet_9blocks`` for 256 px).
        norm: ``instance`` (CycleGAN default) | ``batch`` | ``none``.
        use_dropout: Dropout(0.5) inside each residual block.
        padding_type: ``reflect`` (default) | ``replicate`` | ``zero`` inside the residual blocks.
        c_dim: labels of a conditional generator ``G(x, c)`` (the conditional CycleGAN's domain code); the
            first convolution sees ``cat(x, c_k·x …)`` (:meth:`Generator.body_input`, ``label_mode``
            ``"modulate"``) and its output is not normalised (an Identity in the norm's slot, a bias on the
            convolution): an InstanceNorm there would divide the code's magnitude out and keep only its sign, so
            the strength would not reach the network. 0 (default) = the paper's unconditional network.
        upsample: ``transpose`` (ConvTranspose 3×3, the paper) | ``nearest`` (nearest ×2 + conv3, no
            checkerboards; the HugGAN/PyTorch-GAN generator's choice).
        attention_mask: also predict a mask A; output ``A·x + (1−A)·G(x)`` (AttentionGAN-style; see
            :func:`~i2i_models.networks.common.attention_output`). Off by default (the paper's network).
        reframe_input, reframe_output: zoom the input before the network / the output after it about the
            centre (:func:`~i2i_models.networks.common.reframe`; < 1 shrinks and pads with the border colour,
            > 1 zooms in). For styles that differ in framing (CycleGAN's ``--reframe_A``); 1.0 = off.
        outer_padding: reflection padding around the two 7×7 convs. 3 keeps the size; the
            HugGAN/PyTorch-GAN ``GeneratorResNet`` pads by its channel count, so its 1-channel models
            shrink the output by 8 px per axis (reproduced here for parity; the engine compensates).
        residual_strength: with ``c_dim`` 1, the code's sign picks the direction and its magnitude s scales
            the change: ``G(x, c) = z + s·(body(z, sign c) − z)`` with ``z`` = ``x`` zoomed by
            ``reframe_input ** c`` (``train.cyclegan --conditional``'s default, ``--strength_control
            residual``): the strength is gradual by construction. Off, the body reads the code itself
            (``--strength_control code``, models of the first conditional release).

    H and W must be multiples of 4 (``size_multiple``). Raises ``ValueError`` for bad choices.
    """

    arch = "resnet"
    multiple, smallest = 4, 8  # two stride-2 layers; the residual trunk's InstanceNorm needs >1 pixel

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9,
                 norm: str = "instance", use_dropout: bool = False, padding_type: str = "reflect",
                 upsample: str = "transpose", outer_padding: int = 3, attention_mask: bool = False,
                 reframe_input: float = 1.0, reframe_output: float = 1.0, c_dim: int = 0,
                 residual_strength: bool = False):
        super().__init__()
        check_choice("norm", norm, NORMS)
        check_choice("upsample", upsample, UPSAMPLES)
        check_choice("padding_type", padding_type, PADDING_TYPES)
        if n_blocks < 0:
            raise ValueError(f"n_blocks={n_blocks} must be >= 0")
        last_nc = check_attention(attention_mask, input_nc, output_nc)
        check_reframe(reframe_input, reframe_output)
        if residual_strength and (c_dim != 1 or reframe_output != 1):
            raise ValueError(f"residual_strength needs one domain code (c_dim 1, got {c_dim}) and no output zoom "
                             f"(reframe_output 1, got {reframe_output}): its zoom is reframe_input ** code")
        self._remember(locals())
        use_bias = conv_bias(norm)
        model: list[nn.Module] = [nn.ReflectionPad2d(outer_padding),
                                  nn.Conv2d(input_nc * (1 + c_dim), ngf, 7, padding=0, bias=c_dim > 0 or use_bias),
                                  norm_layer(norm, ngf) if not c_dim else nn.Identity(), nn.ReLU(True)]
        for i in range(2):
            mult = 2 ** i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=use_bias),
                      norm_layer(norm, ngf * mult * 2), nn.ReLU(True)]
        for _ in range(n_blocks):
            model.append(ResnetBlock(ngf * 4, padding_type, norm, use_dropout, use_bias))
        for i in range(2):
            mult = 2 ** (2 - i)
            model += [upsample_conv(ngf * mult, ngf * mult // 2, upsample, kernel_size=3, padding=1,
                                    output_padding=1, bias=use_bias),
                      norm_layer(norm, ngf * mult // 2), nn.ReLU(True)]
        model += [nn.ReflectionPad2d(outer_padding), nn.Conv2d(ngf, last_nc, 7, padding=0),
                  nn.Tanh()]
        self.model = nn.Sequential(*model)
        self.input_nc, self.output_nc, self.c_dim = input_nc, output_nc, c_dim
        self.label_mode = "modulate"  # (see Generator.body_input: reflection padding gives tiled labels no borders)
        self.attention_mask = attention_mask
        self.reframe_input, self.reframe_output = float(reframe_input), float(reframe_output)
        self.residual_strength = bool(residual_strength)
        if attention_mask:
            init_attention_bias(self)
        self.size_shrink = 2 * 2 * (3 - outer_padding)  # px lost per axis (0 unless outer_padding != 3)

    @classmethod
    def examples(cls) -> list[dict]:
        return [dict(ngf=8, n_blocks=2, upsample="transpose"),
                dict(ngf=8, n_blocks=2, upsample="nearest", attention_mask=True),
                dict(ngf=8, n_blocks=1, upsample="nearest", reframe_input=0.9, reframe_output=1.1),
                dict(input_nc=1, output_nc=1, ngf=8, n_blocks=1, upsample="nearest", outer_padding=1),
                dict(ngf=8, n_blocks=1, upsample="nearest", c_dim=1),
                dict(ngf=8, n_blocks=1, upsample="nearest", c_dim=1, residual_strength=True, reframe_input=0.9)]

    @property
    def body(self) -> nn.Module:
        return self.model

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None, return_mask: bool = False, reframe: bool = True):
        """``G(x)``, or ``G(x, c)`` for a conditional generator (``c_dim`` > 0; c [B, c_dim], the conditional
        CycleGAN's domain code, :mod:`i2i_models.families.cyclegan`); with ``return_mask`` (attention models)
        also the mask A [B, 1, H, W]; ``reframe=False`` skips the ``reframe_input``/``reframe_output`` zooms.
        With ``residual_strength`` the body runs on the code's sign and the magnitude scales its change
        (:meth:`~i2i_models.networks.common.Generator.strength_input`/``strength_output``)."""
        if self.residual_strength:
            z, t = self.strength_input(x, c, reframe)
            y = self._finish(z, self.model(self.body_input(z, t)), return_mask, False)
            if return_mask:
                return self.strength_output(z, y[0], c), y[1]
            return self.strength_output(z, y, c)
        x = self.reframe_in(x, reframe)
        return self._finish(x, self.model(self.body_input(x, c)), return_mask, reframe)
