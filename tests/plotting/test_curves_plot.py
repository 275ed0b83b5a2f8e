"""plot_curves: observed and held-out points, predicted curves with bands, LR on a twin axis, extra schedules."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from scalefit.errors import ExtrapolationWarning
from scalefit.planning.curves import trainer_schedule
from scalefit.planning.lr_annealing import fit_curves
from scalefit.plotting import save_figure
from scalefit.plotting.curves import plot_curves
from tests.planning.test_lr_annealing import PEAK, T, curve_log


@pytest.fixture(scope="module")
def fitted():
    log = curve_log(schedules=("cosine", "constant", "wsd"), noise=0.002)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        return fit_curves(log, where="schedule != 'wsd'", bootstrap=20).fit, log


def test_plot_curves_draws_observed_predicted_and_lr(fitted, tmp_path):
    fit, log = fitted
    ax = plot_curves(fit, log, extra={"linear": trainer_schedule("linear", T, PEAK, warmup_frac=0.02)})
    gids = [a.get_gid() for a in ax.get_children()]
    assert gids.count("predicted") == 3 and gids.count("band") == 3 and gids.count("extra") == 1
    assert gids.count("observed") == 2 and gids.count("held-out") == 1  # the wsd run was not fitted
    twin = [a for a in ax.figure.axes if a is not ax][0]
    assert [line.get_gid() for line in twin.get_lines()].count("lr") == 4
    labels = ax.get_legend_handles_labels()[1]
    assert {"cosine", "constant", "wsd (not fitted)", "linear (predicted)"} <= set(labels)
    assert save_figure(ax.figure, tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def _in_view(ax, x, y):
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    inside = (x >= x0) & (x <= x1)
    return y[inside], (y0, y1)


def test_limits_follow_the_fitted_steps_not_the_early_plateau():
    """Like the CPU proxies: a plateau before the fit window, where the law's curve climbs far above the data."""
    log = curve_log(schedules=("cosine", "constant", "wsd"), noise=0.002)
    start = 300
    for run in log["run_id"].unique():  # the plateau: flat at the loss the run reaches at the window start
        rows = log["run_id"] == run
        at_start = log.loc[rows & (log["step"] >= start), "loss"].iloc[0]
        log.loc[rows & (log["step"] < start), "loss"] = at_start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        fit = fit_curves(log, where=f"schedule != 'wsd' and step >= {start}").fit
    ax = plot_curves(fit, log)
    first = int(log.loc[log["step"] >= start, "step"].min())
    assert first / 1.1 <= ax.get_xlim()[0] <= first
    compared = log.loc[log["step"] >= start, "loss"]
    y0, y1 = ax.get_ylim()
    assert y0 < compared.min() and y1 > compared.max()
    assert (y1 - y0) < 1.3 * (compared.max() - compared.min())  # the margin, not the plateau's curve
    for line in ax.lines:  # every predicted curve stays inside the axes over the steps shown
        y, (lo, hi) = _in_view(ax, np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float))
        assert ((y >= lo) & (y <= hi)).all(), line.get_gid()
    for coll in ax.collections:  # no point is drawn outside the steps shown, so the legend lists what is seen
        if coll.get_gid() in ("observed", "held-out"):
            assert (coll.get_offsets()[:, 0] >= first).all()
    assert "from step" in ax.get_xlabel()
    full = plot_curves(fit, log, focus=False)
    assert full.get_xlim()[0] < 10 and "from step" not in full.get_xlabel()
