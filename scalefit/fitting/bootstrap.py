"""Bootstrap over runs: resample rows with replacement and refit, all resamples at once.

Each resample is a vector of row multiplicities (drawn by :func:`scalefit.fitting.resample.resample_counts`,
rows or whole groups); the batched descent refits every resample from the given starts (by default the
full-data optimum), keeping the best per resample.
"""

from __future__ import annotations

import numpy as np

from scalefit.fitting.objective import Problem
from scalefit.fitting.resample import resample_counts
from scalefit.fitting.search import parallel_descent


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
    W = resample_counts(problem.y.size, n_boot, seed, groups)
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
