"""plot_curves: observed and held-out points, predicted curves with bands, LR on a twin axis, extra schedules."""

from __future__ import annotations

import warnings

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
