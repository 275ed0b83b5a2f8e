"""Over-trained alternatives to the compute-optimal allocation, and `scalefit plan --overtrain`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.errors import FitError
from scalefit.fitting.result import FitResult
from scalefit.planning.overtrain import overtrain_alternatives

OT = {"E": 1.84, "a": 212.0, "b": 367.0, "eta": 0.136}


def _result(law, params, boot=None):
    return FitResult(law=law, law_options={}, params=params, stats={}, search={}, data={}, bootstrap=boot)


def _chinchilla_equivalent(p):
    f = 6.0 ** -p["eta"]
    return {"E": p["E"], "A": p["a"] * f, "B": p["b"] * f, "alpha": 2 * p["eta"], "beta": 2 * p["eta"]}


def test_overtrain_rows_match_closed_forms():
    rows = overtrain_alternatives(_result("overtrain", OT), [1e22], [1, 2, 8])
    m_star = (OT["b"] / OT["a"]) ** (1 / (2 * OT["eta"]))
    for row, m in zip(rows, [1, 2, 8]):
        assert row["M"] == pytest.approx(m * m_star)
        assert 6 * row["N"] * row["D"] == pytest.approx(1e22)
        # compute ratio to reach L*(C) at M = m M*: ((m^eta + m^-eta) / 2)^(1/eta), independent of C
        want = ((m ** OT["eta"] + m ** -OT["eta"]) / 2) ** (1 / OT["eta"])
        assert row["compute_ratio"] == pytest.approx(want, rel=1e-9)
    assert rows[0]["loss_increase"] == pytest.approx(0, abs=1e-12)
    assert 0 < rows[1]["loss_increase"] < rows[2]["loss_increase"]


def test_chinchilla_bisection_agrees_with_overtrain_closed_form():
    ot = overtrain_alternatives(_result("overtrain", OT), [1e21, 1e24], [2, 4, 16])
    ch = overtrain_alternatives(_result("chinchilla", _chinchilla_equivalent(OT)), [1e21, 1e24], [2, 4, 16])
    for a, b in zip(ot, ch):
        for key in ("M", "N", "D", "loss", "compute_ratio"):
            assert b[key] == pytest.approx(a[key], rel=1e-6), key


def test_chinchilla_unequal_exponents_reach_the_optimum_loss():
    p = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
    res = _result("chinchilla", p)
    from scalefit.laws import get_law

    law = get_law("chinchilla")
    for row in overtrain_alternatives(res, [1e23], [3.0]):
        c2 = row["compute_ratio"] * row["C"]
        n = np.sqrt(c2 / (6 * row["M"]))
        target = float(law.derived["loss_opt"].fn(p, C=1e23))
        assert float(law({"N": n, "D": row["M"] * n}, p)) == pytest.approx(target, rel=1e-9)
        assert row["compute_ratio"] > 1


def test_bootstrap_intervals_bracket_the_estimate():
    rng = np.random.default_rng(0)
    boot = {k: (v * np.exp(rng.normal(0, 0.02, 50))).tolist() for k, v in OT.items()}
    rows = overtrain_alternatives(_result("overtrain", OT, boot), [1e22], [4])
    r = rows[0]
    for key in ("N", "loss", "compute_ratio"):
        assert r[f"{key}_lower"] <= r[key] <= r[f"{key}_upper"]


def test_bad_requests_are_errors():
    with pytest.raises(FitError, match="no closed-form"):
        overtrain_alternatives(_result("power", {"E": 1.7, "A": 30.0, "alpha": 0.06}), [1e22], [2])
    with pytest.raises(FitError, match="positive"):
        overtrain_alternatives(_result("overtrain", OT), [1e22], [0, 2])
    with pytest.raises(FitError, match="positive FLOP"):
        overtrain_alternatives(_result("overtrain", OT), [-1.0], [2])


def test_plan_command_overtrain(tmp_path):
    path = tmp_path / "fit.json"
    _result("overtrain", OT).save(path)
    runner = CliRunner()
    res = runner.invoke(app, ["plan", str(path), "--compute", "1e22", "--overtrain", "2,4", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [r["multiplier"] for r in data["overtrain"]] == [2.0, 4.0]
    res = runner.invoke(app, ["plan", str(path), "--compute", "1e22", "--overtrain", "2,4"])
    assert res.exit_code == 0 and "over-trained alternatives" in res.output and "1.139x" in res.output
    res = runner.invoke(app, ["plan", str(path), "--compute", "1e22", "--overtrain", "2,x"])
    assert res.exit_code == 1 and "error: --overtrain" in res.output
