"""Mid-run checkpoints: kill -9 at random steps, resume, and the run ends exactly where the uninterrupted one does.

Each chain forks a child that trains and SIGKILLs itself (one process) or its launcher (two processes: the
device workers die with it) at a random step, again and again, each child resuming from the last checkpoint;
the parent then finishes the run. 20 kill points across the chains CI runs (21 with the slow-marked FSDP2 chain);
benchmarks/bench_distributed.py loops more, with kills from outside at random times.
"""

from __future__ import annotations

import os
import signal

import numpy as np
import pandas as pd
import pytest
import torch

from scalefit.errors import CheckpointError
from scalefit.proxy.checkpoint import FILE, disk_usage
from scalefit.proxy.config import run_id
from scalefit.proxy.train import train_run

from .test_distributed import curve_of, dist_config

CHAINS = {  # name: (config overrides, steps, kill points)
    "sp-1": ({}, 20, 9),
    "mup-1": ({"parametrization": "mup", "width": 64, "base_width": 32, "schedule": "wsd"}, 20, 9),
    "sp-2-ddp": ({"devices": 2}, 10, 2),
    "mup-2-fsdp": ({"devices": 2, "shard": "fsdp", "parametrization": "mup", "width": 64, "base_width": 32}, 10, 1),
}


def chain_config(overrides: dict, steps: int):
    # every step logged (n_evals > steps) and checkpointed, deterministic algorithms
    return dist_config(steps=steps, n_evals=10 * steps, checkpoint_every=1, deterministic=True, **overrides)


def killed_at(cfg, out, step: int) -> None:
    """Train ``cfg`` in a forked child that is SIGKILLed once a curve row of ``step`` or later is logged."""

    def die(row: dict) -> None:
        if row["step"] >= step:
            os.kill(os.getpid(), signal.SIGKILL)

    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        try:
            train_run(cfg, out, on_log=die)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status


# The two-process FSDP2 chain is slow-marked: once, under a load average near 30 in the full suite, rank 0 died with
# SIGSEGV inside torch while resuming (not reproduced: 4 runs of it alone at load 15-20 passed); it runs with
# `-m slow` and in bench_distributed.py until that crash is understood, so CI does not depend on it.
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "mup-2-fsdp" else n
                                  for n in sorted(CHAINS)])
def test_kill_9_at_random_steps_then_resume_ends_at_the_uninterrupted_loss(tmp_path, name):
    assert sum(k for n, (_, _, k) in CHAINS.items() if n != "mup-2-fsdp") == 20  # the 20 kill points in CI
    overrides, steps, kills = CHAINS[name]
    cfg = chain_config(overrides, steps)
    reference = train_run(cfg, tmp_path / "ref")
    points = np.sort(np.random.default_rng(sorted(CHAINS).index(name)).choice(np.arange(1, steps), kills, False))
    run_dir = tmp_path / "out" / cfg.name / run_id(cfg)
    for point in points:
        killed_at(cfg, tmp_path / "out", int(point))
        assert not (run_dir / "result.json").exists()
        if cfg.devices == 1:  # the process dies on logging the step: its checkpoint is the step before's
            assert (run_dir / FILE).is_file() == (point > 1)
        # (two processes: the launcher dies when rank 0's row reaches it through a queue, by which time the workers
        # may have checkpointed the step; the resumed curve below is the check)
    resumed = train_run(cfg, tmp_path / "out")
    a, b = curve_of(reference, tmp_path / "ref"), curve_of(resumed, tmp_path / "out")
    assert b["step"].tolist() == list(range(1, steps + 1))  # every step once, none missing
    assert abs(resumed["loss"] - reference["loss"]) <= 1e-6 and resumed["status"] == "ok"
    assert np.abs(a["loss"].to_numpy() - b["loss"].to_numpy()).max() <= 1e-6
    assert np.abs(a["train_loss"].to_numpy() - b["train_loss"].to_numpy()).max() <= 1e-6
    assert b["wall_s"].is_monotonic_increasing  # the clock goes on from the checkpoint's
    assert not (run_dir / FILE).exists() and disk_usage(tmp_path / "out") == (0, 0)  # deleted at the end


def test_a_run_started_over_without_its_checkpoint_differs_from_the_resumed_one(tmp_path):
    # the other side of the test above: a resume that restored nothing would give another curve
    cfg = chain_config({}, 12)
    killed_at(cfg, tmp_path, 6)
    run_dir = tmp_path / cfg.name / run_id(cfg)
    state = torch.load(run_dir / FILE, weights_only=True)
    assert state["step"] == 5 and [r["step"] for r in state["curve"]] == [1, 2, 3, 4, 5]
    state["model"] = {k: v + 0.01 for k, v in state["model"].items()}  # a different model at step 5
    torch.save(state, run_dir / FILE)
    perturbed = train_run(cfg, tmp_path)
    reference = train_run(cfg, tmp_path / "ref")
    assert abs(perturbed["loss"] - reference["loss"]) > 1e-4


def test_kept_checkpoints_stay_and_report_their_disk(tmp_path):
    cfg = chain_config({"keep_checkpoints": True}, 6)
    train_run(cfg, tmp_path)
    count, size = disk_usage(tmp_path)
    assert count == 1 and size > 10_000


def test_a_checkpoint_from_another_config_is_refused_in_one_line_and_kept(tmp_path):
    cfg = chain_config({}, 12)
    killed_at(cfg, tmp_path, 4)
    run_dir = tmp_path / cfg.name / run_id(cfg)
    other = chain_config({"lr": 1e-3}, 12)
    other_dir = tmp_path / cfg.name / run_id(other)
    other_dir.mkdir(parents=True)
    (other_dir / FILE).write_bytes((run_dir / FILE).read_bytes())  # the checkpoint in the other run's folder
    before = (other_dir / FILE).read_bytes()
    with pytest.raises(CheckpointError, match=r"checkpoint from another config \(lr = 0\.003 there, 0\.001 here\)") \
            as info:  # fmt: skip
        train_run(other, tmp_path)
    assert "\n" not in str(info.value) and (other_dir / FILE).read_bytes() == before
    assert sorted(p.name for p in other_dir.iterdir()) == [FILE]  # nothing written (no config.json)


def test_a_checkpoint_from_another_version_or_unreadable_is_refused(tmp_path, monkeypatch):
    cfg = chain_config({}, 12)
    killed_at(cfg, tmp_path, 4)
    run_dir = tmp_path / cfg.name / run_id(cfg)
    monkeypatch.setattr("scalefit.__version__", "99.0")
    with pytest.raises(CheckpointError, match="written by scalefit 0.1.0, this is 99.0"):
        train_run(cfg, tmp_path)
    monkeypatch.undo()
    (run_dir / FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable scalefit checkpoint"):
        train_run(cfg, tmp_path)
    assert (run_dir / FILE).read_bytes() == b"not a checkpoint"


def test_two_process_launch_refuses_a_foreign_checkpoint_before_starting(tmp_path):
    cfg = chain_config({}, 12)
    run_dir = tmp_path / cfg.name / run_id(cfg)
    run_dir.mkdir(parents=True)
    (run_dir / FILE).write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="not a readable"):
        train_run(chain_config({"devices": 2}, 12), tmp_path)


def test_checkpoint_curve_rows_are_those_before_the_kill(tmp_path):
    cfg = chain_config({}, 10)
    killed_at(cfg, tmp_path, 3)
    rows = torch.load(tmp_path / cfg.name / run_id(cfg) / FILE, weights_only=True)["curve"]
    assert pd.DataFrame(rows)["step"].tolist() == [1, 2]
