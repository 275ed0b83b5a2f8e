"""Curve logs: schedules per update (dense, or rebuilt from metadata), the areas S1 and S2, trainer run folders."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalefit.errors import RunDataError
from scalefit.laws.lr_annealing import areas
from scalefit.planning.curves import lr_from_csv, read_curves, schedule_lr, trainer_schedule, with_areas
from scalefit.runs import RunTable
from scalefit.schedules import lr_multiplier

META = {"peak_lr": 3e-3, "total_steps": 500, "warmup_steps": 10, "decay_steps": 100, "min_lr_ratio": 0.1}


def _sparse_log(schedule="wsd", meta=True):
    lr = schedule_lr(schedule, 500, 3e-3, warmup_steps=10, decay_steps=100)
    steps = np.array([1, 5, 20, 60, 150, 300, 420, 460, 500])
    frame = pd.DataFrame({"run_id": schedule, "step": steps, "lr": lr[steps - 1], "loss": 3.0 - 0.001 * steps})
    if meta:
        frame = frame.assign(schedule=schedule, **META)
    return frame, lr


@pytest.mark.parametrize("name", ["cosine", "wsd", "linear", "constant"])
def test_schedules_are_the_trainers(name):
    lr = trainer_schedule(name, 1000, 2e-3, warmup_frac=0.02, decay_frac=0.2, min_lr_ratio=0.1)
    want = [2e-3 * lr_multiplier(i, total=1000, schedule=name, warmup=20, min_ratio=0.1, decay=200)
            for i in range(1000)]
    np.testing.assert_allclose(lr, want, rtol=1e-15)
    assert lr.max() == pytest.approx(2e-3)


def test_sparse_log_is_rebuilt_from_metadata_and_areas_match():
    frame, lr = _sparse_log()
    out = with_areas(RunTable.from_frame(frame), 0.999).frame
    s1, s2 = areas(lr, 0.999)
    np.testing.assert_allclose(out["S1"], s1[frame["step"] - 1], rtol=1e-12)
    np.testing.assert_allclose(out["S2"], s2[frame["step"] - 1], rtol=1e-12)
    assert (out["S2"].iloc[:6] == 0).all() and out["S2"].iloc[-1] > 0  # annealing area only once the decay starts
    assert list(frame.columns) == list(out.columns)[: len(frame.columns)]  # input untouched, columns added


def test_dense_log_uses_its_own_lr_and_allows_missing_losses():
    lr = np.r_[np.linspace(1e-4, 1e-3, 10), np.full(40, 1e-3), np.linspace(1e-3, 1e-4, 50)]
    loss = np.full(lr.size, np.nan)
    loss[[19, 49, 99]] = [3.0, 2.5, 2.2]
    frame = pd.DataFrame({"step": np.arange(1, 101), "lr": lr, "loss": loss})
    out = with_areas(RunTable.from_frame(frame), 0.99).frame
    s1, s2 = areas(lr, 0.99)
    np.testing.assert_allclose(out["S1"], s1)
    np.testing.assert_allclose(out["S2"], s2)


def test_sparse_log_without_metadata_is_a_clear_error():
    frame, _ = _sparse_log(meta=False)
    with pytest.raises(RunDataError, match=r"learning rate of every update.*9 of 500 steps.*schedule, peak_lr"):
        with_areas(RunTable.from_frame(frame))


def test_metadata_that_disagrees_with_the_logged_lr_is_an_error():
    frame, _ = _sparse_log()
    frame["peak_lr"] = 2e-3
    with pytest.raises(RunDataError, match="disagrees with the wsd schedule"):
        with_areas(RunTable.from_frame(frame))


def test_wsd_metadata_needs_decay_steps_and_runs_need_ids():
    frame, _ = _sparse_log()
    with pytest.raises(RunDataError, match="decay_steps"):
        with_areas(RunTable.from_frame(frame.drop(columns="decay_steps")))
    two = pd.concat([frame, frame]).drop(columns="run_id")
    with pytest.raises(RunDataError, match="run_id column"):
        with_areas(RunTable.from_frame(two))


def test_schedule_csv_must_be_dense(tmp_path):
    path = tmp_path / "s.csv"
    pd.DataFrame({"step": np.arange(1, 11), "lr": np.linspace(1e-3, 1e-4, 10)}).to_csv(path, index=False)
    np.testing.assert_allclose(lr_from_csv(path), np.linspace(1e-3, 1e-4, 10))
    pd.DataFrame({"step": [1, 5, 10], "lr": [1e-3, 5e-4, 1e-4]}).to_csv(path, index=False)
    with pytest.raises(RunDataError, match="every update 1..T"):
        lr_from_csv(path)


def test_read_curves_reads_trainer_run_folders(tmp_path):
    cfg = {"run_id": "abc", "schedule": "cosine", "lr": 2e-3, "n_tokens": 64 * 100, "batch_size": 4,
           "seq_len": 16, "warmup_frac": 0.05, "decay_frac": 0.2, "min_lr_ratio": 0.1, "width": 8, "depth": 1}
    run = tmp_path / "sweep" / "abc"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(cfg))
    (run / "result.json").write_text(json.dumps({"n_params": 1234, "status": "ok"}))
    lr = trainer_schedule("cosine", 100, 2e-3, warmup_frac=0.05)
    steps = np.array([1, 10, 50, 100])
    pd.DataFrame({"step": steps, "tokens": steps * 64, "lr": lr[steps - 1], "train_loss": 3.0,
                  "loss": [4.0, 3.0, 2.5, 2.2], "wall_s": 1.0}).to_csv(run / "curve.csv", index=False)
    table = read_curves(tmp_path / "sweep")
    assert table.frame["total_steps"].iloc[0] == 100 and table.frame["n_params"].iloc[0] == 1234
    out = with_areas(table).frame
    np.testing.assert_allclose(out["S1"], np.cumsum(lr)[steps - 1])
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunDataError, match="no runs found"):
        read_curves(tmp_path / "empty")
