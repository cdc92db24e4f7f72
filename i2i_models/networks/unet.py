"""U-Net generator of pix2pix (Isola et al., CVPR 2017, §3.2.1), with junyanz's module layout.

The module tree is built exactly as junyanz ``networks.UnetGenerator`` builds it (recursively nested
``UnetSkipConnectionBlock``s), so its ``state_dict`` keys are the reference ones
(``model.model.0.weight``, ``model.model.1.model.3…``) and reference checkpoints load without any
key mapping; our own U-Net weights load in the reference code too (for ``upsample="transpose"``).
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .common import Generator, check_attention, check_reframe, check_choice, init_attention_bias, conv_bias, norm_layer, upsample_conv, NORMS, UPSAMPLES

UNET_PRESETS = {"unet_128": 7, "unet_256": 8}


class UnetSkipConnectionBlock(nn.Module):
    """One U-Net level: ``x -> cat([x, up(sub(down(x)))])`` (the outermost block returns ``up(...)`` only).

    Layouts (``nn.Sequential`` indices, which fix the state-dict keys):
    outermost ``[downconv 0, sub 1, ReLU 2, upconv 3, Tanh 4]``; middle ``[LReLU 0, downconv 1,
    downnorm 2, sub 3, ReLU 4, upconv 5, upnorm 6, (Dropout 7)]``; innermost ``[LReLU 0, downconv 1,
    ReLU 2, upconv 3, upnorm 4]``.

    As in the reference, the leading ``LeakyReLU(0.2, inplace=True)`` modifies ``x`` in place before
    the concatenation, so the skip connection carries ``leaky_relu(x)``; we keep that behaviour because
    every reference checkpoint was trained with it.
    """

    def __init__(self, outer_nc: int, inner_nc: int, input_nc: int | None = None, submodule: nn.Module | None = None,
                 outermost: bool = False, innermost: bool = False, norm: str = "batch", use_dropout: bool = False,
                 upsample: str = "transpose"):
        super().__init__()
        self.outermost = outermost
        use_bias = conv_bias(norm)
        if input_nc is None:
            input_nc = outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)

        def up(in_ch: int, bias: bool) -> nn.Module:
            return upsample_conv(in_ch, outer_nc, upsample, kernel_size=4, padding=1, bias=bias)

        if outermost:
            model = [downconv, submodule, nn.ReLU(True), up(inner_nc * 2, True), nn.Tanh()]
        elif innermost:
            model = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True), up(inner_nc, use_bias),
                     norm_layer(norm, outer_nc)]
        else:
            model = [nn.LeakyReLU(0.2, True), downconv, norm_layer(norm, inner_nc), submodule, nn.ReLU(True),
                     up(inner_nc * 2, use_bias), norm_layer(norm, outer_nc)]
            if use_dropout:
                model.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        y = self.model(x)  # mutates x in place through the leading inplace LeakyReLU, as the reference
        return torch.cat([x, y], 1)

    def stream(self, g, x):
        """Exact streamed tiles: the skip carries leaky_relu(x) (the in-place activation that opens the
        block changes ``x`` itself in the forward), concatenated with the block's output."""
        if self.outermost:
            return g.build(self.model, x)
        seq = list(self.model)
        skip = g.build(seq[0], x)
        y = skip
        for child in seq[1:]:
            y = g.build(child, y)
        return g.cat([skip, y])


class UnetGenerator(Generator):
    """pix2pix U-Net generator: [B, input_nc, H, W] in [-1, 1] -> [B, output_nc, H, W] in [-1, 1] (tanh).

    Args:
        input_nc, output_nc: image channels in and out.
        num_downs: number of ×2 down-samplings (7 = ``unet_128``, 8 = ``unet_256``); H and W must be
            multiples of ``2**num_downs`` (see ``size_multiple``; the inference engine pads for you).
        ngf: filters in the outermost layer (widths ngf, 2ngf, 4ngf, then 8ngf).
        norm: ``batch`` (pix2pix default) | ``instance`` | ``none``.
        use_dropout: Dropout(0.5) in the decoder's middle blocks (pix2pix default; active in train mode,
            or at test time when the engine's stochastic mode asks for it, as in the paper).
        upsample: ``transpose`` (the paper) | ``nearest`` (nearest ×2 + 3×3 conv, no checkerboards).
        attention_mask: the last layer also predicts a mask A and the output is ``A·x + (1−A)·G(x)``
            (:func:`~i2i_models.networks.common.attention_output`; needs ``input_nc >= output_nc``).
            Off by default (the paper's network, whose checkpoints load unchanged).
        reframe_input, reframe_output: zoom the input before the network / the output after it about the
            centre (:func:`~i2i_models.networks.common.reframe`; < 1 shrinks and pads with the border colour,
            > 1 zooms in). For styles that differ in framing (CycleGAN's ``--reframe_A``); 1.0 = off.

    Raises ``ValueError`` for ``num_downs < 5`` or an unknown ``norm``/``upsample``.
    """

    arch = "unet"
    memory_factor = 12

    def __init__(self, input_nc: int = 3, output_nc: int = 3, num_downs: int = 8, ngf: int = 64,
                 norm: str = "batch", use_dropout: bool = True, upsample: str = "transpose",
                 attention_mask: bool = False, reframe_input: float = 1.0, reframe_output: float = 1.0):
        super().__init__()
        check_choice("norm", norm, NORMS)
        check_choice("upsample", upsample, UPSAMPLES)
        if num_downs < 5:
            raise ValueError(f"num_downs={num_downs}: a U-Net needs at least 5 down-samplings")
        last_nc = check_attention(attention_mask, input_nc, output_nc)
        check_reframe(reframe_input, reframe_output)
        self._remember(locals())
        kw = dict(norm=norm, upsample=upsample)
        block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, innermost=True, **kw)
        for _ in range(num_downs - 5):
            block = UnetSkipConnectionBlock(ngf * 8, ngf * 8, submodule=block, use_dropout=use_dropout, **kw)
        block = UnetSkipConnectionBlock(ngf * 4, ngf * 8, submodule=block, **kw)
        block = UnetSkipConnectionBlock(ngf * 2, ngf * 4, submodule=block, **kw)
        block = UnetSkipConnectionBlock(ngf, ngf * 2, submodule=block, **kw)
        self.model = UnetSkipConnectionBlock(last_nc, ngf, input_nc=input_nc, submodule=block,
                                             outermost=True, **kw)
        self.input_nc, self.output_nc, self.num_downs = input_nc, output_nc, num_downs
        self.attention_mask = attention_mask
        self.reframe_input, self.reframe_output = float(reframe_input), float(reframe_output)
        if attention_mask:
            init_attention_bias(self)

    @classmethod
    def examples(cls) -> list[dict]:
        return [dict(num_downs=6, ngf=8, norm="instance", upsample="nearest"),
                dict(num_downs=5, ngf=8, norm="batch", upsample="transpose"),
                dict(num_downs=6, ngf=8, norm="instance", upsample="nearest", attention_mask=True, reframe_input=0.9)]

    @property
    def size_multiple(self) -> int:
        return 2 ** self.num_downs

    @property
    def body(self) -> nn.Module:
        return self.model

    def forward(self, x: torch.Tensor, return_mask: bool = False, reframe: bool = True):
        """``G(x)``; with ``return_mask`` (attention models) also the mask A [B, 1, H, W]; ``reframe=False``
        skips the ``reframe_input``/``reframe_output`` zooms."""
        x = self.reframe_in(x, reframe)
        return self._finish(x, self.model(x), return_mask, reframe)
