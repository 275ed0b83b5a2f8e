"""IsoFLOP and envelope bootstraps through the shared resampling module: strata, clusters, seeds, levels."""

from __future__ import annotations

import numpy as np
import pytest

from scalefit.errors import FitError
from scalefit.fitting.resample import percentile_interval, stratified_counts
from scalefit.planning.envelope import envelope
from scalefit.planning.isoflop import _parabola_minima, compute_groups, isoflop
from tests.planning.test_isoflop import curve_runs, isoflop_runs


def test_isoflop_resamples_runs_within_each_compute_group():
    runs = isoflop_runs(budgets=(1e18, 1e19, 1e20))
    res = isoflop(runs, bootstrap=40, seed=4)
    # rebuild the first group's bootstrap minima by hand from the stratified draw (groups in order of compute,
    # each group's rows in the order compute_groups gives them)
    strata = compute_groups(6 * runs["n_params"].to_numpy() * runs["n_tokens"].to_numpy(), 0.05)
    assert [s.size for s in strata] == [7, 7, 7]
    W = stratified_counts(strata, len(runs), 40, 4)
    assert all((W[:, s].sum(axis=1) == s.size).all() for s in strata)
    x, L = np.log(runs["n_params"].to_numpy()), runs["loss"].to_numpy()
    xs, _, _ = _parabola_minima(x[strata[0]], L[strata[0]], W[:, strata[0]])
    xs = np.where((xs >= x[strata[0]].min()) & (xs <= x[strata[0]].max()), xs, np.nan)
    lo, hi = percentile_interval(xs, 0.95)
    p = res.points[0]
    assert p["N_opt_lower"] == pytest.approx(np.exp(lo), rel=1e-12)
    assert p["N_opt_upper"] == pytest.approx(np.exp(hi), rel=1e-12)


def test_isoflop_and_envelope_are_seeded():
    runs, curves = isoflop_runs(), curve_runs(sizes=8)
    for method, data in ((isoflop, runs), (envelope, curves)):
        a, b, c = (method(data, bootstrap=30, seed=s) for s in (1, 1, 2))
        assert a.bootstrap == b.bootstrap and a.intervals == b.intervals and a.seed == 1
        assert a.bootstrap != c.bootstrap
        assert a.intervals["a"] == percentile_interval(a.bootstrap["a"], 0.95)


def test_the_first_resamples_do_not_depend_on_how_many_follow():
    curves = curve_runs(sizes=8)
    short, long = envelope(curves, bootstrap=10, seed=3), envelope(curves, bootstrap=25, seed=3)
    assert long.bootstrap["a"][:10] == short.bootstrap["a"]


@pytest.mark.parametrize("level", [0.0, 1.0, 95])
def test_a_level_outside_zero_one_is_refused_before_resampling(level):
    with pytest.raises(FitError, match="must be in \\(0, 1\\)"):
        isoflop(isoflop_runs(), bootstrap=10, level=level)
    with pytest.raises(FitError, match="must be in \\(0, 1\\)"):
        envelope(curve_runs(sizes=6), bootstrap=10, level=level)
