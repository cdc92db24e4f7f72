"""Shared fixtures. Tests run on CPU in float32, with real files written to pytest's tmp_path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

DATA = Path(__file__).parent / "data"
PARITY = DATA / "parity"


@pytest.fixture(scope="session")
def parity_manifest() -> dict:
    return json.loads((PARITY / "manifest.json").read_text())


def load_tensor(rel: str) -> torch.Tensor:
    return torch.load(PARITY / rel, weights_only=True)


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield
