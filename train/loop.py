"""The trainer: the one loop shared by every recipe (``train/recipe.py`` says what a recipe provides).

It orchestrates what lives in its own modules — the typed config (:mod:`train.config`), the run folder,
its lock and checkpoints (:mod:`train.runs`), metrics and progress (:mod:`train.progress`), the engine
(:mod:`train.engine`: devices, precision, DDP, EMA, optimisers) — and owns the loop itself: processes
(``torchrun``), seeding, data loading with deterministic per-epoch shuffling, the learning-rate schedule,
validation and the best step, Ctrl-C and crashes (a checkpoint first), the final model folder with its card
and the Hub push. ``cli`` turns known errors into one ``error: …`` line.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import random
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from i2i_models.families import family

from .config import to_json
from .progress import MetricsLog, Progress
from .runs import (Checkpoints, RunLock, UsageError, claim_run_dir, dataset_label, holds_model,  # noqa: F401
                   portable_command)
from .data import EpochSampler

log = logging.getLogger("train")


# ------------------------------------------------------------------------------------------------ distributed
class Dist:
    """torchrun's process group (gloo on CPU, nccl on CUDA) or a single process."""

    def __init__(self, device_arg: str | None):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if device_arg:
            device = torch.device(device_arg)
        else:
            device = torch.device("cuda", self.local_rank) if torch.cuda.is_available() else torch.device("cpu")
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", self.local_rank)
        self.device = device
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            torch.cuda.set_device(device)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        if self.world == 1 or not values:
            return values
        keys = sorted(values)
        t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return {k: float(v) / self.world for k, v in zip(keys, t.tolist())}

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def learning_rate_factor(step: int, total: int, args) -> float:
    """Multiplier of ``args.lr`` at ``step`` (0-based) for the chosen policy (a pure function of the step)."""
    if args.warmup_steps and step < args.warmup_steps:
        warm = (step + 1) / args.warmup_steps
    else:
        warm = 1.0
    if args.lr_policy == "step":
        return warm * 0.1 ** (step // max(1, args.lr_decay_iters))
    if args.lr_policy == "cosine":
        return warm * 0.5 * (1 + math.cos(math.pi * min(1.0, step / max(1, total))))
    frac_const = args.n_epochs / max(1, args.n_epochs + args.n_epochs_decay)
    start = int(total * frac_const)
    decay = max(1, total - start)
    return warm * (1.0 - max(0, step - start) / (decay + 1))


# ------------------------------------------------------------------------------------------------ run folders
# ------------------------------------------------------------------------------------------------ the loop
class Trainer:
    def __init__(self, recipe_cls, args, argv: list[str]):
        self.argv = argv
        if args.resume:
            args = self._resume_args(args, recipe_cls.config)
        self.args = args
        self.dist = Dist(args.device)
        self.device = self.dist.device
        logging.basicConfig(level=logging.INFO if self.dist.main else logging.WARNING, format="%(message)s")
        random.seed(args.seed)
        torch.manual_seed(args.seed + self.dist.rank)
        self._claim_run_dir(args)
        try:
            self.run_dir = Path(args.checkpoints_dir) / args.name
            self.checkpoints = Checkpoints(self.run_dir, args.keep_last)
            if self.dist.main:
                (self.run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
                (self.run_dir / "samples").mkdir(exist_ok=True)
                if not args.resume:
                    (self.run_dir / "args.json").write_text(to_json(args))
                    (self.run_dir / "command.txt").write_text(self.command() + "\n")
                print(f"run folder: {self.run_dir}   model folder (at the end): {self.output_dir()}", flush=True)
            if args.resume:
                self._match_global_batch(args)
            self.recipe = recipe_cls.create(args, self.device, self.dist)
            check_sizes(self.recipe, args.crop_size)
            self.train_ds = self.recipe.train_dataset()
            self.train_ds.seed = args.seed
            self.train_ds[0]  # fail now, with the dataset's message, rather than inside a worker later
            self.global_batch = args.batch_size * self.dist.world
            self.steps_per_epoch = len(self.train_ds) // self.global_batch
            if self.steps_per_epoch == 0:
                raise UsageError(f"the training set has {len(self.train_ds)} images, fewer than the global batch "
                                 f"{self.global_batch}; lower --batch_size")
            self.total_steps = args.max_steps or (args.n_epochs + args.n_epochs_decay) * self.steps_per_epoch
            self.step = 0
            self._elapsed_before = 0.0
            self.best: dict[str, Any] = {}
            self.last_val: dict[str, float] = {}
            if args.resume:
                self._load_latest()
        except BaseException:
            if not args.resume and self.dist.main:  # refused before any training: leave no folder behind
                if self.lock is not None:
                    self.lock.release()
                shutil.rmtree(Path(args.checkpoints_dir) / args.name, ignore_errors=True)
            raise
        self.metrics = MetricsLog(self.run_dir, self._elapsed_before, not args.no_tensorboard) if self.dist.main else None

    # -- bookkeeping
    def output_dir(self) -> Path:
        return Path(self.args.output) if self.args.output else self.run_dir / "final"

    def _claim_run_dir(self, args) -> None:
        """A folder of its own for this run (see :func:`claim_run_dir`), locked while it trains; an
        ``--output`` that already holds another run's model is refused. Rank 0 decides, the others follow."""
        self.lock = None
        if self.dist.main:
            if args.resume:
                run = Path(args.checkpoints_dir) / args.name
            else:
                run = claim_run_dir(Path(args.checkpoints_dir), args.name, numbered="name" not in args.explicit)
                if run.name != args.name:
                    print(f"{Path(args.checkpoints_dir) / args.name} holds an earlier run (kept as it is); this run "
                          f"is {run.name}", flush=True)
                args.name = run.name
                args.run_id = f"{run.name}-{time.time_ns()}"
            self.lock = RunLock(run)
            out = Path(args.output) if args.output else None
            if out is not None and holds_model(out):
                mine = False
                try:
                    mine = json.loads((out / "config.json").read_text())["training"]["run_id"] == args.run_id
                except (OSError, KeyError, TypeError, ValueError):
                    pass
                if not (args.resume and mine):
                    if not args.resume:
                        shutil.rmtree(run, ignore_errors=True)
                    raise UsageError(f"--output {out} already holds a model; choose another folder (or delete that one "
                                     f"first)")
        if self.dist.world > 1:
            box = [args.name, args.run_id]
            dist.broadcast_object_list(box, src=0)
            args.name, args.run_id = box

    def command(self) -> str:
        """The command that trains this run: for a resumed run the one that started it (``command.txt``),
        so model cards and ``config["training"]`` reproduce the run, not just its last leg."""
        started = self.run_dir / "command.txt" if getattr(self, "run_dir", None) else None
        if self.args.resume and started is not None and started.is_file():
            parts = shlex.split(started.read_text().strip())
            return " ".join(parts[:3]) + " " + portable_command(parts[3:]) if parts[:2] == ["python", "-m"] else \
                " ".join(shlex.quote(p) for p in parts)
        return "python -m " + portable_command(self.argv)

    def _resume_args(self, args, config_cls):
        """The config a run was started with (its ``args.json``, migrated to today's version by
        :func:`train.config.load_saved`), with this invocation's run-time options (device, workers,
        ``--stop_after``, ``--debug``, and ``--push_to_hub`` when given)."""
        from .config import load_saved

        run = Path(args.resume)
        saved = run / "args.json"
        if not saved.is_file():
            raise UsageError(f"{run} is not a run folder (no args.json); give the folder of the run to resume")
        cfg = load_saved(config_cls, json.loads(saved.read_text()))
        cfg.resume = str(run)
        cfg.checkpoints_dir, cfg.name = str(run.parent), run.name
        for k in ("stop_after", "device", "num_workers", "debug"):
            setattr(cfg, k, getattr(args, k, None))
        if getattr(args, "push_to_hub", None):  # where to publish changes nothing in the training
            cfg.push_to_hub, cfg.hub_private = args.push_to_hub, bool(getattr(args, "hub_private", False))
            cfg.push_every = getattr(args, "push_every", 0) or cfg.push_every
        if not cfg.run_id:  # runs from before run ids: one made from the folder
            cfg.run_id = f"{run.name}-resumed"
        return cfg

    def _match_global_batch(self, args) -> None:
        """Resuming with another number of processes keeps the global batch (so the data order and the
        optimisation continue exactly where possible): per-process batch = global batch / processes."""
        if self.checkpoints.latest() is None:
            return
        gb = self.checkpoints.load_latest().get("global_batch")
        if gb and gb != args.batch_size * self.dist.world:
            if gb % self.dist.world:
                raise UsageError(f"the run's global batch {gb} does not divide over {self.dist.world} processes")
            args.batch_size = gb // self.dist.world
            log.info("resuming with %d process(es): batch %d per process keeps the global batch %d",
                     self.dist.world, args.batch_size, gb)

    def _load_latest(self) -> None:
        state = self.checkpoints.load_latest()
        self.recipe.load_state_dict(state["recipe"])
        self.step = state["step"]
        self.best = state.get("best", {})
        self._elapsed_before = float(state.get("elapsed_s", 0.0))
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"].get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        random.setstate(_tuplify(state["rng"]["python"]))
        log.info("resumed %s at step %d", self.run_dir, self.step)

    def _write_metrics(self, record: dict[str, Any]) -> None:
        if self.metrics is not None:
            self.metrics.write(record)

    def save_checkpoint(self) -> Path | None:
        """A resumable checkpoint of this step (:class:`train.runs.Checkpoints`): the exported model and the
        complete training state (recipe, RNG streams, best metric, elapsed time)."""
        self.dist.barrier()
        if not self.dist.main:
            return None
        state = {"step": self.step, "recipe": self.recipe.state_dict(), "best": self.best,
                 "global_batch": self.global_batch, "elapsed_s": self.metrics.elapsed(),
                 "rng": {"torch": torch.get_rng_state(),
                         "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
                         "python": random.getstate()}}
        return self.checkpoints.save(self.step, self.recipe.export_bundle(), state)

    # -- data
    def _loader(self, epoch: int, offset: int):
        self.train_ds.epoch = epoch
        sampler = EpochSampler(len(self.train_ds), self.args.seed, epoch, True, self.dist.rank, self.dist.world, offset)
        workers = self.args.num_workers
        if workers is None:
            workers = min(4, max(0, (os.cpu_count() or 1) - 1))
        g = torch.Generator().manual_seed(self.args.seed * 31 + epoch)
        return iter(torch.utils.data.DataLoader(
            self.train_ds, batch_size=self.args.batch_size, sampler=sampler, num_workers=workers, drop_last=True,
            generator=g, pin_memory=self.device.type == "cuda", persistent_workers=False,
            prefetch_factor=4 if workers else None))

    # -- main
    def fit(self) -> Path | None:
        args = self.args
        self._write_metrics({"step": self.step, "event": "start" if not args.resume else "resume",
                             "total_steps": self.total_steps, "train_images": len(self.train_ds)})
        progress = Progress(self.total_steps, self.step, self.recipe.family) if self.dist.main else None
        it, epoch = None, -1
        interrupted = False
        try:
            while self.step < self.total_steps:
                e = self.step // self.steps_per_epoch
                if e != epoch or it is None:
                    epoch = e
                    it = self._loader(epoch, (self.step % self.steps_per_epoch) * self.global_batch)
                batch = next(it)
                factor = learning_rate_factor(self.step, self.total_steps, args)
                self.recipe.set_lr(args.lr * factor)
                losses = self.recipe.train_step(batch, self.step)
                self.step += 1
                if self.step % args.print_every == 0 or self.step == self.total_steps:
                    losses = self.dist.mean(losses)
                    self._write_metrics({"step": self.step, "epoch": epoch, "lr": args.lr * factor, **losses})
                    if progress is not None:
                        progress.losses(losses)
                if progress is not None:
                    progress.update(self.step)
                if self.step % args.sample_every == 0 and self.dist.main:
                    with self.rng_neutral():
                        self.recipe.save_samples(self.run_dir / "samples" / f"step_{self.step:07d}.png")
                if args.val_split and self.step % args.val_every == 0:
                    self.validate()
                if self.step % args.save_every == 0 and self.step < self.total_steps:
                    self.save_checkpoint()
                    if args.push_to_hub and args.push_every and (self.step // args.save_every) % args.push_every == 0:
                        self.push(self.export_final(), f"checkpoint at step {self.step}")
                if args.stop_after and self.step >= args.stop_after and self.step < self.total_steps:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            interrupted = True
        except BaseException as e:  # any other end of training: save what was trained first, then report
            if progress is not None:
                progress.close()
            self._save_after_crash(e)
            raise
        finally:
            if progress is not None:
                progress.close()
        if interrupted:
            self.save_checkpoint()
            if self.dist.main:
                print(f"\ninterrupted at step {self.step}; saved {self.run_dir / 'checkpoints'}. Continue with:\n"
                      f"  {self.resume_command()}", file=sys.stderr)
            self.dist.close()
            return None
        if args.val_split and self.step % args.val_every != 0:
            self.validate()
        self.save_checkpoint()
        out = self.export_final()
        if args.push_to_hub:
            self.push(out, "final model")
        if self.dist.main:
            self.recipe.save_samples(self.run_dir / "samples" / f"step_{self.step:07d}.png")
            print(f"\nmodel: {out}\n  load it in Python:  i2i_models.load({str(out)!r})\n"
                  f"  use it in ComfyUI:  copy the folder into ComfyUI/models/i2i_gans/ and pick it in the "
                  f"'{family(self.recipe.family).loader}' node")
        self.dist.close()
        return out

    def resume_command(self) -> str:
        return f"python -m {__package__}.{self.recipe.family} --resume {shlex.quote(str(self.run_dir))}"

    def _save_after_crash(self, error: BaseException) -> None:
        """Save a resumable checkpoint of the steps trained so far (if any since the last one) and say how to
        continue; the error itself is raised again by the caller."""
        if not self.dist.main or self.step == 0:
            return
        latest = self.checkpoints.latest()
        try:
            if latest is None or latest.name != f"step_{self.step:07d}":
                self.save_checkpoint() if self.dist.world == 1 else self._save_local()
            print(f"\ntraining stopped at step {self.step} by {type(error).__name__}: {str(error)[:300]}\n"
                  f"saved a checkpoint in {self.run_dir / 'checkpoints'}; once the cause is fixed, continue with:\n"
                  f"  {self.resume_command()}", file=sys.stderr, flush=True)
        except Exception as e:  # noqa: BLE001 - the original error matters more
            print(f"\ntraining stopped at step {self.step} ({type(error).__name__}) and the checkpoint could not be "
                  f"saved either ({e}); the last complete one is {latest}", file=sys.stderr, flush=True)

    def _save_local(self) -> None:
        """save_checkpoint without the barrier (other ranks may be gone after an error)."""
        barrier, self.dist.barrier = self.dist.barrier, lambda: None
        try:
            self.save_checkpoint()
        finally:
            self.dist.barrier = barrier

    def rng_neutral(self):
        """Run evaluation code without consuming the training's random streams (a DataLoader iterator draws
        a seed from the global generator), so ``--val_every``/``--sample_every`` do not change the losses."""
        return torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else [])

    def validate(self) -> dict[str, float]:
        if not self.dist.main:
            self.dist.barrier()
            return {}
        with self.rng_neutral():  # validating every N steps must not change the training that follows
            metrics = self.recipe.validate()
        self.dist.barrier()
        if not metrics:
            return {}
        self.last_val = metrics
        key, better = self.recipe.best_metric
        value = metrics.get(key)
        if value is not None and (not self.best or (value < self.best["value"] if better == "min" else value > self.best["value"])):
            self.best = {"metric": key, "value": value, "step": self.step, "metrics": metrics}
        self._write_metrics({"step": self.step, "event": "val", **{f"val/{k}": v for k, v in metrics.items()}})
        return metrics

    def export_final(self) -> Path:
        """Write the final model folder (atomically) with a model card and the newest sample grid."""
        from .card import model_card

        out = self.output_dir()
        if not self.dist.main:
            return out
        bundle = self.recipe.export_bundle()
        bundle = bundle.with_config(
            training={"command": self.command(), "steps": self.step, "recipe": self.recipe.family,
                      "dataset": dataset_label(self.args.dataset), "run_id": self.args.run_id,
                      "final_metrics": self.last_val, "best": self.best},
            **({"hub_repo": self.args.push_to_hub} if self.args.push_to_hub else {}))
        samples = sorted((self.run_dir / "samples").glob("step_*.png"))
        card = model_card(self, bundle, samples[-1].name if samples else None)
        bundle.save(out, card_text=card)
        if samples:
            (out / "samples").mkdir(exist_ok=True)
            shutil.copy(samples[-1], out / "samples" / samples[-1].name)
        return out

    def push(self, folder: Path, what: str) -> None:
        if not self.dist.main:
            return
        from huggingface_hub import HfApi

        api = HfApi()
        repo = self.args.push_to_hub
        try:
            repo = api.create_repo(repo, private=self.args.hub_private or None, exist_ok=True).repo_id
            api.upload_folder(repo_id=repo, folder_path=str(folder),
                              commit_message=f"{what} ({self.recipe.family}, step {self.step})")
        except Exception as e:  # noqa: BLE001 - any network/Hub failure: the local folder is complete, say so
            again = f"hf upload {shlex.quote(repo)} {shlex.quote(str(folder))} ."
            if what != "final model":  # a checkpoint push: keep training, the final push comes later
                log.warning("pushing the %s to %s failed (%s: %s); training goes on; push it later with: %s",
                            what, repo, type(e).__name__, str(e)[:200], again)
                return
            raise PushError(f"the {what} is complete in {folder}, but pushing it to {repo} failed "
                            f"({type(e).__name__}: {str(e)[:200]}); nothing on the Hub changed. Push it again with: "
                            f"{again}") from e
        log.info("pushed %s to %s", folder, repo)


def check_sizes(recipe, crop: int) -> None:
    """Run each network once on a zero batch at the training crop (eval mode, the RNG untouched) so an
    impossible size/architecture combination stops before training with the smallest crop that works,
    instead of a torch kernel-size error at the first step. Raises :class:`UsageError`."""
    import torch.nn as nn

    def fits(net: nn.Module, size: int) -> str | None:
        cfg = getattr(net, "config", {}) or {}
        x = torch.zeros(1, int(cfg.get("input_nc", 3)), size, size, device=next(net.parameters()).device)
        takes_labels = "c_dim" in cfg and getattr(net, "role", "") == "generator"
        args = (torch.zeros(1, int(cfg["c_dim"]), device=x.device),) if takes_labels else ()
        was = net.training
        try:
            with torch.random.fork_rng(devices=[]), torch.no_grad():
                net.eval()
                net(x, *args)
            return None
        except (RuntimeError, ValueError) as e:
            return str(e).splitlines()[0]
        finally:
            net.train(was)

    for role, net in recipe.nets.items():
        mult = int(getattr(net, "size_multiple", 1) or 1) if getattr(net, "role", "") == "generator" else 1
        why = f"is not a multiple of {mult}" if crop % mult else fits(net, crop)
        if why is None:
            continue
        arch = (getattr(net, "config", {}) or {}).get("arch", type(net).__name__)
        start = max(crop, int(getattr(net, "min_size", 1) or 1))
        start += (-start) % mult
        good = next((s for s in range(start, 4097, mult) if fits(net, s) is None), None)
        hint = f"the smallest crop that works is {good}: use --crop_size {good}" if good else "no crop up to 4096 works"
        raise UsageError(f"--crop_size {crop} does not fit the {role} ({arch}): {why}; {hint}, or a smaller network")


class PushError(UsageError):
    """Training finished and saved its model, but the Hub push failed (the message says how to push again)."""


KNOWN_ERRORS: tuple[type[BaseException], ...] = (UsageError, ValueError, FileNotFoundError, NotADirectoryError,
                                                 PermissionError)
# a full disk, a file-size limit, a full quota or a read-only filesystem: one line, not a traceback
DISK_ERRNOS = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS)


def cli(main_fn, argv: list[str] | None = None) -> int:
    """Run a training CLI's ``main``: 0 when done, 130 when interrupted, and a known error (bad data, usage,
    missing files, bad options) as one ``error: …`` line with exit code 2 - with its traceback only when
    ``--debug`` is given or ``I2I_DEBUG=1`` is set."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv or os.environ.get("I2I_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    from i2i_models.errors import I2IError

    try:
        return 0 if main_fn(argv) is not None else 130
    except KeyboardInterrupt:  # before training started (training itself saves and returns)
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (*KNOWN_ERRORS, I2IError) as e:
        if debug:
            raise
        msg = str(e).strip() or type(e).__name__
        print(f"error: {msg}", file=sys.stderr)
        return 2
    except OSError as e:
        if debug or e.errno not in DISK_ERRNOS:
            raise
        where = f" writing {e.filename}" if e.filename else ""
        print(f"error: {e.strerror or e}{where}: free space (or raise the limit) and continue the run with --resume; "
              f"the last complete checkpoint is intact", file=sys.stderr)
        return 2


def _tuplify(x):
    return tuple(_tuplify(v) for v in x) if isinstance(x, (list, tuple)) else x


def run(recipe_cls, argv: list[str] | None = None) -> Path | None:
    """Parse ``argv`` into the recipe's typed config (:func:`train.config.parse`: defaults, the embedded
    preset when no dataset is given, then the command line) and train. Returns the model folder, or ``None``
    when interrupted; raises the errors :func:`cli` turns into one line."""
    from .config import parse

    argv = sys.argv[1:] if argv is None else argv
    args = parse(recipe_cls.config, argv, f"python -m {__package__}.{recipe_cls.family}", sys.modules[recipe_cls.__module__].__doc__)
    prog = f"{__package__}.{recipe_cls.family}"
    return Trainer(recipe_cls, args, [prog, *argv]).fit()
