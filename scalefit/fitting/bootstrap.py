"""Bootstrap over runs: resample rows with replacement and refit, all resamples at once.

Each resample is a vector of row multiplicities; the batched descent refits every resample from
the given starts (by default the full-data optimum), keeping the best per resample.
"""

from __future__ import annotations

import numpy as np

from scalefit.fitting.objective import Problem
from scalefit.fitting.search import parallel_descent


def resample_weights(n_rows: int, n_boot: int, seed: int, groups: np.ndarray | None = None) -> np.ndarray:
    """(n_boot, n_rows) multiplicities of rows drawn with replacement (seeded).

    With ``groups`` (one label per row) whole groups are resampled instead of rows, e.g. all
    checkpoints of a run together.
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        idx = rng.integers(0, n_rows, size=(n_boot, n_rows))
        return np.stack([np.bincount(i, minlength=n_rows) for i in idx]).astype(float)
    labels, inverse = np.unique(groups, return_inverse=True)
    picks = rng.integers(0, labels.size, size=(n_boot, labels.size))
    counts = np.stack([np.bincount(p, minlength=labels.size) for p in picks]).astype(float)
    return counts[:, inverse]


def bootstrap_fits(
    problem: Problem, starts: np.ndarray, n_boot: int, seed: int, *, chunk: int = 2000,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Refit ``n_boot`` resamples from each fit-space start in ``starts`` (S, P).

    ``groups`` (one label per row) resamples whole groups instead of rows.

    Returns (n_boot, P) fit-space parameters and (n_boot,) objectives.
    """
    starts = np.atleast_2d(starts)
    S, P = starts.shape
    W = resample_weights(problem.y.size, n_boot, seed, groups)
    best_theta = np.empty((n_boot, P))
    best_f = np.full(n_boot, np.inf)
    per = max(1, chunk // S)
    for lo in range(0, n_boot, per):
        w = W[lo : lo + per]
        b = w.shape[0]
        theta0 = np.tile(starts, (b, 1))
        theta, f = parallel_descent(problem, theta0, np.repeat(w, S, axis=0))
        f = f.reshape(b, S)
        pick = np.argmin(f, axis=1)
        best_f[lo : lo + b] = f[np.arange(b), pick]
        best_theta[lo : lo + b] = theta.reshape(b, S, P)[np.arange(b), pick]
    return best_theta, best_f
