"""The generator and discriminator architectures, and ``build_network`` from a JSON config.

A network config is ``{"arch": name, **hyper-parameters}``; ``network.config`` gives it back, so a
network round-trips through JSON: ``build_network(net.config)`` builds the same architecture.
"""

from __future__ import annotations

from typing import Any

from .common import InstanceNormStats, Network, init_weights, norm_layer, upsample_conv, NORMS, UPSAMPLES
from .patchgan import MultiscaleDiscriminator, NLayerDiscriminator, PixelDiscriminator
from .pix2pixhd import GlobalGenerator, LocalEnhancer
from .pytorchgan import PyTorchGANDiscriminator, PyTorchGANUnetGenerator
from .resnet import RESNET_PRESETS, ResnetGenerator
from .stargan import StarGANDiscriminator, StarGANGenerator
from .unet import UNET_PRESETS, UnetGenerator

ARCHS: dict[str, type[Network]] = {cls.arch: cls for cls in (
    UnetGenerator, ResnetGenerator, StarGANGenerator, PyTorchGANUnetGenerator, GlobalGenerator, LocalEnhancer,
    NLayerDiscriminator, PixelDiscriminator, MultiscaleDiscriminator, StarGANDiscriminator, PyTorchGANDiscriminator)}


def build_network(config: dict[str, Any]) -> Network:
    """Build an (untrained) network from ``{"arch": name, **kwargs}``.

    Raises ``ValueError`` naming the known architectures when ``arch`` is unknown, and naming the
    accepted hyper-parameters when the config has one the architecture does not take.
    """
    cfg = dict(config)
    arch = cfg.pop("arch", None)
    cls = ARCHS.get(arch) if isinstance(arch, str) else None
    if cls is not None:
        check_types(cls, cfg)
        check_sizes(arch, cfg)
    if cls is None:
        raise ValueError(f"unknown network arch {arch!r}; known: {', '.join(sorted(ARCHS))}")
    try:
        return cls(**cfg)
    except TypeError as e:
        import inspect
        accepted = list(inspect.signature(cls.__init__).parameters)[1:]
        raise ValueError(f"bad config for arch {arch!r}: {e}; it accepts {accepted}") from None


# Bounds on the integer hyper-parameters, far beyond any published model, so that a damaged or hostile
# config cannot make us build (allocate) an absurd network: depths/counts and widths/channels.
COUNTS = ("num_downs", "n_blocks", "repeat_num", "n_downsample_global", "n_blocks_global", "n_local_enhancers",
          "n_blocks_local", "n_layers", "n_layers_D", "num_D")
MAX_COUNT = 64
MAX_WIDTH = 8192
MAX_IMAGE_SIZE = 1 << 16


def check_types(cls: type, cfg: dict[str, Any]) -> None:
    """Raise ``ValueError`` when a hyper-parameter's JSON type differs from its default's (a flag that is not
    ``true``/``false``, a number given as text …); ``None`` is accepted where the default is ``None``."""
    import inspect

    params = inspect.signature(cls.__init__).parameters
    for key, v in cfg.items():
        p = params.get(key)
        if p is None or p.default is inspect.Parameter.empty or p.default is None:
            continue
        d = p.default
        ok = (isinstance(v, bool) if isinstance(d, bool) else
              (isinstance(v, int) and not isinstance(v, bool)) if isinstance(d, int) else
              (isinstance(v, (int, float)) and not isinstance(v, bool)) if isinstance(d, float) else
              isinstance(v, str) if isinstance(d, str) else True)
        if not ok:
            raise ValueError(f"{cls.arch}: {key} must be {type(d).__name__} like its default {d!r}, got {v!r:.40}")


def check_sizes(arch: str, cfg: dict[str, Any]) -> None:
    """Raise ``ValueError`` for an integer hyper-parameter of the wrong type or out of bounds (counts 0–64,
    widths and channel counts 1–8192 — ``label_nc``, ``c_dim`` from 0 —, ``image_size`` 1–65536)."""
    for key, v in cfg.items():
        if key in COUNTS or key in ("ngf", "ndf", "conv_dim", "input_nc", "output_nc", "c_dim", "label_nc", "image_size"):
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"{arch}: {key} must be an integer, got {v!r}")
            lo = 0 if key in COUNTS or key in ("c_dim", "label_nc") else 1
            hi = MAX_COUNT if key in COUNTS else MAX_IMAGE_SIZE if key == "image_size" else MAX_WIDTH
            if not lo <= v <= hi:
                raise ValueError(f"{arch}: {key}={v} is out of range [{lo}, {hi}]")


def define_G(netG: str = "resnet_9blocks", input_nc: int = 3, output_nc: int = 3, ngf: int = 64,
             norm: str = "instance", use_dropout: bool = False, upsample: str = "transpose",
             attention_mask: bool = False, reframe_input: float = 1.0, reframe_output: float = 1.0, *,
             n_downsample_global: int = 3, n_blocks_global: int = 9, n_local_enhancers: int = 1,
             n_blocks_local: int = 3, c_dim: int = 0, residual_strength: bool = False) -> Network:
    """A generator by junyanz's ``--netG`` name: ``unet_128``, ``unet_256`` (generally ``unet_<2**num_downs>``),
    ``resnet_6blocks``, ``resnet_9blocks`` or ``resnet_<n>blocks``; ``attention_mask`` and the reframe zooms
    as in :class:`ResnetGenerator`; or pix2pixHD's ``global`` / ``local`` (NVIDIA's names;
    ``n_downsample_global`` …, :mod:`~i2i_models.networks.pix2pixhd`; no attention mask, reframe or dropout).
    ``c_dim`` > 0 (ResNet generators only) adds that many label channels after the image (a conditional
    generator ``G(x, c)``, the conditional CycleGAN's domain code; ``residual_strength``: its magnitude scales
    the change, see :class:`ResnetGenerator`). Raises ``ValueError`` otherwise."""
    if c_dim and not (netG.startswith("resnet_") and netG.endswith("blocks")):
        raise ValueError(f"a conditional generator (c_dim {c_dim}) must be a ResNet (resnet_6blocks, resnet_9blocks), "
                         f"not {netG!r}")
    if netG in ("global", "local"):
        if attention_mask or reframe_input != 1 or reframe_output != 1:
            raise ValueError(f"netG {netG!r} takes no attention mask or reframe zoom")
        if netG == "global":
            return GlobalGenerator(input_nc, output_nc, ngf, n_downsample_global, n_blocks_global, norm)
        return LocalEnhancer(input_nc, output_nc, ngf, n_downsample_global, n_blocks_global, n_local_enhancers,
                             n_blocks_local, norm)
    if netG.startswith("unet_") and netG[5:].isdigit():
        size = int(netG[5:])
        if size < 32 or size & (size - 1):
            raise ValueError(f"unknown U-Net preset {netG!r}; use unet_128, unet_256 (unet_<2**num_downs>)")
        return UnetGenerator(input_nc, output_nc, size.bit_length() - 1, ngf, norm, use_dropout, upsample,
                             attention_mask, reframe_input, reframe_output)
    if netG.startswith("resnet_") and netG.endswith("blocks") and netG[7:-6].isdigit():
        return ResnetGenerator(input_nc, output_nc, ngf, int(netG[7:-6]), norm, use_dropout, upsample=upsample,
                               attention_mask=attention_mask, reframe_input=reframe_input,
                               reframe_output=reframe_output, c_dim=c_dim, residual_strength=residual_strength)
    raise ValueError(f"unknown netG {netG!r}; use unet_128, unet_256, resnet_6blocks, resnet_9blocks, global or local")


def define_D(netD: str = "basic", input_nc: int = 3, ndf: int = 64, n_layers_D: int = 3, norm: str = "batch",
             num_D: int = 2, use_spectral_norm: bool = False) -> Network:
    """A discriminator by junyanz's ``--netD`` name: ``basic`` (70×70 PatchGAN), ``n_layers``
    (``n_layers_D`` layers), ``pixel`` (1×1 PixelGAN) or ``multiscale`` (pix2pixHD, ``num_D`` scales)."""
    if netD == "basic":
        return NLayerDiscriminator(input_nc, ndf, 3, norm, use_spectral_norm)
    if netD == "n_layers":
        return NLayerDiscriminator(input_nc, ndf, n_layers_D, norm, use_spectral_norm)
    if netD == "pixel":
        return PixelDiscriminator(input_nc, ndf, norm)
    if netD == "multiscale":
        return MultiscaleDiscriminator(input_nc, ndf, n_layers_D, norm, num_D, use_spectral_norm)
    raise ValueError(f"unknown netD {netD!r}; use basic, n_layers, pixel or multiscale")


__all__ = [
    "ARCHS", "build_network", "define_G", "define_D", "init_weights", "norm_layer", "upsample_conv", "NORMS",
    "UPSAMPLES", "Network", "InstanceNormStats", "UnetGenerator", "ResnetGenerator", "StarGANGenerator",
    "StarGANDiscriminator", "NLayerDiscriminator", "PixelDiscriminator", "MultiscaleDiscriminator",
    "PyTorchGANUnetGenerator", "PyTorchGANDiscriminator", "GlobalGenerator", "LocalEnhancer",
]
