"""Multi-start search: a batched Levenberg-Marquardt / IRLS descent run on every start at once,
then L-BFGS-B refinement of the best distinct candidates.

Running all starts together as arrays (one (P x P) solve per start per iteration) is what makes
the 4,500-start Chinchilla grid take about a second instead of minutes. While starts × rows is at most
:data:`EXHAUSTIVE_WORK` (and rows at most :data:`EXHAUSTIVE_ROWS`) every start descends on every row, in chunks of
starts that fit the memory budget; above it the search screens the starts on a subsample and descends only the
promising basins on all rows (:mod:`scalefit.fitting.screen`), in time linear in the rows.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from scalefit.fitting.chunked import MEMORY_BUDGET, bytes_per_row, value_and_gradient
from scalefit.fitting.objective import Problem, psi

EXHAUSTIVE_WORK = 2**21  # starts × rows up to which every start descends on every row (Epoch's fit: 1.08e6)
EXHAUSTIVE_ROWS = 16384  # ... and rows up to which it does; larger fits also sum over row chunks


@dataclass(frozen=True)
class SearchResult:
    """Outcome of a multi-start search (fit-space parameters)."""

    theta: np.ndarray  # (P,) best parameters, fit space
    objective: float  # objective at theta
    n_starts: int  # starts run
    n_reached: int  # starts whose descent ended within tolerance of the best objective
    best_start: np.ndarray  # (P,) start (natural units) whose descent led to the best optimum
    converged: bool  # the final refinement reported convergence
    message: str  # optimiser's message for the final refinement
    finals: np.ndarray  # (n_starts,) objective at the end of each start's descent
    candidates: np.ndarray  # (k, P) distinct descent end points (fit space), best first
    screen: dict | None = None  # large fits: what was screened on a subsample and what descended on all rows


def batched_descent(
    problem: Problem,
    theta0: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    max_iter: int = 100,
    tol: float = 1e-9,
) -> tuple[np.ndarray, np.ndarray]:
    """Damped Gauss-Newton with IRLS weights for the robust loss, on K starts at once.

    ``weights`` is (n,) or (K, n) (bootstrap multiplicities). Returns final (K, P) thetas and (K,) objectives.
    A start stops when its objective has not improved by a relative ``tol`` for several iterations.
    """
    theta = np.clip(np.array(theta0, dtype=float), *problem.fit_bounds)
    K, P = theta.shape
    n = problem.y.size
    weights = problem.weighted(weights)  # with the row weights
    w_all = None if weights is None else np.broadcast_to(weights, (K, n))
    pred = np.array(problem.predict(theta))
    r = problem.residuals_from(pred)
    f = problem.objective_from(r, w_all)
    lam = np.full(K, 1e-3)
    stall = np.zeros(K, dtype=int)
    active = np.isfinite(f)
    eye = np.eye(P)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        th, ri, pi = theta[idx], r[idx], pred[idx]
        w = None if w_all is None else w_all[idx]
        J = problem.jacobian(th, pi)
        ok = np.isfinite(J).all(axis=(1, 2))
        if not ok.all():
            J = np.nan_to_num(J, nan=0.0, posinf=0.0, neginf=0.0)
        ps = psi(ri, problem.loss, problem.delta)
        if problem.loss == "huber":
            with np.errstate(all="ignore"):
                irls = np.where(np.abs(ri) <= problem.delta, 1.0, problem.delta / np.abs(ri))
        else:
            irls = np.ones_like(ri)
        if w is not None:
            ps, irls = ps * w, irls * w
        g = (J @ ps[:, :, None])[:, :, 0]
        H = (J * irls[:, None, :]) @ J.transpose(0, 2, 1)
        diag = np.diagonal(H, axis1=1, axis2=2)
        A = H + (lam[idx, None] * diag + 1e-12)[:, :, None] * eye
        step = -np.linalg.solve(A, g[:, :, None])[:, :, 0]
        cand = np.clip(th + step, *problem.fit_bounds)
        pc = np.array(problem.predict(cand))
        rc = problem.residuals_from(pc)
        fc = problem.objective_from(rc, w)
        better = (fc < f[idx]) & ok
        gain = np.where(better, (f[idx] - fc) / np.maximum(np.abs(f[idx]), 1e-300), 0.0)
        acc = idx[better]
        theta[acc], f[acc], pred[acc], r[acc] = cand[better], fc[better], pc[better], rc[better]
        lam[idx] = np.where(better, np.maximum(lam[idx] / 3.0, 1e-12), lam[idx] * 4.0)
        stall[idx] = np.where(gain > tol, 0, stall[idx] + 1)
        active[idx] = (stall[idx] < 4) & (lam[idx] < 1e10) & ok
    return theta, f


def parallel_descent(
    problem: Problem, theta0: np.ndarray, weights: np.ndarray | None = None, *, workers: int | None = None,
    budget: int = MEMORY_BUDGET,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`batched_descent` on chunks of the starts in threads (numpy releases the GIL); same result.

    A chunk holds at most as many starts as ``budget`` bytes of (starts × rows) working arrays allow per thread.
    """
    K = theta0.shape[0]
    workers = workers or min(4, os.cpu_count() or 1)
    per = max(1, budget // (workers * bytes_per_row(1, theta0.shape[1]) * problem.y.size))
    if (workers < 2 or K < 256) and K <= per:
        return batched_descent(problem, theta0, weights)
    chunks = np.array_split(np.arange(K), max(workers if K >= 256 else 1, -(-K // per)))
    w = None if weights is None else np.broadcast_to(weights, (K, problem.y.size))
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(lambda i: batched_descent(problem, theta0[i], None if w is None else w[i]), chunks))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def refine(problem: Problem, theta: np.ndarray, weights: np.ndarray | None = None):
    """L-BFGS-B from ``theta`` (fit space) with the analytic objective gradient; returns scipy's result."""
    from scipy.optimize import minimize  # imported on first use: reading or predicting from a fit needs no scipy

    lo, hi = problem.fit_bounds
    w = problem.weighted(np.ones(problem.y.size) if weights is None else weights)  # with the row weights

    def fun(t):
        if problem.y.size > EXHAUSTIVE_ROWS:  # a large fit: sums over row chunks (which weight), in bounded memory
            f, g = value_and_gradient(problem, t[None, :], weights)
            return (float(f[0]), g[0]) if np.isfinite(f[0]) else (np.inf, np.zeros_like(t))
        t2 = t[None, :]
        pred = np.array(problem.predict(t2))
        r = problem.residuals_from(pred)
        f = float(problem.objective_from(r, w)[0])
        if not np.isfinite(f):
            return np.inf, np.zeros_like(t)
        J = problem.jacobian(t2, pred)[0]
        grad = J @ (w * psi(r[0], problem.loss, problem.delta))
        return f, grad

    bounds = [(None if np.isinf(a) else a, None if np.isinf(b) else b) for a, b in zip(lo, hi)]
    return minimize(fun, theta, jac=True, method="L-BFGS-B", bounds=bounds,
                    options={"maxiter": 1000, "ftol": 1e-15, "gtol": 1e-12})


def multi_start(
    problem: Problem, starts: np.ndarray, *, n_refine: int = 5, rtol: float = 1e-4, seed: int = 0
) -> SearchResult:
    """Descend from every start (natural units), refine the best few distinct optima, keep the best.

    Above :data:`EXHAUSTIVE_WORK` starts × rows (or :data:`EXHAUSTIVE_ROWS` rows):
    :func:`scalefit.fitting.screen.screened_search` (``seed`` draws its subsamples), linear in the rows.
    """
    if len(starts) * problem.y.size > EXHAUSTIVE_WORK or problem.y.size > EXHAUSTIVE_ROWS:
        from scalefit.fitting.screen import screened_search

        return screened_search(problem, starts, rtol=rtol, seed=seed)
    return exhaustive_search(problem, starts, n_refine=n_refine, rtol=rtol)


def exhaustive_search(problem: Problem, starts: np.ndarray, *, n_refine: int = 5, rtol: float = 1e-4) -> SearchResult:
    """Every start (natural units) descends on every row; the best few distinct optima are refined."""
    theta0 = problem.to_fit(starts)
    theta, f = parallel_descent(problem, theta0)
    order = np.argsort(f)
    picked: list[int] = []
    for i in order:
        if not np.isfinite(f[i]) or len(picked) >= n_refine:
            break
        # Refine only candidates whose descent ended near the best: a refinement polishes an optimum,
        # it does not climb out of a basin 10% worse.
        if picked and f[i] > 1.1 * f[picked[0]] + 1e-12:
            break
        if all(np.max(np.abs(theta[i] - theta[j])) > 1e-3 for j in picked):
            picked.append(int(i))
    if not picked:
        return SearchResult(
            theta0[0], np.inf, len(starts), 0, starts[0], False, "no start gave a finite objective", f, theta0[:0]
        )
    best = None
    for i in picked:
        res = refine(problem, theta[i])
        val = float(res.fun)
        if val > f[i]:  # refinement never makes things worse
            res.x, val = theta[i], float(f[i])
        if best is None or val < best[1]:
            best = (res, val, i)
    res, val, i = best
    reached = int(np.sum(f <= val + max(rtol * abs(val), 1e-12)))
    return SearchResult(
        theta=np.asarray(res.x, dtype=float),
        objective=val,
        n_starts=len(starts),
        n_reached=max(reached, 1),
        best_start=np.asarray(starts[i], dtype=float),
        # L-BFGS-B stops "abnormally" in its line search when the descent already sits on the optimum
        # to machine precision; that is convergence too.
        converged=bool(res.success) or abs(val - f[i]) <= 1e-9 * abs(f[i]),
        message=str(getattr(res, "message", "")),
        finals=f,
        candidates=theta[picked],
    )
