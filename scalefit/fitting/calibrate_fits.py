"""Calibrating fits: each fit's rolling-origin folds refitted, the folds of every fit in one stacked search.

The method (folds, noise, error growth, conformal multiplier, bands) is :mod:`scalefit.fitting.calibration`;
here a fit result gets its calibration. A fold refit is the fit's own spec on the fold's training rows and
nothing else (:meth:`scalefit.fitting.spec.FitSpec.for_folds` then ``refit``): the same objective, row weights
and anchors, started from the optimum of the rows every fold trains on and a seeded subsample of the law's
start grid — never from the full-data optimum, which was fitted on the fold's held-out rows too. Every fold of
every fit given at once descends in one stacked search (a grouped fit's calibrations are one engine pass), and
each fit is calibrated from its folds' laws.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from scalefit._progress import task
from scalefit.errors import ConvergenceWarning
from scalefit.fitting.calibration import FAILURES, MAX_ROWS, calibrate, fold_masks

_SKIPPED = (*FAILURES, TypeError, KeyError, IndexError)  # a fit whose inputs cannot be cut into folds, say


def with_calibrations(fits: list[tuple]) -> list:
    """Each of ``fits`` ((rows, prepared spec, result): fits of one law, e.g. a grouped fit's groups; the spec
    as :meth:`FitSpec.prepare` returns it) with its calibration; every fold of every fit is refitted in one
    stacked search from its training rows alone. A fit whose inputs cannot be cut into folds keeps its result,
    with a warning that its intervals use the residual noise."""
    from threadpoolctl import threadpool_limits

    from scalefit.fitting.api import refit_parts

    outcomes = []
    with warnings.catch_warnings(), threadpool_limits(1, user_api="blas"):
        warnings.simplefilter("ignore")
        plans = [_attempt(lambda f=f: _Plan.of(*f)) for f in fits]
        ready = [p for p in plans if isinstance(p, _Plan)]
        n_folds = sum(len(p.tables) for p in ready)
        if ready:  # all folds of all fits: one stacked search (the fits here are of one law)
            with task("calibration fold refits", n_folds) as advance:
                found = refit_parts([(spec, t) for p in ready for spec in [p.spec.for_folds(p.tables)]
                                     for t in p.tables])
                advance(n_folds)
            for plan in ready:
                plan.predictors, found = [_predictor(plan.spec.law, p) for p in found[:len(plan.tables)]], \
                    found[len(plan.tables):]
        for plan in plans:
            outcomes.append(plan if not isinstance(plan, _Plan) else _attempt(lambda p=plan: calibrate(
                p.x, p.y, p.fitted, p.spec.space, p.folds, p.predictors)))
    out = []
    for (_, _, result), cal in zip(fits, outcomes):
        if isinstance(cal, Exception):
            warnings.warn(f"prediction intervals could not be calibrated ({cal}); they will use the residual noise",
                          ConvergenceWarning, stacklevel=5)
        out.append(result if isinstance(cal, Exception) else replace(result, calibration=cal))
    return out


@dataclass
class _Plan:
    """One fit's calibration before its fold refits: rows, folds and each fold's training rows."""

    spec: object  # the fit's prepared FitSpec
    x: dict
    y: np.ndarray
    fitted: np.ndarray  # in-sample predictions of the full fit
    folds: list  # fold_masks
    tables: list  # per fold: its training rows (a RunTable)
    predictors: list | None = None  # per fold: the refitted law, None where the refit failed

    @classmethod
    def of(cls, table, spec, result) -> _Plan:
        from scalefit.runs import resolve

        law = spec.law
        res = resolve(table, [*law.inputs, law.target], mapping=spec.columns)
        x, y, rows = {s: res.values[s] for s in law.inputs}, res.values[law.target], res.rows
        if y.size > MAX_ROWS:  # a large fit calibrates on a seeded subsample: the folds need scales, not every row
            keep = np.sort(np.random.default_rng(0).choice(y.size, MAX_ROWS, replace=False))
            x, y, rows = {s: v[keep] for s, v in x.items()}, y[keep], rows[keep]
        fitted = np.asarray(law(x, result.params), dtype=float).reshape(-1)
        folds = fold_masks(x, len(law.params))
        return cls(spec, x, y, fitted, folds, [table.subset(rows[inside]) for _, inside in folds])


def _predictor(law, params) -> Callable | None:
    """The refitted law as a predictor, None for a fold whose refit failed (an exception)."""
    return None if isinstance(params, Exception) else (lambda inputs, p=params: law(inputs, p))


def _attempt(fn: Callable, errors: tuple = _SKIPPED):
    """``fn()``, or the exception it raised (one of ``errors``)."""
    try:
        return fn()
    except errors as exc:
        return exc


__all__ = ["with_calibrations"]
