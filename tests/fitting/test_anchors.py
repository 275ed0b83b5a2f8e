"""Anchors (issue 14 item 3): fixed points in the law's symbols that every fit and every bootstrap resample
includes, recorded apart from the data rows."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import scalefit
from scalefit.cli.app import app
from scalefit.errors import RunDataError
from scalefit.fitting import Problem, fit_law
from scalefit.fitting.bootstrap import bootstrap_fits
from scalefit.fitting.rows import parse_anchor
from scalefit.laws import get_law

LINE = get_law("expr", formula="a + b*x", params=["a=0", "b=1"], target="y")


def _line_data(n: int = 10, seed: int = 0) -> pd.DataFrame:
    """y = 1 + x (+ noise) on x in [1, 2]: the intercept a is 1; an anchor at (0, 5) pulls it to 5."""
    rng = np.random.default_rng(seed)
    x = np.linspace(1, 2, n)
    return pd.DataFrame({"x": x, "y": 1 + x + 0.02 * rng.standard_normal(n)})


def _fit(data, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_law(LINE, data, space="raw", loss="mse", calibrate=False, **kwargs)


def test_an_anchor_changes_the_fit_and_is_recorded_apart_from_the_rows():
    data = _line_data()
    free = _fit(data)
    anchored = _fit(data, anchors=[{"x": 0, "y": 5, "weight": 1000}])
    assert free.params["a"] == pytest.approx(1, abs=0.1)
    assert anchored.params["a"] == pytest.approx(5, abs=0.05)
    assert anchored.data["n_rows"] == 10 and anchored.stats["n"] == 10
    assert anchored.data["anchors"] == [{"x": 0.0, "y": 5.0, "weight": 1000.0}]
    assert "anchors  1 fixed point, not in the rows, in every resample: x=0,y=5 (weight 1000)" in anchored.report()
    loaded = scalefit.FitResult.from_json(anchored.to_json())
    assert loaded.data["anchors"] == anchored.data["anchors"]


def test_every_bootstrap_resample_keeps_the_anchor_while_a_fake_data_row_is_dropped():
    """The old workaround (the ideal point as a data row) loses it in about (10/11)^11 = 35% of resamples; as an
    anchor, every resample's line passes through it."""
    data = _line_data()
    anchored = _fit(data, anchors=["x=0,y=5,weight=1000"], bootstrap=200, seed=3)
    a = np.asarray(anchored.bootstrap["a"])
    assert np.all(np.abs(a - 5) < 0.05), a.min()
    fake = pd.concat([data.assign(w=1.0), pd.DataFrame({"x": [0.0], "y": [5.0], "w": [1000.0]})], ignore_index=True)
    as_row = _fit(fake, weight="w", bootstrap=200, seed=3)
    lost = np.mean(np.abs(np.asarray(as_row.bootstrap["a"]) - 5) > 1)
    assert 0.2 < lost < 0.5


def test_bootstrap_multiplicities_of_anchor_rows_are_always_one():
    """Directly: a problem whose last row is an anchor; its multiplicity in each resample is 1 (a resample that
    drew it 0 or 2 times would move the fitted intercept)."""
    data = _line_data(n=6)
    x = {"x": np.r_[data["x"].to_numpy(), 0.0]}
    y = np.r_[data["y"].to_numpy(), 5.0]
    problem = Problem(LINE, x, y, loss="mse", space="raw", w=np.r_[np.ones(6), 1e6], n_anchors=1)
    theta, _ = bootstrap_fits(problem, np.array([[5.0, 0.0]]), 300, seed=0)
    assert np.all(np.abs(theta[:, 0] - 5) < 1e-3)


def test_anchors_with_groups_and_the_ideal_point_of_a_sigmoid(tmp_path):
    """The ladder's ideal point (L=0, Acc=1) on the CLI; anchors hold in every group of a grouped fit."""
    rng = np.random.default_rng(1)
    loss = np.linspace(2.2, 3.6, 12)
    acc = 0.25 + 0.6 / (1 + np.exp(4 * (loss - 2.9)))
    frame = pd.DataFrame({"L": np.tile(loss, 2), "acc": np.tile(acc, 2) + 0.003 * rng.standard_normal(24),
                          "task": np.repeat(["a", "b"], 12)})
    path = tmp_path / "tasks.csv"
    frame.to_csv(path, index=False)
    res = CliRunner().invoke(app, ["fit", "expr", str(path), "--formula", "c + (1 - c)/(1 + exp(k*(L - L0)))",
                                   "--param", "c=0.2:0:1", "--param", "k=2:0:20", "--param", "L0=3:0:10",
                                   "--opt", "target=Acc", "--map", "Acc=acc", "--space", "raw", "--group-by", "task",
                                   "--anchor", "L=0,Acc=1", "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    for group in payload["groups"].values():
        assert group["data"]["anchors"] == [{"L": 0.0, "Acc": 1.0, "weight": 1.0}]
        assert group["data"]["n_rows"] == 12


@pytest.mark.parametrize("anchor, message", [
    ({"x": 0}, "give every symbol of law 'expr' (x, y) and optionally weight; missing y"),
    ({"x": 0, "y": 1, "z": 2}, "unknown z"),
    ({"x": 0, "y": float("nan")}, "y = nan is not a finite number"),
    ({"x": 0, "y": 1, "weight": 0}, "the weight must be > 0"),
    ({"x": 0, "y": "one"}, "is not a finite number"),
    ("x=0,y", "expected SYMBOL=VALUE"),
    ("x=0,x=1,y=2", "x is given twice"),
    (3.0, "expected a mapping"),
])
def test_bad_anchors(anchor, message):
    with pytest.raises(RunDataError) as err:
        _fit(_line_data(), anchors=[anchor])
    assert message in str(err.value)


def test_log_space_refuses_a_non_positive_anchor_target():
    frame = pd.DataFrame({"L": [2.0, 3.0, 4.0, 5.0], "Err": [0.3, 0.4, 0.5, 0.6]})
    law = get_law("expr", formula="a + b*L", params=["a=0.1", "b=0.1"], target="Err")
    with pytest.raises(RunDataError, match="cannot be fitted in log space"):
        fit_law(law, frame, anchors=[{"L": 0, "Err": 0}], space="log", calibrate=False)


def test_parse_anchor():
    assert parse_anchor(" L = 0 , Acc=1, weight=10 ") == {"L": 0.0, "Acc": 1.0, "weight": 10.0}


def test_cli_anchor_errors_are_one_line(tmp_path):
    path = tmp_path / "line.csv"
    _line_data().to_csv(path, index=False)
    res = CliRunner().invoke(app, ["fit", "expr", str(path), "--formula", "a + b*x", "--param", "a=0",
                                   "--param", "b=1", "--opt", "target=y", "--space", "raw", "--anchor", "x=0"])
    assert res.exit_code == 1 and "missing y" in res.output
    assert len([line for line in res.stderr.splitlines() if line.strip()]) == 1
