"""One percentile convention (issue 22): every interval made from samples goes through
``resample.percentile_interval`` — numpy's linear interpolation over the FINITE samples — so an infinite draw (a
resample that gave no estimate) is left out everywhere, never turned into an infinite bound on one path and
dropped on another."""

from __future__ import annotations

import ast
import dataclasses
import warnings
from pathlib import Path

import numpy as np
import pytest

import scalefit
from scalefit.fitting.resample import percentile_interval
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate

PACKAGE = Path(scalefit.__file__).parent
LEVEL = 0.9


def _finite_interval(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return tuple(float(b) for b in np.percentile(v, [5, 95]))


def test_the_convention_itself():
    assert percentile_interval([1, 2, 3, np.inf], 0.5) == (1.5, 2.5)
    assert percentile_interval([1, 2, 3, -np.inf, np.nan], 0.5) == (1.5, 2.5)
    lo, hi = percentile_interval(np.array([[1.0, np.inf], [2.0, 5.0], [3.0, 6.0]]), 0.5, axis=0)
    assert lo.tolist() == [1.5, 5.25] and hi.tolist() == [2.5, 5.75]
    assert all(np.isnan(percentile_interval([np.inf, np.nan], 0.5)))


@pytest.fixture(scope="module")
def fit_with_infinite_draw():
    """A Chinchilla fit whose bootstrap has one infinite draw of A (a resample that gave no estimate)."""
    true = dict(E=1.8, A=400.0, B=2000.0, alpha=0.34, beta=0.28)
    runs = simulate(get_law("chinchilla"), true, n_points=40, noise=0.01, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = scalefit.fit("chinchilla", runs, bootstrap=12, calibrate=False)
    boot = {k: list(v) for k, v in fit.bootstrap.items()}
    boot["A"][0] = float("inf")
    return dataclasses.replace(fit, bootstrap=boot)


def test_fit_result_paths_leave_the_infinite_draw_out(fit_with_infinite_draw):
    fit = fit_with_infinite_draw
    x = {"N": np.array([1e8, 1e10]), "D": np.array([2e9, 2e11])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = fit.samples(x)
        assert np.isinf(s[0]).all()  # the infinite draw is there ...
        lo, hi = fit.predict_interval(x, level=LEVEL, interval="mean")
        for j in range(2):  # ... and every band leaves it out
            assert (lo[j], hi[j]) == pytest.approx(_finite_interval(s[:, j]), rel=1e-12)
        ivals = fit.intervals(level=LEVEL)
        assert ivals["A"] == pytest.approx(_finite_interval(fit.bootstrap["A"]), rel=1e-12)
        assert np.isfinite(ivals["A"]).all()
        samples = fit.param_samples()
        boot = {k: list(v) for k, v in fit.bootstrap.items()}
        boot["alpha"][1] = -boot["beta"][1]  # a derived scalar drawn infinite: a = beta / (alpha + beta)
        other = dataclasses.replace(fit, bootstrap=boot)
        with np.errstate(all="ignore"):
            a = np.asarray(fit.law_spec.derived["a"].fn(other.param_samples()), dtype=float)
        assert np.isinf(a[1])
        assert other.intervals(level=LEVEL)["a"] == pytest.approx(_finite_interval(a), rel=1e-12)
        lo, hi = fit.derived_interval("N_opt", C=1e22, level=LEVEL)
        with np.errstate(all="ignore"):
            n_opt = np.asarray(fit.law_spec.derived["N_opt"].fn(samples, C=1e22), dtype=float)
        assert (float(lo), float(hi)) == pytest.approx(_finite_interval(n_opt), rel=1e-12)


def test_planning_and_plotting_paths_leave_the_infinite_draw_out(fit_with_infinite_draw):
    from scalefit.planning.overtrain import overtrain_alternatives
    from scalefit.plotting._common import percentiles

    fit = fit_with_infinite_draw
    x = {"N": np.array([1e8, 1e10]), "D": np.array([2e9, 2e11])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = fit.samples(x)
        lo, hi = percentiles(s, LEVEL)
        assert (lo[1], hi[1]) == pytest.approx(_finite_interval(s[:, 1]), rel=1e-12)
        rows = overtrain_alternatives(fit, [1e22], [1.0, 4.0], level=LEVEL)
    for row in rows:
        for key in ("N", "D", "loss"):
            assert np.isfinite([row[f"{key}_lower"], row[f"{key}_upper"]]).all(), (key, row)


def test_no_module_computes_percentiles_itself():
    """Every other interval path (frontier, isoflop, envelope, chain, lr-transfer, lr-annealing, ...) reaches
    numpy's percentile only through resample.percentile_interval: no other module calls it."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "resample.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in ("percentile", "nanpercentile", "nanquantile"):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not offenders, f"percentiles outside fitting/resample.py: {offenders}"
