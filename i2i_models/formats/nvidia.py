"""NVIDIA/pix2pixHD: ``<epoch>_net_G.pth`` state dicts of ``GlobalGenerator`` (``--netG global``) and
``LocalEnhancer`` (``--netG local``), saved by their ``BaseModel.save_network`` (``net.state_dict()``).

Read off the keys and shapes: ``ngf``, ``n_downsample_global``, ``n_blocks_global``, ``n_local_enhancers``,
``n_blocks_local``, norm (batch-norm affine weights, or none stored: instance), padding (zero padding shifts
the residual block's convs; reflect and replicate store the same keys, reflect assumed, NVIDIA's only choice).
Our :mod:`i2i_models.networks.pix2pixhd` has their module layout, so the weights load as they are.

What the keys cannot say is the meaning of the input channels. With 1 or 3 channels the input is an image
(``--label_nc 0 --no_instance``); with more, a label map of ``C - 1`` classes plus the instance-edge channel
is assumed (NVIDIA's defaults ``--label_nc 35`` without ``--no_instance`` give 36). Their ``opt.txt`` beside the
file, when there is one, decides instead (``label_nc``, ``no_instance``).

Not to be confused with junyanz's ResNet: a global generator with 2 down-samplings and instance norm has
exactly the layout of junyanz's ``resnet_<n>blocks`` and computes the same function, so it is left to that
detector unless its input cannot be an image (more than 4 channels). With batch norm NVIDIA's convolutions
have biases and junyanz's do not; any other number of down-samplings is NVIDIA's alone.
"""

from __future__ import annotations

from ..errors import UnknownCheckpointError
from .base import Detection, StateDict, indices
from .junyanz import parse_train_opt

CODEBASE = "nvidia-pix2pixhd"


def _trunk(sd: StateDict, prefix: str, final: bool) -> dict | None:
    """Hyper-parameters of a global trunk ``<prefix><i>`` (with the final pad/conv/tanh when ``final``)."""
    w1 = sd.get(prefix + "1.weight")
    if w1 is None or w1.dim() != 4 or tuple(w1.shape[-2:]) != (7, 7) or (prefix + "1.bias") not in sd:
        return None
    blocks = indices(sd, "^" + prefix.replace(".", r"\.") + r"(\d+)\.conv_block\.")
    if not blocks or blocks != list(range(blocks[0], blocks[0] + len(blocks))) or (blocks[0] - 4) % 3:
        return None
    n_down, n_blocks = (blocks[0] - 4) // 3, len(blocks)
    for i in range(n_down):
        w = sd.get(f"{prefix}{4 + 3 * i}.weight")
        if w is None or w.dim() != 4 or tuple(w.shape[-2:]) != (3, 3) or w.shape[0] != w.shape[1] * 2:
            return None
    up0 = blocks[-1] + 1
    for i in range(n_down):
        w = sd.get(f"{prefix}{up0 + 3 * i}.weight")  # ConvTranspose2d weights are [in, out, k, k]
        if w is None or w.dim() != 4 or w.shape[0] != w.shape[1] * 2:
            return None
    out = {"input": w1.shape[1], "ngf": w1.shape[0], "n_down": n_down, "n_blocks": n_blocks,
           "norm": "batch" if (prefix + "2.weight") in sd else "instance",
           "padding_type": "zero" if f"{prefix}{blocks[0]}.conv_block.0.weight" in sd else "reflect"}
    last = up0 + 3 * n_down
    if final:
        wf = sd.get(f"{prefix}{last + 1}.weight")
        if wf is None or any(k.startswith(f"{prefix}{last + 2}.") for k in sd):
            return None
        out["output_nc"] = wf.shape[0]
    elif any(k.startswith(f"{prefix}{last}.") for k in sd):
        return None
    return out


def _inputs(c: int) -> tuple[dict, list[str]]:
    if c <= 3:
        return {"input_nc": c, "label_nc": 0, "instance_edges": False}, []
    return ({"input_nc": 3, "label_nc": c - 1, "instance_edges": True},
            [f"{c} input channels read as a label map of label_nc={c - 1} classes plus the instance-edge channel "
             f"(NVIDIA's default, without --no_instance); an opt.txt beside the file decides otherwise"])


def detect_global(sd: StateDict) -> Detection | None:
    """An NVIDIA ``GlobalGenerator`` (keys ``model.<i>``, conv biases, a ``[pad, conv7, tanh]`` end), or None —
    also None for the configuration that is junyanz's ResNet exactly (see the module docstring)."""
    if any(k.startswith("model1_1.") for k in sd):
        return None
    t = _trunk(sd, "model.", final=True)
    if t is None:
        return None
    if t["norm"] == "instance" and t["n_down"] == 2 and t["input"] <= 4:
        return None  # junyanz's ResNet layout and function: its detector takes it
    inputs, notes = _inputs(t["input"])
    if t["padding_type"] == "reflect":
        notes.append("padding_type reflect assumed (reflect and replicate store the same keys)")
    return Detection(CODEBASE, "GlobalGenerator",
                     {"arch": "pix2pixhd_global", **inputs, "output_nc": t["output_nc"], "ngf": t["ngf"],
                      "n_downsample_global": t["n_down"], "n_blocks_global": t["n_blocks"], "norm": t["norm"],
                      "padding_type": t["padding_type"]}, sd, "pix2pix", notes)


def detect_local(sd: StateDict) -> Detection | None:
    """An NVIDIA ``LocalEnhancer`` (the global trunk ``model.<i>`` without its end, ``model<n>_1``/``model<n>_2``
    per enhancer), or None."""
    n_enh = len(indices(sd, r"^model(\d+)_1\."))
    if not n_enh or indices(sd, r"^model(\d+)_1\.") != list(range(1, n_enh + 1)):
        return None
    t = _trunk(sd, "model.", final=False)
    if t is None:
        return None
    ngf = t["ngf"] // 2 ** n_enh
    if ngf * 2 ** n_enh != t["ngf"] or f"model{n_enh}_1.1.weight" not in sd:
        return None
    n_blocks_local = len(indices(sd, rf"^model{n_enh}_2\.(\d+)\.conv_block\."))
    final = sd.get(f"model{n_enh}_2.{n_blocks_local + 4}.weight")
    if final is None or final.shape[1] != ngf:
        return None
    inputs, notes = _inputs(sd["model1_1.1.weight"].shape[1])
    return Detection(CODEBASE, "LocalEnhancer",
                     {"arch": "pix2pixhd_local", **inputs, "output_nc": final.shape[0], "ngf": ngf,
                      "n_downsample_global": t["n_down"], "n_blocks_global": t["n_blocks"],
                      "n_local_enhancers": n_enh, "n_blocks_local": n_blocks_local, "norm": t["norm"],
                      "padding_type": t["padding_type"]}, sd, "pix2pix", notes)


def _truthy(v: str) -> bool:
    return v.strip().lower() in ("true", "1")


def complete(config: dict, detections: list[Detection], files: list) -> None:
    """What NVIDIA's ``opt.txt`` beside the files says (in place): the input channels' meaning (``label_nc``,
    ``no_instance``), the training crop (``fineSize`` → ``image_size``) and the run name (domain names).

    Raises ``UnknownCheckpointError`` for models that take encoder features (``--instance_feat`` /
    ``--label_feat``): their feature maps come from a separate encoder and clustering this loader lacks."""
    opts: dict[str, str] = {}
    for folder in {f.parent for f in files}:
        if (folder / "opt.txt").is_file():
            opts = parse_train_opt((folder / "opt.txt").read_text(encoding="utf-8", errors="replace"))
            break
    if not opts:
        return
    if _truthy(opts.get("instance_feat", "")) or _truthy(opts.get("label_feat", "")):
        raise UnknownCheckpointError(
            f"{files[0]}: this pix2pixHD model takes encoded instance features (--instance_feat/--label_feat, "
            f"feat_num={opts.get('feat_num', '?')}), which need NVIDIA's feature encoder and clusters; only "
            f"models trained without them can be loaded")
    for det in detections:
        cfg = det.network
        c = cfg["label_nc"] + int(cfg["instance_edges"]) if cfg["label_nc"] else cfg["input_nc"] + int(cfg["instance_edges"])
        label_nc = int(opts["label_nc"]) if opts.get("label_nc", "").isdigit() else cfg["label_nc"]
        edges = not _truthy(opts["no_instance"]) if "no_instance" in opts else cfg["instance_edges"]
        want = (label_nc or int(opts.get("input_nc", 3) or 3)) + int(edges)
        if want != c:
            det.notes.append(f"opt.txt (label_nc={label_nc}, no_instance={not edges}) implies {want} input channels, "
                             f"the weights take {c}: kept the reading of the weights")
            continue
        cfg.update(label_nc=label_nc, instance_edges=edges, input_nc=cfg["input_nc"] if label_nc else c - int(edges))
        det.notes = [n for n in det.notes if "input channels read as" not in n]
        det.notes.append(f"inputs from opt.txt: label_nc={label_nc}, instance edges {'on' if edges else 'off'}")
    if opts.get("fineSize", "").isdigit():
        config["image_size"] = int(opts["fineSize"])
    if opts.get("name"):
        config.setdefault("name_hints", []).insert(0, opts["name"])
