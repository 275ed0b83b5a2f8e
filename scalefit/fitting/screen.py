"""Multi-start search on large run logs, in time linear in the rows and memory bounded by a budget.

Descending thousands of starts on every one of 10^6 rows costs starts × rows × iterations. Above
:data:`~scalefit.fitting.search.EXHAUSTIVE_ROWS` rows the search instead runs in four stages:

1. **Screen.** Every start descends (the batched descent of :mod:`scalefit.fitting.search`) on
   :data:`SCREEN_ROWS` rows: the rows ordered by the law's inputs (first input, then the next), cut into that many
   strata of equal size, one row drawn from each (seeded), so the subsample spans every input's range.
2. **Basins.** The screening end points, best first, are grouped into basins (two end points are one basin when
   their fit-space parameters agree within :data:`BASIN_TOL` or their objectives within :data:`BASIN_RTOL`); the
   best :data:`MAX_BASINS` basins go on.
3. **Confirm.** Each basin descends on a larger stratified subsample (:data:`CONFIRM_ROWS` rows). A basin whose
   objective there is more than :data:`MARGIN` above the best stops: on that many rows the objective's relative
   sampling error is about 1%, so a 10% worse basin is not the best on all rows.
4. **All rows.** The remaining distinct basins descend to convergence on every row (row-chunked,
   :mod:`scalefit.fitting.chunked`) and L-BFGS-B polishes the best.

The search summary says what was done (``screen``: rows and starts screened, basins kept, confirmed and
descended on all rows); ``n_reached`` counts the screened starts whose screening descent ended in a basin that
reached the best optimum on all rows.
"""

from __future__ import annotations

import numpy as np

from scalefit.fitting.chunked import chunked_descent, part
from scalefit.fitting.descent import DISTINCT, distinct_optima, finish, rows_for, same_optimum
from scalefit.fitting.objective import Problem
from scalefit.fitting.search import SearchResult, parallel_descent

SCREEN_ROWS = 512  # rows every start descends on
CONFIRM_ROWS = 16384  # rows the kept basins descend on before the full data
MAX_BASINS = 8  # distinct basins kept after screening
MARGIN = 0.1  # a confirmed basin this much (relative) above the best stops there
BASIN_TOL = DISTINCT  # end points this close in fit space (max abs difference) are one basin
BASIN_RTOL = 1e-6  # ... and so are end points whose objectives agree this closely (a flat valley)


def stratified_rows(x: dict, n: int, m: int, seed: int | np.random.Generator) -> np.ndarray:
    """``m`` of ``n`` row indices (sorted): one drawn uniformly from each of ``m`` equal strata of the rows in
    the order of the inputs ``x`` (first input, ties by the next); all rows when ``m >= n``."""
    if m >= n:
        return np.arange(n)
    keys = [np.asarray(v) for v in reversed(list(x.values()))]
    order = np.lexsort(keys) if keys else np.arange(n)
    edges = np.linspace(0, n, m + 1).astype(np.int64)
    offset = (np.random.default_rng(seed).random(m) * np.diff(edges)).astype(np.int64)
    return np.sort(order[edges[:-1] + offset])


def same_basin(theta: np.ndarray, f: np.ndarray, i: int) -> np.ndarray:
    """(K,) booleans: which end points of ``theta`` (K, P) with objectives ``f`` share end point i's basin."""
    return same_optimum(theta, f, i, BASIN_RTOL)


def basins(theta: np.ndarray, f: np.ndarray, k: int) -> list[int]:
    """Up to ``k`` end points, best first, each the best of a basin the earlier ones are not in (finite only)."""
    return distinct_optima(theta, f, k, level_rtol=BASIN_RTOL)


def screened_search(problem: Problem, starts: np.ndarray, *, rtol: float = 1e-4, seed: int = 0) -> SearchResult:
    """Screen ``starts`` (natural units) on a subsample, descend the promising basins on all rows; see the module
    docstring."""
    n, rng = problem.y.size, np.random.default_rng(seed)
    theta0 = problem.to_fit(starts)
    screen = part(problem, stratified_rows(problem.x, n, SCREEN_ROWS, rng))
    th_s, f_s = parallel_descent(screen, theta0)
    picked = basins(th_s, f_s, MAX_BASINS)
    if not picked:
        return SearchResult(theta0[0], np.inf, len(starts), 0, starts[0], False, "no start gave a finite objective",
                            f_s, theta0[:0])
    confirm = part(problem, stratified_rows(problem.x, n, CONFIRM_ROWS, rng)) if n > CONFIRM_ROWS else problem
    th_c, f_c = chunked_descent(confirm, th_s[picked])
    kept = [i for i in basins(th_c, f_c, MAX_BASINS) if f_c[i] <= (1 + MARGIN) * np.min(f_c)]
    if not kept:
        return SearchResult(theta0[0], np.inf, len(starts), 0, starts[0], False,
                            "no basin gave a finite objective on the confirming rows", f_s, theta0[:0])
    if confirm is problem:
        th_f, f_f = th_c[kept], f_c[kept]
    else:
        th_f, f_f = chunked_descent(problem, th_c[kept])
    best = int(np.argmin(f_f))
    done = finish(rows_for(problem), th_f[best], float(f_f[best]))
    val, theta = done.objective, done.theta
    # a screened basin reached the best optimum when the kept basin it confirmed into did, on all rows
    reached_kept = [kept[j] for j in range(len(kept)) if f_f[j] <= val + max(rtol * abs(val), 1e-12)]
    reached = [b for b in range(len(picked)) if any(same_basin(th_c, f_c, r)[b] for r in reached_kept)]
    n_reached = int(sum(_members(th_s, f_s, picked, b).sum() for b in reached))
    return SearchResult(
        theta=theta, objective=val, n_starts=len(starts), n_reached=max(n_reached, 1),
        best_start=np.asarray(starts[picked[kept[best]]], dtype=float),
        converged=done.converged, message=done.message, finals=f_s, candidates=th_f[np.argsort(f_f)],
        screen={"rows": int(screen.y.size), "of_rows": int(n), "starts": len(starts), "basins": len(picked),
                "confirm_rows": int(confirm.y.size),
                "descended_on_all_rows": len(picked) if confirm is problem else len(kept), "seed": seed},
    )


def _members(theta: np.ndarray, f: np.ndarray, picked: list[int], b: int) -> np.ndarray:
    """Screened starts in basin ``b`` of ``picked``: in its basin and in no better-ranked picked basin's."""
    mine = same_basin(theta, f, picked[b])
    for a in picked[:b]:
        mine &= ~same_basin(theta, f, a)
    return mine
