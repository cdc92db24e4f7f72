"""What a run reports while it trains: ``metrics.jsonl`` (and TensorBoard when installed) and the
progress shown to a person (a bar on a terminal, plain lines elsewhere)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


class MetricsLog:
    """Append JSON records to ``<run>/metrics.jsonl`` (with ``elapsed_s`` since the run started, across
    resumes) and their numbers to TensorBoard under ``<run>/tb`` unless ``tensorboard`` is off or missing."""

    def __init__(self, run_dir: Path, elapsed_before: float = 0.0, tensorboard: bool = True):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.t0, self.elapsed_before = time.perf_counter(), elapsed_before
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(Path(run_dir) / "tb"))
            except Exception:  # tensorboard not installed: metrics.jsonl only
                self.tb = None

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0 + self.elapsed_before

    def write(self, record: dict[str, Any]) -> None:
        record.setdefault("elapsed_s", round(self.elapsed(), 1))
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k != "step":
                    self.tb.add_scalar(k, v, record["step"])


class Progress:
    """Training progress that works everywhere: a tqdm bar when stderr is a terminal, else a plain line
    (step, %, it/s, time left, the latest losses) every ``interval`` seconds and at the end - for CI logs,
    ``nohup`` and notebooks, where a bar would print nothing or garbage."""

    def __init__(self, total: int, start: int, desc: str, interval: float = 10.0):
        self.total, self.start, self.desc, self.interval = total, start, desc, interval
        self.t0 = self.last = time.perf_counter()
        self._losses: dict[str, float] = {}
        self.bar = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=start, desc=desc, dynamic_ncols=True)

    def losses(self, losses: dict[str, float]) -> None:
        self._losses = losses
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)

    def update(self, step: int) -> None:
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            return
        now = time.perf_counter()
        if now - self.last >= self.interval or step == self.total:
            self.last = now
            rate = (step - self.start) / max(1e-9, now - self.t0)
            left = (self.total - step) / rate if rate > 0 else float("nan")
            eta = time.strftime("%H:%M:%S", time.gmtime(left)) if left == left else "?"
            loss = " ".join(f"{k} {v:.3f}" for k, v in self._losses.items())
            print(f"{self.desc} step {step}/{self.total} ({100 * step / max(1, self.total):.0f}%) {rate:.2f} it/s, "
                  f"{eta} left  {loss}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
