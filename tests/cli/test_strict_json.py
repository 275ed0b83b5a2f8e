"""Every JSON scalefit writes is strict: no NaN, no Infinity (null and "inf" instead), on stdout (--json) and in
result files; the files still load back."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalefit._io import dumps_strict, strict_json
from scalefit._schema import expect_number
from scalefit.cli.app import app


def reject(name):
    raise ValueError(f"non-strict JSON constant {name}")


def strict(text: str):
    return json.loads(text, parse_constant=reject)


def test_strict_json_replaces_non_finite_numbers_and_readers_take_them_back():
    obj = {"a": math.nan, "b": [math.inf, -math.inf, 1.5], "c": np.float64("nan"), "d": np.array([1.0, np.inf])}
    text = dumps_strict(obj)
    assert strict(text) == {"a": None, "b": ["inf", "-inf", 1.5], "c": None, "d": [1.0, "inf"]}
    assert strict_json({"x": (1, 2.0, "s")}) == {"x": [1, 2.0, "s"]}
    assert math.isnan(expect_number(None, "f")) and expect_number("inf", "f") == math.inf
    assert expect_number("-inf", "f") == -math.inf and expect_number(2, "f") == 2.0
    with pytest.raises(ValueError):
        expect_number("infinity", "f")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    path = tmp_path_factory.mktemp("strict") / "runs.csv"
    c = np.geomspace(1e17, 1e22, 24)
    rng = np.random.default_rng(0)
    pd.DataFrame({"C": c, "loss": (1.5 + 60 * c**-0.15) * np.exp(rng.normal(0, 0.01, c.size))}).to_csv(path,
                                                                                                     index=False)
    return path


def _json(*args) -> dict:
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return strict(res.stdout)


def test_every_json_output_and_file_is_strict(runs, tmp_path):
    assert _json("laws")  # bounds of +inf were printed as Infinity
    fit = tmp_path / "fit.json"
    _json("fit", "power", str(runs), "--bootstrap", "20", "--out", str(fit))
    strict(fit.read_text())
    _json("predict", str(fit), "--at", "C=1e25")
    _json("backtest", "power", str(runs), "--holdout", "C > 1e21")
    iso = tmp_path / "iso.json"
    res = CliRunner().invoke(app, ["fit", "isoflop", "runs/chinchilla-cpu/runs.csv", "--bootstrap", "20",
                                   "--out", str(iso)])
    assert res.exit_code == 0, res.output
    strict(iso.read_text())
    _json("plan", str(iso), "--compute", "1e20")
    _json("predict", str(iso), "--at", "C=1e20")
