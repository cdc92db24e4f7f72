"""Shared fixtures. Tests run on CPU in float32, with real files written to pytest's tmp_path."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import uuid
from pathlib import Path

# huggingface_hub and datasets read these once, at import: set them before anything imports them.
# HF_ENDPOINT points at the Hub-compatible server of tests/hubserver.py (started on first use).
_HF_HOME = tempfile.mkdtemp(prefix="i2i-hf-home-")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HUB_PORT = _free_port()
os.environ.update({
    "HF_ENDPOINT": f"http://127.0.0.1:{HUB_PORT}", "HF_HOME": _HF_HOME, "HF_HUB_DISABLE_XET": "1",
    "HF_TOKEN": "hf_test_token", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1", "HF_HUB_ETAG_TIMEOUT": "5", "HF_HUB_DOWNLOAD_TIMEOUT": "10",
    "I2I_CACHE": os.path.join(_HF_HOME, "i2i-cache"),  # the decoded-images cache of the training data
})
os.environ.pop("HF_HUB_OFFLINE", None)
os.environ.pop("HF_HUB_CACHE", None)

import pytest  # noqa: E402
import torch  # noqa: E402

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


@pytest.fixture(scope="session")
def hub_server():
    """The Hub-compatible server (tests/hubserver.py) on 127.0.0.1, for the whole session."""
    from hubserver import HubServer

    data = tempfile.mkdtemp(prefix="i2i-hub-data-")
    server = HubServer(("127.0.0.1", HUB_PORT), data).start()
    yield server
    server.stop()
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def hub(hub_server):
    """The server, fault-free, with a fresh ``org`` namespace name per test: ``hub.repo_id("name")``."""
    hub_server.fault = None
    ns = "org" + uuid.uuid4().hex[:8]
    hub_server.repo_id = lambda name: f"{ns}/{name}"
    yield hub_server
    hub_server.fault = None


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_HF_HOME, ignore_errors=True)


@pytest.fixture(autouse=True)
def _restore_sigchld():
    """A multi-worker DataLoader installs torch's SIGCHLD handler for the rest of the process; once OpenVINO
    runs in the same process, a later child process's exit (any subprocess.run) then crashes the interpreter
    with SIGSEGV (found when the export tests followed test_evaluate). Tests are separate programs in real
    use: give each the SIGCHLD handling it started with."""
    import signal

    from torch.utils.data._utils import signal_handling

    before = signal.getsignal(signal.SIGCHLD)
    yield
    if signal.getsignal(signal.SIGCHLD) is not before:
        signal.signal(signal.SIGCHLD, before)
        signal_handling._SIGCHLD_handler_set = False
