"""Resampling for every bootstrap in scalefit: which units a resample draws, and percentile intervals.

One convention for all procedures (law fits, IsoFLOP, envelope, LR transfer):

* Draws. A resample of ``n`` units is ``n`` indices drawn uniformly with replacement from
  ``numpy.random.default_rng(seed)``, resample after resample: ``resample_indices`` returns them as
  an (n_boot, n) array whose row b is resample b; ``count_chunks`` draws the same a chunk of resamples at a
  time (bounded memory for large fits). A unit is whatever the caller indexes: a row, a run
  (cluster bootstrap: all rows of a run move together) or a residual. The seed may also be a
  ``Generator`` already in use, to continue its stream (``default_rng`` returns it unchanged).
* Strata. ``stratified_indices`` resamples each stratum on its own (every stratum keeps its size),
  strata one after another, each as a whole (n_boot, size) block from the same generator.
* Intervals. ``percentile_interval`` is the central percentile interval at ``level``: ``tail_percent``
  = 100 (1 - level) / 2 percent in each tail, numpy's linear interpolation between order statistics,
  over the finite samples only (a NaN or infinite sample is a resample that gave no estimate and is
  left out); NaN bounds when no sample is finite.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from scalefit.errors import FitError

Seed = int | np.random.Generator  # an integer seed, or a generator whose stream is continued


def tail_percent(level: object) -> float:
    """The percent in each tail of a central ``level`` interval (2.5 for 0.95); FitError unless 0 < level < 1."""
    try:
        v = float(level)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        v = float("nan")
    if not 0 < v < 1:
        raise FitError(f"--level {level}: the interval level must be in (0, 1), e.g. --level 0.95")
    return 100 * (1 - v) / 2


def percentile_interval(samples, level: float, *, axis: int | None = None):
    """Central percentile interval (lower, upper) of ``samples`` at ``level`` over the finite samples.

    With ``axis=None`` the bounds are floats (NaN when no sample is finite); with an axis, arrays of the
    bounds along it (NaN where a slice has no finite sample).
    """
    q = tail_percent(level)
    s = np.asarray(samples, dtype=float)
    s = np.where(np.isfinite(s), s, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN slice: NaN bounds, said by the NaN
        lo, hi = np.nanpercentile(s, [q, 100 - q], axis=axis)
    if axis is None:
        return float(lo), float(hi)
    return lo, hi


def resample_indices(n: int, n_boot: int, seed: Seed) -> np.ndarray:
    """(n_boot, n) indices of ``n`` units drawn with replacement; row b is resample b."""
    if n < 1:
        raise FitError(f"a resample needs at least one unit to draw from, got {n}")
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def stratified_indices(sizes: Sequence[int], n_boot: int, seed: Seed) -> list[np.ndarray]:
    """Per stratum of ``sizes[s]`` units, (n_boot, sizes[s]) indices into that stratum (strata in order)."""
    rng = np.random.default_rng(seed)
    return [resample_indices(int(size), n_boot, rng) for size in sizes]


def counts(indices: np.ndarray, n: int) -> np.ndarray:
    """(n_boot, n) multiplicities of units 0..n-1 in each row of (n_boot, k) ``indices`` (floats)."""
    b = indices.shape[0]
    flat = (indices + n * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(float)


def resample_counts(n_rows: int, n_boot: int, seed: Seed, groups: np.ndarray | None = None) -> np.ndarray:
    """(n_boot, n_rows) multiplicities of rows resampled with replacement.

    With ``groups`` (one label per row) whole groups are the units instead (cluster bootstrap, e.g. all
    checkpoints of a run together), numbered in sorted label order; each row gets its group's count.
    """
    if groups is None:
        return counts(resample_indices(n_rows, n_boot, seed), n_rows)
    labels, inverse = np.unique(groups, return_inverse=True)
    return counts(resample_indices(labels.size, n_boot, seed), labels.size)[:, inverse]


def count_chunks(n_rows: int, n_boot: int, seed: Seed, per: int, groups: np.ndarray | None = None):
    """:func:`resample_counts` a chunk at a time: yields (first resample, (b, n_rows) multiplicities) for
    chunks of at most ``per`` resamples; the same draws as one call (one generator stream, resample after
    resample), in O(per × n_rows) memory."""
    rng = np.random.default_rng(seed)
    if groups is None:
        units, inverse = n_rows, None
    else:
        labels, inverse = np.unique(groups, return_inverse=True)
        units = labels.size
    if units < 1:
        raise FitError(f"a resample needs at least one unit to draw from, got {units}")
    for lo in range(0, n_boot, per):
        b = min(per, n_boot - lo)
        # no local name holds a chunk: the caller's copy is the only one while it refits
        yield lo, (_drawn_counts(rng, b, units) if inverse is None else _drawn_counts(rng, b, units)[:, inverse])


def _drawn_counts(rng: np.random.Generator, b: int, units: int) -> np.ndarray:
    """:func:`counts` of b fresh resamples of ``units`` units, offsetting the draws in place (one array fewer)."""
    idx = rng.integers(0, units, size=(b, units))
    idx += units * np.arange(b)[:, None]
    return np.bincount(idx.ravel(), minlength=b * units).reshape(b, units).astype(float)


def stratified_counts(strata: Sequence[np.ndarray], n_rows: int, n_boot: int, seed: Seed) -> np.ndarray:
    """(n_boot, n_rows) multiplicities when the rows in each of the disjoint index arrays ``strata`` are
    resampled within their stratum (each stratum keeps its size); rows in no stratum get 0."""
    W = np.zeros((n_boot, n_rows))
    for idx, picks in zip(strata, stratified_indices([len(s) for s in strata], n_boot, seed)):
        W[:, idx] += counts(picks, len(idx))
    return W
