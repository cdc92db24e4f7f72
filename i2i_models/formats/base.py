"""What a detector returns, and small helpers for reading hyper-parameters off state-dict keys."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import torch

StateDict = dict[str, torch.Tensor]


@dataclass
class Detection:
    """A recognised network in a state dict.

    Attributes:
        codebase: who wrote the file (``junyanz``, ``yunjey-stargan``, ``pytorch-gan``, ``wangguanan``, ``nvidia-pix2pixhd``,
            ``i2i-gans``).
        kind: the original class name, e.g. ``UnetGenerator``.
        network: our network config ``{"arch": …, **hyper-parameters}`` that reproduces it.
        state_dict: the weights, renamed to our key layout (strict-loadable into ``network``).
        family: the family this network implies on its own (``pix2pix``/``cyclegan``/``stargan``).
        notes: runtime behaviours reproduced or assumptions made (shown by ``inspect``).
    """

    codebase: str
    kind: str
    network: dict[str, Any]
    state_dict: StateDict
    family: str
    notes: list[str] = field(default_factory=list)

    @property
    def role(self) -> str:
        from ..networks import ARCHS

        return ARCHS[self.network["arch"]].role


def indices(sd: StateDict, pattern: str) -> list[int]:
    """Sorted distinct integers captured by ``pattern`` (one group) over all keys."""
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in sd for m in [rx.match(k)] if m})


def conv_indices(sd: StateDict, prefix: str) -> list[int]:
    """Indices ``i`` with a 4-D ``{prefix}{i}.weight`` (convolutions of a flat ``nn.Sequential``)."""
    rx = re.compile(re.escape(prefix) + r"(\d+)\.weight$")
    return sorted(int(m.group(1)) for k, v in sd.items() for m in [rx.match(k)] if m and v.dim() == 4)


def drop_all_stats(sd: StateDict) -> tuple[StateDict, int]:
    """Remove every ``running_mean``/``running_var``/``num_batches_tracked`` entry.

    For junyanz InstanceNorm networks, which have no such buffers: files from PyTorch <= 0.4 carry them,
    but InstanceNorm always normalised with per-image statistics, and upstream ``load_networks``
    (``__patch_instance_norm_state_dict``) deletes them too.
    """
    suffixes = (".running_mean", ".running_var", ".num_batches_tracked")
    out = {k: v for k, v in sd.items() if not k.endswith(suffixes)}
    return out, len(sd) - len(out)


def rename(sd: StateDict, rules: list[tuple[str, str]]) -> StateDict:
    """Apply regex substitutions to every key (first matching rule only)."""
    compiled = [(re.compile(a), b) for a, b in rules]
    out = {}
    for k, v in sd.items():
        for rx, repl in compiled:
            new, n = rx.subn(repl, k, count=1)
            if n:
                k = new
                break
        out[k] = v
    return out
