"""Run folders: one run per folder (claimed atomically, locked while it trains), portable commands and
data-set names for cards, and atomic, resumable checkpoints.

Layout (``--checkpoints_dir/--name``)::

    args.json  command.txt  metrics.jsonl  samples/step_0000500.png  tb/  .lock
    checkpoints/step_0000500/{config.json, model.safetensors, README.md, training_state.pt}
    checkpoints/LATEST           name of the newest complete checkpoint (updated atomically)
    final/                       the exported model (config.json, model.safetensors, README.md, samples)
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import tempfile
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent


class UsageError(SystemExit, ValueError):
    """A command line that cannot run as given (a taken run folder, impossible sizes, ...); the message says
    what to do instead. The CLIs print it as one ``error: …`` line and exit with code 2; uncaught, it ends
    the program like ``SystemExit``; ``except ValueError`` catches it too."""


def claim_run_dir(parent: Path, name: str, numbered: bool) -> Path:
    """Create the run folder ``parent/name`` for a new run - atomically, so two runs started at once never
    share one. A taken name is refused (``numbered=False``: the user chose it), or the next free
    ``name-2``, ``name-3``, … is taken (``numbered=True``: the default ``<family>-<dataset>`` name)."""
    parent.mkdir(parents=True, exist_ok=True)
    for k in range(1, 10_000):
        cand = parent / (name if k == 1 else f"{name}-{k}")
        try:
            cand.mkdir()
            return cand
        except FileExistsError:
            if not numbered:
                raise UsageError(f"{cand} already holds a run: continue it with --resume {cand}, or start a new one with "
                                 f"another --name (e.g. --name {name}-2)") from None
    raise UsageError(f"no free run folder name {name}-N under {parent}")


def holds_model(folder: Path) -> bool:
    """Whether ``folder`` holds a model (our config.json or any weights file)."""
    from i2i_models.state_dicts import WEIGHT_SUFFIXES

    return folder.is_dir() and ((folder / "config.json").is_file() or any(
        p.is_file() and p.name.lower().endswith(WEIGHT_SUFFIXES) for p in folder.iterdir()))


class RunLock:
    """An exclusive ``flock`` on ``<run>/.lock`` for as long as a process trains the run, so a second
    process (a new run that picked the same folder, or a second ``--resume``) is refused instead of
    interleaving its checkpoints and metrics with the first. Released when the process ends, however."""

    def __init__(self, run_dir: Path):
        self.file = None
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock (the atomic mkdir still keeps new runs apart)
            return
        self.file = open(run_dir / ".lock", "a+")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.file.seek(0)
            who = self.file.read().strip() or "another process"
            self.file.close()
            raise UsageError(f"{run_dir} is being trained right now by {who}; wait for it to finish (or stop it), or "
                             f"start a new run with another --name") from None
        self.file.seek(0)
        self.file.truncate()
        self.file.write(f"process {os.getpid()} on {socket.gethostname()}")
        self.file.flush()

    def release(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def portable_command(argv: list[str]) -> str:
    """``argv`` as a shell command anyone with the data can rerun: data paths become ``DATA/<name>`` (the
    data set by its folder name; paths inside this repository stay relative to it), and options that only
    say where this machine kept its runs (``--checkpoints_dir``, ``--output``, ``--resume``) are left out
    when they are absolute."""
    data_opts = {"--dataset", "--image_dir", "--attr_path", "--edit_pairs"}
    place_opts = {"--checkpoints_dir", "--output", "--resume"}
    out, i = [], 0
    while i < len(argv):
        a = argv[i]
        key, eq, val = a.partition("=")
        if key in data_opts | place_opts and (eq or i + 1 < len(argv)):
            value = val if eq else argv[i + 1]
            i += 1 if eq else 2
            if os.path.isabs(value) or value.startswith("~"):
                path = Path(value).expanduser()
                if key in place_opts:
                    continue
                try:
                    value = str(path.resolve().relative_to(REPO))
                except ValueError:
                    value = "DATA/" + "/".join(path.parts[-(2 if key in ("--attr_path", "--edit_pairs") else 1):])
            out += [key, value]
            continue
        out.append(a)
        i += 1
    return " ".join(shlex.quote(a) for a in out)


def dataset_label(spec: str | None) -> str:
    """A data set as a model card names it: its folder name (or Hub id), never this machine's path."""
    if not spec:
        return "embedded sample"
    p = Path(str(spec))
    if p.exists() or os.path.isabs(str(spec)):
        try:
            return str(p.resolve().relative_to(REPO))
        except ValueError:
            return p.name
    return str(spec)


class Checkpoints:
    """``<run>/checkpoints``: ``step_N`` folders (a loadable model folder plus ``training_state.pt``) written
    to a temporary folder and renamed, ``LATEST`` replaced atomically, the newest ``keep_last`` kept — a
    ``kill -9`` at any moment leaves the last good one loadable."""

    def __init__(self, run_dir: Path, keep_last: int):
        self.dir, self.keep_last = Path(run_dir) / "checkpoints", keep_last

    def latest(self) -> Path | None:
        """The newest complete checkpoint folder, or ``None``."""
        name = (self.dir / "LATEST").read_text().strip() if (self.dir / "LATEST").is_file() else None
        return self.dir / name if name and (self.dir / name).is_dir() else None

    def load_latest(self) -> dict:
        """The training state of the newest checkpoint (``weights_only``); raises :class:`UsageError` when
        the run has none."""
        d = self.latest()
        if d is None:
            raise UsageError(f"{self.dir.parent} has no complete checkpoint to resume from")
        return torch.load(d / "training_state.pt", map_location="cpu", weights_only=True)

    def save(self, step: int, bundle, state: dict) -> Path:
        """Write ``step_<step>`` (``bundle`` as a model folder, ``state`` as ``training_state.pt``) atomically,
        point ``LATEST`` at it and drop the oldest beyond ``keep_last``."""
        name = f"step_{step:07d}"
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=self.dir))
        try:
            normal_permissions(tmp)  # mkdtemp makes it 0700: unreadable to a ComfyUI running as another user
            bundle.save_pretrained(tmp)
            torch.save(state, tmp / "training_state.pt")
            normal_permissions(tmp / "training_state.pt")
            final = self.dir / name
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            atomic_write(self.dir / "LATEST", name)
        except BaseException as e:
            shutil.rmtree(tmp, ignore_errors=True)
            m = re.search(r"os error (\d+)", str(e)) if not isinstance(e, OSError) else None
            if m:  # safetensors reports a failed write (full disk …) as its own error: make it the OSError it is
                code = int(m.group(1))
                raise OSError(code, os.strerror(code), str(self.dir / name)) from e
            raise
        kept = sorted(p for p in self.dir.iterdir() if p.is_dir() and p.name.startswith("step_"))
        for old in kept[:-max(1, self.keep_last)]:
            shutil.rmtree(old, ignore_errors=True)
        return final


def normal_permissions(path: Path) -> None:
    """The mode a plain ``mkdir``/``open`` would give ``path`` under the current umask."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~mask)


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
