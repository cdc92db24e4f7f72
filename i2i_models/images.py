"""Image plumbing between the world and the networks.

Outside: ComfyUI ``IMAGE`` tensors [B, H, W, C] with values in [0, 1] (float, or uint8 0..255), or PIL
images. Inside: [B, C, H, W] float in [-1, 1], colour channels only, padded to the network's multiple.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as PIL's "L" conversion


def from_pil(images) -> tuple[torch.Tensor, Callable[[torch.Tensor], object]]:
    """PIL image(s) -> ([B, H, W, C] float32 in [0, 1], function turning a result back into PIL).

    Modes L, LA, RGB, RGBA are kept (1, 2, 3, 4 channels); others (P, CMYK, I;16, …) are converted to RGB,
    or RGBA when they carry transparency. Images of a list must share one size.
    Raises ``ValueError`` for an empty list or mixed sizes.
    """
    import numpy as np

    def read(im):
        if im.mode not in ("L", "LA", "RGB", "RGBA"):
            im = im.convert("RGBA" if ("transparency" in im.info or im.mode in ("PA",)) else "RGB")
        a = np.asarray(im, dtype=np.float32) / 255.0
        return a[..., None] if a.ndim == 2 else a

    arrays, single = _pil_stack(images, read, "images", "share size and mode (resize them first)")
    return torch.from_numpy(arrays), lambda y: _to_pil(y, single)


def check_bhwc(x: torch.Tensor) -> torch.Tensor:
    """Validate a ComfyUI-layout image tensor and return it as [B, H, W, C] (a single [H, W, C] gets B=1).

    Raises ``ValueError`` with what to do for wrong rank, channel counts other than 1–4 (e.g. a
    [B, C, H, W] tensor passed by mistake), empty images, or non-finite values.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor [B,H,W,C] or PIL image(s), got {type(x).__name__}")
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4:
        raise ValueError(f"expected images [B,H,W,C] (ComfyUI layout), got shape {tuple(x.shape)}")
    if x.shape[-1] not in (1, 2, 3, 4):
        hint = " (this looks like [B,C,H,W]; permute to [B,H,W,C])" if x.shape[1] in (1, 3, 4) else ""
        raise ValueError(f"images must have 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels in the last "
                         f"dimension, got shape {tuple(x.shape)}{hint}")
    if 0 in x.shape:
        raise ValueError(f"empty image batch {tuple(x.shape)}")
    return x


def to_unit_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 -> float 0..1; float stays (as float32). Raises ``ValueError`` for other dtypes (bool,
    integers) and for NaN or infinite values."""
    if x.dtype == torch.uint8:
        return x.float() / 255.0
    if not x.dtype.is_floating_point:
        raise ValueError(f"image dtype {x.dtype} not supported; use float in [0,1] or uint8")
    x = x.float()
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"the image holds {bad} NaN or infinite value(s); whatever produced it failed — fix that step "
                         f"(a translation of NaN would be NaN)")
    return x


def from_unit_float(y: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if dtype == torch.uint8:
        return (y.clamp(0, 1) * 255).round().to(torch.uint8)
    return y.to(dtype)


def split_alpha(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """[B,H,W,C] -> (colour [B,H,W,1|3], alpha [B,H,W,1] or None) for C = 1, 2, 3, 4."""
    if x.shape[-1] in (2, 4):
        return x[..., :-1], x[..., -1:]
    return x, None


def adapt_input(colour: torch.Tensor, input_nc: int) -> torch.Tensor:
    """Colour [B,H,W,1|3] -> [B,H,W,input_nc]: RGB to gray by BT.601 luma, gray to RGB by repetition.

    Raises ``ValueError`` when the model takes another channel count (e.g. 2-channel Lab models).
    """
    c = colour.shape[-1]
    if c == input_nc:
        return colour
    if input_nc == 1 and c == 3:
        w = torch.tensor(LUMA, dtype=colour.dtype, device=colour.device)
        return (colour * w).sum(-1, keepdim=True)
    if input_nc == 3 and c == 1:
        return colour.expand(*colour.shape[:-1], 3)
    raise ValueError(f"the model takes {input_nc}-channel images; {c}-channel colour cannot be adapted")


def output_channels(colour_in: int, model_out: int) -> int:
    """Colour channels of the result: RGB if the input or the model is RGB, else gray."""
    if model_out not in (1, 3):
        raise ValueError(f"models with {model_out} output channels are not supported for images")
    return 3 if 3 in (colour_in, model_out) else 1


def pad_to_multiple(x: torch.Tensor, multiple: int, extra: int = 0, min_size: int = 1) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Pad [B,C,H,W] so H and W become multiples of ``multiple``, at least ``min_size`` (+ ``extra`` on every side).

    Padding is split evenly between the two sides, reflecting the image where it is large enough and
    repeating its edge pixels otherwise. Returns the padded tensor and (left, right, top, bottom).
    """
    H, W = x.shape[-2:]
    ph, pw = max((-H) % multiple, min_size - H), max((-W) % multiple, min_size - W)
    pads = (pw // 2 + extra, pw - pw // 2 + extra, ph // 2 + extra, ph - ph // 2 + extra)
    if not any(pads):
        return x, pads
    mode = "reflect" if max(pads[0], pads[1]) < W and max(pads[2], pads[3]) < H else "replicate"
    return F.pad(x, pads, mode=mode), pads


def crop(y: torch.Tensor, pads: Sequence[int], extra: int = 0) -> torch.Tensor:
    """Undo :func:`pad_to_multiple` on a [B,C,H,W] result (whose size may be smaller by ``2*extra``)."""
    left, right, top, bottom = (p - extra for p in pads)
    H, W = y.shape[-2:]
    return y[..., top:H - bottom, left:W - right]


def resize_to(x: torch.Tensor, size: tuple[int, int], clamp: bool = True) -> torch.Tensor:
    """Resize [B, H, W, C] to ``size`` = (H', W'): bicubic, antialiased when shrinking; clamped to [0, 1]
    unless ``clamp=False`` (for signed differences)."""
    y = F.interpolate(x.permute(0, 3, 1, 2), size=tuple(int(s) for s in size), mode="bicubic", align_corners=False,
                      antialias=True)
    return (y.clamp(0, 1) if clamp else y).permute(0, 2, 3, 1)


def resize_short_side(x: torch.Tensor, short: int) -> torch.Tensor:
    """Resize [B, H, W, C] so that min(H, W) = ``short`` (aspect kept)."""
    H, W = x.shape[1:3]
    scale = short / min(H, W)
    return resize_to(x, (max(1, round(H * scale)), max(1, round(W * scale))))


def pil_label_ids(images) -> tuple[torch.Tensor, Callable[[torch.Tensor], object]]:
    """Label or instance map(s) as PIL images -> (ids [B, H, W] int64, function turning an RGB result [B, H, W, 3]
    in [0, 1] back into PIL). The pixel values are the ids: modes L, P (palette indices, not colours), I and
    I;16 are read as they are; of other modes (RGB …) the first channel. Raises ``ValueError`` for an empty
    list or mixed sizes."""
    import numpy as np

    def read(im):
        a = np.asarray(im) if im.mode in ("L", "P", "I", "I;16") else np.asarray(im.convert("RGB"))[..., 0]
        return a.astype(np.int64)

    arrays, single = _pil_stack(images, read, "label maps", "share one size")
    return torch.from_numpy(arrays), lambda y: _to_pil(y, single)


def _pil_stack(images, read: Callable, what: str, rule: str):
    """One PIL image or a list -> (numpy stack of ``read(image)`` for each, whether one image was given).
    Raises ``ValueError`` for an empty list or arrays of different shapes."""
    import numpy as np
    from PIL import Image

    single = isinstance(images, Image.Image)
    items = [images] if single else list(images)
    if not items:
        raise ValueError(f"no {what} given")
    arrays = [read(im) for im in items]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"{what} of one call must {rule}; got {sorted(shapes)}")
    return np.stack(arrays), single


def _to_pil(y: torch.Tensor, single: bool):
    """[B, H, W, C] in [0, 1] -> PIL image(s) of mode L, LA, RGB or RGBA (one image when ``single``)."""
    from PIL import Image

    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[y.shape[-1]]
    arr = (y.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    out = [Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a, mode) for a in arr]
    return out[0] if single else out


def label_ids(x: torch.Tensor) -> torch.Tensor:
    """An integer label map [B, H, W] (int64) from a label map given as integers ([B, H, W] or [B, H, W, 1]), or
    as a ComfyUI IMAGE/MASK (float in [0, 1], ids stored as 8-bit values: id = round(255·x); of an image the
    first channel). Raises ``ValueError`` for other shapes."""
    if x.dim() == 4:
        x = x[..., 0]
    if x.dim() == 2:
        x = x.unsqueeze(0)
    if x.dim() != 3:
        raise ValueError(f"a label map is [B, H, W] (or an IMAGE/MASK), got shape {tuple(x.shape)}")
    if x.dtype.is_floating_point:
        return (x.float() * 255).round().long()
    return x.long()


def instance_edges(inst: torch.Tensor) -> torch.Tensor:
    """pix2pixHD's instance-edge map [B, H, W] (0/1 float): 1 where a 4-neighbour belongs to another instance
    (NVIDIA ``Pix2PixHDModel.get_edges``), from an instance map [B, H, W] of ids."""
    e = torch.zeros(inst.shape, dtype=torch.bool, device=inst.device)
    dx = inst[:, :, 1:] != inst[:, :, :-1]
    dy = inst[:, 1:, :] != inst[:, :-1, :]
    e[:, :, 1:] |= dx
    e[:, :, :-1] |= dx
    e[:, 1:, :] |= dy
    e[:, :-1, :] |= dy
    return e.float()


def label_map_input(labels: torch.Tensor, label_nc: int, instance: torch.Tensor | None = None,
                    with_edges: bool = False) -> torch.Tensor:
    """A label-map model's input [B, H, W, label_nc (+1)]: the one-hot map of ``labels`` (ids as
    :func:`label_ids` reads them; ids >= ``label_nc`` raise ``ValueError``) and, when ``with_edges``, the
    instance-edge channel of ``instance`` (:func:`instance_edges`; zeros when no instance map is given)."""
    ids = label_ids(labels)
    if int(ids.max()) >= label_nc or int(ids.min()) < 0:
        raise ValueError(f"label ids must lie in 0..{label_nc - 1} for this model (label_nc={label_nc}); got "
                         f"{int(ids.min())}..{int(ids.max())}")
    one_hot = torch.nn.functional.one_hot(ids, label_nc).float()
    if not with_edges:
        return one_hot
    return torch.cat([one_hot, edge_channel(instance, tuple(ids.shape))], -1)


def edge_channel(instance: torch.Tensor | None, shape: tuple[int, int, int]) -> torch.Tensor:
    """The instance-edge input channel [B, H, W, 1] (0/1) of an instance map ([B, H, W] ids, or an IMAGE/MASK read
    as :func:`label_ids` reads label maps), zeros when ``instance`` is None (no instance boundaries). Raises
    ``ValueError`` when the instance map's shape is not ``shape`` (the image's or label map's [B, H, W])."""
    if instance is None:
        return torch.zeros(*shape, 1)
    inst = label_ids(instance)
    if inst.shape[0] == 1 and shape[0] > 1:
        inst = inst.expand(shape[0], -1, -1)
    if tuple(inst.shape) != tuple(shape):
        raise ValueError(f"the instance map {tuple(inst.shape)} must have the label map's (or image's) shape "
                         f"{tuple(shape)}")
    return instance_edges(inst).unsqueeze(-1)
