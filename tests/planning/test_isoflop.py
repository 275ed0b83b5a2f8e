"""Chinchilla Approach 2 (IsoFLOP parabolas) and Approach 1 (training-curve envelope)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.errors import FitError, RunDataError
from scalefit.laws import get_law
from scalefit.planning.envelope import envelope
from scalefit.planning.frontier import FrontierResult
from scalefit.planning.isoflop import compute_groups, isoflop

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
A_TRUE = TRUE["beta"] / (TRUE["alpha"] + TRUE["beta"])  # N*(C) ∝ C^a, a = 0.4516
LAW = get_law("chinchilla")


def isoflop_runs(budgets=(1e18, 1e19, 1e20, 1e21), noise=0.002, jitter=0.0, seed=0, span=4.0, sizes=7):
    rng = np.random.default_rng(seed)
    rows = []
    for C in budgets:
        n_star = float(LAW.derived["N_opt"].fn(TRUE, C=C))
        for f in np.geomspace(1 / span, span, sizes):
            c = C * (1 + jitter * rng.uniform(-1, 1))  # e.g. token counts rounded to whole batches
            N = n_star * f
            L = float(LAW({"N": N, "D": c / (6 * N)}, TRUE)) * (1 + noise * rng.standard_normal())
            rows.append({"n_params": N, "n_tokens": c / (6 * N), "loss": L, "budget": f"{C:.0e}"})
    return pd.DataFrame(rows)


def test_recovers_the_n_opt_exponent_with_intervals():
    res = isoflop(isoflop_runs(), bootstrap=200, seed=1)
    assert res.a == pytest.approx(A_TRUE, abs=0.01)
    assert res.a + res.b == pytest.approx(1.0, abs=1e-9)  # D* = C / (6 N*)
    lo, hi = res.intervals["a"]
    assert lo < res.a < hi and hi - lo < 0.05
    assert len(res.points) == 4 and all(p["interior"] for p in res.points)
    for p in res.points:
        n_true = float(LAW.derived["N_opt"].fn(TRUE, C=p["C"]))
        assert p["N_opt"] == pytest.approx(n_true, rel=0.1)
        assert p["N_opt_lower"] <= p["N_opt"] <= p["N_opt_upper"]
    n, d = res.predict(1e22)
    assert 6 * n * d == pytest.approx(1e22, rel=1e-6)
    (nlo, nhi), _ = res.predict_interval([1e22])
    assert nlo[0] < n < nhi[0]


def test_groups_by_column_or_by_jittered_compute():
    runs = isoflop_runs(jitter=0.03)
    by_tol = isoflop(runs)
    by_col = isoflop(runs, group_by="budget")
    assert [p["n_runs"] for p in by_tol.points] == [7, 7, 7, 7]
    assert by_col.a == pytest.approx(by_tol.a, rel=1e-9)
    assert by_tol.a == pytest.approx(A_TRUE, abs=0.02)
    assert len(compute_groups(runs["n_params"].to_numpy() * runs["n_tokens"].to_numpy() * 6, 0.05)) == 4


def test_problem_groups_are_noted_or_refused():
    runs = isoflop_runs(budgets=(1e18, 1e19, 1e20))
    few = pd.concat([runs, isoflop_runs(budgets=(1e22,), sizes=2)], ignore_index=True)
    res = isoflop(few)
    assert len(res.points) == 3 and any("2 distinct model size(s)" in n for n in res.notes)
    lopsided = isoflop_runs(budgets=(1e18, 1e19, 1e20), span=8.0)
    lopsided = lopsided[lopsided.n_params < lopsided.groupby("budget").n_params.transform("median") / 1.5]
    res = isoflop(lopsided)
    assert any("outside the sampled sizes" in n for n in res.notes)
    with pytest.raises(RunDataError, match="at least 2 budgets"):
        isoflop(isoflop_runs(budgets=(1e18,)))
    with pytest.raises(FitError, match="tolerance"):
        isoflop(runs, tol=0)
    with pytest.raises(RunDataError, match="--group-by 'nope'"):
        isoflop(runs, group_by="nope")


def test_result_round_trips_through_json(tmp_path):
    res = isoflop(isoflop_runs(), bootstrap=20, seed=0)
    path = res.save(tmp_path / "iso.json")
    back = FrontierResult.load(path)
    assert back.a == res.a and back.points == res.points and back.intervals == res.intervals
    assert "N*(C) ∝ C^a" in back.report()


def curve_runs(sizes=16):
    rows = []
    for i, N in enumerate(np.geomspace(1e7, 3e9, sizes)):
        for step, D in enumerate(np.geomspace(2e8, 2e11, 30)):
            rows.append({"run_id": f"r{i}", "n_params": N, "tokens": D, "step": step,
                         "loss": float(LAW({"N": N, "D": D}, TRUE))})
    return pd.DataFrame(rows)


def test_envelope_recovers_the_exponent():
    res = envelope(curve_runs(), bootstrap=50, seed=0)
    assert res.a == pytest.approx(A_TRUE, abs=0.02)
    lo, hi = res.intervals["a"]
    assert lo <= res.a <= hi
    assert all(p["n_covering"] >= 2 for p in res.points)
    with pytest.raises(RunDataError, match="2\\+ checkpoints"):
        envelope(isoflop_runs())
    with pytest.raises(RunDataError, match="run column 'nope'"):
        envelope(curve_runs(), run_col="nope")


def test_cli_fit_isoflop_and_envelope(tmp_path):
    runner = CliRunner()
    iso_csv, curves_csv = tmp_path / "runs.csv", tmp_path / "curves.csv"
    isoflop_runs().to_csv(iso_csv, index=False)
    curve_runs().to_csv(curves_csv, index=False)
    res = runner.invoke(app, ["fit", "isoflop", str(iso_csv), "--bootstrap", "50", "--out", str(tmp_path / "i.json"),
                              "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["schema"] == "scalefit.isoflop/1" and abs(data["a"] - A_TRUE) < 0.01
    assert (tmp_path / "i.json").exists()
    res = runner.invoke(app, ["fit", "isoflop", str(iso_csv), "--opt", "tol=0.1", "--group-by", "budget"])
    assert res.exit_code == 0 and "by column 'budget'" in res.output
    res = runner.invoke(app, ["fit", "envelope", str(curves_csv), "--opt", "grid=30"])
    assert res.exit_code == 0 and "Approach 1" in res.output
    res = runner.invoke(app, ["fit", "isoflop", str(iso_csv), "--opt", "grid=3"])
    assert res.exit_code == 1 and "does not take --opt ['grid']" in res.output


SWEEP = Path(__file__).resolve().parents[2] / "runs" / "chinchilla-cpu" / "runs.csv"


@pytest.mark.skipif(not SWEEP.exists(), reason="the chinchilla-cpu proxy sweep has not been committed yet")
def test_isoflop_runs_on_the_committed_proxy_sweep():
    res = isoflop(SWEEP, bootstrap=100, seed=0)
    assert len(res.points) >= 2 and 0 < res.a < 1


def test_plan_from_an_isoflop_fit(tmp_path):
    res = isoflop(isoflop_runs(), bootstrap=50, seed=0)
    path = res.save(tmp_path / "iso.json")
    runner = CliRunner()
    out = runner.invoke(app, ["plan", str(path), "--compute", "1e22", "--json"])
    assert out.exit_code == 0, out.output
    row = json.loads(out.stdout)["compute_optimal"][0]
    n_true = float(LAW.derived["N_opt"].fn(TRUE, C=1e22))
    assert row["N_opt"] == pytest.approx(n_true, rel=0.15)
    assert row["N_opt_lower"] < row["N_opt"] < row["N_opt_upper"]
    out = runner.invoke(app, ["plan", str(path), "--compute", "1e22", "--overtrain", "2"])
    assert out.exit_code == 1 and "--overtrain needs a fitted loss law" in out.output


def test_a_frontier_prediction_beyond_its_points_warns_at_the_callers_line_and_inside_does_not():
    from scalefit.errors import ExtrapolationWarning

    res = isoflop(isoflop_runs())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res.predict([1e19, 1e20])  # inside the budgets 1e18 .. 1e21
        res.predict(1e21, warn=False)
    assert not [w for w in caught if issubclass(w.category, ExtrapolationWarning)]
    with pytest.warns(ExtrapolationWarning, match=r"predict: extrapolating beyond the data: C = 1e\+24 is 3 "
                                                  r"decades beyond") as record:
        n, d = res.predict(1e24)
    assert record[0].filename == __file__ and np.isfinite(n) and np.isfinite(d)
