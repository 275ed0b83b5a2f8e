"""Per-cell optima on synthetic LR x batch grids: quadratic refinement, band, fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalefit.errors import RunDataError
from scalefit.planning.hparam_cells import band_mask, cell_optima, nearest_run, refine_optimum

LRS = 2.0 ** np.arange(-12, -5.4, 0.5)
BS = np.array([16, 32, 64, 128, 256, 512, 1024], dtype=float) * 2048


def valley(lr, b, lr_opt, b_opt, floor=2.5, k_lr=0.01, k_b=0.015, s=0.4):
    u, v = np.log(lr / lr_opt), np.log(b / b_opt)
    return floor + k_lr * u**2 + k_b * (v - s * u) ** 2


def grid(cells, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for n, d, lr_opt, b_opt in cells:
        lr, b = (a.ravel() for a in np.meshgrid(LRS, BS))
        loss = valley(lr, b, lr_opt, b_opt) * (1 + noise * rng.standard_normal(lr.size))
        rows.append(pd.DataFrame({"N": n, "D": d, "lr": lr, "B": b, "L": loss}))
    return pd.concat(rows, ignore_index=True)


def test_refinement_finds_an_off_grid_optimum_exactly():
    # the valley is exactly quadratic in (ln lr, ln B), so the refined vertex is the true optimum
    frame = grid([(1e8, 1e10, 1.3e-3, 3.1e5), (4e8, 4e10, 7.7e-4, 6.7e5)])
    cells = cell_optima(frame)
    assert list(cells["refined"]) == [True, True]
    np.testing.assert_allclose(cells["lr_opt"], [1.3e-3, 7.7e-4], rtol=1e-8)
    np.testing.assert_allclose(cells["B_opt"], [3.1e5, 6.7e5], rtol=1e-8)
    np.testing.assert_allclose(cells["loss_opt"], 2.5, rtol=1e-10)
    # the grid argmin is a grid point, no better than the refined optimum
    assert set(cells["lr_argmin"]) <= set(LRS) and (cells["loss_min"] >= 2.5).all()


def test_refinement_is_close_under_noise():
    frame = grid([(1e8, 1e10, 1.3e-3, 3.1e5)], noise=0.001, seed=3)
    c = cell_optima(frame).iloc[0]
    assert abs(np.log(c["lr_opt"] / 1.3e-3)) < 0.35  # within one grid step (sqrt 2) in lr
    assert abs(np.log(c["B_opt"] / 3.1e5)) < 0.7  # and within one grid step (2x) in B


def test_band_holds_the_runs_within_tolerance():
    frame = grid([(1e8, 1e10, 1.3e-3, 3.1e5), (4e8, 4e10, 7.7e-4, 6.7e5)])
    mask = band_mask(frame, tol=0.0025)
    best = frame.groupby(["N", "D"])["L"].transform("min")
    assert (mask == (frame["L"] <= best * 1.0025)).all()
    cells = cell_optima(frame, tol=0.0025)
    assert cells["n_band"].sum() == mask.sum()
    for _, c in cells.iterrows():
        band = frame[mask & (frame["N"] == c["N"])]
        assert (c["band_lr_min"], c["band_lr_max"]) == (band["lr"].min(), band["lr"].max())
        assert (c["band_B_min"], c["band_B_max"]) == (band["B"].min(), band["B"].max())
    with pytest.raises(RunDataError, match="band tolerance"):
        band_mask(frame, tol=-1)


def test_one_batch_size_gives_a_parabola_in_lr():
    lr = LRS
    loss = 3.0 + 0.02 * np.log(lr / 2e-3) ** 2
    ref = refine_optimum(np.log(lr), np.full(lr.size, np.log(2048.0 * 64)), loss)
    assert ref["refined"] and np.exp(ref["log_lr"]) == pytest.approx(2e-3, rel=1e-8)


def test_fallbacks_keep_the_argmin_and_say_why():
    lr = LRS
    # the true optimum (lr = 0.1) lies beyond the sweep: the vertex is outside the runs, so keep the argmin
    beyond = 3.0 + 0.01 * np.log(lr / 0.1) ** 2
    ref = refine_optimum(np.log(lr), np.zeros(lr.size), beyond)
    assert not ref["refined"] and "outside" in ref["note"]
    assert ref["log_lr"] == np.log(lr.max())
    concave = 3.0 - 0.02 * np.log(lr / 2e-3) ** 2
    ref = refine_optimum(np.log(lr), np.zeros(lr.size), concave)
    assert not ref["refined"] and "not convex" in ref["note"]
    assert ref["log_lr"] == np.log(lr[np.argmin(concave)])
    single = refine_optimum(np.log([1e-3]), np.log([1e5]), np.array([3.0]))
    assert not single["refined"] and single["note"] == "a single (lr, B) point"


def test_nearest_run_is_nearest_in_log_space():
    frame = pd.DataFrame({"lr": [1e-3, 2e-3, 4e-3], "B": [1e5, 1e5, 4e5]})
    assert nearest_run(frame, 1.9e-3, 1.2e5) == 1
    assert nearest_run(frame, 3e-3, 3e5) == 2


def test_missing_columns_are_named():
    with pytest.raises(RunDataError, match=r"\['B'\]"):
        cell_optima(pd.DataFrame({"N": [1], "D": [1], "lr": [1e-3], "L": [3.0]}))
