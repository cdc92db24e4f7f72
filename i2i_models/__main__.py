"""Command line: ``python -m i2i_models inspect SOURCE``, ``convert SOURCE OUT_DIR``, ``translate SOURCE IMAGES… --out OUT``
and ``export SOURCE OUT_DIR --format onnx``."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import torch

from . import load
from .inference import PRECISIONS
from .errors import I2IError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m i2i_models", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    pi = sub.add_parser("inspect", help="print the detected family, codebase, architecture and hyper-parameters as JSON")
    pi.add_argument("source", help="Hub repo id, local folder or weights file")
    pi.add_argument("--family", choices=["pix2pix", "cyclegan", "stargan"], help="expected family (checked)")
    pi.add_argument("--revision", help="Hub branch, tag or commit")
    pc = sub.add_parser("convert", help="write SOURCE as our self-describing folder (config.json + model.safetensors + README.md)")
    pc.add_argument("source", help="Hub repo id, local folder or weights file")
    pc.add_argument("out_dir", help="folder to write (replaced atomically if it exists)")
    pc.add_argument("--family", choices=["pix2pix", "cyclegan", "stargan"],
                    help="family for a bare one-direction generator file (default: U-Net -> pix2pix, ResNet -> cyclegan)")
    pc.add_argument("--revision", help="Hub branch, tag or commit")
    pc.add_argument("--domains", nargs=2, metavar=("A", "B"), help="names of domains A and B (CycleGAN/pix2pix)")
    pc.add_argument("--attributes", nargs="+", help="StarGAN attribute names, in label order")
    pc.add_argument("--half", action="store_true", help="store the weights as float16 (half the size; they load as float32)")
    pc.add_argument("--float32", action="store_true", help="store the weights as float32 (by default the copy keeps "
                                                           "the dtype the source stores: a float16 model stays float16)")
    pc.add_argument("--drop-discriminators", action="store_true",
                    help="keep only the generators (smaller; a StarGAN then needs known source labels to edit)")
    pc.add_argument("--push-to-hub", metavar="REPO", help="also push the folder to this Hub repo")
    pc.add_argument("--private", action="store_true", help="create the Hub repo private")
    pt = sub.add_parser("translate", help="translate image files with a model (any size; alpha kept)")
    pt.add_argument("source", help="Hub repo id, local folder or weights file")
    pt.add_argument("inputs", nargs="+", help="input image files")
    pt.add_argument("--out", required=True, help="output file (one input) or folder")
    pt.add_argument("--direction", choices=["AtoB", "BtoA"], help="CycleGAN direction (default: the first available)")
    pt.add_argument("--strength", type=float,
                    help="CycleGAN: how strongly to translate (1 = the translation, 0 = unchanged, -1 = the other "
                         "direction; any value for models trained with --conditional)")
    pt.add_argument("--strengths", default="", help="StarGAN: attribute strengths, e.g. 'Woman=1, Skin_Dark=1'")
    pt.add_argument("--precision", default="fp32", choices=list(PRECISIONS), help="inference precision")
    pt.add_argument("--tiled", action="store_true", help="force exact streamed tiles (auto for large images)")
    pt.add_argument("--instance", nargs="+", metavar="FILE",
                    help="pix2pixHD models with the instance-edge input: one instance map per input (label-map models "
                         "take label PNGs as inputs, pixel values = class ids)")
    pt.add_argument("--backend", default="torch", choices=["torch", "auto", "openvino", "onnxruntime"],
                    help="where the generator runs: torch (default), or exported to ONNX and run by OpenVINO/ONNX Runtime "
                         "on CPU (auto: the fastest installed; the export is cached, README 'Speed')")
    pe = sub.add_parser("export", help="write each generator as an ONNX file (dynamic batch/height/width, metadata inside), "
                                       "checked against torch with onnxruntime")
    pe.add_argument("source", help="Hub repo id, local folder or weights file")
    pe.add_argument("out_dir", help="folder for <role>.onnx (generator.onnx; CycleGAN G_A.onnx and G_B.onnx)")
    pe.add_argument("--format", default="onnx", choices=["onnx"], help="export format")
    pe.add_argument("--family", choices=["pix2pix", "cyclegan", "stargan"], help="expected family (checked)")
    pe.add_argument("--revision", help="Hub branch, tag or commit")
    pe.add_argument("--no-check", action="store_true", help="skip running the files against torch")
    for sp in (pi, pc, pt, pe):
        sp.add_argument("--debug", action="store_true", help="show the traceback of an error")
    args = p.parse_args(argv)
    try:
        if args.cmd == "translate":
            _check_translate_args(args)
        elif args.cmd == "convert" and args.half and args.float32:
            raise ValueError("--half and --float32 contradict each other: choose one")
        model = load(args.source, family=getattr(args, "family", None), revision=getattr(args, "revision", None))
        if args.cmd == "inspect":
            print(json.dumps(model.describe(), indent=2))
            return 0
        if args.cmd == "translate":
            return _translate(model, args)
        if args.cmd == "export":
            from .export import export

            for path in export(model, args.out_dir, format=args.format, check=not args.no_check):
                print(f"wrote {path}")
            return 0
        if args.domains:
            model = model.with_config(domains={"A": args.domains[0], "B": args.domains[1]})
        if args.attributes:
            if len(args.attributes) != len(model.config.get("attributes", [])):
                raise I2IError(f"--attributes needs {len(model.config.get('attributes', []))} names, got {len(args.attributes)}")
            model = model.with_config(attributes=args.attributes, attribute_groups=[])
        dropped = []
        if args.drop_discriminators:
            dropped = [r for r, n in model.networks().items() if n.role != "generator"]
            model = _generators_only(model)
        stored = getattr(model, "stored_dtype", None)
        if args.half or (stored == torch.float16 and not args.float32):
            model = model.half()
        if args.push_to_hub:  # the folder says where it is published (ComfyUI workflows carry it to others)
            model = model.with_config(hub_repo=args.push_to_hub)
        card = _kept_card(args.source, dropped, args.half)
        out = model.save(args.out_dir, card_text=card)
        samples = Path(args.source) / "samples"
        if card is not None and samples.is_dir():
            shutil.copytree(samples, out / "samples", dirs_exist_ok=True)
        print(f"wrote {out} ({model.family}: {', '.join(model.networks())})")
        if args.push_to_hub:
            url = model.push_to_hub(args.push_to_hub, private=args.private or None)
            print(f"pushed to {url}")
        return 0
    except (I2IError, ValueError, OSError, ImportError) as e:
        if args.debug or os.environ.get("I2I_DEBUG", "") not in ("", "0"):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2


def _check_translate_args(args) -> None:
    """What ``translate`` can check before loading the model and running it: the input files exist and the
    output has somewhere to go."""
    if args.instance and len(args.instance) != len(args.inputs):
        raise ValueError(f"--instance gives {len(args.instance)} file(s) for {len(args.inputs)} input(s): one per input")
    missing = [f for f in args.inputs + (args.instance or []) if not Path(f).is_file()]
    if missing:
        raise ValueError(f"no such input image file(s): {', '.join(missing[:5])}")
    out = Path(args.out)
    many = len(args.inputs) > 1 or out.is_dir() or not out.suffix
    parent = out if many else out.parent
    if not many and not parent.is_dir() and str(parent) not in ("", "."):
        raise ValueError(f"--out {args.out}: the folder {parent} does not exist; create it first, or give a folder to "
                         f"write into")
    if many and out.exists() and not out.is_dir():
        raise ValueError(f"--out {args.out} is a file; give a folder for several inputs")


def _kept_card(source: str, dropped: list[str], half: bool) -> str | None:
    """The body of a local source folder's model card (training command, metrics, samples) up to its
    networks table (regenerated for the copy) and a line saying how the copy differs; ``None`` if it has none."""
    readme = Path(source) / "README.md"
    if not readme.is_file():
        return None
    text = readme.read_text(encoding="utf-8")
    if text.startswith("---"):
        end = text.find("\n---", 3)
        text = text[end + 4:] if end >= 0 else text
    text = text.split("\n## Networks")[0]  # the networks table and usage are regenerated for the copy
    lines = text.strip("\n").splitlines()
    notes = (["weights stored as float16 (they load as float32)"] if half else []) + \
        ([f"without its discriminator(s) {', '.join(dropped)} (generators only)"] if dropped else [])
    if notes:
        lines += ["", "This copy: " + "; ".join(notes) + "."]
    return "\n".join(lines) + "\n"


def _generators_only(model):
    """The same bundle without its discriminators."""
    import copy

    from .bundles import family_class

    cfg = copy.deepcopy(model.config)
    cfg["networks"] = {r: n for r, n in cfg["networks"].items() if model.networks()[r].role == "generator"}
    if not cfg["networks"]:
        raise I2IError("this model has no generator to keep")
    slim = family_class(model.family)(cfg)
    sd = model.state_dict()
    slim.load_state_dict({k: sd[k] for k in slim.state_dict()})
    return slim


def _open_image(path: str):
    from PIL import Image

    try:
        img = Image.open(path)
        img.load()
        return img
    except (OSError, ValueError) as e:
        raise I2IError(f"cannot read image {path}: {e}") from None


def _translate(model, args) -> int:
    from pathlib import Path

    from . import edit, translate
    from .editing import parse_attribute_text
    from .families import family

    out = Path(args.out)
    many = len(args.inputs) > 1 or out.is_dir() or not out.suffix
    spec = family(model)
    strengths = parse_attribute_text(args.strengths, model.attributes) if spec.conditional else None
    if not spec.conditional and args.strengths.strip():
        raise ValueError(f"--strengths is for StarGAN models; this is a {model.family} model")
    if args.direction:
        spec.generator(model, args.direction)  # raises, naming what the model has
    if args.strength is not None:
        if not hasattr(spec, "condition"):
            raise ValueError(f"--strength is for CycleGAN models; this is a {model.family} model"
                             + (" (use --strengths)" if spec.conditional else ""))
        spec.condition(model, args.direction, args.strength)  # raises for a strength the model cannot honour
    if many:
        out.mkdir(parents=True, exist_ok=True)
    for i, src in enumerate(args.inputs):
        img = _open_image(src)
        opts = dict(precision=args.precision, tiled=True if args.tiled else None, backend=args.backend)
        if args.instance:
            opts["instance"] = _open_image(args.instance[i])
        if spec.conditional:
            y = edit(model, img, strengths, **opts)
        else:
            y = translate(model, img, direction=args.direction, strength=args.strength, **opts)
        dest = out / (Path(src).stem + ".png") if many else out
        y.save(dest)
        print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
