"""Bounded-memory evaluation over rows: the objective, its gradient and the Gauss-Newton matrix of K parameter
sets, summed over chunks of rows, and the damped Gauss-Newton / IRLS descent built on them.

A step of :func:`scalefit.fitting.search.batched_descent` holds several (K, n) arrays and one (K, P, n)
Jacobian: fine for 4,500 starts on 240 rows, not for 10^6 rows. Here no array larger than
K × chunk × (P + a few) floats is alive at once, with ``chunk`` sized from :data:`MEMORY_BUDGET`; what is
kept between chunks is O(K × P²). Chunks are summed in threads (numpy releases the GIL).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from scalefit.fitting.objective import Problem

MEMORY_BUDGET = 256 * 2**20  # bytes of working arrays (starts × rows) a fit may hold at once, over all threads
MIN_CHUNK = 1024  # fewest rows per chunk (below this, per-chunk overhead dominates)
CACHE_ELEMENTS = 2**17  # starts × rows per chunk that keep one working array (1 MiB) in cache: the fastest size
# A step that lowered the objective is tried this much longer next time (up to 8x; back to 1x when refused):
# on a Huber loss with most residuals outside delta, IRLS steps are about half the right length.
OVER_RELAX = 1.5
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


def _robust(problem: Problem, r: np.ndarray, w: np.ndarray | None):
    """Per-residual loss, its derivative and IRLS weight (None: all ones), times ``w``: rho, psi and psi/r of
    :mod:`scalefit.fitting.objective` in fewer passes (Huber: m = min(|r|, delta), rho = m (|r| - m/2)); the
    row weights of ``problem`` (a chunk of the rows) are applied here."""
    w = problem.weighted(w)
    with np.errstate(all="ignore"):
        if problem.loss == "huber":
            a = np.abs(r)
            m = np.minimum(a, problem.delta)
            terms, ps, irls = m * (a - 0.5 * m), np.copysign(m, r), problem.delta / np.maximum(a, problem.delta)
        else:
            terms, ps, irls = 0.5 * r * r, r, None
    if w is not None:
        terms, ps, irls = terms * w, ps * w, (w if irls is None else irls * w)
    return terms, ps, irls


def _chunk_normal(problem: Problem, theta: np.ndarray, w: np.ndarray | None):
    """(f, g, H, finite) of ``theta`` (K, P) on this chunk of rows: sums of w·rho, J·w·psi and J·w·irls·Jᵀ, and
    whether g and H are finite (they are unless the Jacobian is not; such a trial step is refused)."""
    pred = np.asarray(problem.predict(theta))
    r = problem.residuals_from(pred)
    with np.errstate(all="ignore"):  # a trial step may overflow; its objective is then inf and it is refused
        J = problem.jacobian(theta, pred)
    terms, ps, irls = _robust(problem, r, w)
    g = np.matmul(J, ps[:, :, None])[:, :, 0]
    H = np.matmul(J if irls is None else J * irls[:, None, :], J.transpose(0, 2, 1))
    ok = np.isfinite(g).all(axis=1) & np.isfinite(H).all(axis=(1, 2))
    return terms.sum(axis=1), g, H, ok


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
    """Objective (K,), gradient (K, P), Gauss-Newton/IRLS matrix (K, P, P) and a finite-Jacobian flag (K,)
    of the parameter sets ``theta`` (K, P), summed over row chunks; ``weights`` is (n,) or (K, n) (or rows
    ``which`` of it go with ``theta``)."""
    f, g, H, ok = _summed(_chunk_normal, problem, theta, weights, budget, which)
    return np.where(np.isfinite(f), f, np.inf), g, H, ok


def _chunk_gradient(problem: Problem, theta: np.ndarray, w: np.ndarray | None):
    pred = np.asarray(problem.predict(theta))
    r = problem.residuals_from(pred)
    with np.errstate(all="ignore"):
        J = problem.jacobian(theta, pred)
    terms, ps, _ = _robust(problem, r, w)
    return terms.sum(axis=1), np.matmul(J, ps[:, :, None])[:, :, 0]


def value_and_gradient(problem: Problem, theta: np.ndarray, weights: np.ndarray | None = None, *,
                       budget: int = MEMORY_BUDGET) -> tuple[np.ndarray, np.ndarray]:
    """Objective (K,) and its gradient (K, P) of ``theta`` (K, P), summed over row chunks."""
    f, g = _summed(_chunk_gradient, problem, theta, weights, budget)
    return np.where(np.isfinite(f), f, np.inf), g


def objective(problem: Problem, theta: np.ndarray, weights: np.ndarray | None = None, *,
              budget: int = MEMORY_BUDGET) -> np.ndarray:
    """:meth:`Problem.objective` of ``theta`` (K, P), summed over row chunks."""
    (f,) = _summed(lambda pr, th, w: (pr.objective(th, w),), problem, theta, weights, budget)
    return np.where(np.isfinite(f), f, np.inf)


def chunked_descent(
    problem: Problem,
    theta0: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    max_iter: int = 100,
    tol: float = 1e-9,
    budget: int = MEMORY_BUDGET,
) -> tuple[np.ndarray, np.ndarray]:
    """The damped Gauss-Newton / IRLS descent of :func:`~scalefit.fitting.search.batched_descent`, in bounded
    memory: one pass over the rows per iteration computes the objective, gradient and matrix at every start's
    trial step, kept when the objective falls; accepted steps are over-relaxed (:data:`OVER_RELAX`).
    ``weights`` is (n,) or (K, n). Returns final (K, P) thetas and (K,) objectives."""
    theta = np.clip(np.array(theta0, dtype=float), *problem.fit_bounds)
    K, P = theta.shape
    f, g, H, ok = normal_equations(problem, theta, weights, budget=budget)
    lam = np.full(K, 1e-3)
    stall = np.zeros(K, dtype=int)
    active = np.isfinite(f) & ok
    omega = np.ones(K)
    eye = np.eye(P)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        diag = np.einsum("kpp->kp", H[idx])
        A = H[idx] + (lam[idx, None] * diag + 1e-12)[:, :, None] * eye
        step = -np.linalg.solve(A, g[idx][:, :, None])[:, :, 0]
        cand = np.clip(theta[idx] + omega[idx, None] * step, *problem.fit_bounds)
        fc, gc, Hc, okc = normal_equations(problem, cand, weights, budget=budget, which=idx)
        better = (fc < f[idx]) & okc
        gain = np.where(better, (f[idx] - fc) / np.maximum(np.abs(f[idx]), 1e-300), 0.0)
        acc = idx[better]
        theta[acc], f[acc], g[acc], H[acc], ok[acc] = cand[better], fc[better], gc[better], Hc[better], True
        retry = ~better & (omega[idx] > 1)
        lam[idx] = np.where(better, np.maximum(lam[idx] / 3.0, 1e-12), np.where(retry, lam[idx], lam[idx] * 4.0))
        omega[idx] = np.where(better, np.minimum(omega[idx] * OVER_RELAX, 8.0), 1.0)
        stall[idx] = np.where(gain > tol, 0, stall[idx] + 1)
        active[idx] = (stall[idx] < 4) & (lam[idx] < 1e10) & ok[idx]
    return theta, f
