"""Bounded-memory evaluation over rows: the objective, its gradient and the Gauss-Newton matrix of K parameter
sets, summed over chunks of rows (the row source :class:`scalefit.fitting.descent.ChunkedRows`).

A dense descent step holds several (K, n) arrays and one (K, P, n) Jacobian: fine for 4,500 starts on 240 rows,
not for 10^6 rows. Here no array larger than
K × chunk × (P + a few) floats is alive at once, with ``chunk`` sized from :data:`MEMORY_BUDGET`; what is
kept between chunks is O(K × P²). Chunks are summed in threads (numpy releases the GIL).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from scalefit.fitting.objective import Problem, normal_terms

MEMORY_BUDGET = 256 * 2**20  # bytes of working arrays (starts × rows) a fit may hold at once, over all threads
MIN_CHUNK = 1024  # fewest rows per chunk (below this, per-chunk overhead dominates)
CACHE_ELEMENTS = 2**17  # starts × rows per chunk that keep one working array (1 MiB) in cache: the fastest size
_LIVE = 12  # (K, rows) float arrays alive in one step besides the Jacobian and its weighted copy (2 × P of them)


def workers() -> int:
    """Threads for chunked work: the cores, at most 4 (the arrays are small; more threads only contend)."""
    return max(1, min(4, os.cpu_count() or 1))


def bytes_per_row(k: int, p: int) -> int:
    """Working bytes per row of data when K parameter sets of P parameters are evaluated together."""
    return 8 * k * (2 * p + _LIVE)


def rows_per_chunk(k: int, p: int, budget: int = MEMORY_BUDGET, threads: int = 1) -> int:
    """Rows per chunk: cache-sized (K × rows ≈ :data:`CACHE_ELEMENTS`), and never more than ``threads`` chunks
    of K × rows working arrays can hold in ``budget`` bytes (but at least :data:`MIN_CHUNK`)."""
    fits = int(budget // (threads * bytes_per_row(k, p)))
    return max(MIN_CHUNK, min(fits, CACHE_ELEMENTS // max(k, 1)))


def part(problem: Problem, rows: slice | np.ndarray) -> Problem:
    """``problem`` on a subset of its rows (a slice gives views, no copy)."""
    sub = Problem(problem.law, {s: v[rows] for s, v in problem.x.items()}, problem.y[rows],
                  loss=problem.loss, delta=problem.delta, space=problem.space,
                  w=None if problem.w is None else problem.w[rows])
    if problem.space == "log":
        sub.__dict__["_log_y"] = problem._log_y[rows]  # seed the cached log target: computed once per fit
    return sub


def _slices(n: int, rows: int) -> list[slice]:
    return [slice(lo, min(n, lo + rows)) for lo in range(0, n, rows)]


def _columns(weights: np.ndarray | None, sl: slice, which: np.ndarray | None) -> np.ndarray | None:
    """The chunk ``sl`` of the weights: (n,) ones shared by every start, or rows ``which`` of (K, n) ones."""
    if weights is None or weights.ndim == 1:
        return None if weights is None else weights[sl]
    return weights[:, sl] if which is None else weights[which, sl]


def _summed(fn, problem: Problem, theta: np.ndarray, weights: np.ndarray | None, budget: int,
            which: np.ndarray | None = None) -> list:
    """Sum ``fn(part, theta, w)`` (a tuple of arrays; boolean ones are and-ed) over row chunks, ``workers()``
    chunks at a time; ``which`` picks the rows of (K, n) ``weights`` that go with ``theta``."""
    k, p = theta.shape
    threads = workers()
    slices = _slices(problem.y.size, rows_per_chunk(k, p, budget, threads))

    def one(sl: slice):
        return fn(part(problem, sl), theta, _columns(weights, sl, which))

    if threads < 2 or len(slices) < 2:
        return _total(map(one, slices))
    with ThreadPoolExecutor(threads) as pool:
        return _total(pool.map(one, slices))


def _total(results) -> list:
    total = None
    for res in results:
        total = list(res) if total is None else [t & r if t.dtype == bool else t + r for t, r in zip(total, res)]
    return total


def normal_equations(problem: Problem, theta: np.ndarray, weights: np.ndarray | None = None, *,
                     budget: int = MEMORY_BUDGET, which: np.ndarray | None = None):
    """Objective (K,), gradient (K, P), Gauss-Newton/IRLS matrix (K, P, P) and a finite flag (K,) of the
    parameter sets ``theta`` (K, P): :func:`~scalefit.fitting.objective.normal_terms` summed over row chunks;
    ``weights`` is (n,) or (K, n) (or rows ``which`` of it go with ``theta``)."""
    f, g, H, ok = _summed(normal_terms, problem, theta, weights, budget, which)
    return np.where(np.isfinite(f), f, np.inf), g, H, ok


def value_and_gradient(problem: Problem, theta: np.ndarray, weights: np.ndarray | None = None, *,
                       budget: int = MEMORY_BUDGET) -> tuple[np.ndarray, np.ndarray]:
    """Objective (K,) and its gradient (K, P) of ``theta`` (K, P), summed over row chunks."""
    f, g = _summed(lambda pr, th, w: normal_terms(pr, th, w, hessian=False)[:2], problem, theta, weights, budget)
    return np.where(np.isfinite(f), f, np.inf), g


def chunked_descent(
    problem: Problem,
    theta0: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    max_iter: int = 100,
    tol: float = 1e-9,
    budget: int = MEMORY_BUDGET,
) -> tuple[np.ndarray, np.ndarray]:
    """The descent of :func:`scalefit.fitting.descent.descend` on row chunks in bounded memory
    (:class:`~scalefit.fitting.descent.ChunkedRows`), over-relaxed (its starts are already in their basins: the
    screened basins of a large log, bootstrap resamples from the optimum); ``weights`` is (n,) or (K, n). Returns
    final (K, P) thetas and (K,) objectives."""
    from scalefit.fitting.descent import OVER_RELAX, ChunkedRows, descend

    return descend(ChunkedRows(problem, weights, budget), theta0, max_iter=max_iter, tol=tol, over_relax=OVER_RELAX)
