"""The Slurm executor's code path, run through submitit's local executor (no cluster needed)."""

from __future__ import annotations

import os

import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("submitit")

from scalefit.errors import SweepError  # noqa: E402
from scalefit.sweeps.executors import SlurmExecutor  # noqa: E402
from scalefit.sweeps.runner import run_sweep  # noqa: E402
from scalefit.sweeps.spec import parse_spec  # noqa: E402

TINY = {"corpus": "pydoc", "seq_len": 32, "batch_size": 4, "n_heads": 2, "cloze_items": 0, "eval_tokens": 256,
        "n_evals": 2, "tokens": 1024, "device": "cpu"}  # fmt: skip


def test_two_run_sweep_through_submitit_local_executor(tmp_path):
    spec = parse_spec({"name": "s", "fixed": TINY, "grid": {"shape": [[16, 1]], "lr": [1e-3, 3e-3]}})
    ex = SlurmExecutor(cluster="local", gpus_per_task=0, cpus_per_task=1, time_min=10, poll_s=0.2, threads=1)
    events = []
    out = tmp_path / "sweep"
    summary = run_sweep(spec, out, executor=ex, on_event=lambda e: events.append(e.kind))
    assert summary.counts == {"ok": 2} and len(summary.executed) == 2
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 2 and set(runs["status"]) == {"ok"} and (runs["loss"] > 0).all()
    assert all((out / rid / "curve.csv").is_file() for rid in runs["run_id"])  # results in the same run folders
    assert any((out / "submitit").glob("*_log.out"))  # the jobs really went through submitit
    assert events.count("start") == 2 and events.count("done") == 2
    assert run_sweep(spec, out, executor=ex).executed == []  # resumable like the local path


def test_slurm_parameters_reach_the_sbatch_script(tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    for tool in ("srun", "sbatch"):  # submitit only checks that srun exists before writing the script
        (fake / tool).write_text("#!/bin/sh\nexit 1\n")
        (fake / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    ex = SlurmExecutor(partition="gpu", time_min=30, gpus_per_task=2, cpus_per_task=4, mem_gb=16,
                       array_parallelism=8, account="acct", setup=["module load cuda"], extra={"qos": "high"})
    text = ex.executor(tmp_path / "submitit")._executor._make_submission_file_text("python -m x", "uid")
    for line in ("--partition=gpu", "--time=30", "--gpus-per-node=2", "--cpus-per-task=4", "--mem=16GB",
                 "--account=acct", "--qos=high", "module load cuda"):
        assert line in text


def test_no_slurm_here_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SweepError, match="cannot submit to Slurm"):
        SlurmExecutor().executor(tmp_path / "submitit")
