"""The one resampling module: seeded draws of rows, groups and strata, and percentile intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalefit.errors import FitError
from scalefit.fitting.resample import (
    counts,
    percentile_interval,
    resample_counts,
    resample_indices,
    stratified_counts,
    stratified_indices,
    tail_percent,
)
from scalefit.planning.lr_transfer import lr_transfer
from tests.planning.test_lr_transfer import sweep


def test_indices_are_seeded_rows_of_resamples():
    a = resample_indices(7, 50, 3)
    assert a.shape == (50, 7) and a.min() >= 0 and a.max() <= 6
    assert (a == resample_indices(7, 50, 3)).all() and not (a == resample_indices(7, 50, 4)).all()
    # the first k of B resamples are the k resamples of a run with n_boot=k
    assert (resample_indices(7, 20, 3) == a[:20]).all()


def test_one_draw_equals_resample_by_resample_draws():
    # why the envelope (one draw per resample) and the LR residual bootstrap kept their streams: numpy's
    # Generator gives the same integers whether drawn as one (n_boot, n) block or n at a time
    for n in (3, 5, 16, 240):
        rng = np.random.default_rng(11)
        one_by_one = np.stack([rng.integers(0, n, n) for _ in range(40)])
        assert (resample_indices(n, 40, 11) == one_by_one).all()


def test_a_generator_continues_its_stream():
    rng = np.random.default_rng(5)
    first, second = resample_indices(4, 10, rng), resample_indices(4, 10, rng)
    both = resample_indices(4, 20, 5)
    assert (first == both[:10]).all() and (second == both[10:]).all()


def test_strata_are_drawn_one_after_another_and_keep_their_sizes():
    picks = stratified_indices([3, 5], 30, 2)
    rng = np.random.default_rng(2)
    assert (picks[0] == rng.integers(0, 3, (30, 3))).all() and (picks[1] == rng.integers(0, 5, (30, 5))).all()
    strata = [np.array([0, 2, 4]), np.array([1, 5, 6, 7, 8])]
    W = stratified_counts(strata, 10, 30, 2)
    assert (W[:, strata[0]].sum(axis=1) == 3).all() and (W[:, strata[1]].sum(axis=1) == 5).all()
    assert (W[:, [3, 9]] == 0).all()  # rows in no stratum are never drawn
    np.testing.assert_array_equal(W[:, strata[1]], counts(picks[1], 5))


def test_counts_of_rows_and_of_whole_groups():
    W = resample_counts(6, 40, 0)
    assert W.shape == (40, 6) and (W.sum(axis=1) == 6).all()
    idx = resample_indices(6, 40, 0)
    assert all((W[b] == np.bincount(idx[b], minlength=6)).all() for b in range(40))
    groups = np.array(["b", "a", "b", "c", "a", "b"])
    G = resample_counts(6, 40, 0, groups=groups)
    for label in "abc":
        rows = np.flatnonzero(groups == label)
        assert (G[:, rows] == G[:, rows[:1]]).all()  # a group's rows move together
    # groups are numbered in sorted label order: a, b, c
    np.testing.assert_array_equal(G[:, [1, 0, 3]], counts(resample_indices(3, 40, 0), 3))


def test_percentile_interval_tails_and_failed_resamples():
    rng = np.random.default_rng(0)
    s = rng.normal(size=999)
    q = tail_percent(0.9)  # 100 (1 - 0.9) / 2, as computed in floating point
    assert percentile_interval(s, 0.9) == tuple(np.percentile(s, [q, 100 - q]))
    with_failures = np.r_[s, np.nan, np.inf, -np.inf]
    assert percentile_interval(with_failures, 0.9) == percentile_interval(s, 0.9)
    assert np.isnan(percentile_interval([np.nan, np.inf], 0.95)).all()
    cols = np.c_[s, 2 * s, np.full(s.size, np.nan)]
    lo, hi = percentile_interval(cols, 0.95, axis=0)
    assert (lo[0], hi[0]) == percentile_interval(s, 0.95) and (lo[1], hi[1]) == percentile_interval(2 * s, 0.95)
    assert np.isnan(lo[2]) and np.isnan(hi[2])
    assert tail_percent(0.95) == pytest.approx(2.5)


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.2, "x", float("nan")])
def test_levels_outside_zero_one_are_refused(level):
    with pytest.raises(FitError, match="must be in \\(0, 1\\)"):
        percentile_interval([1.0, 2.0], level)


def test_lr_transfer_refuses_a_bad_level_and_is_seeded():
    runs = sweep(widths=(64, 128, 256))
    with pytest.raises(FitError, match="--level 1.5"):
        lr_transfer(runs, bootstrap=10, level=1.5)
    a, b = (lr_transfer(runs, bootstrap=40, seed=1) for _ in range(2))
    c = lr_transfer(runs, bootstrap=40, seed=2)
    assert a.params == b.params and a.params["sp"]["bootstrap_interval"] != c.params["sp"]["bootstrap_interval"]


def test_lr_transfer_seed_bootstrap_resamples_whole_seeds_or_within_each_cell():
    # two seeds per (width, lr), every lr: each resample averages whole seeds' curves; a third seed at one lr only:
    # each cell's own seeds. With all cells noise-free the optimum never moves either way
    runs = sweep(noise=0.0, widths=(64, 128, 256))
    extra = runs[runs["lr"] == runs["lr"].min()].assign(seed=2)
    for frame, method in ((runs, "whole seeds"), (pd.concat([runs, extra]), "seeds")):
        res = lr_transfer(frame, bootstrap=30, seed=0)
        for w in res.params["mup"]["widths"]:
            assert w["bootstrap"] == method
            assert w["lr_opt_lower"] == pytest.approx(w["lr_opt"]) and w["lr_opt_upper"] == pytest.approx(w["lr_opt"])
