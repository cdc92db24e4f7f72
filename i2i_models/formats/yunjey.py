"""yunjey/stargan: ``<step>-G.ckpt`` and ``<step>-D.ckpt`` state dicts (``checkpoint-formats.md`` §2).

The generator's InstanceNorm layers are affine with running statistics (``track_running_stats=True``
since the PyTorch 0.3 pretrained models); yunjey never calls ``eval()``, so its outputs use
**per-image statistics**: we keep the buffers (strict loading) but never use them. PyTorch 0.3 files
lack ``num_batches_tracked``: filled with zeros.
"""

from __future__ import annotations

import torch

from .base import Detection, StateDict, indices

CODEBASE = "yunjey-stargan"

CELEBA_ATTRS = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]
RAFD_ATTRS = ["angry", "contemptuous", "disgusted", "fearful", "happy", "neutral", "sad", "surprised"]


def default_attributes(c_dim: int) -> tuple[list[str], list[list[str]]]:
    """Attribute names and one-hot groups yunjey's defaults imply for a label size ``c_dim``.

    5: CelebA ``--selected_attrs`` default (hair colours one-hot); 8: RaFD expressions (one-hot, sorted
    folder names); 15: ``--dataset Both`` (CelebA 5 + RaFD 8 + 2 mask bits). Otherwise ``attr_<i>``.
    """
    if c_dim == 5:
        return list(CELEBA_ATTRS), [CELEBA_ATTRS[:3]]
    if c_dim == 8:
        return list(RAFD_ATTRS), [list(RAFD_ATTRS)]
    if c_dim == 15:
        return CELEBA_ATTRS + RAFD_ATTRS + ["mask_CelebA", "mask_RaFD"], [CELEBA_ATTRS[:3], list(RAFD_ATTRS), ["mask_CelebA", "mask_RaFD"]]
    names = [f"attr_{i}" for i in range(c_dim)]
    return names, []


def fill_num_batches_tracked(sd: StateDict) -> tuple[StateDict, int]:
    """Add ``num_batches_tracked = 0`` beside every ``running_mean`` that lacks it (PyTorch 0.3 files)."""
    out = dict(sd)
    n = 0
    for k in sd:
        if k.endswith(".running_mean"):
            nbt = k[: -len("running_mean")] + "num_batches_tracked"
            if nbt not in out:
                out[nbt] = torch.tensor(0, dtype=torch.long)
                n += 1
    return out, n


def generator_detection(sd: StateDict, codebase: str, kind: str, use_running_stats: bool, family: str,
                        notes: list[str]) -> Detection | None:
    """Detect a StarGAN-layout generator in ``sd`` already renamed to yunjey keys (``main.<i>``)."""
    w0 = sd.get("main.0.weight")
    blocks = indices(sd, r"^main\.(\d+)\.main\.\d+\.")
    if w0 is None or w0.dim() != 4 or w0.shape[-1] != 7 or not blocks:
        return None
    r = len(blocks)
    final = sd.get(f"main.{15 + r}.weight")
    if final is None:
        return None
    upsample = "transpose" if f"main.{9 + r}.weight" in sd else "nearest"
    track = "main.1.running_mean" in sd
    sd, filled = fill_num_batches_tracked(sd)
    if filled:
        notes = notes + [f"added {filled} num_batches_tracked buffers missing from a PyTorch 0.3 file"]
    input_nc = 3
    return Detection(codebase, kind,
                     {"arch": "stargan_g", "conv_dim": w0.shape[0], "c_dim": w0.shape[1] - input_nc, "repeat_num": r,
                      "input_nc": input_nc, "output_nc": final.shape[0], "track_running_stats": track,
                      "use_running_stats": use_running_stats and track, "upsample": upsample},
                     sd, family, notes)


def discriminator_detection(sd: StateDict, codebase: str, kind: str) -> Detection | None:
    """Detect a StarGAN discriminator in ``sd`` already renamed to yunjey keys (``main``, ``conv1``, ``conv2``)."""
    if not {"main.0.weight", "conv1.weight", "conv2.weight"} <= sd.keys():
        return None
    w0, w2 = sd["main.0.weight"], sd["conv2.weight"]
    repeat_num = len(indices(sd, r"^main\.(\d+)\.weight$"))
    return Detection(codebase, kind,
                     {"arch": "stargan_d", "image_size": w2.shape[-1] * 2 ** repeat_num, "conv_dim": w0.shape[0],
                      "c_dim": w2.shape[0], "repeat_num": repeat_num, "input_nc": w0.shape[1]},
                     sd, "stargan")


def detect_generator(sd: StateDict) -> Detection | None:
    return generator_detection(sd, CODEBASE, "Generator", False, "stargan",
                               ["InstanceNorm uses per-image statistics, as yunjey's solver.test() (which never "
                                "calls eval()); stored running statistics are kept but not used"])


def detect_discriminator(sd: StateDict) -> Detection | None:
    return discriminator_detection(sd, CODEBASE, "Discriminator")


def complete(config: dict, detections: list[Detection], files: list) -> None:
    """A StarGAN file knows its label size, not its attribute names: yunjey's defaults for that size
    (:func:`default_attributes`)."""
    c_dim = next((d.network["c_dim"] for d in detections if "c_dim" in d.network), None)
    if c_dim is not None and "attributes" not in config:
        config["attributes"], config["attribute_groups"] = default_attributes(c_dim)
