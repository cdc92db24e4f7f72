"""junyanz/pytorch-CycleGAN-and-pix2pix: ``<epoch>_net_<G|G_A|G_B|D|D_A|D_B>.pth`` state dicts.

Hyper-parameters are read off the keys and shapes (``../shared/reference/checkpoint-formats.md`` §1):
U-Net ``num_downs``/``ngf``/norm, ResNet ``n_blocks``/``ngf``/norm/dropout/padding, NLayer ``n_layers``/
``ndf``/norm, PixelGAN. Runtime behaviour reproduced: InstanceNorm running statistics stored by
PyTorch <= 0.4 files are dropped (upstream ``load_networks`` does the same, so IN always uses per-image
statistics). ``use_dropout`` of a U-Net is not recorded in the file (Dropout shifts no index): it is
taken from ``train_opt.txt`` when one lies beside the file, else the pix2pix default (on).
"""

from __future__ import annotations

import re

from .base import Detection, StateDict, conv_indices, drop_all_stats, indices

CODEBASE = "junyanz"


def _norm(sd: StateDict, conv_key: str, norm_key: str) -> str:
    if norm_key + "weight" in sd:
        return "batch"
    if conv_key + "bias" in sd or norm_key + "running_mean" in sd:
        return "instance"
    return "none"


def detect_unet(sd: StateDict) -> Detection | None:
    if "model.model.0.weight" not in sd:
        return None
    w0 = sd["model.model.0.weight"]
    ngf, input_nc = w0.shape[0], w0.shape[1]
    rx = re.compile(r"^model\.model\.1(\.model\.3)*\.model\.1\.weight$")
    num_downs = 1 + sum(1 for k in sd if rx.match(k))
    if "model.model.3.weight" in sd:
        upsample, output_nc = "transpose", sd["model.model.3.weight"].shape[1]
    elif "model.model.3.1.weight" in sd:
        upsample, output_nc = "nearest", sd["model.model.3.1.weight"].shape[0]
    else:
        return None
    norm = _norm(sd, "model.model.0.", "model.model.1.model.2.")
    notes = ["use_dropout is not stored in U-Net files; assumed on (pix2pix default) unless train_opt.txt says "
             "--no_dropout; it only matters for the stochastic (test-time dropout) mode"]
    if norm == "instance":
        sd, dropped = drop_all_stats(sd)
        if dropped:
            notes.append(f"dropped {dropped} InstanceNorm running-stat buffers (legacy file); IN uses per-image statistics")
    return Detection(CODEBASE, "UnetGenerator",
                     {"arch": "unet", "input_nc": input_nc, "output_nc": output_nc, "num_downs": num_downs,
                      "ngf": ngf, "norm": norm, "use_dropout": True, "upsample": upsample},
                     sd, "pix2pix", notes)


def detect_resnet(sd: StateDict) -> Detection | None:
    blocks = indices(sd, r"^model\.(\d+)\.conv_block\.\d+\.")
    if not blocks or "model.1.weight" not in sd:
        return None
    n = len(blocks)
    w1 = sd["model.1.weight"]
    ngf, input_nc = w1.shape[0], w1.shape[1]
    b = f"model.{blocks[0]}.conv_block."
    zero = (b + "0.weight") in sd
    if zero:
        use_dropout = (b + "4.weight") in sd and sd[b + "4.weight"].dim() == 4
    else:
        use_dropout = (b + "6.weight") in sd and sd[b + "6.weight"].dim() == 4
    up = 10 + n
    if f"model.{up}.weight" in sd:
        upsample = "transpose"
    elif f"model.{up}.1.weight" in sd:
        upsample = "nearest"
    else:
        return None
    final = f"model.{17 + n}.weight"
    if final not in sd:
        return None
    norm = _norm(sd, "model.1.", "model.2.")
    notes = []
    if norm == "instance":
        sd, dropped = drop_all_stats(sd)
        if dropped:
            notes.append(f"dropped {dropped} InstanceNorm running-stat buffers (legacy pre-0.4 file, as upstream "
                         f"load_networks does); IN uses per-image statistics")
    if not zero:
        notes.append("padding_type reflect assumed (reflect and replicate store the same keys)")
    return Detection(CODEBASE, "ResnetGenerator",
                     {"arch": "resnet", "input_nc": input_nc, "output_nc": sd[final].shape[0], "ngf": ngf,
                      "n_blocks": n, "norm": norm, "use_dropout": use_dropout,
                      "padding_type": "zero" if zero else "reflect", "upsample": upsample},
                     sd, "cyclegan", notes)


def detect_nlayer(sd: StateDict) -> Detection | None:
    convs = conv_indices(sd, "model.")
    if len(convs) < 2 or convs[0] != 0 or sd["model.0.weight"].shape[-1] != 4:
        return None
    n_layers = len(convs) - 2
    if convs != [0] + [3 * k + 2 for k in range(n_layers + 1)]:
        return None
    if sd[f"model.{convs[-1]}.weight"].shape[0] != 1:
        return None
    w0 = sd["model.0.weight"]
    norm = _norm(sd, "model.2.", "model.3.")
    notes = []
    if norm == "instance":
        sd, dropped = drop_all_stats(sd)
        if dropped:
            notes.append(f"dropped {dropped} InstanceNorm running-stat buffers (legacy file)")
    family = "pix2pix" if w0.shape[1] in (2, 4, 6) else "cyclegan"
    return Detection(CODEBASE, "NLayerDiscriminator",
                     {"arch": "nlayer", "input_nc": w0.shape[1], "ndf": w0.shape[0], "n_layers": n_layers,
                      "norm": norm, "use_spectral_norm": False}, sd, family, notes)


def detect_pixel(sd: StateDict) -> Detection | None:
    w = sd.get("net.0.weight")
    if w is None or w.dim() != 4 or w.shape[-1] != 1 or "net.5.weight" not in sd:
        return None
    norm = _norm(sd, "net.2.", "net.3.")
    sd, _ = drop_all_stats(sd) if norm == "instance" else (sd, 0)
    family = "pix2pix" if w.shape[1] in (2, 4, 6) else "cyclegan"
    return Detection(CODEBASE, "PixelDiscriminator",
                     {"arch": "pixel", "input_nc": w.shape[1], "ndf": w.shape[0], "norm": norm}, sd, family)


def parse_train_opt(text: str) -> dict[str, str]:
    """Parse junyanz's ``train_opt.txt`` / ``test_opt.txt`` (``   name: value   [default: x]`` lines)."""
    opts = {}
    for line in text.splitlines():
        m = re.match(r"^\s*([A-Za-z_][\w]*)\s*:\s*(.*?)\s*(\[default:.*\])?\s*$", line)
        if m:
            opts[m.group(1)] = m.group(2)
    return opts


def apply_train_opt(det: Detection, opts: dict[str, str]) -> None:
    """Refine a junyanz detection with what ``train_opt.txt`` records (dropout, padding cannot be read off keys)."""
    cfg = det.network
    if "no_dropout" in opts and cfg["arch"] in ("unet", "resnet"):
        cfg["use_dropout"] = opts["no_dropout"].strip().lower() not in ("true", "1")
        det.notes = [n for n in det.notes if not n.startswith("use_dropout is not stored")]
        det.notes.append(f"use_dropout={cfg['use_dropout']} from train_opt.txt")


def complete(config: dict, detections: list[Detection], files: list) -> None:
    """What junyanz's run folder adds to a detected bundle config (in place): its ``train_opt.txt`` (or
    ``test_opt.txt``) beside the files refines the networks (dropout, padding) and gives the pix2pix
    ``direction``, the training ``crop_size`` (``image_size``) and the run name (domain names)."""
    opts: dict[str, str] = {}
    for folder in {f.parent for f in files}:
        for name in ("train_opt.txt", "test_opt.txt"):
            if (folder / name).is_file():
                opts = parse_train_opt((folder / name).read_text(encoding="utf-8", errors="replace"))
                break
    if not opts:
        return
    for det in detections:
        apply_train_opt(det, opts)
    if opts.get("direction") in ("AtoB", "BtoA") and config["family"] == "pix2pix":
        config["direction"] = opts["direction"]
    if opts.get("crop_size", "").isdigit():
        config["image_size"] = int(opts["crop_size"])
    if opts.get("name"):
        config.setdefault("name_hints", []).insert(0, opts["name"])
