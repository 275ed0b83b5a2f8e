"""Plots of overtrain / downstream fits and of IsoFLOP / envelope frontiers, and their `scalefit plot` dispatch."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.errors import RunDataError
from scalefit.fitting import fit
from scalefit.laws import get_law
from scalefit.planning.envelope import envelope
from scalefit.planning.isoflop import isoflop
from scalefit.plotting._common import pyplot
from scalefit.plotting.overtrain import (
    plot_downstream,
    plot_frontier,
    plot_isoflop,
    plot_overtrain,
)
from scalefit.runs import RunTable, with_mean_column

LOSS_TRUE = {"E": 1.84, "a": 212.0, "b": 367.0, "eta": 0.136}
ERR_TRUE = {"epsilon": 0.857, "k": 2.2, "gamma": 0.71}


@pytest.fixture(scope="module")
def runs():
    rng = np.random.default_rng(0)
    N = np.repeat(np.geomspace(1e7, 4e8, 4), 3)
    M = np.tile([10.0, 20.0, 80.0], 4)
    L = get_law("overtrain")({"C": 6 * M * N * N, "M": M}, LOSS_TRUE) * np.exp(rng.normal(0, 0.003, N.size))
    err = get_law("downstream")({"L": L}, ERR_TRUE)
    return pd.DataFrame({"n_params": N, "n_tokens": M * N, "loss": L, "acc_x": 1 - err + 0.01,
                         "acc_y": 1 - err - 0.01})


def _fit(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(*args, **kwargs)


@pytest.fixture(scope="module")
def fits(runs):
    table, col = with_mean_column(RunTable.from_frame(runs, "runs.csv"), "acc_*")
    return {
        "loss": _fit("overtrain", runs, where="n_params < 3e8", bootstrap=20),
        "err": _fit("downstream", table, target=col, where="n_params < 3e8", loss="mse", space="raw", bootstrap=20),
    }


def _gids(ax):
    return {a.get_gid() for a in [*ax.lines, *ax.collections, *ax.patches] if a.get_gid()}


def test_overtrain_plot_has_one_line_per_multiplier_and_held_out_runs(fits, runs):
    ax = plot_overtrain(fits["loss"], runs, where="n_params > 0", to=1e22)
    assert sum(line.get_gid() == "fit-line" for line in ax.lines) == 3
    assert {"runs", "held-out", "extrapolation", "params"} <= _gids(ax) | {t.get_gid() for t in ax.texts}
    # reducible loss: the lines are parallel in log-log (same slope -eta)
    slopes = [np.polyfit(np.log(line.get_xdata()), np.log(line.get_ydata()), 1)[0]
              for line in ax.lines if line.get_gid() == "fit-line"]
    np.testing.assert_allclose(slopes, -fits["loss"].params["eta"], rtol=1e-6)
    pyplot().close(ax.figure)
    ax = plot_overtrain(fits["loss"])  # no runs: lines across the fitted M range
    assert sum(line.get_gid() == "fit-line" for line in ax.lines) >= 2
    pyplot().close(ax.figure)


def test_downstream_plot_rebuilds_target_mean_and_chains(fits, runs):
    ax = plot_downstream(fits["err"], runs, where="n_params > 0", loss_fit=fits["loss"])
    assert {"fit-curve", "runs", "held-out", "chained"} <= _gids(ax)
    pyplot().close(ax.figure)
    with pytest.raises(RunDataError, match="plot_overtrain draws"):
        plot_overtrain(fits["err"])
    with pytest.raises(RunDataError, match="laws of the loss"):
        plot_downstream(fits["loss"])


def test_isoflop_and_envelope_figures():
    from tests.planning.test_isoflop import curve_runs, isoflop_runs

    fig = plot_isoflop(isoflop(isoflop_runs(), bootstrap=20), to=1e23)
    left, right = fig.axes[:2]
    assert sum(line.get_gid() == "parabola" for line in left.lines) == 4
    assert {"N_opt-line", "D_opt-line", "extrapolation"} <= _gids(right)
    pyplot().close(fig)
    ax = plot_frontier(envelope(curve_runs()))
    assert "Approach 1" in ax.get_title()
    pyplot().close(ax.figure)


def test_plot_command_dispatches_on_the_fit(fits, runs, tmp_path):
    from tests.planning.test_isoflop import isoflop_runs

    runs_csv = tmp_path / "runs.csv"
    runs.to_csv(runs_csv, index=False)
    iso = isoflop(isoflop_runs())
    iso.save(tmp_path / "iso.json")
    fits["err"].save(tmp_path / "err.json")
    fits["loss"].save(tmp_path / "loss.json")
    from scalefit.fitting.result import FitResult

    FitResult(law="chinchilla", law_options={}, params={"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34,
              "beta": 0.28}, stats={}, search={}, data={"ranges": {"N": [1e8, 1e10], "D": [1e9, 1e11]}}
              ).save(tmp_path / "chin.json")
    from scalefit.results import load

    chin = load(tmp_path / "chin.json").plot()  # a plain law fit: the fit report, not an over-training figure
    assert chin.axes[0].get_xlabel() != "" and "M =" not in " ".join(t.get_text() for t in chin.axes[0].texts)
    runner = CliRunner()
    for name, extra in (("iso", []), ("err", ["--runs", str(runs_csv)]), ("loss", ["--runs", str(runs_csv)])):
        out = tmp_path / f"{name}.png"
        res = runner.invoke(app, ["plot", str(tmp_path / f"{name}.json"), "--out", str(out), "--dpi", "40", *extra])
        assert res.exit_code == 0, res.output
        assert out.stat().st_size > 5_000


def _points(ax, gid):
    return sum(len(c.get_offsets()) for c in ax.collections if c.get_gid() == gid)


def test_overtrain_title_promises_hollow_points_only_when_it_draws_them(fits, runs):
    ax = plot_overtrain(fits["loss"], runs)  # default: every comparable row; those outside the filter hollow
    held = int((runs.n_params >= 3e8).sum())
    assert _points(ax, "held-out") == held > 0 and _points(ax, "runs") == len(runs) - held
    assert f"hollow: not fitted, n = {held}" in ax.get_title()
    pyplot().close(ax.figure)
    ax = plot_overtrain(fits["loss"], runs, where="n_params < 3e8")  # only the fitted rows
    assert _points(ax, "held-out") == 0 and "hollow" not in ax.get_title()
    pyplot().close(ax.figure)
    ax = plot_overtrain(fits["loss"])  # no runs: no points, no key
    assert "filled" not in ax.get_title()
    pyplot().close(ax.figure)


def test_overtrain_default_rows_keep_to_the_fitted_dataset(runs):
    both = pd.concat([runs.assign(dataset="a"), runs.assign(dataset="b", loss=runs["loss"] * 1.2)], ignore_index=True)
    loss_fit = _fit("overtrain", both, where="dataset == 'a' and n_params < 3e8")
    ax = plot_overtrain(loss_fit, both)
    assert _points(ax, "runs") + _points(ax, "held-out") == len(runs)  # dataset b is another experiment
    assert _points(ax, "held-out") == int((runs.n_params >= 3e8).sum())
    pyplot().close(ax.figure)
