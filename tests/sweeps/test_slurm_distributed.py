"""Runs on several Slurm tasks, and runs that outlast their time limit, on the local cluster (marked ``slurm``).

- a run with ``devices = 2`` is one job of two tasks (torch.distributed over gloo, rendezvous from Slurm's
  environment) and finishes with the curve of the one-process run at the same global batch;
- a run that reaches its time limit gets Slurm's signal (``--signal=USR2@...``), checkpoints, requeues itself and
  finishes with the uninterrupted run's curve. To reach a 2-minute limit without burning CI CPU the test pauses
  the task (``scancel --signal=STOP``) as soon as it trains; Slurm's signal resumes it (``CONT`` as a fallback once
  the signal is surely sent), and the test releases the requeued task as soon as its previous run has left the
  node (Slurm holds a requeued job for about two minutes, reason BeginTime).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import time

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("submitit")

from scalefit.proxy.config import TrainConfig  # noqa: E402
from scalefit.proxy.train import train_run  # noqa: E402
from scalefit.sweeps.slurm import SlurmExecutor  # noqa: E402
from scalefit.sweeps.slurm_jobs import slurm_jobs  # noqa: E402
from scalefit.sweeps.spec import parse_spec  # noqa: E402

from .test_slurm_cluster import PARTITION, _Background, _release, _wait_for  # noqa: E402
from .test_slurm_cluster import cluster as cluster  # noqa: E402,F401 - the module's skip-or-fail fixture

# the tests share the one local cluster, several take its whole node, and some time Slurm's own clock: under
# pytest-xdist they run on one worker (--dist loadgroup), never beside each other
pytestmark = [pytest.mark.slurm, pytest.mark.xdist_group("slurm-cluster")]
SIGNAL_S = 45  # the time-limit test's warning: seconds before the 2-minute limit
SMALL = {"corpus": "pydoc", "seq_len": 32, "batch_size": 8, "n_heads": 2, "cloze_items": 0, "eval_tokens": 1024,
         "n_evals": 8, "device": "cpu", "lr": 3e-3, "deterministic": True}  # fmt: skip


def _spec(steps: int, **fixed):
    return parse_spec({"name": "s", "fixed": {**SMALL, "tokens": steps * 8 * 32, **fixed},
                       "grid": {"shape": [[32, 2]]}})  # fmt: skip


def _run(out) -> tuple[TrainConfig, pd.DataFrame]:
    """The sweep's one run: its config (as written) and curve."""
    rid = pd.read_csv(out / "runs.csv")["run_id"].iloc[0]
    saved = json.loads((out / rid / "config.json").read_text())
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in saved.items() if k in names}), pd.read_csv(out / rid / "curve.csv")


def test_a_two_task_run_finishes_with_the_one_process_curve(tmp_path):
    out = tmp_path / "two"
    ex = SlurmExecutor(partition=PARTITION, cpus_per_task=1, threads=1, time_min=10, poll_s=0.5)
    summary = _Background(_spec(20, devices=2), out, ex).result(timeout=300)
    assert summary.counts == {"ok": 1}
    cfg, curve = _run(out)
    assert cfg.devices == 2 and pd.read_csv(out / "runs.csv")["status"].tolist() == ["ok"]
    one = train_run(dataclasses.replace(cfg, devices=1, micro_batch=4, threads=1), tmp_path / "one")  # same batch
    ref = pd.read_csv(tmp_path / "one" / cfg.name / one["run_id"] / "curve.csv")
    assert curve["step"].tolist() == ref["step"].tolist()
    assert np.abs(curve["loss"] - ref["loss"]).max() <= 1e-5 and curve["loss"].iloc[-1] < curve["loss"].iloc[0] - 0.5


def _why(out) -> str:
    """What a sweep that did not end ok says: its runs' messages and the tail of each task's log."""
    lines = [str(m) for m in pd.read_csv(out / "runs.csv").get("message", [])]
    for log in sorted((out / "submitit").glob("*.err")):
        lines += [f"{log.name}:", *log.read_text(errors="replace").splitlines()[-15:]]
    return "\n".join(lines)


def _signal(task: str, sig: str) -> None:
    """Best effort: a task being requeued at that moment may not answer."""
    try:
        subprocess.run(["scancel", f"--signal={sig}", task], capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        pass


def test_a_run_past_its_time_limit_checkpoints_on_the_signal_requeues_and_finishes(tmp_path):
    out = tmp_path / "limit"
    # Slurm signals once a check (every 30 s) finds less than signal_s + 30 s left: from 2 min - 45 s - 30 s = 45 s
    # after the start to 75 s at the latest, well before the kill at 2 min; the resumed run (300 tiny steps) ends
    # long before its own earliest signal at 45 s
    earliest, latest = 2 * 60 - SIGNAL_S - 30, 2 * 60 - SIGNAL_S
    ex = SlurmExecutor(partition=PARTITION, cpus_per_task=1, threads=1, time_min=2, signal_s=SIGNAL_S, poll_s=0.5)
    sweep = _Background(_spec(300, checkpoint_minutes=0.0), out, ex)
    task = _wait_for(lambda: next((t.task_id for t in slurm_jobs(out) if t.state == "RUNNING"), None), timeout=60)
    started = time.monotonic()
    _wait_for(lambda: list(out.glob("*/config.json")), timeout=60)  # training has begun (the handler is set)
    _signal(task, "STOP")  # the run is now slower than its time limit
    began = time.monotonic() - started
    assert began < earliest, f"the task took {began:.0f} s to start training, past Slurm's earliest signal"

    def requeued():
        return [t for t in slurm_jobs(out) if t.state == "PENDING"]

    try:  # Slurm's signal resumes the stopped task; it checkpoints and requeues itself
        pending = _wait_for(requeued, timeout=started + latest + 5 - time.monotonic(), step=0.5)
    except AssertionError:  # a Slurm that signals without resuming: the signal is surely sent by now
        _signal(task, "CONT")
        pending = _wait_for(requeued, timeout=30)
    assert pending[0].reason == "BeginTime" and list(out.glob("*/checkpoint.pt"))  # checkpointed, requeued
    _release(task)
    summary = sweep.result(timeout=240)
    assert summary.counts == {"ok": 1}, _why(out)
    assert not list(out.glob("*/checkpoint.pt"))  # finished, checkpoint deleted
    cfg, curve = _run(out)
    ref = train_run(dataclasses.replace(cfg, threads=1), tmp_path / "ref")  # the uninterrupted run
    ref_curve = pd.read_csv(tmp_path / "ref" / cfg.name / ref["run_id"] / "curve.csv")
    assert curve["step"].tolist() == ref_curve["step"].tolist() and curve["step"].is_unique
    assert np.abs(curve["loss"] - ref_curve["loss"]).max() <= 1e-6
    assert abs(pd.read_csv(out / "runs.csv")["loss"].iloc[0] - ref["loss"]) <= 1e-6
