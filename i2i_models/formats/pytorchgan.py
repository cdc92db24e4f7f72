"""eriklindernoren/PyTorch-GAN and the HugGAN sprint's Hub models (``pytorch_model.bin`` without our
config; ``checkpoint-formats.md`` §3-4). wangguanan's pixel2pixel generator has the same keys.

* ``GeneratorUNet`` (``down1…down8``, ``up1…up7``, ``final.2``) -> :class:`PyTorchGANUnetGenerator`.
* ``GeneratorResNet`` (``model.<i>.block.<j>``; nearest-upsample convs at ``model.(11+n)`` and
  ``model.(15+n)``, final conv at ``model.(19+n)``) -> :class:`ResnetGenerator` with ``upsample="nearest"``
  and ``outer_padding`` = channels (its ``ReflectionPad2d(channels)`` quirk), keys mapped.
* ``Discriminator`` (convs at ``model.0, 2, 5, 8`` then ZeroPad and ``model.12``) -> :class:`PyTorchGANDiscriminator`.
"""

from __future__ import annotations

from .base import Detection, StateDict, conv_indices, indices, rename

CODEBASE = "pytorch-gan"


def detect_unet(sd: StateDict) -> Detection | None:
    if not {"down1.model.0.weight", "final.2.weight", "down8.model.0.weight"} <= sd.keys():
        return None
    return Detection(CODEBASE, "GeneratorUNet",
                     {"arch": "pytorchgan_unet", "input_nc": sd["down1.model.0.weight"].shape[1],
                      "output_nc": sd["final.2.weight"].shape[0]},
                     sd, "pix2pix", ["HugGAN / PyTorch-GAN / wangguanan pix2pix GeneratorUNet; dropout off in eval()"])


def detect_resnet(sd: StateDict) -> Detection | None:
    blocks = indices(sd, r"^model\.(\d+)\.block\.\d+\.")
    if not blocks or "model.1.weight" not in sd:
        return None
    n = len(blocks)
    up1, up2, final = 11 + n, 15 + n, 19 + n
    if not {f"model.{up1}.weight", f"model.{up2}.weight", f"model.{final}.weight"} <= sd.keys():
        return None
    w1 = sd["model.1.weight"]
    channels = w1.shape[1]
    sd = rename(sd, [(r"^model\.(\d+)\.block\.", r"model.\1.conv_block."),
                     (rf"^model\.{up1}\.", f"model.{10 + n}.1."),
                     (rf"^model\.{up2}\.", f"model.{13 + n}.1."),
                     (rf"^model\.{final}\.", f"model.{17 + n}.")])
    notes = ["HugGAN / PyTorch-GAN GeneratorResNet = ResNet generator with nearest-upsample convs"]
    if channels != 3:
        notes.append(f"reflection padding {channels} around the 7x7 convs (the original pads by the channel count), "
                     f"so it loses {4 * (3 - channels)} px per axis; the inference engine compensates")
    return Detection(CODEBASE, "GeneratorResNet",
                     {"arch": "resnet", "input_nc": channels, "output_nc": sd[f"model.{17 + n}.weight"].shape[0],
                      "ngf": w1.shape[0], "n_blocks": n, "norm": "instance", "use_dropout": False,
                      "padding_type": "reflect", "upsample": "nearest", "outer_padding": channels},
                     sd, "cyclegan", notes)


def detect_discriminator(sd: StateDict) -> Detection | None:
    if conv_indices(sd, "model.") != [0, 2, 5, 8, 12]:
        return None
    w0 = sd["model.0.weight"]
    if sd["model.12.weight"].shape[0] != 1 or w0.shape[0] != 64:
        return None
    final_bias = "model.12.bias" in sd
    return Detection(CODEBASE, "Discriminator",
                     {"arch": "pytorchgan_d", "input_nc": w0.shape[1], "final_bias": final_bias},
                     sd, "cyclegan" if final_bias else "pix2pix")
