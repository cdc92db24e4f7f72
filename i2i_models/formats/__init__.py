"""Recognising checkpoints of other codebases from their state-dict keys alone.

One table, ``DETECTORS``, one small function per known layout: each looks at a normalised state dict
(see :func:`i2i_models.state_dicts.unwrap_state_dict`) and either returns ``None`` ("not mine") or a
:class:`Detection` with our network config and the weights mapped onto it. The order is that of
``checkpoint-formats.md`` §6 (more specific layouts first; NVIDIA's pix2pixHD generators before junyanz's
ResNet, whose layout one of their configurations shares, see :mod:`.nvidia`).
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import UnknownCheckpointError
from ..state_dicts import StateDict, describe_keys
from . import junyanz, nvidia, pytorchgan, wangguanan, yunjey
from .base import Detection

DETECTORS: list[tuple[str, Callable[[StateDict], Detection | None]]] = [
    ("PyTorch-GAN/HugGAN GeneratorUNet (pix2pix)", pytorchgan.detect_unet),
    ("PyTorch-GAN/HugGAN GeneratorResNet (CycleGAN)", pytorchgan.detect_resnet),
    ("NVIDIA pix2pixHD LocalEnhancer (--netG local)", nvidia.detect_local),
    ("NVIDIA pix2pixHD GlobalGenerator (--netG global)", nvidia.detect_global),
    ("junyanz ResnetGenerator (resnet_6blocks/9blocks)", junyanz.detect_resnet),
    ("junyanz UnetGenerator (unet_128/256)", junyanz.detect_unet),
    ("yunjey StarGAN Generator", yunjey.detect_generator),
    ("yunjey StarGAN Discriminator", yunjey.detect_discriminator),
    ("wangguanan CycleGAN/StarGAN Generator", wangguanan.detect_generator),
    ("wangguanan StarGAN Discriminator", wangguanan.detect_stargan_discriminator),
    ("junyanz PixelDiscriminator", junyanz.detect_pixel),
    ("junyanz NLayerDiscriminator (PatchGAN)", junyanz.detect_nlayer),
    ("PyTorch-GAN/HugGAN Discriminator", pytorchgan.detect_discriminator),
]



# What a codebase's files (and their folder) add to a detected bundle config beyond the networks:
# ``complete(config, detections, files)`` in place. Keyed by ``Detection.codebase``.
COMPLETERS: dict[str, Callable] = {"junyanz": junyanz.complete, nvidia.CODEBASE: nvidia.complete}


def complete_config(config: dict, detections: list[Detection], files: list) -> None:
    """Let each codebase among ``detections`` add what its files imply (``COMPLETERS``); conditional
    (StarGAN) networks get yunjey's default attribute names for their label size."""
    for codebase in sorted({d.codebase for d in detections}):
        fn = COMPLETERS.get(codebase)
        if fn is not None:
            fn(config, [d for d in detections if d.codebase == codebase], files)
    if any(d.family == "stargan" for d in detections):
        yunjey.complete(config, detections, files)


def bundle_roles() -> set[str]:
    """Prefixes of our own bundles' weights (model.safetensors keys ``<role>.<layer>``): every family's roles."""
    from ..families import FAMILIES

    return {r for fam in FAMILIES.values() for r in fam.roles}


def detect(sd: StateDict, where: str = "checkpoint") -> Detection:
    """The first detector in ``DETECTORS`` that recognises ``sd``.

    Raises ``UnknownCheckpointError`` listing the known formats and the keys that were seen.
    """
    for name, fn in DETECTORS:
        try:
            det = fn(sd)
        except (IndexError, KeyError, TypeError, ValueError, AttributeError, RuntimeError):
            det = None  # a key pattern matched but the tensors do not fit this layout (damaged or foreign file)
        if det is not None:
            return det
    known = "\n  - ".join(name for name, _ in DETECTORS)
    raise UnknownCheckpointError(
        f"{where} is not a checkpoint layout this loader knows.\nKnown layouts:\n  - {known}\n  - our own folders "
        f"(config.json + model.safetensors)\nKeys seen: {describe_keys(sd)}\n"
        f"If it comes from another codebase, open an issue with these keys; a whole pickled model cannot be "
        f"loaded safely, save its state_dict instead.")


def split_roles(sd: StateDict) -> dict[str, StateDict] | None:
    """Split a bundle state dict (``G_A.model.1.weight`` …) by role, or ``None`` if it is not one."""
    parts: dict[str, StateDict] = {}
    roles = bundle_roles()
    for k, v in sd.items():
        role, _, rest = k.partition(".")
        if role not in roles or not rest:
            return None
        parts.setdefault(role, {})[rest] = v
    return parts


__all__ = ["DETECTORS", "Detection", "detect", "split_roles", "bundle_roles", "complete_config", "COMPLETERS"]
