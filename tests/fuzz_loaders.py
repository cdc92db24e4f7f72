"""Loader fuzzing: mutated checkpoints of every layout we read, thrown at ``i2i_models.load`` and ``peek``.

``python tests/fuzz_loaders.py --cases 10000`` (a benchmark-style run that prints its figures; the README's
*Reliability* section quotes them) and ``tests/test_fuzz.py`` (a short run in the default suite) share it.

Seeds (small, valid, made here): our folder format for each family, junyanz ``.pth`` (zip pickle) and the same
as a legacy (PyTorch < 1.6) pickle, a yunjey StarGAN ``.ckpt``, an NVIDIA pix2pixHD ``latest_net_G.pth``, a bare
``.safetensors``. Mutations, chosen at random per case (reproducible from ``--seed``):

* bytes: flips, truncation, zeroed or inserted ranges, appended junk;
* safetensors headers: declared header length, offsets beyond the file or overlapping, huge shapes (a tensor
  of 10^12 elements), unknown dtypes, non-object JSON, deep nesting;
* state dicts: keys dropped, renamed or added, shapes changed, dtypes changed (int, bool, float64, complex,
  uint8), scalars and empty tensors, nested dicts and non-tensor values;
* ``config.json``: wrong types, unknown archs and families, absurd sizes (``ngf`` 10^9, ``n_blocks`` 10^6,
  ``num_downs`` 500), deep nesting, missing keys, not JSON at all;
* folders: files missing or extra.

Every case must end in a model or in one of the library's documented exceptions (``I2IError`` and its
subclasses) within ``--timeout`` seconds (2), inside an address-space limit of the worker's baseline + 2 GiB (so
an attempt to allocate what a header merely claims fails loudly as a finding instead of swapping).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import struct
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import i2i_models  # noqa: E402
from i2i_models.errors import I2IError  # noqa: E402
from i2i_models.networks import GlobalGenerator, ResnetGenerator, StarGANGenerator, UnetGenerator  # noqa: E402

KINDS = ("bytes", "safetensors", "state_dict", "config", "folder")


def make_seeds(root: Path) -> dict[str, Path]:
    """Small valid files and folders of each layout, under ``root``."""
    torch.manual_seed(0)
    seeds: dict[str, Path] = {}
    p2p = i2i_models.Pix2PixModel({"networks": {"generator": {"arch": "unet", "num_downs": 5, "ngf": 4}}})
    seeds["ours_pix2pix"] = p2p.save(root / "ours_pix2pix")
    cg = i2i_models.CycleGANModel({"domains": {"A": "a", "B": "b"}, "networks": {
        "G_A": {"arch": "resnet", "ngf": 4, "n_blocks": 1}, "G_B": {"arch": "resnet", "ngf": 4, "n_blocks": 1}}})
    seeds["ours_cyclegan"] = cg.save(root / "ours_cyclegan")
    sg = i2i_models.StarGANModel({"attributes": ["x", "y"], "networks": {
        "generator": {"arch": "stargan_g", "conv_dim": 4, "c_dim": 2, "repeat_num": 1}}})
    seeds["ours_stargan"] = sg.save(root / "ours_stargan")
    res = ResnetGenerator(3, 3, 4, 1).state_dict()
    torch.save(res, root / "latest_net_G_A.pth")
    seeds["junyanz_zip"] = root / "latest_net_G_A.pth"
    torch.save(UnetGenerator(3, 3, 5, 4).state_dict(), root / "legacy_net_G.pth", _use_new_zipfile_serialization=False)
    seeds["junyanz_legacy"] = root / "legacy_net_G.pth"
    torch.save(StarGANGenerator(4, 2, 1).state_dict(), root / "200000-G.ckpt")
    seeds["yunjey"] = root / "200000-G.ckpt"
    (root / "nvidia").mkdir()
    torch.save(GlobalGenerator(3, 3, 4, 2, 1).state_dict(), root / "nvidia" / "latest_net_G.pth")
    seeds["nvidia"] = root / "nvidia" / "latest_net_G.pth"
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in res.items()}, str(root / "bare.safetensors"))
    seeds["safetensors"] = root / "bare.safetensors"
    return seeds


# ------------------------------------------------------------------------------------------------
# mutations
def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(("flip", "truncate", "zero", "insert", "append", "dup"))
        if not b:
            b = bytearray(rng.randbytes(rng.randint(0, 64)))
            continue
        i = rng.randrange(len(b))
        if op == "flip":
            for _ in range(rng.randint(1, 16)):
                j = rng.randrange(len(b))
                b[j] ^= 1 << rng.randrange(8)
        elif op == "truncate":
            del b[i:]
        elif op == "zero":
            n = rng.randint(1, 4096)
            b[i:i + n] = bytes(len(b[i:i + n]))
        elif op == "insert":
            b[i:i] = rng.randbytes(rng.randint(1, 256))
        elif op == "append":
            b += rng.randbytes(rng.randint(1, 1024))
        else:
            n = rng.randint(1, 512)
            b[i:i] = b[i:i + n]
    return bytes(b)


def _deep(depth: int) -> str:
    """JSON text of a list nested ``depth`` deep (written as text: json.dumps itself recurses)."""
    return "[" * depth + "0" + "]" * depth


def _mutate_safetensors(rng: random.Random, data: bytes) -> bytes:
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    names = [k for k in header if k != "__metadata__"]
    op = rng.choice(("offsets_beyond", "overlap", "huge_shape", "bad_dtype", "negative", "not_object", "deep",
                     "length_field", "shape_mismatch", "drop_body", "metadata"))
    if op == "length_field":
        return struct.pack("<Q", rng.choice((0, 1, 2 ** 63, 2 ** 40, n + 1, n - 1, len(data)))) + data[8:]
    if op == "not_object":
        hdr = json.dumps(rng.choice(([1, 2], "x", 3, None, [])))
    elif op == "deep":
        hdr = '{"a": ' + _deep(rng.choice((50, 500, 5000))) + "}" if rng.random() < 0.5 else "[" * 100000
    else:
        k = rng.choice(names)
        t = header[k]
        if op == "offsets_beyond":
            t["data_offsets"] = [t["data_offsets"][0], rng.choice((len(body) + 1, 10 ** 12, 2 ** 63))]
        elif op == "overlap" and len(names) > 1:
            other = header[rng.choice(names)]
            t["data_offsets"] = list(other["data_offsets"])
        elif op == "huge_shape":
            t["shape"] = rng.choice(([10 ** 12], [10 ** 6, 10 ** 6], [2 ** 31, 2 ** 31, 2 ** 31], [-1, 3]))
        elif op == "bad_dtype":
            t["dtype"] = rng.choice(("F128", "X", "", 7, "BOOL", "I64", "F8_E4M3"))
        elif op == "negative":
            t["data_offsets"] = [-5, 10]
        elif op == "shape_mismatch":
            t["shape"] = [s + 1 for s in t["shape"]] or [2]
        elif op == "drop_body":
            body = body[:len(body) // 2]
        elif op == "metadata":
            header["__metadata__"] = rng.choice(({"a": 1}, [1], "x", {"format": {"x": [1] * 10}}))
        hdr = json.dumps(header)
    raw = hdr.encode()
    return struct.pack("<Q", len(raw)) + raw + body


def _mutate_state_dict(rng: random.Random, sd: dict) -> dict:
    sd = dict(sd)
    for _ in range(rng.randint(1, 3)):
        keys = list(sd)
        op = rng.choice(("drop", "rename", "add", "shape", "dtype", "scalar", "empty", "nested", "nontensor", "huge_key"))
        if not keys:
            sd["x"] = torch.zeros(1)
            continue
        k = rng.choice(keys)
        v = sd[k]
        if op == "drop":
            del sd[k]
        elif op == "rename":
            sd[k + rng.choice((".x", "_", "")) + str(rng.randint(0, 9))] = sd.pop(k)
        elif op == "add":
            sd[f"extra.{rng.randint(0, 99)}.weight"] = torch.randn(rng.randint(1, 4), 3)
        elif op == "shape" and isinstance(v, torch.Tensor):
            sd[k] = torch.randn(*[max(1, s + rng.choice((-1, 1, 7))) for s in v.shape] or [2])
        elif op == "dtype" and isinstance(v, torch.Tensor):
            sd[k] = v.to(rng.choice((torch.int64, torch.bool, torch.float64, torch.float16, torch.complex64, torch.uint8,
                                     torch.bfloat16, torch.int8)))
        elif op == "scalar":
            sd[k] = torch.tensor(1.0)
        elif op == "empty":
            sd[k] = torch.zeros(0, *(v.shape[1:] if isinstance(v, torch.Tensor) else ()))
        elif op == "nested":
            sd = {rng.choice(("state_dict", "model", "G", "netG", "params_ema", "other")): sd}
        elif op == "nontensor":
            sd[k] = rng.choice((1, "x", None, [1, 2], {"a": torch.zeros(1)}, 1.5))
        else:
            sd["k" * rng.choice((1000, 100000))] = torch.zeros(1)
    return sd


def _mutate_config(rng: random.Random, cfg: dict) -> str:
    cfg = json.loads(json.dumps(cfg))
    op = rng.choice(("type", "arch", "family", "absurd", "deep", "drop", "notjson", "roles", "attributes", "range"))
    nets = cfg.get("networks", {})
    role = rng.choice(list(nets)) if nets else None
    if op == "type" and role:
        key = rng.choice(list(nets[role]))
        nets[role][key] = rng.choice(("abc", None, [1], {"a": 1}, -3, 1.5, True, 10 ** 30))
    elif op == "arch" and role:
        nets[role]["arch"] = rng.choice(("nope", "", 5, None, "resnet", "unet", "stargan_g", "pix2pixhd_local"))
    elif op == "family":
        cfg["family"] = rng.choice(("nope", 3, None, "stargan", "cyclegan", "pix2pix"))
    elif op == "absurd" and role:
        key = rng.choice(("ngf", "n_blocks", "num_downs", "conv_dim", "repeat_num", "c_dim", "input_nc", "output_nc",
                          "n_downsample_global", "n_blocks_global", "image_size"))
        nets[role][key] = rng.choice((10 ** 9, 10 ** 6, 500, 0, -1, 2 ** 63))
    elif op == "deep":
        cfg[rng.choice(("training", "domains", "networks"))] = "__DEEP__"
        return json.dumps(cfg).replace('"__DEEP__"', _deep(rng.choice((100, 900, 5000))))
    elif op == "drop":
        cfg.pop(rng.choice(list(cfg)), None)
    elif op == "notjson":
        return rng.choice(("", "{", "[1,2", "null", "\x00\xff", '{"format": "comfyui-i2i-gans"' + "," * 3))
    elif op == "roles":
        nets[rng.choice(("G_C", "discriminator", "generator", "G_A"))] = rng.choice(({"arch": "resnet"}, {}, 5, None))
    elif op == "attributes":
        cfg["attributes"] = rng.choice((["a"] * 100, 5, None, [1, 2], []))
    else:
        cfg["value_range"] = rng.choice(([0, 1], "x", None, [1]))
    return json.dumps(cfg)


def make_case(rng: random.Random, seeds: dict[str, Path], work: Path) -> tuple[str, Path]:
    """One mutated file or folder under ``work`` (emptied first); returns (description, path)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    kind = rng.choice(KINDS)
    name = rng.choice(sorted(seeds))
    seed = seeds[name]
    if seed.is_dir():
        dst = work / seed.name
        shutil.copytree(seed, dst)
    else:
        dst = work / seed.name
        shutil.copy(seed, dst)
    target = dst
    if kind == "bytes":
        f = dst / rng.choice(("model.safetensors", "config.json")) if dst.is_dir() else dst
        f.write_bytes(_mutate_bytes(rng, f.read_bytes()))
    elif kind == "safetensors":
        f = dst / "model.safetensors" if dst.is_dir() else dst
        if f.suffix != ".safetensors":
            f = work / "bare.safetensors"
            shutil.copy(seeds["safetensors"], f)
            target = f
        f.write_bytes(_mutate_safetensors(rng, f.read_bytes()))
    elif kind == "state_dict":
        from safetensors.torch import save_file

        f = dst / "model.safetensors" if dst.is_dir() else dst
        sd = i2i_models.state_dicts.read_weights(f)
        sd = _mutate_state_dict(rng, sd)
        tmp = f.with_name(f.name + ".new")  # the read tensors may be memory-mapped from f: never write over it
        if f.suffix == ".safetensors" and all(isinstance(v, torch.Tensor) for v in sd.values()):
            try:
                save_file({k: v.contiguous() for k, v in sd.items()}, str(tmp))
            except Exception:
                torch.save(sd, tmp)
        else:
            torch.save(sd, tmp)
        os.replace(tmp, f)
    elif kind == "config":
        if not dst.is_dir():
            dst = work / "ours"
            shutil.copytree(seeds[rng.choice(("ours_pix2pix", "ours_cyclegan", "ours_stargan"))], dst)
            target = dst
        cfg = json.loads((dst / "config.json").read_text())
        (dst / "config.json").write_text(_mutate_config(rng, cfg))
    else:  # folder
        if dst.is_dir():
            victim = rng.choice(sorted(dst.iterdir()))
            if rng.random() < 0.5:
                victim.unlink() if victim.is_file() else shutil.rmtree(victim)
            else:
                (dst / rng.choice(("latest_net_D.pth", "x.safetensors", "opt.txt", "args.json", "junk.bin"))).write_bytes(
                    rng.randbytes(rng.randint(0, 300)))
        else:
            folder = work / "folder"
            folder.mkdir()
            shutil.move(str(dst), folder / dst.name)
            for _ in range(rng.randint(0, 2)):
                (folder / rng.choice(("latest_net_G_B.pth", "latest_net_D_A.pth", "x.ckpt", "opt.txt"))).write_bytes(
                    rng.randbytes(rng.randint(0, 300)))
            target = folder
    return f"{kind}:{name}", target


# ------------------------------------------------------------------------------------------------
class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout()


def run_case(path: Path, timeout: float) -> tuple[str, str, float]:
    """Load and peek ``path``; returns (outcome, detail, seconds): outcome ``model``, ``error`` (a documented
    one), or a finding: ``crash`` (another exception), ``hang`` (over ``timeout``)."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    t = time.perf_counter()
    try:
        try:
            i2i_models.peek(str(path))
        except I2IError:
            pass
        i2i_models.load(str(path))
        return "model", "", time.perf_counter() - t
    except I2IError as e:
        return "error", type(e).__name__, time.perf_counter() - t
    except _Timeout:
        return "hang", "", time.perf_counter() - t
    except BaseException as e:  # noqa: BLE001  (a finding: report it)
        if isinstance(e, KeyboardInterrupt):
            raise
        tb = traceback.extract_tb(e.__traceback__)[-1]
        return "crash", f"{type(e).__name__}: {str(e)[:160]} @ {Path(tb.filename).name}:{tb.lineno}", time.perf_counter() - t
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def limit_memory(extra_bytes: int = 2 << 30) -> None:
    """Cap this process's address space at its current size + ``extra_bytes``."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[0])
    cap = pages * os.sysconf("SC_PAGE_SIZE") + extra_bytes
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def fuzz(cases: int, seed: int = 0, timeout: float = 2.0, work: Path | None = None,
         progress: bool = False) -> dict:
    """Run ``cases`` cases; returns the figures (counts by outcome and kind, slowest case, findings)."""
    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="i2i-fuzz-")) if work is None else work
    try:
        seeds = make_seeds(tmp / "seeds")
        outcomes: Counter = Counter()
        kinds: Counter = Counter()
        findings: list[dict] = []
        slowest = (0.0, "")
        t0 = time.perf_counter()
        for i in range(cases):
            desc, path = make_case(rng, seeds, tmp / "case")
            outcome, detail, sec = run_case(path, timeout)
            outcomes[outcome] += 1
            kinds[desc.split(":")[0]] += 1
            if sec > slowest[0]:
                slowest = (sec, desc)
            if outcome in ("crash", "hang"):
                findings.append({"case": i, "what": desc, "outcome": outcome, "detail": detail})
            if progress and (i + 1) % 500 == 0:
                print(f"{i + 1}/{cases} cases, {dict(outcomes)}", file=sys.stderr, flush=True)
        return {"cases": cases, "seed": seed, "seconds": time.perf_counter() - t0, "outcomes": dict(outcomes),
                "kinds": dict(kinds), "slowest_s": slowest[0], "slowest_case": slowest[1], "findings": findings}
    finally:
        if work is None:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=2.0, help="seconds a case may take")
    ap.add_argument("--memory", type=int, default=2048, help="MiB a worker may allocate above its baseline")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    limit_memory(args.memory << 20)
    r = fuzz(args.cases, args.seed, args.timeout, progress=True)
    print(json.dumps({k: v for k, v in r.items() if k != "findings"}, indent=1))
    for f in r["findings"][:50]:
        print(f"FINDING case {f['case']} {f['what']}: {f['outcome']} {f['detail']}")
    print(f"{r['cases']} cases in {r['seconds']:.0f} s: {r['outcomes']}; slowest {r['slowest_s']:.2f} s "
          f"({r['slowest_case']}); findings: {len(r['findings'])}")
    return 1 if r["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
