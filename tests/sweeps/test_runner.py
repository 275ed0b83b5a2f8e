"""The resumable runner: interrupted sweeps resume exactly, failures and divergences are recorded, not fatal."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("torch")

from scalefit.sweeps.executors import LocalExecutor, SerialExecutor  # noqa: E402
from scalefit.sweeps.runner import plan_sweep, run_sweep  # noqa: E402
from scalefit.sweeps.spec import load_spec, parse_spec  # noqa: E402
from scalefit.sweeps.store import sweep_status  # noqa: E402

TINY = {"corpus": "pydoc", "seq_len": 32, "batch_size": 4, "n_heads": 2, "cloze_items": 0, "eval_tokens": 256,
        "n_evals": 2, "tokens": 2048, "device": "cpu"}  # fmt: skip


def _toml(path: Path, grids: str, **extra) -> Path:
    fixed = {**TINY, **extra}
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in fixed.items())
    path.write_text(f'name = "t"\n[fixed]\n{body}\n{grids}')
    return path


def test_divergence_and_failure_are_recorded_not_fatal(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("ab\ncd\n")  # far shorter than one window: the trainer raises for this run
    spec = parse_spec({"name": "t", "fixed": TINY, "grid": [
        {"shape": [[16, 1]], "lr": [3e-3, 1000.0]},  # the huge LR diverges
        {"shape": [[16, 1]], "corpus": str(short)},
    ]})  # fmt: skip
    out = tmp_path / "sweep"
    summary = run_sweep(spec, out, executor=SerialExecutor())
    assert summary.counts == {"ok": 1, "diverged": 1, "failed": 1}
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs["status"]) == ["ok", "diverged", "failed"]  # spec order, all three recorded
    assert runs.loc[1, "message"].startswith("training loss") and pd.isna(runs.loc[1, "loss"])
    assert "ConfigError" in runs.loc[2, "message"] and (out / runs.loc[2, "run_id"] / "error.txt").is_file()
    assert runs.loc[0, "loss"] > 0 and runs.columns[:3].tolist() == ["run_id", "n_params", "n_params_nonembed"]
    curves = pd.read_csv(out / "curves.csv")
    assert set(curves["run_id"]) == set(runs["run_id"][:2]) and {"step", "loss", "lr"} <= set(curves.columns)
    # a finished sweep re-run does nothing (its files come out byte-identical); --retry-failed re-runs the failed run
    files = {name: (out / name).read_bytes() for name in ("runs.csv", "curves.csv", "sweep.json")}
    assert run_sweep(spec, out, executor=SerialExecutor()).executed == []
    assert files == {name: (out / name).read_bytes() for name in files}
    again = run_sweep(spec, out, executor=SerialExecutor(), retry_failed=True)
    assert again.executed == [runs.loc[2, "run_id"]]
    status = sweep_status(out)
    assert status.counts == {"ok": 1, "diverged": 1, "failed": 1, "pending": 0} and len(status.messages) == 2


def test_killed_sweep_resumes_exactly_the_remaining_runs(tmp_path):
    spec_path = _toml(tmp_path / "s.toml", '[[grid]]\nshape = [[16, 1], [24, 1]]\nlr = [1e-3, 2e-3, 4e-3]\n',
                      tokens=4096)  # fmt: skip
    out = tmp_path / "sweep"
    _, planned = plan_sweep(load_spec(spec_path), out)
    ids = [r.run_id for r in planned]
    cmd = [sys.executable, "-c", "from scalefit.cli.app import main; main()", "sweep", str(spec_path),
           "--out", str(out), "--workers", "1", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    k, deadline = 2, time.time() + 240
    try:
        while sum((out / rid / "result.json").is_file() for rid in ids) < k:
            if proc.poll() is not None:
                pytest.fail(f"sweep exited before {k} runs finished: {proc.stderr.read().decode()[-2000:]}")
            if time.time() > deadline:
                pytest.fail("sweep too slow to reach k runs")
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the driver and its worker, mid-run
        proc.wait()
    finished = {rid for rid in ids if (out / rid / "result.json").is_file()}
    assert k <= len(finished) < len(ids)
    stamps = {rid: (out / rid / "result.json").stat().st_mtime_ns for rid in finished}
    logged = set(pd.read_csv(out / "runs.csv")["run_id"])
    assert logged <= finished  # runs.csv never lists a run without its result
    summary = run_sweep(load_spec(spec_path), out, executor=SerialExecutor())
    assert sorted(summary.executed) == sorted(set(ids) - finished)  # exactly the remaining runs, once each
    assert len(summary.executed) == len(set(summary.executed))
    assert summary.skipped == len(finished)
    assert all((out / rid / "result.json").stat().st_mtime_ns == t for rid, t in stamps.items())  # not re-run
    runs = pd.read_csv(out / "runs.csv")
    assert runs["run_id"].tolist() == ids and set(runs["status"]) == {"ok"}  # nothing lost or duplicated
    curves = pd.read_csv(out / "curves.csv")
    assert set(curves["run_id"]) == set(ids)
    assert run_sweep(load_spec(spec_path), out, executor=SerialExecutor()).executed == []


def test_local_executor_places_workers_on_gpus_or_cores():
    slots, threads = LocalExecutor(device="auto", runs_per_gpu=3, gpus=2).plan()
    assert slots == ["0", "1", "0", "1", "0", "1"] and 1 <= threads <= 4
    slots, _ = LocalExecutor(device="auto", runs_per_gpu=2, gpus=2, workers=3).plan()
    assert slots == ["0", "1", "0"]
    slots, threads = LocalExecutor(device="cpu", workers=2, gpus=2).plan()
    assert slots == [None, None] and threads >= 1
    with pytest.raises(Exception, match="no CUDA GPU"):
        LocalExecutor(device="cuda", gpus=0).plan()


def test_worker_killed_mid_run_is_retried_without_losing_or_repeating_runs(tmp_path):
    import multiprocessing

    spec = parse_spec({"name": "t", "fixed": {**TINY, "tokens": 8192, "n_evals": 8},
                       "grid": {"shape": [[16, 1]], "lr": [1e-3, 2e-3, 4e-3]}})  # fmt: skip
    killed: list[int] = []

    def on_event(event):  # kill the worker while the second run is logging (k = 1 run finished)
        if event.kind == "log" and not killed and len(done) == 1:
            for child in multiprocessing.active_children():
                os.kill(child.pid, signal.SIGKILL)
                killed.append(child.pid)
        if event.kind == "done":
            done.append(event.run.run_id)

    done: list[str] = []
    summary = run_sweep(spec, tmp_path / "sweep", executor=LocalExecutor(workers=1, device="cpu", poll_s=0.01),
                        on_event=on_event)  # fmt: skip
    assert killed, "the worker was never killed"
    assert summary.counts == {"ok": 3}
    assert sorted(summary.executed) == sorted(r.run_id for r in plan_sweep(spec, tmp_path / "sweep")[1])
    assert len(done) == len(set(done)) == 3  # the killed run was retried, once, and recorded once
