"""Building blocks shared by every network: normalisation layers, up-sampling layers, weight init.

All networks in this package take and return [B, C, H, W] float tensors. Generators expect
input in [-1, 1] and end in tanh (output in [-1, 1]), as in every reference codebase.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NORMS = ("batch", "instance", "none")
UPSAMPLES = ("transpose", "nearest")
INIT_TYPES = ("normal", "xavier", "kaiming", "orthogonal")


def check_choice(name: str, value, choices) -> None:
    """Raise ``ValueError`` naming the allowed values when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not supported; choose one of {', '.join(map(repr, choices))}")


def norm_layer(norm: str, num_features: int) -> nn.Module:
    """The normalisation layer junyanz's ``get_norm_layer`` builds.

    * ``batch``: ``BatchNorm2d(affine=True, track_running_stats=True)``.
    * ``instance``: ``InstanceNorm2d(affine=False, track_running_stats=False)``: per-image statistics,
      no parameters and no buffers (junyanz master since 2018-10).
    * ``none``: ``Identity`` (keeps the ``nn.Sequential`` index so state-dict keys do not move).

    Raises ``ValueError`` for any other name.
    """
    check_choice("norm", norm, NORMS)
    if norm == "batch":
        return nn.BatchNorm2d(num_features, affine=True, track_running_stats=True)
    if norm == "instance":
        return nn.InstanceNorm2d(num_features, affine=False, track_running_stats=False)
    return nn.Identity()


def conv_bias(norm: str) -> bool:
    """junyanz's ``use_bias``: convolutions followed by a norm layer carry a bias only for InstanceNorm."""
    return norm == "instance"


class InstanceNormStats(nn.InstanceNorm2d):
    """Affine ``InstanceNorm2d`` whose stored running statistics are used only when asked.

    StarGAN (yunjey) and the wangguanan course code build ``InstanceNorm2d(affine=True,
    track_running_stats=True)``, so their files carry ``running_mean``/``running_var``. yunjey never
    calls ``eval()``, so its outputs use **per-image statistics** even at test time; wangguanan's
    CycleGAN sampler calls ``eval()`` and so uses the running statistics. ``use_running_stats``
    selects which of the two the layer reproduces in ``eval()`` mode; the buffers are never updated
    outside training (``torch.nn.InstanceNorm2d`` would update them in train mode only, as here).
    """

    def __init__(self, num_features: int, *, track_running_stats: bool = True, use_running_stats: bool = False,
                 eps: float = 1e-5, momentum: float = 0.1):
        super().__init__(num_features, eps=eps, momentum=momentum, affine=True,
                         track_running_stats=track_running_stats)
        self.use_running_stats = bool(use_running_stats and track_running_stats)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B,C,H,W] -> [B,C,H,W]
        if self.training and self.track_running_stats:
            return super().forward(x)
        if self.use_running_stats:
            return F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                   use_input_stats=False, momentum=0.0, eps=self.eps)
        return F.instance_norm(x, None, None, self.weight, self.bias, use_input_stats=True, eps=self.eps)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", use_running_stats={self.use_running_stats}"


def upsample_conv(in_ch: int, out_ch: int, upsample: str, *, kernel_size: int, padding: int,
                  output_padding: int = 0, bias: bool) -> nn.Module:
    """A ×2 up-sampling convolution.

    * ``transpose``: ``ConvTranspose2d(in_ch, out_ch, kernel_size, stride 2, padding, output_padding)``,
      as in the papers (weight stored ``(in, out, k, k)``).
    * ``nearest``: ``Sequential(Upsample(×2, nearest), Conv2d(in_ch, out_ch, 3, padding=1))``: resize-
      convolution, free of the checkerboard artifacts of strided transposed convolutions (Odena et al.,
      Distill 2016). Its conv weight is key ``<index>.1.weight`` (``(out, in, 3, 3)``), so the other
      layers keep the indices of the transposed layout.
    """
    check_choice("upsample", upsample, UPSAMPLES)
    if upsample == "transpose":
        return nn.ConvTranspose2d(in_ch, out_ch, kernel_size, stride=2, padding=padding,
                                  output_padding=output_padding, bias=bias)
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                         nn.Conv2d(in_ch, out_ch, 3, stride=1, padding=1, bias=bias))


ATTENTION_BIAS = 2.0  # initial mask logit: A = (tanh(2) + 1) / 2 = 0.98, so a new generator starts near identity


def attention_output(x: torch.Tensor, y: torch.Tensor, output_nc: int) -> torch.Tensor:
    """Blend a generator's colour output with its input by a predicted attention mask.

    ``x`` [B, C_in, H, W] is the generator's input image in [-1, 1] (its first ``output_nc`` channels
    are used); ``y`` [B, output_nc + 1, H, W] is the generator's tanh output: the colour image C
    (channels ``:output_nc``) and a mask channel m in [-1, 1], A = (m + 1) / 2 in [0, 1] (so A is a
    sigmoid of the last layer's logit). Returns ``A * x + (1 - A) * C`` [B, output_nc, H, W] in [-1, 1]:
    GANimation (Pumarola et al., ECCV 2018, eq. 1) and AttentionGAN (Tang et al., 2019) for CycleGAN.
    Pixels the translation does not need to change are copied from the input exactly (what lets our
    small pix2pix model beat the "return the input" baseline on line art; see the README's ablation).
    """
    a = mask_of(y, output_nc)
    return a * x[:, :output_nc] + (1 - a) * y[:, :output_nc]


def mask_of(y: torch.Tensor, output_nc: int) -> torch.Tensor:
    """The attention mask A = (m + 1) / 2 [B, 1, H, W] in [0, 1] of a raw generator output ``y`` (above)."""
    return (y[:, output_nc:output_nc + 1] + 1) * 0.5


def reframe(x: torch.Tensor, scale) -> torch.Tensor:
    """Zoom image(s) ``x`` [B, C, H, W] about their centre by ``scale``, keeping the size.

    ``scale < 1`` shrinks the content and fills the new margin by replicating the border pixels (a white
    background stays white); ``scale > 1`` zooms in and crops. Bilinear sampling (``grid_sample``,
    ``align_corners=False``); ``scale == 1`` returns ``x`` itself. ``scale`` is a number, or a tensor [B]
    of one scale per image (images whose scale is exactly 1 come back unchanged). Used by generators built
    with ``reframe_input``/``reframe_output``: a change of framing between two styles (Noto emoji draw with a
    ~5% margin, Twemoji run to the edge) is a global scale that a convolutional generator cannot learn.
    Raises ``ValueError`` for a scale that is not positive.
    """
    if torch.is_tensor(scale):
        scale = scale.to(device=x.device, dtype=torch.float32).reshape(-1)
        if scale.numel() != x.shape[0]:
            raise ValueError(f"reframe: {scale.numel()} scales for {x.shape[0]} images")
        if not torch.jit.is_tracing() and not bool((scale > 0).all()):
            raise ValueError(f"reframe scales must be > 0, got {scale.tolist()}")
        tracing = torch.jit.is_tracing()  # an exported graph must keep the zoom for whatever codes it gets
        if not tracing and bool((scale == 1).all()):
            return x
        out = _zoom(x, scale.view(-1, 1, 1))
        return torch.where((scale == 1).view(-1, 1, 1, 1), x, out)
    if scale == 1:
        return x
    if not scale > 0:
        raise ValueError(f"reframe scale must be > 0, got {scale}")
    return _zoom(x, scale)


def _zoom(x: torch.Tensor, scale) -> torch.Tensor:
    """:func:`reframe`'s sampling: ``scale`` a number or a [B, 1, 1] tensor."""
    # the grid of F.affine_grid(diag(1/scale), align_corners=False), built the way ATen builds it (so it is
    # bit-identical) but from linspace/expand only: ONNX exports it (affine_grid needs opset 20)
    B, _, H, W = x.shape
    gx = torch.linspace(-1, 1, W, device=x.device) * (W - 1) / W * (1.0 / scale)
    gy = torch.linspace(-1, 1, H, device=x.device) * (H - 1) / H * (1.0 / scale)
    grid = torch.stack([gx.view(-1, 1, W).expand(B, H, W), gy.view(-1, H, 1).expand(B, H, W)], -1)
    out = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.to(x.dtype)


def check_reframe(reframe_input: float, reframe_output: float) -> None:
    """Raise ``ValueError`` unless both reframe scales are positive numbers."""
    for name, v in (("reframe_input", reframe_input), ("reframe_output", reframe_output)):
        if not (isinstance(v, (int, float)) and v > 0):
            raise ValueError(f"{name}={v!r} must be a positive scale (1.0 = unchanged)")


def check_attention(attention_mask: bool, input_nc: int, output_nc: int) -> int:
    """Channels of a generator's last layer: ``output_nc`` plus one for the mask of an attention generator.
    Raises ``ValueError`` when ``attention_mask`` is asked with fewer input than output channels (the output
    copies input channels where the mask is 1)."""
    if attention_mask and input_nc < output_nc:
        raise ValueError(f"attention_mask needs input_nc >= output_nc (got {input_nc} < {output_nc}): the output "
                         "copies input channels; build it without attention_mask")
    return output_nc + int(attention_mask)


def init_attention_bias(net: nn.Module, initial_mask: float | None = None) -> None:
    """Set the mask channel's bias of the last convolution of ``net`` so that the mask starts at
    ``initial_mask`` (A in (0, 1); default :data:`ATTENTION_BIAS`'s 0.98, i.e. near identity).

    A mask that starts closed (A near 1) can stay closed when the other losses (identity,
    reconstruction) reward copying the input, the saturation GANimation §4 warns of; 0.5 is the
    neutral start. Raises ``ValueError`` for a value outside (0, 1) or a last conv without a bias.
    """
    last = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))][-1]
    if last.bias is None:
        raise ValueError("an attention-mask generator needs a bias on its last convolution")
    if initial_mask is None:
        bias = ATTENTION_BIAS
    elif not 0 < initial_mask < 1:
        raise ValueError(f"initial_mask={initial_mask} must lie strictly between 0 and 1")
    else:
        bias = math.atanh(2 * initial_mask - 1)
    with torch.no_grad():
        last.bias[-1] = bias


def init_weights(net: nn.Module, init_type: str = "normal", init_gain: float = 0.02) -> nn.Module:
    """Initialise ``net`` in place as junyanz ``networks.init_weights`` does and return it.

    Conv/Linear weights: ``normal`` N(0, gain), ``xavier`` (xavier_normal, gain), ``kaiming``
    (kaiming_normal, fan_in, a=0), ``orthogonal`` (gain); biases 0. BatchNorm weights N(1, gain),
    biases 0. Affine InstanceNorm weights 1, biases 0. Generators built with ``attention_mask=True`` get
    their mask bias back (:func:`init_attention_bias`), so they still start near identity. Raises
    ``ValueError`` for an unknown ``init_type``.
    """
    check_choice("init_type", init_type, INIT_TYPES)

    def init_fn(m: nn.Module) -> None:
        name = type(m).__name__
        weight = getattr(m, "weight", None)
        if isinstance(weight, torch.Tensor) and ("Conv" in name or "Linear" in name):
            if init_type == "normal":
                nn.init.normal_(weight, 0.0, init_gain)
            elif init_type == "xavier":
                nn.init.xavier_normal_(weight, gain=init_gain)
            elif init_type == "kaiming":
                nn.init.kaiming_normal_(weight, a=0, mode="fan_in")
            else:
                nn.init.orthogonal_(weight, gain=init_gain)
            if getattr(m, "bias", None) is not None:
                nn.init.constant_(m.bias, 0.0)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, init_gain)
            nn.init.constant_(m.bias, 0.0)
        elif isinstance(m, nn.InstanceNorm2d) and m.affine:
            nn.init.constant_(m.weight, 1.0)
            nn.init.constant_(m.bias, 0.0)

    net.apply(init_fn)
    for m in net.modules():
        if getattr(m, "config", {}).get("attention_mask"):
            init_attention_bias(m)
    return net


class Network(nn.Module):
    """Base of every network here: remembers its constructor arguments as a JSON-able ``config``.

    ``config`` is ``{"arch": <registry name>, **constructor keyword arguments}``; ``build_network``
    in :mod:`i2i_models.networks` turns such a dict back into the same network. Subclasses set
    ``arch`` and ``role`` (``"generator"`` or ``"discriminator"``) and call ``_remember(locals())``.
    """

    arch: str = ""
    role: str = ""
    multiple: int = 1  # H and W must be multiples of this (down-sampling factor)
    smallest: int | None = None  # smallest H and W (default: ``multiple``)

    def _remember(self, local_vars: dict) -> None:
        import inspect

        params = inspect.signature(type(self).__init__).parameters
        self.config = {"arch": self.arch}
        for name in list(params)[1:]:
            self.config[name] = local_vars[name]

    @property
    def size_multiple(self) -> int:
        """H and W of the input must be multiples of this (1 for discriminators)."""
        return self.multiple

    @property
    def min_size(self) -> int:
        """Smallest H and W (a multiple of ``size_multiple``) whose deepest InstanceNorm map has >1 element."""
        return self.smallest or self.size_multiple


class Generator(Network):
    """Base of every generator: [B, input_nc, H, W] in [-1, 1] -> [B, output_nc, H', W'] in [-1, 1].

    A generator is its ``body`` (the module whose tanh output ``y`` the reference code returns) wrapped in
    what this class owns for all of them:

    * the input it feeds the body (:meth:`body_input`; StarGAN appends its label maps),
    * the optional **attention mask** (``attention_mask``: the body also predicts a mask A and the result is
      ``A·x + (1−A)·y``, :func:`attention_output`) and the **reframe** zooms (``reframe_input``/
      ``reframe_output``, :func:`reframe`),
    * its size rules (``size_multiple``, ``min_size``, ``size_shrink`` px lost per axis) and its memory
      factor (:meth:`bytes_per_pixel`, what the inference engine plans chunks and tiles with),
    * how it is computed in **exact streamed tiles** (:meth:`stream`): the body's module tree is walked by
      :mod:`i2i_models.streaming`; composite blocks of a network module define ``stream(g, x)`` themselves
      (the rule lives beside the block), torch layers are known to the streaming engine. A module with no
      rule makes :func:`i2i_models.streaming.supports` false (a test runs every registered generator).

    Subclasses set ``arch``, build ``body`` (any attribute name; expose it through the ``body`` property)
    and ``input_nc``/``output_nc``, and call :meth:`_finish` on the body's output.
    """

    role = "generator"
    attention_mask: bool = False
    reframe_input: float = 1.0
    reframe_output: float = 1.0
    size_shrink: int = 0
    memory_factor: int = 14  # bytes per input pixel per first-layer filter of a full-frame fp32 forward
    input_nc: int = 3
    output_nc: int = 3

    @property
    def body(self) -> nn.Module:
        raise NotImplementedError

    @classmethod
    def examples(cls) -> list[dict]:
        """Small configurations covering this architecture's variants (attention mask, reframe, …): what
        the test suite runs through the streamed path against the full frame. Every generator must give
        some, so a new architecture cannot skip that test."""
        raise NotImplementedError(f"{cls.__name__} gives no example configurations (Generator.examples)")

    @property
    def width(self) -> int:
        """Filters of the first layer (``ngf`` / ``conv_dim``), what memory use scales with."""
        cfg = getattr(self, "config", {}) or {}
        return int(cfg.get("ngf") or cfg.get("conv_dim") or 64)

    def bytes_per_pixel(self) -> int:
        """Rough peak bytes per input pixel of a full-frame fp32 forward (calibrated with ``i2i_models.bench``:
        resnet_9blocks at 2048² used 3.55 GB)."""
        return self.memory_factor * self.width + 64

    c_dim: int = 0  # conditional generators (StarGAN, conditional CycleGAN) take c_dim labels
    label_mode: str = "tile"  # how: "tile" (constant label channels) or "modulate" (the image scaled by each label)

    def body_input(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """What the body sees for image ``x`` [B, C, H, W] and labels ``c`` [B, c_dim]: the image itself, or
        for conditional generators

        * ``label_mode "tile"``: ``cat(x, c tiled to [B, c_dim, H, W])`` (the labels after the image channels,
          as yunjey/stargan). A constant channel only shifts the first convolution's output, which the
          InstanceNorm after it removes except where zero padding makes it vary (the image borders): StarGAN's
          labels reach the image through its borders;
        * ``label_mode "modulate"``: ``cat(x, c_1·x, …, c_k·x)`` [B, C·(1+c_dim), H, W]: the first convolution
          becomes a label-dependent filter ``(W_0 + Σ c_k·W_k) * x``, which normalisation keeps, at any image
          size (the conditional CycleGAN's domain code; reflection padding has no borders to carry a tiled
          label).

        Raises ``ValueError`` when ``c`` does not match ``c_dim``."""
        if not self.c_dim:
            return x
        if c is None or c.dim() != 2 or c.shape[1] != self.c_dim or c.shape[0] != x.shape[0]:
            got = None if c is None else tuple(c.shape)
            raise ValueError(f"this conditional generator needs labels c of shape [B={x.shape[0]}, c_dim={self.c_dim}], "
                             f"got {got}")
        c = c.to(dtype=x.dtype).view(c.size(0), c.size(1), 1, 1)
        if self.label_mode == "modulate":
            return torch.cat([x] + [x * c[:, k:k + 1] for k in range(self.c_dim)], dim=1)
        return torch.cat([x, c.expand(-1, -1, x.size(2), x.size(3))], dim=1)

    def reframe_in(self, x: torch.Tensor, apply: bool = True) -> torch.Tensor:
        """``x`` after the ``reframe_input`` zoom (skipped when ``apply`` is false, as CycleGAN's identity loss
        does: a real target-domain image already has the target framing)."""
        return reframe(x, self.reframe_input) if apply and self.reframe_input != 1 else x

    residual_strength: bool = False  # a one-label generator whose code's magnitude scales its change (below)

    def strength_input(self, x: torch.Tensor, c: torch.Tensor | None, apply_reframe: bool = True):
        """For a generator built with ``residual_strength`` (the conditional CycleGAN's default): the image
        and code the body sees for image(s) ``x`` [B, C, H, W] in [-1, 1] and code ``c`` [B, 1] (sign = the
        direction, +1 towards domain B, -1 towards A; magnitude = the strength). Returns ``(z, t)``: ``z`` is
        ``x`` zoomed by ``reframe_input ** c`` per image (:func:`reframe`; the framing change between the
        domains, applied gradually: strength 0.5 moves half-way in log-scale; skipped when ``apply_reframe``
        is false), ``t`` [B, 1] the code's sign (+1 for 0). Raises ``ValueError`` for a missing or
        mis-shaped code."""
        if c is None or c.dim() != 2 or c.shape[1] != 1 or c.shape[0] != x.shape[0]:
            raise ValueError(f"this conditional generator needs a domain code c of shape [B={x.shape[0]}, 1], "
                             f"got {None if c is None else tuple(c.shape)}")
        c = c.to(device=x.device, dtype=torch.float32)
        t = torch.where(c < 0, -torch.ones_like(c), torch.ones_like(c))
        if apply_reframe and self.reframe_input != 1:
            x = reframe(x, torch.full_like(c.view(-1), self.reframe_input) ** c.view(-1))
        return x, t.to(x.dtype)

    def strength_output(self, z: torch.Tensor, y: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """The result of a ``residual_strength`` generator from the body's input ``z`` [B, C, H, W] and its
        full translation ``y`` (code ±1): ``z + |c|·(y − z)``, the translation's change scaled by the
        strength ``|c|`` [B, 1] — 0 the (zoomed) input, 1 the translation, >1 an exaggerated change (values
        may leave [-1, 1]; callers clamp). The blend is what the strength term of the code-reading model
        (``train.cyclegan --strength_control code``) trains partial codes towards, here exact by construction."""
        s = c.abs().to(device=y.device, dtype=y.dtype).view(-1, 1, 1, 1)
        return z + s * (y - z)

    def _finish(self, x: torch.Tensor, y: torch.Tensor, return_mask: bool = False, apply_reframe: bool = True):
        """The result from the (zoomed) input ``x`` and the body's tanh output ``y``: ``y``, or the attention
        blend, then the ``reframe_output`` zoom; with ``return_mask`` also the mask A [B, 1, H, W] in [0, 1]
        (1 = copy the input). Raises ``ValueError`` when ``return_mask`` is asked without a mask."""
        s = self.reframe_output if apply_reframe else 1.0
        if not self.attention_mask:
            if return_mask:
                raise ValueError("return_mask needs a generator built with attention_mask=True")
            return reframe(y, s)
        out = reframe(attention_output(x, y, self.output_nc), s)
        return (out, mask_of(y, self.output_nc)) if return_mask else out

    # -- exact streamed tiles (see i2i_models.streaming) -------------------------------------------------
    def stream_input(self, g, x, labels: torch.Tensor | None = None):
        """The body's input as a streaming node, from the image node ``x`` (see :meth:`body_input`): the
        labels become constant channels after it, or scale copies of it (``label_mode``)."""
        if not self.c_dim:
            return x
        if self.label_mode == "modulate":
            return g.cat([x, g.modulate(x, labels)])
        return g.cat([x, g.const(labels, x.H, x.W)])

    def stream(self, g, x, labels: torch.Tensor | None = None):
        """The generator's output node (before the ``reframe_output`` zoom, which the engine applies to the
        whole image) for the image node ``x``, built with the streaming graph builder ``g``."""
        y = g.build(self.body, self.stream_input(g, x, labels))
        return g.attention(x, y, self.output_nc) if self.attention_mask else y
