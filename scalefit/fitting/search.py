"""Multi-start search: every start descends at once (:mod:`scalefit.fitting.descent`), the best distinct end points
are polished, and L-BFGS-B refines the best.

Running all starts together as arrays (one (P x P) solve per start per iteration) is what makes the 4,500-start
Chinchilla grid take about a second instead of minutes. Several fits of one law (the groups of a grouped fit,
the targets of a multi-target fit, the folds of a calibration) search together (:func:`multi_starts`), and each
finds what it finds alone, to the last bit (:mod:`scalefit.fitting.stack`). While starts × rows is at most
:data:`EXHAUSTIVE_WORK` (and rows at most :data:`EXHAUSTIVE_ROWS`) every start descends on every row; above it
the search screens the starts on a subsample and descends only the promising basins on all rows
(:mod:`scalefit.fitting.screen`), in time linear in the rows.

The starts of a fit are its start grid (the law's, with any value a user gives added to it), plus:

- **nested optima**: where the registry declares that the law contains a smaller one
  (:func:`scalefit.laws.registry.nested_laws`: M4 ⊇ M2, BNSL with 2 breaks ⊇ 1 break, Chinchilla ⊇ the power
  law in N and in D, ...), the smaller law is searched on the same rows first and its optimum, written as the
  larger law's parameters, is one more start; the descent and the refinement never make a start worse, so the
  larger law's training objective is never above the smaller's;
- **a widened grid**: when fewer than :data:`FEW_REACHED` of the starts (and fewer than 2) reach the best optimum,
  :data:`WIDEN` more starts jittered around the best distinct optima descend once more before the search reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from scalefit.fitting.chunked import MEMORY_BUDGET, bytes_per_row
from scalefit.fitting.chunked import workers as default_workers
from scalefit.fitting.descent import (
    DenseRows,
    descend,
    distinct_optima,
    finish,
    in_threads,
    rows_for,
    start_chunks,
)
from scalefit.fitting.descent import refine as refine_rows
from scalefit.fitting.objective import Problem

EXHAUSTIVE_WORK = 2**21  # starts × rows up to which every start descends on every row (Epoch's fit: 1.08e6)
EXHAUSTIVE_ROWS = 16384  # ... and rows up to which it does; larger fits also sum over row chunks
POLISH_ITER, POLISH_TOL = 200, 1e-15  # the polish of the best end points: iterations, relative stall
TIE_RTOL = 1e-12  # polished objectives this close (relative) are one optimum: the best descent's point is kept
FEW_REACHED = 0.01  # fewer starts than this share (and fewer than 2) reaching the best optimum widen the grid once
WIDEN = (64, 1024)  # the widened grid's extra starts: a quarter of the starts, within these bounds
WIDEN_CENTRES = 4  # ... jittered around this many best distinct optima
MAX_NESTING = 4  # nested laws seeding nested laws: at most this deep


@dataclass(frozen=True)
class SearchResult:
    """Outcome of a multi-start search (fit-space parameters)."""

    theta: np.ndarray  # (P,) best parameters, fit space
    objective: float  # objective at theta
    n_starts: int  # starts run (grid, nested optima and widened grid)
    n_reached: int  # starts whose descent ended within tolerance of the best objective
    best_start: np.ndarray  # (P,) start (natural units) whose descent led to the best optimum
    converged: bool  # the final refinement reported convergence
    message: str  # optimiser's message for the final refinement
    finals: np.ndarray  # (n_starts,) objective at the end of each start's descent
    candidates: np.ndarray  # (k, P) distinct descent end points (fit space), best first
    screen: dict | None = None  # large fits: what was screened on a subsample and what descended on all rows
    widened: int = 0  # starts added by widening the grid (0: the grid was not widened)
    nested: tuple[str, ...] = ()  # the nested laws whose optima were starts ("power(x=N)")


def batched_descent(problem: Problem, theta0: np.ndarray, weights: np.ndarray | None = None, *,
                    max_iter: int = 100, tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~scalefit.fitting.descent.descend` of the K starts ``theta0`` on all of ``problem``'s rows;
    ``weights`` is (n,) or (K, n) (bootstrap multiplicities). Returns final (K, P) thetas and (K,) objectives."""
    return descend(DenseRows(problem, weights), theta0, max_iter=max_iter, tol=tol)


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


def refine(problem: Problem, theta: np.ndarray, weights: np.ndarray | None = None):
    """L-BFGS-B from ``theta`` (fit space) with the analytic objective gradient (row-chunked on large fits);
    scipy's result."""
    return refine_rows(rows_for(problem, weights), theta)


def multi_start(
    problem: Problem, starts: np.ndarray, *, n_refine: int = 5, rtol: float = 1e-4, seed: int = 0
) -> SearchResult:
    """Descend from every start (natural units), polish and refine the best few distinct optima, keep the best.

    Above :data:`EXHAUSTIVE_WORK` starts × rows (or :data:`EXHAUSTIVE_ROWS` rows):
    :func:`scalefit.fitting.screen.screened_search` (``seed`` draws its subsamples), linear in the rows.
    """
    return multi_starts([problem], [starts], n_refine=n_refine, rtol=rtol, seed=seed)[0]


def multi_starts(problems: Sequence[Problem], starts: Sequence[np.ndarray], *, n_refine: int = 5,
                 rtol: float = 1e-4, seed: int = 0, nested: bool = True, exhaustive_rows: int = EXHAUSTIVE_ROWS,
                 _depth: int = 0) -> list[SearchResult]:
    """:func:`multi_start` of each problem (one law and objective: the groups of a grouped fit, the folds of a
    calibration) with its starts (natural units), plus the optima of the laws the registry nests in it
    (``nested``); those searched exhaustively (at most ``exhaustive_rows`` rows and :data:`EXHAUSTIVE_WORK`)
    descend and polish together (:mod:`scalefit.fitting.stack`), large ones are screened one by one. Each result
    is the one the problem's own search gives."""
    from scalefit.fitting.screen import screened_search

    if not problems:
        return []
    starts = [np.atleast_2d(np.asarray(s, dtype=float)) for s in starts]
    names: tuple[str, ...] = ()
    if nested and _depth < MAX_NESTING:
        seeds, names = _nested_seeds(problems, n_refine=n_refine, rtol=rtol, seed=seed, depth=_depth + 1)
        starts = [np.vstack([s, extra]) if len(extra) else s for s, extra in zip(starts, seeds)]
    small = [g for g, (p, s) in enumerate(zip(problems, starts))
             if len(s) * p.n_rows <= EXHAUSTIVE_WORK and p.n_rows <= exhaustive_rows]
    found = dict(zip(small, exhaustive_searches([problems[g] for g in small], [starts[g] for g in small],
                                                n_refine=n_refine, rtol=rtol, seed=seed)))
    results = [found[g] if g in found else screened_search(p, s, rtol=rtol, seed=seed)
               for g, (p, s) in enumerate(zip(problems, starts))]
    return [replace(r, nested=names) for r in results] if names else results


def exhaustive_search(problem: Problem, starts: np.ndarray, *, n_refine: int = 5, rtol: float = 1e-4,
                      seed: int = 0) -> SearchResult:
    """Every start (natural units) descends on every row, whatever the size (see :func:`exhaustive_searches`)."""
    return exhaustive_searches([problem], [starts], n_refine=n_refine, rtol=rtol, seed=seed)[0]


def exhaustive_searches(problems: Sequence[Problem], starts: Sequence[np.ndarray], *, n_refine: int = 5,
                        rtol: float = 1e-4, seed: int = 0) -> list[SearchResult]:
    """Every start (natural units) of each problem descends on every row of its problem; the best few distinct
    end points of each are polished (the same descent, to a :data:`POLISH_TOL` relative stall), the grid of a
    problem whose best optimum few starts reached is widened once, and L-BFGS-B refines the best polished point.
    The problems' descents and polishes run stacked."""
    from scalefit.fitting.stack import stacked_descent

    if not problems:
        return []
    starts = [np.atleast_2d(np.asarray(s, dtype=float)) for s in starts]
    theta0s = [p.to_fit(s) for p, s in zip(problems, starts)]
    ends = stacked_descent(problems, theta0s)
    picks, polished = _polished(problems, ends, n_refine)
    few = [g for g in range(len(problems)) if _few_reached(ends[g][1], polished[g][1], rtol)
           and np.isfinite(polished[g][0]).all(axis=1).any()]  # widening jitters around finite optima only
    widened = [0] * len(problems)
    if few:
        extra = [_jittered(problems[g], theta0s[g], polished[g], seed) for g in few]
        more = stacked_descent([problems[g] for g in few], extra)
        for g, th0, (th, f) in zip(few, extra, more):
            widened[g] = len(th0)
            theta0s[g] = np.vstack([theta0s[g], th0])
            starts[g] = np.vstack([starts[g], problems[g].to_natural(th0)])
            ends[g] = (np.vstack([ends[g][0], th]), np.concatenate([ends[g][1], f]))
        again_picks, again = _polished([problems[g] for g in few], [ends[g] for g in few], n_refine)
        for g, pk, pol in zip(few, again_picks, again):
            picks[g], polished[g] = pk, pol
    return [replace(_refined(p, s, t0, end, pk, pol, rtol), widened=w)
            for p, s, t0, end, pk, pol, w in zip(problems, starts, theta0s, ends, picks, polished, widened)]


def _polished(problems: Sequence[Problem], ends: list, n_refine: int) -> tuple[list, list]:
    """The best distinct end points of each problem's descent (within 10% of its best: a refinement polishes an
    optimum, it does not climb out of a worse basin) and their polish, stacked."""
    from scalefit.fitting.stack import stacked_descent

    picks = [distinct_optima(theta, f, n_refine, within=1.1) for theta, f in ends]
    polished = stacked_descent(problems, [theta[pk] for (theta, _), pk in zip(ends, picks)], max_iter=POLISH_ITER,
                               tol=POLISH_TOL)
    return picks, polished


def _reached(f: np.ndarray, best: float, rtol: float) -> int:
    """Descents whose objective ``f`` ended within ``rtol`` (relative) of the ``best`` objective."""
    return int(np.sum(f <= best + max(rtol * abs(best), 1e-12)))


def _few_reached(f: np.ndarray, f_polished: np.ndarray, rtol: float) -> bool:
    """Whether so few descents reached the best polished optimum that the grid is widened (never an empty one)."""
    if not len(f_polished) or not np.isfinite(np.min(f_polished)) or len(f) < 10:
        return False
    return _reached(f, float(np.min(f_polished)), rtol) < max(2, FEW_REACHED * len(f))


def _jittered(problem: Problem, theta0: np.ndarray, polished: tuple, seed: int) -> np.ndarray:
    """The widened grid (fit space): starts drawn around the best :data:`WIDEN_CENTRES` distinct polished optima,
    each parameter jittered by half its grid spacing (seeded; the same whether the problem is searched alone or
    stacked), clipped to the bounds."""
    th_p, f_p = polished
    centres = th_p[np.argsort(f_p, kind="stable")][:WIDEN_CENTRES]
    centres = centres[np.isfinite(centres).all(axis=1)]
    n = int(np.clip(len(theta0) // 4, *WIDEN))
    spread = np.array([_spacing(theta0[:, j]) for j in range(theta0.shape[1])])
    rng = np.random.default_rng([seed, 29])
    pts = centres[np.arange(n) % len(centres)] + 0.5 * spread * rng.standard_normal((n, theta0.shape[1]))
    lo, hi = problem.fit_bounds
    return np.clip(pts, lo, hi)


def _spacing(values: np.ndarray) -> float:
    """The median gap between a parameter's distinct finite start values (fit space); 0.5 when there is one."""
    v = np.unique(values[np.isfinite(values)])
    return float(np.median(np.diff(v))) if v.size > 1 else 0.5


def _nested_seeds(problems: Sequence[Problem], *, depth: int, **search) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """Per problem, (k, P) starts in natural units: the optima of the laws nested in the problems' law, searched
    (stacked, with their own nested laws) on the same rows and written as the law's parameters; and the names of
    the nested laws. A seed that breaks a fixed value or a bound of the (constrained) law is left out."""
    from scalefit.laws.registry import nested_laws

    law = problems[0].law
    seeds: list[list[np.ndarray]] = [[] for _ in problems]
    names = []
    for inner, embed, label in nested_laws(law):
        if any(s not in problems[0].x for s in inner.inputs):
            continue
        subs = [replace(p, law=inner, x={s: p.x[s] for s in inner.inputs}) for p in problems]
        found = multi_starts(subs, [inner.start_grid()] * len(subs), _depth=depth, **search)
        names.append(label)
        for g, (p, sub, res) in enumerate(zip(problems, subs, found)):
            if not np.isfinite(res.objective):
                continue
            point = _embedded(law, embed(dict(zip(inner.param_names, sub.to_natural(res.theta)[0])), p.x))
            if point is not None:
                seeds[g].append(point)
    return [np.array(s).reshape(-1, len(law.params)) for s in seeds], tuple(names)


def _embedded(law, params: dict) -> np.ndarray | None:
    """``params`` (every parameter of the unconstrained law) as a start of ``law``: its free parameters, or None
    when a held value differs or a value lies outside the law's bounds. A log-fitted parameter that the smaller
    law's optimum drove to 0 (its logarithm far below -745 underflows: BNSL's limit ``a``, say) starts at
    :data:`~scalefit.laws.registry.TINY`, as a nesting writes "→ 0": the prediction is the same to rounding, where
    a start at 0 would be dropped (its logarithm is -inf) and the larger law could end worse than the smaller."""
    from scalefit.laws.registry import TINY

    for name, value in law.fixed.items():
        if name in params and not np.isclose(params[name], value, rtol=0, atol=0):
            return None
    point = np.array([TINY if p.log and params[p.name] == 0 and p.lower <= TINY else float(params[p.name])
                      for p in law.params])
    ok = all(p.lower <= v <= p.upper and (not p.log or v > 0) for p, v in zip(law.params, point))
    return point if ok and np.isfinite(point).all() else None


def _refined(problem: Problem, starts: np.ndarray, theta0: np.ndarray, end: tuple, picked: list[int],
             polished: tuple, rtol: float) -> SearchResult:
    """The search result of one problem from its descent ``end`` (theta, f), ``picked`` end points and their
    ``polished`` (theta, f): the refinement of the best polished point (:func:`~scalefit.fitting.descent.finish`,
    never worse)."""
    _, f = end
    if not picked:
        return SearchResult(
            theta0[0], np.inf, len(starts), 0, starts[0], False, "no start gave a finite objective", f, theta0[:0]
        )
    th_p, f_p = polished
    # The best polished point; where several tie (a flat valley the data cannot resolve), the best descent's.
    b = int(np.flatnonzero(f_p <= np.min(f_p) + TIE_RTOL * abs(np.min(f_p)))[0])
    done = finish(rows_for(problem), th_p[b], float(f_p[b]))
    return SearchResult(
        theta=done.theta, objective=done.objective, n_starts=len(starts),
        n_reached=max(_reached(f, done.objective, rtol), 1), best_start=np.asarray(starts[picked[b]], dtype=float),
        converged=done.converged, message=done.message, finals=f, candidates=th_p,
    )
