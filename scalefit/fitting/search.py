"""Multi-start search: a batched Levenberg-Marquardt / IRLS descent run on every start at once,
then a polish of the best distinct candidates and an L-BFGS-B refinement of the best.

Running all starts together as arrays (one (P x P) solve per start per iteration) is what makes
the 4,500-start Chinchilla grid take about a second instead of minutes. Several fits of one law (the groups
of a grouped fit, the folds of a calibration) descend together the same way (:func:`multi_starts`). While
starts × rows is at most :data:`EXHAUSTIVE_WORK` (and rows at most :data:`EXHAUSTIVE_ROWS`) every start
descends on every row, in chunks of starts that fit the memory budget; above it the search screens the starts
on a subsample and descends only the promising basins on all rows (:mod:`scalefit.fitting.screen`), in time
linear in the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from scalefit.fitting.chunked import MEMORY_BUDGET, bytes_per_row, value_and_gradient
from scalefit.fitting.chunked import workers as default_workers
from scalefit.fitting.objective import Problem, psi

EXHAUSTIVE_WORK = 2**21  # starts × rows up to which every start descends on every row (Epoch's fit: 1.08e6)
EXHAUSTIVE_ROWS = 16384  # ... and rows up to which it does; larger fits also sum over row chunks
POLISH_ITER, POLISH_TOL = 200, 1e-15  # the polish of the best end points: iterations, relative stall
TIE_RTOL = 1e-12  # polished objectives this close (relative) are one optimum: the best descent's point is kept


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
    n = problem.n_rows
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
        th, ri, pi, w = theta[idx], r[idx], pred[idx], (None if w_all is None else w_all[idx])
        sub = problem if idx.size == K else problem.for_starts(idx)  # per-start rows: those of the active starts
        J = sub.jacobian(th, pi)
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
        pc = np.array(sub.predict(cand))
        rc = sub.residuals_from(pc)
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
    workers = workers or default_workers()
    chunks = start_chunks(K, bytes_per_row(1, theta0.shape[1]) * problem.n_rows, workers, budget)
    w = None if weights is None else np.broadcast_to(weights, (K, problem.n_rows))
    return in_threads(lambda i: batched_descent(problem.for_starts(i), theta0[i], None if w is None else w[i]),
                      chunks, workers)


def start_chunks(k: int, per_start: int, workers: int, budget: int = MEMORY_BUDGET) -> list[np.ndarray]:
    """The starts 0..k-1 cut into chunks of at most ``budget / workers`` working bytes (``per_start`` bytes
    each), and into ``workers`` chunks from 256 starts (fewer are not worth a thread); one chunk when that fits."""
    per = max(1, budget // (workers * per_start))
    if (workers < 2 or k < 256) and k <= per:
        return [np.arange(k)]
    return np.array_split(np.arange(k), max(workers if k >= 256 else 1, -(-k // per)))


def in_threads(descend, chunks: list[np.ndarray], workers: int) -> tuple[np.ndarray, np.ndarray]:
    """``descend(chunk) -> (theta, f)`` over the chunks of starts, in ``workers`` threads; joined in order."""
    if len(chunks) == 1:
        return descend(chunks[0])
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(descend, chunks))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def refine(problem: Problem, theta: np.ndarray, weights: np.ndarray | None = None):
    """L-BFGS-B from ``theta`` (fit space) with the analytic objective gradient; returns scipy's result."""
    from scipy.optimize import minimize  # imported on first use: reading or predicting from a fit needs no scipy

    lo, hi = problem.fit_bounds
    w = problem.weighted(np.ones(problem.n_rows) if weights is None else weights)  # with the row weights

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
    """Descend from every start (natural units), polish and refine the best few distinct optima, keep the best.

    Above :data:`EXHAUSTIVE_WORK` starts × rows (or :data:`EXHAUSTIVE_ROWS` rows):
    :func:`scalefit.fitting.screen.screened_search` (``seed`` draws its subsamples), linear in the rows.
    """
    return multi_starts([problem], [starts], n_refine=n_refine, rtol=rtol, seed=seed)[0]


def multi_starts(problems: Sequence[Problem], starts: Sequence[np.ndarray], *, n_refine: int = 5,
                 rtol: float = 1e-4, seed: int = 0) -> list[SearchResult]:
    """:func:`multi_start` of each problem (one law and objective: the groups of a grouped fit, the folds of a
    calibration) with its starts; those searched exhaustively descend and polish together, in one batched
    descent each (:mod:`scalefit.fitting.stack`), and large ones are screened one by one."""
    from scalefit.fitting.screen import screened_search

    small = [g for g, (p, s) in enumerate(zip(problems, starts))
             if len(s) * p.n_rows <= EXHAUSTIVE_WORK and p.n_rows <= EXHAUSTIVE_ROWS]
    found = dict(zip(small, exhaustive_searches([problems[g] for g in small], [starts[g] for g in small],
                                                n_refine=n_refine, rtol=rtol)))
    return [found[g] if g in found else screened_search(p, s, rtol=rtol, seed=seed)
            for g, (p, s) in enumerate(zip(problems, starts))]


def exhaustive_search(problem: Problem, starts: np.ndarray, *, n_refine: int = 5, rtol: float = 1e-4) -> SearchResult:
    """Every start (natural units) descends on every row, whatever the size (see :func:`exhaustive_searches`)."""
    return exhaustive_searches([problem], [starts], n_refine=n_refine, rtol=rtol)[0]


def exhaustive_searches(problems: Sequence[Problem], starts: Sequence[np.ndarray], *, n_refine: int = 5,
                        rtol: float = 1e-4) -> list[SearchResult]:
    """Every start (natural units) of each problem descends on every row of its problem; the best few distinct
    end points of each are polished (the same descent, to a :data:`POLISH_TOL` relative stall), and L-BFGS-B
    refines the best polished one. The problems' descents and polishes run stacked."""
    from scalefit.fitting.stack import stacked_descent

    if not problems:
        return []
    theta0s = [p.to_fit(s) for p, s in zip(problems, starts)]
    ends = stacked_descent(problems, theta0s)
    picks = [_distinct_best(theta, f, n_refine) for theta, f in ends]
    polished = stacked_descent(problems, [theta[pk] for (theta, _), pk in zip(ends, picks)], max_iter=POLISH_ITER,
                               tol=POLISH_TOL)
    return [_refined(p, s, t0, end, pk, pol, rtol)
            for p, s, t0, end, pk, pol in zip(problems, starts, theta0s, ends, picks, polished)]


def _distinct_best(theta: np.ndarray, f: np.ndarray, n: int) -> list[int]:
    """Up to ``n`` descent end points, best first, finite, pairwise distinct and within 10% of the best."""
    picked: list[int] = []
    for i in np.argsort(f):
        if not np.isfinite(f[i]) or len(picked) >= n:
            break
        # Refine only candidates whose descent ended near the best: a refinement polishes an optimum,
        # it does not climb out of a basin 10% worse.
        if picked and f[i] > 1.1 * f[picked[0]] + 1e-12:
            break
        if all(np.max(np.abs(theta[i] - theta[j])) > 1e-3 for j in picked):
            picked.append(int(i))
    return picked


def _refined(problem: Problem, starts: np.ndarray, theta0: np.ndarray, end: tuple, picked: list[int],
             polished: tuple, rtol: float) -> SearchResult:
    """The search result of one problem from its descent ``end`` (theta, f), ``picked`` end points and their
    ``polished`` (theta, f): L-BFGS-B from the best polished point, which it never makes worse."""
    theta, f = end
    if not picked:
        return SearchResult(
            theta0[0], np.inf, len(starts), 0, starts[0], False, "no start gave a finite objective", f, theta0[:0]
        )
    th_p, f_p = polished
    # The best polished point; where several tie (a flat valley the data cannot resolve), the best descent's.
    b = int(np.flatnonzero(f_p <= np.min(f_p) + TIE_RTOL * abs(np.min(f_p)))[0])
    res = refine(problem, th_p[b])
    x, val = np.asarray(res.x, dtype=float), float(res.fun)
    if not val <= f_p[b]:  # refinement never makes things worse
        x, val = th_p[b], float(f_p[b])
    reached = int(np.sum(f <= val + max(rtol * abs(val), 1e-12)))
    return SearchResult(
        theta=x,
        objective=val,
        n_starts=len(starts),
        n_reached=max(reached, 1),
        best_start=np.asarray(starts[picked[b]], dtype=float),
        # L-BFGS-B stops "abnormally" in its line search when the polish already sits on the optimum
        # to machine precision; that is convergence too.
        converged=bool(res.success or abs(val - f_p[b]) <= 1e-9 * abs(f_p[b])),
        message=str(getattr(res, "message", "")),
        finals=f,
        candidates=th_p,
    )
