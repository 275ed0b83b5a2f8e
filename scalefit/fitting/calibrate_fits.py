"""Calibrating fits: each fit's rolling-origin folds refitted, the folds of every fit in one stacked search.

The method (folds, noise, error growth, conformal multiplier, bands) is :mod:`scalefit.fitting.calibration`;
here a fit result gets its calibration: its fold problems are built with the fit's own objective (row weights
and anchors included), the law is refitted on every fold of every fit given at once
(:func:`scalefit.fitting.search.multi_starts`: a grouped fit's calibrations are one engine pass), and each fit
is calibrated from its folds' predictors.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scalefit.errors import ConvergenceWarning
from scalefit.fitting.calibration import FAILURES, FOLD_STARTS, MAX_ROWS, Predictor, calibrate, fold_masks


def with_calibration(law, table, opts, result):
    """``result`` (a single fit of ``law`` to ``table`` with fit options ``opts``: mapping, loss, delta, space)
    with its calibration (:func:`with_calibrations`)."""
    return with_calibrations(law, [(table, opts, result)])[0]


def with_calibrations(law, fits: list[tuple]) -> list:
    """Each of ``fits`` ((table, opts, result): fits of one law, e.g. a grouped fit's groups) with its
    calibration. Each fold refit is the multi-start search of the fit's own objective (row weights and anchors
    included), started from the full-data optimum plus a seeded subsample of the law's start grid (no bootstrap,
    no diagnostics); every fold of every fit descends in one stacked search. A fit whose inputs cannot be cut
    into folds keeps its result, with a warning that its intervals use the residual noise."""
    from dataclasses import replace

    from threadpoolctl import threadpool_limits

    outcomes = []
    with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
        warnings.simplefilter("ignore")
        plans = [_attempt(lambda f=f: _Plan.of(law, *f)) for f in fits]
        jobs = [(plan, k) for plan in plans if isinstance(plan, _Plan) for k, p in enumerate(plan.problems)
                if p is not None]
        for (plan, k), predict in zip(jobs, _refit(law, [plan.problems[k] for plan, k in jobs],
                                                   [plan.starts for plan, _ in jobs])):
            plan.predictors[k] = predict
        for (_, opts, _), plan in zip(fits, plans):
            outcomes.append(plan if not isinstance(plan, _Plan) else _attempt(lambda p=plan, o=opts: calibrate(
                p.x, p.y, p.fitted, o.space, p.folds, p.predictors)))
    out = []
    for (_, _, result), cal in zip(fits, outcomes):
        if isinstance(cal, Exception):
            warnings.warn(f"prediction intervals could not be calibrated ({cal}); they will use the residual noise",
                          ConvergenceWarning, stacklevel=5)
        out.append(result if isinstance(cal, Exception) else replace(result, calibration=cal))
    return out


@dataclass
class _Plan:
    """One fit's calibration before its fold refits: rows, starts, folds and the folds' problems."""

    x: dict
    y: np.ndarray
    fitted: np.ndarray  # in-sample predictions of the full fit
    starts: np.ndarray  # (S, P) natural units: the full-data optimum, then grid points
    folds: list  # fold_masks
    problems: list  # per fold: its Problem (the fit's own objective on the fold's rows), None if it failed
    predictors: list  # per fold: the refitted law (filled in by with_calibrations), None if it failed

    @classmethod
    def of(cls, law, table, opts, result) -> _Plan:
        from types import SimpleNamespace

        from scalefit.fitting.rows import RowOptions, fit_problem
        from scalefit.runs import resolve

        res = resolve(table, [*law.inputs, law.target], mapping=opts.mapping)
        x, y, rows = {s: res.values[s] for s in law.inputs}, res.values[law.target], res.rows
        if y.size > MAX_ROWS:  # a large fit calibrates on a seeded subsample: the folds need scales, not every row
            keep = np.sort(np.random.default_rng(0).choice(y.size, MAX_ROWS, replace=False))
            x, y, rows = {s: v[keep] for s, v in x.items()}, y[keep], rows[keep]
        grid = law.start_grid()
        pick = grid[np.random.default_rng(0).choice(len(grid), size=min(FOLD_STARTS, len(grid)), replace=False)]
        starts = np.vstack([[result.params[p] for p in law.param_names], pick])
        fitted = np.asarray(law(x, result.params), dtype=float).reshape(-1)
        folds = fold_masks(x, len(law.params))

        def problem(mask: np.ndarray):  # the fit's own objective: its row weights and anchors too
            sub = SimpleNamespace(values={s: v[mask] for s, v in x.items()}, rows=rows[mask])
            return fit_problem(law, table, sub, y[mask], getattr(opts, "rows", None) or RowOptions(),
                               loss=opts.loss, delta=opts.delta, space=opts.space)

        problems = [_attempt(lambda m=inside: problem(m), FAILURES) for _, inside in folds]
        problems = [None if isinstance(p, Exception) else p for p in problems]
        return cls(x, y, fitted, starts, folds, problems, [None] * len(folds))


def _refit(law, problems: list, starts: list) -> list[Predictor | None]:
    """The law refitted on each problem (its starts), all in one stacked search; if that search fails, each
    problem alone, a failing one None."""
    from scalefit.fitting.search import multi_starts

    def predictor(problem, search) -> Predictor | None:
        if not np.isfinite(search.objective):
            return None
        params = dict(zip(law.param_names, problem.to_natural(search.theta)[0]))
        return lambda inputs: law(inputs, params)

    try:
        return [predictor(p, s) for p, s in zip(problems, multi_starts(problems, starts))]
    except FAILURES:
        alone = [_attempt(lambda p=p, s=s: predictor(p, multi_starts([p], [s])[0]), FAILURES)
                 for p, s in zip(problems, starts)]
        return [None if isinstance(a, Exception) else a for a in alone]


_SKIPPED = (*FAILURES, TypeError, KeyError, IndexError)  # a fit whose inputs cannot be cut into folds, say


def _attempt(fn: Callable, errors: tuple = _SKIPPED):
    """``fn()``, or the exception it raised (one of ``errors``)."""
    try:
        return fn()
    except errors as exc:
        return exc


__all__ = ["with_calibration", "with_calibrations"]
