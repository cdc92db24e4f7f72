"""Fault injection in training: a disk that fills up while a checkpoint is written (a real file-size limit,
RLIMIT_FSIZE, in a child process), a run folder that cannot be created, and a Hub that drops the connection
mid-upload. In each, the last good checkpoint and the run folder stay intact, the error says what happened in
one line, and a retry (``--resume``, a re-push) succeeds."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from huggingface_hub import HfApi

import i2i_models
from train import pix2pix

from test_train_safety import ENV, ROOT, _args, _sample

DRIVER = textwrap.dedent('''
    import resource, signal, sys
    from train import loop, pix2pix, runs
    real = runs.Checkpoints.save
    calls = []
    def save(self, *a, **k):
        calls.append(1)
        if len(calls) == 2:  # the disk fills up just before the second checkpoint: every later write fails
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
        return real(self, *a, **k)
    runs.Checkpoints.save = save
    sys.exit(loop.cli(pix2pix.main, sys.argv[1:]))
''')


def test_a_full_disk_during_a_checkpoint_keeps_the_last_one_and_resume_finishes_the_run(tmp_path):
    data = _sample(tmp_path)
    args = _args(tmp_path, data, steps=9, name="full") + ["--save_every", "3", "--val_every", "100",
                                                          "--sample_every", "100"]
    ref = pix2pix.main(_args(tmp_path, data, steps=9, name="ref") + ["--save_every", "3", "--val_every", "100",
                                                                       "--sample_every", "100"])
    r = subprocess.run([sys.executable, "-c", DRIVER, *args], cwd=ROOT, env=ENV, capture_output=True, text=True,
                       timeout=600)
    run = tmp_path / "full"
    assert r.returncode == 2, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: File too large") and "--resume" in last, r.stderr[-1500:]
    ck = run / "checkpoints"
    assert (ck / "LATEST").read_text() == "step_0000003"
    assert sorted(p.name for p in ck.iterdir()) == ["LATEST", "step_0000003"]  # no half-written checkpoint left
    i2i_models.load(str(ck / "step_0000003"))
    out = pix2pix.main(["--resume", str(run), "--num_workers", "0"])  # space is back: the run finishes
    assert (out / "model.safetensors").read_bytes() == (ref / "model.safetensors").read_bytes()


def test_a_run_folder_that_cannot_be_created_is_one_line_before_training(tmp_path):
    data = _sample(tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    a = _args(tmp_path, data, steps=2, name="x")
    a[a.index("--checkpoints_dir") + 1] = str(blocker / "runs")
    r = subprocess.run([sys.executable, "-m", "train.pix2pix", *a], cwd=ROOT, env=ENV, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert blocker.read_text() == "x"


def test_a_hub_that_drops_the_upload_leaves_the_model_and_the_repo_intact_and_a_repush_works(tmp_path, hub):
    data = _sample(tmp_path)
    repo = hub.repo_id("dropped")
    hub.fault = "drop_commit"
    a = _args(tmp_path, data, steps=3, name="push") + ["--push_to_hub", repo]
    r = subprocess.run([sys.executable, "-m", "train.pix2pix", *a], cwd=ROOT, env=ENV, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 2, r.stderr[-2000:]
    last = r.stderr.strip().splitlines()[-1]
    final = tmp_path / "push" / "final"
    assert last.startswith("error: the final model is complete in") and "hf upload" in last and "nothing on the Hub" in last
    model = i2i_models.load(str(final))  # the local model is whole
    api = HfApi()
    files = api.list_repo_files(repo)
    assert "model.safetensors" not in files  # no partial commit landed
    hub.fault = None
    api.upload_folder(repo_id=repo, folder_path=str(final), commit_message="re-push")  # what the message says to do
    again = i2i_models.load(repo)
    for k, v in model.state_dict().items():
        assert (again.state_dict()[k] == v).all()


def test_a_training_killed_during_its_hub_push_leaves_model_and_repo_intact(tmp_path, hub):
    import os
    import signal
    import time

    data = _sample(tmp_path)
    repo = hub.repo_id("killed")
    hub.fault = "slow_commit"
    a = _args(tmp_path, data, steps=3, name="kill") + ["--push_to_hub", repo]
    proc = subprocess.Popen([sys.executable, "-m", "train.pix2pix", *a], cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not any(m == "POST" and "/commit/" in p and "killed" in p for m, p in hub.request_log):
        assert proc.poll() is None and time.time() < deadline, "the push never reached its commit"
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)  # mid-push
    proc.wait()
    hub.fault = None
    final = tmp_path / "kill" / "final"
    model = i2i_models.load(str(final))
    api = HfApi()
    assert "model.safetensors" not in api.list_repo_files(repo)
    api.upload_folder(repo_id=repo, folder_path=str(final), commit_message="re-push")
    again = i2i_models.load(repo)
    assert all((again.state_dict()[k] == v).all() for k, v in model.state_dict().items())
