"""The fitting engine at log sizes: bounded memory, the screened search, chunked sums and bootstrap, refusals.

Sizes stay small here (the 10^6-row runs live in benchmarks/bench_scale.py): a 50,000-row fit is enough to show
that no starts × rows array is allocated (it would be 4,500 × 50,000 × 8 bytes = 1.8 GB).
"""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest

from scalefit.errors import FitError
from scalefit.fitting import Problem, chunked, fit
from scalefit.fitting.bootstrap import MAX_RESAMPLES, bootstrap_fits
from scalefit.fitting.screen import SCREEN_ROWS, basins, screened_search, stratified_rows
from scalefit.fitting.search import exhaustive_search, multi_start, multi_starts
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
LAW = get_law("chinchilla")


def _problem(n: int, seed: int = 0, noise: float = 0.01) -> Problem:
    frame = simulate(LAW, TRUE, n_points=n, noise=noise, seed=seed)
    return Problem(LAW, {"N": frame["n_params"].to_numpy(), "D": frame["n_tokens"].to_numpy()},
                   frame["loss"].to_numpy())


def test_a_50k_row_fit_allocates_no_starts_by_rows_array_and_recovers_the_law():
    runs = simulate(LAW, TRUE, n_points=50_000, noise=0.01, seed=2)
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = fit("chinchilla", runs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # one (starts x rows) float array would be 1.8 GB; the run log itself is ~2 MB a column
    assert peak < chunked.MEMORY_BUDGET + 64 * 2**20, f"peak traced memory {peak / 2**20:.0f} MiB"
    assert res.params["alpha"] == pytest.approx(TRUE["alpha"], rel=0.02)
    assert res.params["beta"] == pytest.approx(TRUE["beta"], rel=0.02)
    screen = res.search["screen"]
    # the grid's 4,500 starts and the optima of the nested power laws in N and in D
    assert screen["rows"] == SCREEN_ROWS and screen["of_rows"] == 50_000 and screen["starts"] == 4500 + 2
    assert 1 <= screen["descended_on_all_rows"] <= screen["basins"] <= 8
    assert res.search["n_starts"] == 4500 + 2 and 1 <= res.search["n_reached"] <= 4500 + 2
    assert "descended on a stratified 512 of 50,000 rows" in res.report()


def test_large_fold_refits_are_screened_and_reach_the_exhaustive_refits_optimum(monkeypatch):
    """A fold refit on more than FOLD_EXHAUSTIVE_ROWS rows takes the screened search (the full fit's path at that
    size; exhaustively, the 8 folds of 10k-16k rows made the 50,000-row fit above 5x slower), a smaller one the
    exhaustive search, and the screened refits reach the exhaustive refits' parameters."""
    import scalefit.fitting.api as api
    import scalefit.fitting.screen as screen
    from scalefit.fitting.spec import FitSpec
    from scalefit.runs.table import RunTable

    table = RunTable(simulate(LAW, TRUE, n_points=1200, noise=0.01, seed=3), "sim")
    rows, spec = FitSpec.of("chinchilla", calibrate=False).prepare(table)
    folds = [rows.subset(rows.frame.index[:n]) for n in (300, 800, 1200)]  # training rows of three folds
    spec = spec.for_folds(folds)  # the refits' spec: starts from the optimum on the rows all folds share + grid
    calls = []
    real = screen.screened_search
    monkeypatch.setattr(screen, "screened_search", lambda p, *a, **k: calls.append(p.n_rows) or real(p, *a, **k))
    monkeypatch.setattr(api, "FOLD_EXHAUSTIVE_ROWS", 500)  # the limit scaled down with the rows
    screened = spec.refit(folds)
    assert calls == [800, 1200]  # only the folds above the limit are screened
    monkeypatch.setattr(api, "FOLD_EXHAUSTIVE_ROWS", 10**9)
    exhaustive = spec.refit(folds)
    assert calls == [800, 1200]  # with the limit lifted, none is
    assert screened[0] == exhaustive[0]  # the small fold: the same search
    for a, b in zip(screened[1:], exhaustive[1:]):
        assert a == pytest.approx(b, rel=1e-4)  # A and alpha along their ridge: the same optimum


def test_the_screened_search_reaches_the_exhaustive_optimum():
    problem = _problem(6000, seed=4)
    starts = LAW.start_grid()[::10]  # 450 starts x 6,000 rows: past the exhaustive limit, still quick to check
    screened = multi_start(problem, starts)
    assert screened.screen is not None
    exhaustive = exhaustive_search(problem, starts)
    assert screened.objective == pytest.approx(exhaustive.objective, rel=1e-9)
    assert screened.objective <= exhaustive.objective * (1 + 1e-12)


def test_small_fits_take_the_exhaustive_path_unchanged():
    problem = _problem(60, seed=5)
    starts = LAW.start_grid()
    a, b = multi_starts([problem], [starts], nested=False)[0], exhaustive_search(problem, starts)
    assert a.screen is None and np.array_equal(a.theta, b.theta) and np.array_equal(a.finals, b.finals)
    assert multi_start(problem, starts).screen is None  # with the nested power optima among its starts too


def test_stratified_rows_are_seeded_sorted_and_span_the_inputs():
    x = {"N": np.repeat(np.geomspace(1e7, 1e10, 100), 50), "D": np.tile(np.geomspace(1e9, 1e12, 50), 100)}
    rows = stratified_rows(x, 5000, 100, seed=0)
    assert np.array_equal(rows, stratified_rows(x, 5000, 100, seed=0))
    assert not np.array_equal(rows, stratified_rows(x, 5000, 100, seed=1))
    assert rows.size == 100 and np.all(np.diff(rows) > 0)
    assert np.unique(x["N"][rows]).size == 100  # one row per model size: the strata follow the first input
    assert np.array_equal(stratified_rows(x, 5000, 6000, seed=0), np.arange(5000))


def test_basins_merge_close_end_points_and_flat_valleys():
    theta = np.array([[0.0, 0.0], [1e-5, 0.0], [5.0, 5.0], [9.0, 1.0], [2.0, 2.0]])
    f = np.array([1.0, 1.0 + 1e-9, 2.0, 2.0 * (1 + 1e-8), np.inf])
    assert basins(theta, f, 8) == [0, 2]  # 1 is 0's basin (close); 3 is 2's flat valley (same level); inf is out
    assert basins(theta, f, 1) == [0]


def test_chunked_sums_equal_the_whole_row_sums():
    problem = _problem(5000, seed=6)
    theta = problem.to_fit(np.array([[1.7, 400.0, 420.0, 0.33, 0.29], [2.0, 100.0, 1000.0, 0.3, 0.35]]))
    w = np.random.default_rng(0).integers(0, 3, size=(2, 5000)).astype(float)
    f, g, H, ok = chunked.normal_equations(problem, theta, w, budget=2**16)  # many 1,024-row chunks
    r = problem.residuals(theta)
    J = problem.jacobian(theta)
    irls = np.where(np.abs(r) <= problem.delta, 1.0, problem.delta / np.abs(r)) * w
    assert ok.all()
    np.testing.assert_allclose(f, problem.objective(theta, w), rtol=1e-12)
    np.testing.assert_allclose(g, np.einsum("kpn,kn->kp", J, np.clip(r, -1e-3, 1e-3) * w), rtol=1e-10)
    np.testing.assert_allclose(H, np.einsum("kpn,kn,kqn->kpq", J, irls, J), rtol=1e-10)
    fv, gv = chunked.value_and_gradient(problem, theta, w, budget=2**16)
    np.testing.assert_allclose(fv, f, rtol=1e-12)
    np.testing.assert_allclose(gv, g, rtol=1e-12)


def test_bootstrap_draws_do_not_depend_on_the_chunking():
    problem = _problem(60, seed=7)
    theta = problem.to_fit(np.array([[1.69, 406.4, 410.7, 0.34, 0.28]]))
    whole = bootstrap_fits(problem, theta, 30, seed=1)
    chunks = bootstrap_fits(problem, theta, 30, seed=1, chunk=4)
    assert np.array_equal(whole[0], chunks[0]) and np.array_equal(whole[1], chunks[1])


def test_a_large_bootstrap_runs_in_row_chunks_within_the_budget():
    problem = _problem(40_000, seed=8)
    theta = problem.to_fit(np.array([[1.69, 406.4, 410.7, 0.34, 0.28]]))
    tracemalloc.start()
    try:
        samples, f = bootstrap_fits(problem, theta, 12, seed=2, budget=32 * 2**20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 80 * 2**20, f"peak traced memory {peak / 2**20:.0f} MiB"
    alpha = samples[:, 3]
    assert np.all(np.isfinite(f)) and np.std(alpha) > 0 and abs(np.mean(alpha) - 0.34) < 0.01


@pytest.mark.parametrize("n_boot", [MAX_RESAMPLES + 1, 100_000_000])
def test_an_absurd_bootstrap_is_refused_up_front_in_one_line(n_boot):
    runs = simulate(LAW, TRUE, n_points=20, noise=0.01, seed=0)
    with pytest.raises(FitError) as err:
        fit("chinchilla", runs, bootstrap=n_boot)
    assert "\n" not in str(err.value) and "at most" in str(err.value)


def test_screened_search_reports_what_it_did():
    problem = _problem(3000, seed=9)
    res = screened_search(problem, LAW.start_grid()[::10], seed=3)
    assert res.screen == {"rows": 512, "of_rows": 3000, "starts": 450, "basins": res.screen["basins"],
                          "confirm_rows": 3000, "descended_on_all_rows": res.screen["descended_on_all_rows"],
                          "seed": 3}
    # 3,000 rows: the confirming descent is on all rows, so every kept basin descended on all rows
    assert res.screen["descended_on_all_rows"] == res.screen["basins"]
    assert res.finals.shape == (450,) and 1 <= res.candidates.shape[0] <= res.screen["basins"]
