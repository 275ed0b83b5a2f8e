"""Several fits descending together (scalefit.fitting.stack): a grouped fit's groups and a calibration's folds.

Each start's descent must be its own fit's descent to the last bit (same rows; a fit is padded to padded_rows(n)
alone and stacked, the padding rows weigh 0), for every registered law; a grouped fit must equal its groups
fitted one by one (tests/fitting/test_search_invariants.py checks every law); large groups are still screened
alone; bad stacks are refused. Speed is measured in benchmarks/bench_groups.py, not here.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from scalefit.errors import FitError
from scalefit.fitting import fit
from scalefit.fitting.objective import Problem
from scalefit.fitting.search import EXHAUSTIVE_ROWS, batched_descent, multi_start, multi_starts
from scalefit.fitting.stack import Stack, stacked_descent
from scalefit.laws import get_law, list_laws
from scalefit.laws.simulate import DEFAULT_RANGES, simulate

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
CHIN = get_law("chinchilla")


def _problem(law, n: int, seed: int, **kwargs) -> Problem:
    """Positive inputs on each symbol's usual scale and the law's values there times 1% noise."""
    rng = np.random.default_rng(seed)
    x = {s: rng.uniform(0.5, 2.0, n) * np.sqrt(np.prod(DEFAULT_RANGES.get(s, (1.0, 1.0)))) for s in law.inputs}
    grid = law.start_grid()
    mid = dict(zip(law.param_names, grid[len(grid) // 2]))
    with np.errstate(all="ignore"):
        y = np.abs(np.asarray(law(x, mid), dtype=float)) * np.exp(0.01 * rng.standard_normal(n))
    y = np.where(np.isfinite(y) & (y > 0), y, 1.0)
    return Problem(law, x, y, **kwargs)


@pytest.mark.parametrize("name", list_laws())
def test_every_law_evaluates_per_start_rows_as_its_own_problem(name):
    law = get_law(name)
    problems = [_problem(law, n, seed) for n, seed in ((7, 0), (12, 1), (3, 2))]
    stack = Stack(tuple(problems))
    grid = law.start_grid()
    theta = problems[0].to_fit(grid[np.linspace(0, len(grid) - 1, 6).astype(int)])
    owners = np.array([0, 1, 2, 2, 1, 0])
    view = stack.for_owners(owners)
    pred, jac = view.predict(theta), view.jacobian(theta)
    for k, g in enumerate(owners):
        n = problems[g].n_rows
        np.testing.assert_allclose(pred[k, :n], problems[g].predict(theta[k : k + 1])[0], rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(jac[k, :, :n], problems[g].jacobian(theta[k : k + 1])[0], rtol=1e-9, atol=1e-300,
                                   equal_nan=True)
    assert (view.w[:, problems[0].n_rows :][owners == 0] == 0).all()  # padding weighs nothing


@pytest.mark.parametrize(("law", "space", "loss"), [("chinchilla", "log", "huber"), ("power", "raw", "mse"),
                                                    ("overtrain", "log", "huber")])
def test_a_stacked_descent_is_each_problems_own_descent(law, space, loss):
    law = get_law(law)
    weights = np.random.default_rng(3).uniform(0.5, 2.0, 9)
    problems = [_problem(law, 20, 0, space=space, loss=loss), _problem(law, 9, 1, space=space, loss=loss, w=weights),
                _problem(law, 14, 2, space=space, loss=loss)]
    grid = law.start_grid()
    starts = [problems[0].to_fit(grid[i :: max(1, len(grid) // 40)]) for i in range(3)]
    with np.errstate(all="ignore"):
        together = stacked_descent(problems, starts)
        alone = [batched_descent(p, s) for p, s in zip(problems, starts)]
    for (theta, f), (alone_theta, alone_f) in zip(together, alone):  # rows 20, 9, 14: none padded
        np.testing.assert_array_equal(f, alone_f)  # the same arithmetic: the same end points, to the last bit
        np.testing.assert_array_equal(theta, alone_theta)


def test_fits_of_one_padded_row_count_stack_and_are_their_own_padded_descents():
    problems = [_problem(CHIN, 17, 0), _problem(CHIN, 18, 1)]  # both padded to 18 rows
    grid = CHIN.start_grid()[::60]
    starts = [problems[0].to_fit(grid)] * 2
    with np.errstate(all="ignore"):
        together = stacked_descent(problems, starts)
        alone = [stacked_descent([p], [s])[0] for p, s in zip(problems, starts)]
    for (theta, f), (alone_theta, alone_f) in zip(together, alone):
        np.testing.assert_array_equal(f, alone_f)
        np.testing.assert_array_equal(theta, alone_theta)
    assert Stack((problems[0],)).for_owners(np.zeros(3, dtype=int)).n_rows == 18  # padded alone too


def _groups(n_groups: int = 6, rows: int = 30, noise: float = 0.01) -> pd.DataFrame:
    """Chinchilla runs of groups g0, g1, ... with their own alpha and E, and one row fewer each."""
    frames = []
    for g in range(n_groups):
        params = {**TRUE, "alpha": TRUE["alpha"] + 0.02 * g, "E": TRUE["E"] - 0.05 * g}
        frames.append(simulate(CHIN, params, n_points=rows - g, noise=noise, seed=g).assign(g=f"g{g}"))
    return pd.concat(frames, ignore_index=True)


def test_a_grouped_fit_equals_its_groups_fitted_one_by_one():
    runs = _groups()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grouped = fit("chinchilla", runs, group_by="g", calibrate=False)
        for g, rows in runs.groupby("g"):
            alone = fit("chinchilla", rows.drop(columns="g"), calibrate=False)
            part = grouped[g]
            assert part.stats["objective"] == pytest.approx(alone.stats["objective"], rel=1e-9)
            for name in CHIN.param_names:
                assert part.params[name] == pytest.approx(alone.params[name], rel=1e-5), (g, name)
            assert part.search["n_starts"] == alone.search["n_starts"] and part.data["n_rows"] == len(rows)


def test_groups_recover_their_own_parameters():
    runs = _groups(rows=60, noise=0.001)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grouped = fit("chinchilla", runs, group_by="g", calibrate=False)
    for g in range(6):
        part = grouped[f"g{g}"].params
        assert part["alpha"] == pytest.approx(TRUE["alpha"] + 0.02 * g, rel=0.03)
        assert part["E"] == pytest.approx(TRUE["E"] - 0.05 * g, rel=0.03)


def test_a_large_problem_is_screened_alone_while_small_ones_stack():
    big = _problem(CHIN, EXHAUSTIVE_ROWS + 10, 0)
    small = _problem(CHIN, 25, 1)
    grid = CHIN.start_grid()[::50]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        both = multi_starts([big, small], [grid, grid])
        assert both[0].screen is not None and both[1].screen is None
        alone = multi_start(small, grid)
    assert both[1].objective == pytest.approx(alone.objective, rel=1e-9)


def test_a_single_problem_is_not_copied_per_start():
    p = _problem(CHIN, 10, 0)
    assert Stack((p,)).for_owners(np.zeros(5, dtype=int)) is p
    assert p.for_starts(np.arange(3)) is p


def test_bad_stacks_are_refused():
    with pytest.raises(FitError, match="at least one problem"):
        Stack(())
    with pytest.raises(FitError, match="one law and one objective"):
        Stack((_problem(CHIN, 5, 0), _problem(get_law("kaplan"), 5, 0)))
    with pytest.raises(FitError, match="one law and one objective"):
        Stack((_problem(CHIN, 5, 0), _problem(CHIN, 5, 1, loss="mse")))
    assert stacked_descent([_problem(CHIN, 5, 0)], [np.zeros((0, 5))])[0][0].shape == (0, 5)


def test_a_group_with_no_finite_start_is_named():
    runs = _groups(n_groups=2)
    starts = np.full((1, 4), np.nan)
    # beta held at 0.28: neither nested power law's optimum (beta = 0, or beta = its alpha) is a start of this law
    with pytest.raises(FitError, match=r"no start gave a finite objective .*\(g = g0\)"):
        fit("chinchilla", runs, group_by="g", calibrate=False, starts=starts, fix={"beta": 0.28})


def test_a_grouped_fits_calibrations_equal_each_groups_own():
    runs = _groups(n_groups=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grouped = fit("chinchilla", runs, group_by="g")
        for g, rows in runs.groupby("g"):
            own, part = fit("chinchilla", rows.drop(columns="g")).calibration, grouped[g].calibration
            assert [f["fold"] for f in part["folds"]] == [f["fold"] for f in own["folds"]] and part["points"] > 0
            assert part["noise"] == pytest.approx(own["noise"], rel=1e-6)
            assert part["growth"] == pytest.approx(own["growth"], rel=1e-4, abs=1e-9)
            for a, b in zip(part["folds"], own["folds"]):
                np.testing.assert_allclose(a["scores"], b["scores"], rtol=1e-4, atol=1e-9)
