"""Bootstrap over runs: resample rows with replacement and refit, resamples batched in bounded memory.

Each resample is a vector of row multiplicities (drawn by :func:`scalefit.fitting.resample.resample_counts`,
rows or whole groups); the batched descent refits every resample from the given starts (by default the
full-data optimum), keeping the best per resample. Resamples are drawn and refitted a chunk at a time, the chunk
sized so that its multiplicities and working arrays fit :data:`~scalefit.fitting.chunked.MEMORY_BUDGET`; the
draws are the same whatever the chunking (one generator stream, resample after resample). Small fits descend on
whole rows (:func:`~scalefit.fitting.search.parallel_descent`), large ones in row chunks
(:func:`~scalefit.fitting.chunked.chunked_descent`). Each chunk done is reported as progress
(:mod:`scalefit._progress`, task "bootstrap resamples").
"""

from __future__ import annotations

import numpy as np

from scalefit._budget import check_work
from scalefit._progress import task
from scalefit.errors import FitError
from scalefit.fitting.chunked import MEMORY_BUDGET, bytes_per_row, chunked_descent
from scalefit.fitting.objective import Problem
from scalefit.fitting.resample import count_chunks
from scalefit.fitting.search import EXHAUSTIVE_ROWS, parallel_descent

MAX_RESAMPLES = 1_000_000  # more resamples than this are refused (percentile intervals settle by ~10^4)
PROGRESS_STEPS = 20  # resamples are refitted in at least this many chunks (progress reported after each) ...
PROGRESS_CHUNK = 50  # ... of at least this many resamples (smaller chunks measured no slower: a chunk's descent
# runs until its slowest resample converges)


def check_resamples(n_boot: int) -> None:
    """One-line FitError, before any work, for a resample count that is negative or more than a fit can use."""
    if n_boot < 0:
        raise FitError(f"bootstrap must be >= 0, got {n_boot}")
    check_work("--bootstrap", n_boot, FitError, "use --bootstrap 1000", most=MAX_RESAMPLES, unit="resamples",
               why="their samples are kept in the result; percentile intervals settle by 10,000")


def resamples_per_chunk(n_rows: int, n_starts: int, n_params: int, budget: int = MEMORY_BUDGET,
                        chunk: int = 2000) -> int:
    """Resamples refitted together: at most ``chunk`` descents, and their multiplicities ((resamples × starts) ×
    rows floats) plus the descent's working arrays within ``budget`` bytes."""
    working = bytes_per_row(1, n_params) if n_rows <= EXHAUSTIVE_ROWS else 0  # row-chunked: the cache-sized chunk
    per_resample = n_rows * (24 + n_starts * (8 + working))  # the draws, then each descent's weights and arrays
    return int(max(1, min(max(1, chunk // n_starts), budget // per_resample)))


def bootstrap_fits(
    problem: Problem, starts: np.ndarray, n_boot: int, seed: int, *, chunk: int = 2000,
    groups: np.ndarray | None = None, budget: int = MEMORY_BUDGET,
) -> tuple[np.ndarray, np.ndarray]:
    """Refit ``n_boot`` resamples from each fit-space start in ``starts`` (S, P).

    ``groups`` (one label per data row) resamples whole groups instead of rows; the problem's anchor rows
    (:attr:`~scalefit.fitting.objective.Problem.n_anchors`) are never drawn: every resample keeps each once.
    At most ``chunk`` descents (resamples × starts) and ``budget`` bytes of multiplicities and working arrays
    are held at once.

    Returns (n_boot, P) fit-space parameters and (n_boot,) objectives.
    """
    check_resamples(n_boot)
    starts = np.atleast_2d(starts)
    S, P = starts.shape
    n = problem.y.size
    best_theta = np.empty((n_boot, P))
    best_f = np.full(n_boot, np.inf)
    per = min(resamples_per_chunk(n, S, P, budget, chunk), max(PROGRESS_CHUNK, -(-n_boot // PROGRESS_STEPS)))
    with task("bootstrap resamples", n_boot) as advance:
        for lo, w in count_chunks(problem.n_data, n_boot, seed, per, groups):
            if problem.n_anchors:  # anchors are in every resample, once: only the data rows are drawn
                w = np.hstack([w, np.ones((w.shape[0], problem.n_anchors))])
            b = w.shape[0]
            theta0 = np.tile(starts, (b, 1))
            weights = w if S == 1 else np.repeat(w, S, axis=0)
            del w
            if n <= EXHAUSTIVE_ROWS:
                theta, f = parallel_descent(problem, theta0, weights, budget=budget)
            else:
                theta, f = chunked_descent(problem, theta0, weights, budget=budget)
            f = f.reshape(b, S)
            pick = np.argmin(f, axis=1)
            best_f[lo : lo + b] = f[np.arange(b), pick]
            best_theta[lo : lo + b] = theta.reshape(b, S, P)[np.arange(b), pick]
            advance(lo + b)
    return best_theta, best_f
