"""The one descent engine: a damped Gauss-Newton / IRLS (Levenberg-Marquardt) loop over a row source, the one
rule for distinct optima, and the one refinement (L-BFGS-B, never worse).

Every fit descends here: the starts of a multi-start search, the groups of a grouped fit and the folds of a
calibration stacked in one batch (:mod:`scalefit.fitting.stack`), bootstrap resamples, the basins of a screened
search on large logs (:mod:`scalefit.fitting.screen`). What differs between them is only where the normal
equations come from, a *row source*:

- :class:`DenseRows`: every parameter set on all of its rows at once (one row set shared by all, or one row set
  per parameter set: the padded rows of a stack, or bootstrap multiplicities);
- :class:`ChunkedRows`: the same sums over chunks of rows in bounded memory, for logs of 10^5-10^6 rows
  (:mod:`scalefit.fitting.chunked`).

A row source gives, for K parameter sets, the objective (K,), gradient (K, P), Gauss-Newton/IRLS matrix
(K, P, P) and a finite flag: :func:`scalefit.fitting.objective.normal_terms`, summed over its rows.

The loop (:func:`descend`): each active parameter set solves (H + lam diag H) step = -g, evaluates the normal
equations at its trial point in one pass, and keeps the step when the objective falls. With ``over_relax`` > 1
accepted steps are over-relaxed (tried that many times longer next time, up to 8x, back to 1x when refused): on
a Huber loss with most residuals outside delta an IRLS step is about half the right length. That speeds the
descent of a start already in its basin (a screened basin on all rows of a large log, a bootstrap resample from
the optimum: :func:`scalefit.fitting.chunked.chunked_descent` uses :data:`OVER_RELAX`), but a start crossing a
grid's rugged landscape lands in another basin more often (BNSL with two breaks lost its optimum), so the
multi-start descents take plain steps. A set stops when its objective has not fallen by a relative ``tol`` for
:data:`STALL` iterations, when its damping passes 1e10, or when its normal equations are not finite.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from scalefit.fitting.objective import Problem, normal_terms

OVER_RELAX = 1.5  # row-chunked descents: an accepted step is tried this much longer next time (up to MAX_RELAX)
MAX_RELAX = 8.0
STALL = 4  # iterations without a relative gain above tol after which a parameter set stops
DISTINCT = 1e-3  # end points closer than this in fit space (max abs difference) are one optimum
MAX_CHUNK = 1024  # starts per chunk of a dense descent: (starts × rows) working arrays stay near the caches


def _rows_of(weights: np.ndarray | None, idx: np.ndarray, k: int) -> np.ndarray | None:
    """The weights that go with parameter sets ``idx`` of ``k``: (n,) shared ones, or rows of (K, n) ones."""
    if weights is None or weights.ndim == 1 or idx.size == k:
        return weights
    return weights[idx]


@dataclass(frozen=True)
class DenseRows:
    """Normal equations of parameter sets on all of their rows at once: ``problem``'s rows (shared, or one row set
    per parameter set), times ``weights`` (None, (n,) or (K, n), one row per parameter set)."""

    problem: Problem
    weights: np.ndarray | None = None

    @property
    def fit_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.problem.fit_bounds

    def normal(self, theta: np.ndarray, idx: np.ndarray, k: int) -> tuple:
        """(f, g, H, ok) of ``theta``: parameter sets ``idx`` of the ``k`` this source was built for."""
        sub = self.problem if idx.size == k else self.problem.for_starts(idx)
        return normal_terms(sub, theta, _rows_of(self.weights, idx, k))

    def value_and_gradient(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f, g, _, _ = normal_terms(self.problem, theta, self.weights, hessian=False)
        return f, g


@dataclass(frozen=True)
class ChunkedRows:
    """The normal equations of :class:`DenseRows`, summed over chunks of rows within ``budget`` bytes."""

    problem: Problem
    weights: np.ndarray | None = None
    budget: int | None = None

    @property
    def fit_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.problem.fit_bounds

    def _budget(self) -> dict:
        return {} if self.budget is None else {"budget": self.budget}

    def normal(self, theta: np.ndarray, idx: np.ndarray, k: int) -> tuple:
        from scalefit.fitting.chunked import normal_equations

        which = None if idx.size == k else idx
        return normal_equations(self.problem, theta, self.weights, which=which, **self._budget())

    def value_and_gradient(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from scalefit.fitting.chunked import value_and_gradient

        return value_and_gradient(self.problem, theta, self.weights, **self._budget())


def rows_for(problem: Problem, weights: np.ndarray | None = None, budget: int | None = None):
    """The row source for ``problem``: dense up to ``scalefit.fitting.search.EXHAUSTIVE_ROWS`` rows, chunked
    above (or whenever a ``budget`` is given for a problem that large)."""
    from scalefit.fitting.search import EXHAUSTIVE_ROWS

    if problem.n_rows > EXHAUSTIVE_ROWS:
        return ChunkedRows(problem, weights, budget)
    return DenseRows(problem, weights)


def descend(rows, theta0: np.ndarray, *, max_iter: int = 100, tol: float = 1e-9,
            over_relax: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The damped Gauss-Newton / IRLS descent of the parameter sets ``theta0`` (K, P, fit space) on ``rows``
    (a row source); see the module docstring. Returns the final (K, P) parameters and (K,) objectives."""
    theta = np.clip(np.array(theta0, dtype=float), *rows.fit_bounds)
    K, P = theta.shape
    if K == 0:
        return theta, np.zeros(0)
    f, g, H, ok = rows.normal(theta, np.arange(K), K)
    lam = np.full(K, 1e-3)
    stall = np.zeros(K, dtype=int)
    active = np.isfinite(f) & ok
    omega = np.ones(K)
    eye = np.eye(P)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        Hi = H[idx]
        diag = np.einsum("kpp->kp", Hi)
        A = Hi + (lam[idx, None] * diag + 1e-12)[:, :, None] * eye
        step = -np.linalg.solve(A, g[idx][:, :, None])[:, :, 0]
        cand = np.clip(theta[idx] + omega[idx, None] * step, *rows.fit_bounds)
        fc, gc, Hc, okc = rows.normal(cand, idx, K)
        better = (fc < f[idx]) & okc
        gain = np.where(better, (f[idx] - fc) / np.maximum(np.abs(f[idx]), 1e-300), 0.0)
        acc = idx[better]
        theta[acc], f[acc], g[acc], H[acc] = cand[better], fc[better], gc[better], Hc[better]
        retry = ~better & (omega[idx] > 1)  # a refused over-relaxed step is retried at its plain length first
        lam[idx] = np.where(better, np.maximum(lam[idx] / 3.0, 1e-12), np.where(retry, lam[idx], lam[idx] * 4.0))
        omega[idx] = np.where(better, np.minimum(omega[idx] * over_relax, MAX_RELAX), 1.0)
        stall[idx] = np.where(gain > tol, 0, stall[idx] + 1)
        active[idx] = (stall[idx] < STALL) & (lam[idx] < 1e10)
    return theta, f


def start_chunks(k: int, per_start: int, workers: int, budget: int) -> list[np.ndarray]:
    """The starts 0..k-1 cut into chunks: at most ``budget / workers`` working bytes (``per_start`` bytes each) and
    :data:`MAX_CHUNK` starts each, and at least ``workers`` chunks from 256 starts (fewer are not worth a thread)."""
    per = max(1, min(MAX_CHUNK, budget // (workers * per_start)))
    if (workers < 2 or k < 256) and k <= per:
        return [np.arange(k)]
    return np.array_split(np.arange(k), max(workers if k >= 256 else 1, -(-k // per)))


def in_threads(descend_chunk: Callable, chunks: list[np.ndarray], workers: int) -> tuple[np.ndarray, np.ndarray]:
    """``descend_chunk(chunk) -> (theta, f)`` over the chunks of starts, in ``workers`` threads (numpy releases
    the GIL); joined in order. A start's descent does not depend on the chunk it is in."""
    if len(chunks) == 1:
        return descend_chunk(chunks[0])
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(descend_chunk, chunks))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def same_optimum(theta: np.ndarray, f: np.ndarray, i: int, level_rtol: float = 0.0) -> np.ndarray:
    """(K,) booleans: which end points of ``theta`` (K, P) share end point i's optimum: within :data:`DISTINCT`
    in fit space, or (``level_rtol`` > 0) with objectives that agree that closely (a flat valley)."""
    same = np.max(np.abs(theta - theta[i]), axis=1) <= DISTINCT
    if level_rtol > 0:
        same |= np.abs(f - f[i]) <= level_rtol * abs(f[i])
    return same


def distinct_optima(theta: np.ndarray, f: np.ndarray, k: int, *, within: float | None = None,
                    level_rtol: float = 0.0) -> list[int]:
    """Up to ``k`` end points, best first, finite, each outside the optima of those before it
    (:func:`same_optimum`); with ``within``, only those at most ``within`` times the best objective."""
    picked: list[int] = []
    free = np.isfinite(f)
    for i in np.argsort(f, kind="stable"):
        if len(picked) >= k or not np.isfinite(f[i]):
            break
        if within is not None and picked and f[i] > within * f[picked[0]] + 1e-12:
            break
        if free[i]:
            picked.append(int(i))
            free &= ~same_optimum(theta, f, int(i), level_rtol)
    return picked


@dataclass(frozen=True)
class Refined:
    """The refinement of a descent's best point: never worse than it."""

    theta: np.ndarray  # (P,) fit space
    objective: float
    converged: bool  # L-BFGS-B converged, or it could not move the point (already optimal to 1e-9)
    message: str


def refine(rows, theta: np.ndarray):
    """L-BFGS-B from ``theta`` (fit space) on a row source with its analytic gradient; scipy's result."""
    from scipy.optimize import minimize  # imported on first use: reading or predicting from a fit needs no scipy

    def fun(t):
        f, g = rows.value_and_gradient(t[None, :])
        return (float(f[0]), g[0]) if np.isfinite(f[0]) and np.isfinite(g[0]).all() else (np.inf, np.zeros_like(t))

    lo, hi = rows.fit_bounds
    bounds = [(None if np.isinf(a) else a, None if np.isinf(b) else b) for a, b in zip(lo, hi)]
    return minimize(fun, theta, jac=True, method="L-BFGS-B", bounds=bounds,
                    options={"maxiter": 1000, "ftol": 1e-15, "gtol": 1e-12})


def finish(rows, theta: np.ndarray, f: float) -> Refined:
    """The one refine rule: L-BFGS-B from a descent's best point ``theta`` (objective ``f``); the refined point
    when it is not worse, else ``theta``. L-BFGS-B stops "abnormally" in its line search when the point already
    sits on the optimum to machine precision: that counts as converged too."""
    res = refine(rows, theta)
    x, val = np.asarray(res.x, dtype=float), float(res.fun)
    if not val <= f:
        x, val = np.asarray(theta, dtype=float), float(f)
    return Refined(x, val, bool(res.success or abs(val - f) <= 1e-9 * abs(f)), str(getattr(res, "message", "")))


__all__ = ["ChunkedRows", "DenseRows", "Refined", "descend", "distinct_optima", "finish", "in_threads", "refine",
           "rows_for", "same_optimum", "start_chunks"]
