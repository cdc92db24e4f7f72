"""Exact out-of-core ("streamed") inference: any image size in bounded memory, equal to the full frame.

Why not plain tiles: InstanceNorm (CycleGAN, StarGAN) and batch-statistics BatchNorm normalise with
statistics of the *whole* feature map, so tiles run independently each normalise differently (seams,
colour shifts: ~15 dB from the full-frame output at 2048² with 512-px tiles).

How: the generator is traced once into a graph of full-width **row bands**. Every convolution is
computed band by band (each output band reads only the input rows its kernel needs, a halo of a few
rows) and its output is *materialised* (in RAM when small, else in an anonymous temporary file, so it
does not count against process memory), with per-channel sums and sums of squares accumulated in
float64 as the bands are written. A normalisation layer is then just a per-channel affine map with
those exact whole-image statistics. Padding, up-sampling, activations, concatenations (U-Net skips)
are lazy row transforms evaluated while a consumer reads; residual sums are materialised. The result
equals the full-frame forward up to float rounding (≈1e-6), whatever the band size.

This module knows torch layers only: ``Conv2d`` (any stride/padding), ``ConvTranspose2d``,
reflection/replication/zero padding, nearest ×2 ``Upsample``, ``InstanceNorm2d`` (incl. running-stat
variants), ``BatchNorm2d`` (running statistics in ``eval()``, image statistics in ``train()``),
``AvgPool2d``, ReLU/LeakyReLU/Tanh/Identity/Dropout and ``Sequential``. How a network's own blocks are computed is
theirs to say: a module with a ``stream(g, x)`` method (and a generator's ``stream(g, x, labels)``, see
:class:`~i2i_models.networks.common.Generator`) builds its part of the graph with the builder ``g``
(:class:`Graph`: ``build``, ``cat``, ``add``, ``const``, ``attention``). Input/outputs are single images
[1, C, H, W].
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from contextlib import nullcontext

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .networks.common import attention_output, reframe


class Context:
    """Per-run settings shared by the nodes of one traced graph."""

    def __init__(self, band_bytes: int, ram_bytes: int, autocast=None, channels_last: bool = False,
                 progress: Callable[[], None] | None = None, spill_dir: str | None = None, seed: int | None = None,
                 device: torch.device | None = None):
        self.device = device or torch.device("cpu")
        self.band_bytes = max(1 << 16, int(band_bytes))
        self.ram_bytes = int(ram_bytes)
        self.autocast = autocast or nullcontext
        self.channels_last = channels_last
        self.progress = progress
        self.spill_dir = spill_dir
        self.seed = seed
        self.convs: list[ConvNode] = []
        self.materializers: list[Stored] = []
        self.ram_used = 0
        self._files = []

    def close(self) -> None:
        for f in self._files:
            f.close()
        self._files.clear()

    def tempfile(self):
        f = tempfile.TemporaryFile(dir=self.spill_dir)
        self._files.append(f)
        return f


# ---------------------------------------------------------------------------------------------------
# Nodes: full-width row sources of one image. rows(a, b) -> float tensor [1, C, b-a, W].
class Node:
    C: int
    H: int
    W: int
    stats: tuple[torch.Tensor, torch.Tensor] | None = None  # per-channel (mean, biased var), float64

    def rows(self, a: int, b: int) -> torch.Tensor:
        raise NotImplementedError

    def inputs(self) -> list[Node]:
        return [self.x] if hasattr(self, "x") else list(getattr(self, "xs", []))

    def ensure(self) -> None:
        """Compute whatever this node's consumers need before they read (materialised inputs)."""

    def need_stats(self, ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
        if self.stats is None:
            s, ss, n = None, None, 0
            step = _band_rows(self.C * self.W * 8, ctx.band_bytes)
            for a in range(0, self.H, step):
                x = self.rows(a, min(self.H, a + step)).double()
                s = x.sum((0, 2, 3)) if s is None else s + x.sum((0, 2, 3))
                ss = (x * x).sum((0, 2, 3)) if ss is None else ss + (x * x).sum((0, 2, 3))
                n += x.shape[2] * x.shape[3]
            mean = s / n
            self.stats = (mean, (ss / n - mean * mean).clamp_min(0))
        return self.stats


def deps(node: Node) -> set[Stored]:
    """The materialised tensors a read of ``node`` touches (through lazy nodes)."""
    if isinstance(node, Stored):
        return {node}
    out: set[Stored] = set()
    for x in node.inputs():
        out |= deps(x)
    return out


def _band_rows(bytes_per_row: int, band_bytes: int) -> int:
    return max(1, band_bytes // max(1, bytes_per_row))


class Input(Node):
    def __init__(self, x: torch.Tensor):
        assert x.dim() == 4 and x.shape[0] == 1
        self.x = x
        _, self.C, self.H, self.W = x.shape

    def inputs(self):
        return []

    def rows(self, a, b):
        return self.x[:, :, a:b]


class Const(Node):
    """Channels that are constant over the image (StarGAN's tiled label map)."""

    def __init__(self, values: torch.Tensor, H: int, W: int):
        self.v = values.reshape(1, -1, 1, 1).float().cpu()
        self.C, self.H, self.W = self.v.shape[1], H, W

    def rows(self, a, b):
        return self.v.expand(1, self.C, b - a, self.W)


class Stored(Node):
    """A materialised tensor, stored row-major ([H, C, W]) in RAM or in an anonymous temp file."""

    def __init__(self, C: int, H: int, W: int, ctx: Context):
        self.C, self.H, self.W, self.ctx = C, H, W, ctx
        self.row_elems = C * W
        self.nbytes = H * self.row_elems * 4
        self.mem = self.file = None
        self.pending = 0  # consumers that still have to read this tensor
        self.freed = False
        self._s = torch.zeros(C, dtype=torch.float64)
        self._ss = torch.zeros(C, dtype=torch.float64)
        self._written = 0

    def inputs(self) -> list[Node]:
        return []

    def _alloc(self) -> None:
        ctx = self.ctx
        if ctx.ram_used + self.nbytes <= ctx.ram_bytes:
            self.mem = torch.empty(self.H, self.C, self.W)
            ctx.ram_used += self.nbytes
        else:
            self.file = ctx.tempfile()
            self.file.truncate(self.nbytes)

    def release(self) -> None:
        """One consumer is done; free the storage when none is left."""
        self.pending -= 1
        if self.pending <= 0 and not self.freed:
            self.freed = True
            if self.mem is not None:
                self.mem = None
                self.ctx.ram_used -= self.nbytes
            if self.file is not None:
                self.file.close()
                self.file = None

    def write(self, a: int, band: torch.Tensor) -> None:
        """Store rows [a, a + h) from ``band`` [1, C, h, W] and add them to the statistics."""
        if self.mem is None and self.file is None:
            self._alloc()
        band = band.float()
        d = band.double()
        self._s += d.sum((0, 2, 3))
        self._ss += (d * d).sum((0, 2, 3))
        del d
        hcw = band[0].permute(1, 0, 2).contiguous()
        if self.mem is not None:
            self.mem[a:a + hcw.shape[0]] = hcw
        else:
            self.file.seek(a * self.row_elems * 4)
            self.file.write(memoryview(hcw.numpy()).cast("B"))
        self._written += hcw.shape[0]
        if self._written == self.H:
            n = self.H * self.W
            mean = self._s / n
            self.stats = (mean, (self._ss / n - mean * mean).clamp_min(0))

    def rows(self, a, b):
        if self.freed:
            raise RuntimeError("internal error: a released tensor was read")
        if self.mem is not None:
            hcw = self.mem[a:b]
        else:
            self.file.seek(a * self.row_elems * 4)
            buf = np.empty((b - a) * self.row_elems, dtype=np.float32)
            self.file.readinto(memoryview(buf).cast("B"))
            hcw = torch.from_numpy(buf).view(b - a, self.C, self.W)
        return hcw.permute(1, 0, 2).unsqueeze(0)


class Pointwise(Node):
    def __init__(self, x: Node, fn: Callable[[torch.Tensor, int], torch.Tensor]):
        self.x, self.fn = x, fn
        self.C, self.H, self.W = x.C, x.H, x.W

    def ensure(self):
        self.x.ensure()

    def rows(self, a, b):
        return self.fn(self.x.rows(a, b), a)


class Norm(Node):
    """Per-channel affine map ``(x - mean) / sqrt(var + eps) * w + b`` with whole-image or running statistics."""

    def __init__(self, x: Node, m: nn.Module, ctx: Context):
        self.x, self.m, self.ctx = x, m, ctx
        self.C, self.H, self.W = x.C, x.H, x.W
        self.scale = self.shift = None

    def _use_input_stats(self) -> bool:
        m = self.m
        if hasattr(m, "use_running_stats"):  # InstanceNormStats: running stats only when asked, in eval()
            return m.training or not m.use_running_stats
        return m.training or not m.track_running_stats  # as F.batch_norm / F.instance_norm decide

    def ensure(self):
        self.x.ensure()
        if self.scale is not None:
            return
        m = self.m
        if self._use_input_stats():
            mean, var = self.x.need_stats(self.ctx)
        else:
            mean, var = m.running_mean.double().cpu(), m.running_var.double().cpu()
        scale = 1.0 / torch.sqrt(var + m.eps)
        shift = -mean * scale
        if m.affine:
            weight, bias = m.weight.detach().double().cpu(), m.bias.detach().double().cpu()
            scale, shift = scale * weight, shift * weight + bias
        self.scale = scale.float().view(1, -1, 1, 1)
        self.shift = shift.float().view(1, -1, 1, 1)

    def rows(self, a, b):
        return self.x.rows(a, b) * self.scale + self.shift


class Pad(Node):
    def __init__(self, x: Node, left: int, right: int, top: int, bottom: int, mode: str):
        self.x, self.l, self.r, self.t, self.b, self.mode = x, left, right, top, bottom, mode
        self.C, self.H, self.W = x.C, x.H + top + bottom, x.W + left + right
        if mode == "reflect" and (max(top, bottom) >= x.H or max(left, right) >= x.W):
            raise ValueError("reflection padding larger than the feature map")

    def ensure(self):
        self.x.ensure()

    def _map(self, r: int) -> int:
        i, H = r - self.t, self.x.H
        if self.mode == "reflect":
            if i < 0:
                i = -i
            if i >= H:
                i = 2 * (H - 1) - i
        elif self.mode == "replicate":
            i = min(max(i, 0), H - 1)
        return i

    def rows(self, a, b):
        H = self.x.H
        if self.mode == "zero":
            lo, hi = max(a, self.t), min(b, self.t + H)
            if lo >= hi:
                out = torch.zeros(1, self.C, b - a, self.x.W)
            else:
                out = F.pad(self.x.rows(lo - self.t, hi - self.t).float(), (0, 0, lo - a, b - hi))
            return F.pad(out, (self.l, self.r, 0, 0))
        src = [self._map(r) for r in range(a, b)]
        lo, hi = min(src), max(src) + 1
        out = self.x.rows(lo, hi).float().index_select(2, torch.tensor(src) - lo)
        if self.l or self.r:
            out = F.pad(out, (self.l, self.r, 0, 0), mode=self.mode)
        return out


class Upsample2x(Node):
    def __init__(self, x: Node):
        self.x = x
        self.C, self.H, self.W = x.C, 2 * x.H, 2 * x.W

    def ensure(self):
        self.x.ensure()

    def rows(self, a, b):
        lo, hi = a // 2, (b - 1) // 2 + 1
        y = self.x.rows(lo, hi).repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
        off = a - 2 * lo
        return y[:, :, off:off + (b - a)]


class Cat(Node):
    def __init__(self, xs: list[Node]):
        self.xs = xs
        self.C, self.H, self.W = sum(x.C for x in xs), xs[0].H, xs[0].W
        assert all((x.H, x.W) == (self.H, self.W) for x in xs)

    def ensure(self):
        for x in self.xs:
            x.ensure()

    def rows(self, a, b):
        return torch.cat([x.rows(a, b).float() for x in self.xs], 1)


class Modulate(Node):
    """``x`` times each of ``values`` [k] (constants), concatenated: [k·C] channels (lazy, per band)."""

    def __init__(self, x: Node, values: torch.Tensor):
        self.x, self.values = x, values.float().flatten()
        self.C, self.H, self.W = x.C * self.values.numel(), x.H, x.W

    def ensure(self):
        self.x.ensure()

    def rows(self, a, b):
        t = self.x.rows(a, b).float()
        return torch.cat([t * v for v in self.values.tolist()], 1)


class Attention(Node):
    """The attention-mask blend of a generator's input and its [colour, mask] output (lazy, per band)."""

    def __init__(self, x: Node, y: Node, output_nc: int):
        self.xs, self.output_nc = [x, y], output_nc
        self.C, self.H, self.W = output_nc, y.H, y.W
        assert (x.H, x.W) == (y.H, y.W)

    def ensure(self):
        for x in self.xs:
            x.ensure()

    def rows(self, a, b):
        return attention_output(self.xs[0].rows(a, b).float(), self.xs[1].rows(a, b).float(), self.output_nc)


class Computed(Stored):
    """A stored tensor computed once, when it is first read: a subclass fills it band by band (``write``) in
    :meth:`compute`; afterwards the stored nodes it read are released."""

    done = False

    def compute(self) -> None:
        raise NotImplementedError

    def ensure(self):
        if self.done:
            return
        self.compute()
        self.done = True
        for src in self.sources:
            src.release()

    def rows(self, a, b):
        self.ensure()
        return super().rows(a, b)


class ConvNode(Computed):
    """A ``Conv2d`` or ``ConvTranspose2d`` evaluated band by band into storage."""

    def __init__(self, x: Node, m: nn.Module, ctx: Context):
        if m.dilation not in ((1, 1), 1) or m.groups != 1:
            raise NotImplementedError("streamed inference supports convolutions without dilation or groups")
        self.x, self.m, self.ctx = x, m, ctx
        self.transposed = isinstance(m, nn.ConvTranspose2d)
        (kh, kw), (sh, sw), (ph, pw) = m.kernel_size, m.stride, m.padding
        if self.transposed:
            oph, opw = m.output_padding
            if oph > ph or opw > pw:
                raise NotImplementedError("output_padding larger than padding")
            H = (x.H - 1) * sh - 2 * ph + kh + oph
            W = (x.W - 1) * sw - 2 * pw + kw + opw
        else:
            H = (x.H + 2 * ph - kh) // sh + 1
            W = (x.W + 2 * pw - kw) // sw + 1
        super().__init__(m.out_channels, H, W, ctx)
        per_out_row = (self.C * W + self.x.C * x.W * max(1, sh if not self.transposed else 1)) * 4 * 3
        self.step = _band_rows(per_out_row, ctx.band_bytes)
        self.n_bands = math.ceil(H / self.step)
        ctx.convs.append(self)
        ctx.materializers.append(self)

    def compute(self):
        self.x.ensure()
        m, ctx = self.m, self.ctx
        w = m.weight
        b = m.bias
        with ctx.autocast():
            for a in range(0, self.H, self.step):
                e = min(self.H, a + self.step)
                y = self._band(a, e, w, b)
                self.write(a, y.cpu())
                if ctx.progress:
                    ctx.progress()

    def _band(self, a: int, e: int, w, b) -> torch.Tensor:
        (kh, _), (sh, sw), (ph, pw) = self.m.kernel_size, self.m.stride, self.m.padding
        Hin = self.x.H
        mf = torch.channels_last if self.ctx.channels_last else torch.contiguous_format
        if not self.transposed:
            lo, hi = a * sh - ph, (e - 1) * sh - ph + kh
            x = self.x.rows(max(lo, 0), min(hi, Hin))
            top, bottom = max(0, -lo), max(0, hi - Hin)
            x = F.pad(x.float(), (pw, pw, top, bottom)).to(self.ctx.device).contiguous(memory_format=mf)
            return F.conv2d(x, w, b, stride=(sh, sw))
        i0 = max(0, -((-(a + ph - kh + 1)) // sh))  # ceil
        i1 = min(Hin - 1, (e - 1 + ph) // sh)
        x = self.x.rows(i0, i1 + 1).float().to(self.ctx.device).contiguous(memory_format=mf)
        y = F.conv_transpose2d(x, w, b, stride=(sh, sw))
        y0 = i0 * sh - ph
        y = y[:, :, a - y0:e - y0, pw:pw + self.W]
        if y.shape[2] < e - a:  # rows no input reaches (only with output_padding): bias only
            fill = (b if b is not None else torch.zeros(self.C, device=y.device)).view(1, -1, 1, 1)
            y = torch.cat([y, fill.to(y.dtype).expand(1, self.C, e - a - y.shape[2], self.W)], 2)
        return y


class AvgPoolNode(Computed):
    """An ``AvgPool2d`` (any kernel/stride/padding; ``count_include_pad`` either way, e.g. pix2pixHD's input
    pyramid) evaluated band by band into storage: sums and counts of the window over zero-padded rows,
    divided, which is what the pool computes."""

    def __init__(self, x: Node, m: nn.AvgPool2d, ctx: Context):
        k, s, p = (_pair(v) for v in (m.kernel_size, m.stride if m.stride is not None else m.kernel_size, m.padding))
        if m.ceil_mode or m.divisor_override:
            raise NotImplementedError("streamed inference supports AvgPool2d without ceil_mode or divisor_override")
        self.x, self.k, self.s, self.p, self.include_pad = x, k, s, p, m.count_include_pad
        H = (x.H + 2 * p[0] - k[0]) // s[0] + 1
        W = (x.W + 2 * p[1] - k[1]) // s[1] + 1
        super().__init__(x.C, H, W, ctx)
        self.step = _band_rows((self.C * W + self.x.C * x.W * s[0]) * 4 * 3, ctx.band_bytes)
        ctx.materializers.append(self)

    def compute(self):
        self.x.ensure()
        (kh, kw), (sh, sw), (ph, pw) = self.k, self.s, self.p
        for a in range(0, self.H, self.step):
            e = min(self.H, a + self.step)
            lo, hi = a * sh - ph, (e - 1) * sh - ph + kh
            x = self.x.rows(max(lo, 0), min(hi, self.x.H)).float()
            pad = (pw, pw, max(0, -lo), max(0, hi - self.x.H))
            total = F.avg_pool2d(F.pad(x, pad), (kh, kw), (sh, sw)) * (kh * kw)
            if self.include_pad:
                y = total / (kh * kw)
            else:
                ones = F.pad(torch.ones(1, 1, x.shape[2], x.shape[3]), pad)
                y = total / (F.avg_pool2d(ones, (kh, kw), (sh, sw)) * (kh * kw))
            self.write(a, y)


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


class Add(Computed):
    """A residual sum, materialised (so chains of residual blocks are read once, not re-summed)."""

    def __init__(self, x: Node, y: Node, ctx: Context):
        super().__init__(x.C, x.H, x.W, ctx)
        self.x, self.y, self.ctx = x, y, ctx
        ctx.materializers.append(self)
        self.step = _band_rows(self.C * self.W * 4 * 4, ctx.band_bytes)

    def compute(self):
        self.x.ensure()
        self.y.ensure()
        for a in range(0, self.H, self.step):
            e = min(self.H, a + self.step)
            self.write(a, self.x.rows(a, e).float() + self.y.rows(a, e).float())


# ---------------------------------------------------------------------------------------------------
# Tracing modules into nodes.
def _dropout(m: nn.Dropout, ctx: Context, index: int) -> Callable:
    if not m.training or m.p == 0:
        return lambda t, a: t
    p = m.p

    def fn(t, a):
        g = torch.Generator().manual_seed(((ctx.seed or 0) * 1000003 + index * 7919 + a) % (2 ** 63))
        keep = (torch.rand(t.shape, generator=g) >= p).to(t.dtype)
        return t * keep / (1 - p)
    return fn


class Graph:
    """What a module's ``stream`` rule builds its part of the graph with (nodes are full-width row sources)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def build(self, m: nn.Module, x: Node) -> Node:
        """The node of module ``m`` applied to node ``x``."""
        return build(m, x, self.ctx)

    def cat(self, xs: list[Node]) -> Node:
        """Channel concatenation (lazy)."""
        return Cat(xs)

    def add(self, x: Node, y: Node) -> Node:
        """``x + y``, materialised (residual sums are read by several consumers)."""
        return Add(x, y, self.ctx)

    def const(self, values: torch.Tensor, H: int, W: int) -> Node:
        """Channels constant over the image (e.g. StarGAN's tiled labels [c_dim])."""
        return Const(values, H, W)

    def modulate(self, x: Node, values: torch.Tensor) -> Node:
        """``cat([x · v for v in values])``: an image scaled by each label (conditional ResNet generators)."""
        return Modulate(x, values)

    def attention(self, x: Node, y: Node, output_nc: int) -> Node:
        """The attention-mask blend of input ``x`` and raw output ``y`` (colour + mask channels)."""
        return Attention(x, y, output_nc)


PRIMITIVES = (nn.Sequential, nn.Conv2d, nn.ConvTranspose2d, nn.ReflectionPad2d, nn.ReplicationPad2d, nn.ZeroPad2d,
              nn.Upsample, nn.InstanceNorm2d, nn.BatchNorm2d, nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Identity, nn.Dropout,
              nn.AvgPool2d)


def build(m: nn.Module, x: Node, ctx: Context) -> Node:
    """Trace module ``m`` applied to node ``x``: its own ``stream(g, x)`` rule, or a torch layer's.
    Raises ``NotImplementedError`` for a module with neither."""
    rule = getattr(m, "stream", None)
    if rule is not None and not isinstance(m, PRIMITIVES):
        return rule(Graph(ctx), x)
    if isinstance(m, nn.Sequential):
        for child in m:
            x = build(child, x, ctx)
        return x
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        if isinstance(m, nn.Conv2d) and m.padding_mode != "zeros":
            ph, pw = m.padding
            x = Pad(x, pw, pw, ph, ph, {"reflect": "reflect", "replicate": "replicate", "circular": None}[m.padding_mode])
            conv = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, 0, bias=m.bias is not None)
            conv.weight, conv.bias = m.weight, m.bias
            m = conv
        return ConvNode(x, m, ctx)
    if isinstance(m, (nn.ReflectionPad2d, nn.ReplicationPad2d, nn.ZeroPad2d)):
        left, right, top, bottom = m.padding
        mode = "reflect" if isinstance(m, nn.ReflectionPad2d) else "replicate" if isinstance(m, nn.ReplicationPad2d) else "zero"
        return Pad(x, left, right, top, bottom, mode)
    if isinstance(m, nn.AvgPool2d):
        return AvgPoolNode(x, m, ctx)
    if isinstance(m, nn.Upsample):
        if m.mode != "nearest" or m.scale_factor not in (2, 2.0, (2.0, 2.0), (2, 2)):
            raise NotImplementedError("streamed inference supports nearest x2 Upsample only")
        return Upsample2x(x)
    if isinstance(m, (nn.InstanceNorm2d, nn.BatchNorm2d)):
        return Norm(x, m, ctx)
    if isinstance(m, nn.ReLU):
        return Pointwise(x, lambda t, a: F.relu(t))
    if isinstance(m, nn.LeakyReLU):
        slope = m.negative_slope
        return Pointwise(x, lambda t, a: F.leaky_relu(t, slope))
    if isinstance(m, nn.Tanh):
        return Pointwise(x, lambda t, a: torch.tanh(t))
    if isinstance(m, nn.Identity):
        return x
    if isinstance(m, nn.Dropout):
        return Pointwise(x, _dropout(m, ctx, len(ctx.convs)))
    raise NotImplementedError(f"streamed (tiled) inference does not support {type(m).__name__}: give it a "
                              f"stream(g, x) method (see i2i_models.streaming)")


def trace(net: nn.Module, x: torch.Tensor, labels: torch.Tensor | None, ctx: Context) -> Node:
    """The output node of generator ``net`` (its ``stream`` rule) on image ``x`` [1, C, H, W] (and StarGAN
    ``labels`` [c_dim])."""
    return net.stream(Graph(ctx), Input(x), labels)


def run(net: nn.Module, x: torch.Tensor, labels: torch.Tensor | None = None, *, band_bytes: int = 32 << 20,
        ram_bytes: int = 64 << 20, autocast=None, channels_last: bool = False, progress=None,
        spill_dir: str | None = None, seed: int | None = None) -> torch.Tensor:
    """Run generator ``net`` on one image ``x`` [1, C, H, W] ([-1, 1], CPU) in row bands; returns [1, C', H', W']
    float32 on the CPU. Convolutions run on the network's device (CPU or CUDA); storage stays on the CPU.

    ``band_bytes`` bounds the working set of one band computation; materialised tensors up to
    ``ram_bytes`` stay in RAM, larger ones go to an anonymous temporary file in ``spill_dir``.
    ``progress(done, total)`` is called after every band. Raises ``NotImplementedError`` for modules it cannot stream.
    """
    device = next(net.parameters()).device
    ctx = Context(band_bytes, ram_bytes, autocast, channels_last, None, spill_dir, seed, device)
    x = x.detach().float().cpu()
    try:
        with torch.inference_mode():
            # a generator's reframe zooms are global (not row-local): applied to the whole image around the bands
            if getattr(net, "residual_strength", False):  # zoom by reframe_input ** code, blend by |code|
                c = torch.as_tensor(labels, dtype=torch.float32).view(1, 1)
                z, t = net.strength_input(x, c)
                return net.strength_output(z, _run(net, z, t.view(-1), ctx, progress), c)
            x = reframe(x, getattr(net, "reframe_input", 1.0))
            return reframe(_run(net, x, labels, ctx, progress), getattr(net, "reframe_output", 1.0))
    finally:
        ctx.close()


def _run(net, x, labels, ctx: Context, progress) -> torch.Tensor:
    out = trace(net, x, labels, ctx)
    for m in ctx.materializers:
        m.sources = set()
        for inp in (m.x, m.y) if isinstance(m, Add) else (m.x,):
            m.sources |= deps(inp)
        for src in m.sources:
            src.pending += 1
    for src in deps(out):
        src.pending += 1
    total = sum(c.n_bands for c in ctx.convs)
    if progress is not None:
        done = [0]

        def tick():
            done[0] += 1
            progress(done[0], total)
        ctx.progress = tick
    out.ensure()
    result = torch.empty(1, out.C, out.H, out.W)
    step = _band_rows(out.C * out.W * 4 * 4, ctx.band_bytes)
    for a in range(0, out.H, step):
        e = min(out.H, a + step)
        result[:, :, a:e] = out.rows(a, e).float()
    return result


def supports(net: nn.Module) -> bool:
    """Whether :func:`run` can stream this generator: it has a ``stream`` rule, and every module in it
    is a torch layer the engine knows or brings its own ``stream`` rule."""
    if not callable(getattr(net, "stream", None)):
        return False

    def ok(m: nn.Module) -> bool:
        if m is not net and callable(getattr(m, "stream", None)) and not isinstance(m, PRIMITIVES):
            return all(ok(c) for c in m.children())
        if not isinstance(m, PRIMITIVES) and m is not net:
            return False
        return all(ok(c) for c in m.children())
    return ok(net)
