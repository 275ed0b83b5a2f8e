"""Per-checkpoint downstream metrics: cloze_metrics, and the loss_cloze/acc_cloze columns of curve rows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from scalefit.proxy.cloze import build_cloze, cloze_metrics, err_cloze
from scalefit.proxy.data import load_corpus
from scalefit.proxy.train import train_run
from tests.proxy.conftest import tiny


def test_uniform_model_scores_chance_and_ln_vocab():
    cloze = build_cloze(load_corpus("pydoc").val, 40, 32)

    class Uniform(torch.nn.Module):
        def forward(self, idx):
            return torch.zeros(*idx.shape, 256)

    m = cloze_metrics(Uniform(), cloze, torch.device("cpu"))
    assert m["loss_cloze"] == pytest.approx(math.log(256), rel=1e-6)  # every token has probability 1/256
    assert m["acc_cloze"] == pytest.approx(1 - err_cloze(Uniform(), cloze, torch.device("cpu")))


def test_curve_rows_carry_the_checkpoint_metrics(tmp_path):
    result = train_run(tiny(cloze_items=16, n_evals=4), tmp_path)
    curve = pd.read_csv(tmp_path / result["name"] / result["run_id"] / "curve.csv")
    assert list(curve.columns[-2:]) == ["loss_cloze", "acc_cloze"]
    assert np.isfinite(curve[["loss_cloze", "acc_cloze"]].to_numpy()).all()
    assert curve["loss_cloze"].iloc[-1] < curve["loss_cloze"].iloc[0]  # the task loss falls with training
    assert curve["acc_cloze"].iloc[-1] == pytest.approx(1 - result["err_cloze"])  # the final checkpoint is the run's
    off = train_run(tiny(cloze_items=0, n_evals=4), tmp_path)
    columns = pd.read_csv(tmp_path / off["name"] / off["run_id"] / "curve.csv").columns
    assert "loss_cloze" not in columns and "acc_cloze" not in columns
