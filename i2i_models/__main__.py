"""Command line: ``python -m i2i_models inspect SOURCE`` and ``python -m i2i_models convert SOURCE OUT_DIR``."""

from __future__ import annotations

import argparse
import json
import sys

from . import load
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
    pc.add_argument("--push-to-hub", metavar="REPO", help="also push the folder to this Hub repo")
    pc.add_argument("--private", action="store_true", help="create the Hub repo private")
    args = p.parse_args(argv)
    try:
        model = load(args.source, family=args.family, revision=args.revision)
        if args.cmd == "inspect":
            print(json.dumps(model.describe(), indent=2))
            return 0
        if args.domains:
            model.config["domains"] = {"A": args.domains[0], "B": args.domains[1]}
        if args.attributes:
            if len(args.attributes) != len(model.config.get("attributes", [])):
                raise I2IError(f"--attributes needs {len(model.config.get('attributes', []))} names, got {len(args.attributes)}")
            model.config["attributes"] = args.attributes
            model.config["attribute_groups"] = []
        out = model.save(args.out_dir)
        print(f"wrote {out} ({model.family}: {', '.join(model.networks())})")
        if args.push_to_hub:
            url = model.push_to_hub(args.push_to_hub, private=args.private or None)
            print(f"pushed to {url}")
        return 0
    except I2IError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
