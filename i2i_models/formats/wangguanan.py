"""wangguanan/Pytorch-Image-Translation-GANs (course code; ``checkpoint-formats.md`` §5).

Its CycleGAN and StarGAN generators are yunjey's StarGAN generator with the prefix ``model.``
(``model.<i>.model.<j>`` in residual blocks); its StarGAN discriminator is yunjey's with ``model.``,
``conv_src`` and ``conv_cls``. Files were saved from ``DataParallel`` (``module.`` prefix, stripped).
Runtime: the CycleGAN sampler calls ``eval()``, so there InstanceNorm uses the **running** statistics;
the StarGAN code never does (per-image statistics), as yunjey. The pixel2pixel generator has the
PyTorch-GAN ``GeneratorUNet`` keys (see :mod:`.pytorchgan`).
"""

from __future__ import annotations

from .base import Detection, StateDict, rename
from .yunjey import discriminator_detection, generator_detection

CODEBASE = "wangguanan"


def detect_generator(sd: StateDict) -> Detection | None:
    w0 = sd.get("model.0.weight")
    if w0 is None or w0.dim() != 4 or w0.shape[-1] != 7 or not any(".model." in k for k in sd):
        return None
    mapped = rename(sd, [(r"^model\.(\d+)\.model\.", r"main.\1.main."), (r"^model\.", "main.")])
    if w0.shape[1] == 3:
        return generator_detection(mapped, CODEBASE, "cyclegan.Generator", True, "cyclegan",
                                   ["wangguanan CycleGAN: eval() InstanceNorm with the stored running statistics, "
                                    "as its sampler"])
    return generator_detection(mapped, CODEBASE, "stargan.Generator", False, "stargan",
                               ["wangguanan StarGAN: per-image InstanceNorm statistics (eval() is never called)"])


def detect_stargan_discriminator(sd: StateDict) -> Detection | None:
    if not {"model.0.weight", "conv_src.weight", "conv_cls.weight"} <= sd.keys():
        return None
    mapped = rename(sd, [(r"^model\.", "main."), (r"^conv_src\.", "conv1."), (r"^conv_cls\.", "conv2.")])
    return discriminator_detection(mapped, CODEBASE, "stargan.Discriminator")
