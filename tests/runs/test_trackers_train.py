"""A proxy sweep logged with ``log = "tensorboard,mlflow,wandb"`` reads back, through each tracker's reader, into
the table ``runs.csv`` holds (a tiny CPU sweep; W&B offline, no network)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from scalefit.errors import ConfigError  # noqa: E402
from scalefit.runs import read_runs, reduce_runs  # noqa: E402
from scalefit.sweeps.executors import SerialExecutor  # noqa: E402
from scalefit.sweeps.runner import run_sweep  # noqa: E402
from scalefit.sweeps.spec import parse_spec  # noqa: E402

TINY = {"corpus": "pydoc", "seq_len": 32, "batch_size": 4, "n_heads": 2, "cloze_items": 0, "eval_tokens": 256,
        "n_evals": 3, "tokens": 2048, "device": "cpu", "log": "tensorboard,mlflow,wandb"}  # fmt: skip


def test_a_logged_sweep_reads_back_into_the_runs_table(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    spec = parse_spec({"name": "t", "fixed": TINY, "grid": [{"shape": [[16, 1], [24, 1]], "lr": [3e-3]}]})
    out = tmp_path / "t"
    summary = run_sweep(spec, out, executor=SerialExecutor())
    assert summary.counts == {"ok": 2}
    runs = pd.read_csv(out / "runs.csv").set_index("run_id")
    curves = pd.read_csv(out / "curves.csv")
    monkeypatch.setenv("SCALEFIT_CACHE", str(tmp_path / "cache"))  # the W&B offline reader's cache: never ~
    for ref in (f"tb:{out / 'tensorboard'}", f"mlflow:{out / 'mlflow.db'}#t", f"wandb:{out}"):
        table = read_runs(ref)
        assert len(table) == len(curves), ref  # every logged curve row
        last = reduce_runs(table, run="run_name", reduce="last", columns=["loss"]).frame.set_index("run_name")
        assert sorted(last.index) == sorted(runs.index), ref
        for col, logged in (("loss", "loss"), ("n_params", "config.n_params"), ("lr", "config.lr"),
                            ("n_tokens", "config.n_tokens"), ("width", "config.width")):
            tol = 1e-6 if ref.startswith("tb:") else 0  # TensorBoard keeps float32
            np.testing.assert_allclose(last.loc[runs.index, logged].to_numpy(dtype=float),
                                       runs[col].to_numpy(dtype=float), rtol=tol, err_msg=f"{ref} {col}")


def test_an_unknown_tracker_is_refused_before_training(tmp_path):
    from scalefit.proxy.config import TrainConfig
    from scalefit.proxy.train import train_run

    cfg = TrainConfig(**{**{k: v for k, v in TINY.items() if k != "tokens"}, "n_tokens": 2048, "width": 16,
                         "depth": 1, "log": "tensorboard,neptune"})
    with pytest.raises(ConfigError, match=r"log: unknown tracker\(s\) \['neptune'\]; choose from tensorboard, mlflow"):
        train_run(cfg, tmp_path)
    assert not any(tmp_path.rglob("result.json"))
