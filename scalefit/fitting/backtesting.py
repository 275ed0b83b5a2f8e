"""``backtest``: fit on part of a run log, predict the rest, score the predictions and their intervals.

One held-out set (``holdout``, a row filter such as ``"N >= 5e9"``) or K nested outward folds along a scale
axis (:func:`backtest_folds`, the folds of ``scalefit select``: fold k fits the rows below the (1 − k·f)
quantile and predicts the rows above). Every held-out row gets its prediction and, at ``level``, the
``interval`` asked for: ``"prediction"`` (where a new run would land, :mod:`scalefit.fitting.calibration`,
calibrated on the fitted rows only), ``"mean"`` (the interval of the fitted curve: the bootstrap band, or without a
bootstrap the delta-method interval from the parameter covariance) or ``None``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalefit._progress import each
from scalefit.errors import FitError, RunDataError
from scalefit.fitting.api import RunsLike, map_keyword
from scalefit.fitting.result import INTERVALS, FitResult
from scalefit.fitting.rows import filtered_rows
from scalefit.fitting.spec import FitSpec
from scalefit.laws import Law
from scalefit.runs import RunTable, filter_rows, resolve

RUN_COLUMNS = ("run_id", "run", "name", "run_name")  # a column naming runs, shown in the per-row output


@dataclass(frozen=True)
class BacktestResult:
    """Held-out evaluation: the fit on the kept rows and per-row errors on the held-out rows."""

    fit: FitResult  # the law fitted on the rows outside the holdout
    rows: pd.DataFrame  # held-out rows: run name, inputs, actual, predicted, rel. error (+ lower/upper)
    holdout: str  # the holdout expression (or the fold, e.g. "N > 3.2e9")
    level: float = 0.95  # interval level
    interval: str | None = "prediction"  # the interval in lower/upper: "prediction", "mean" or None

    @property
    def mean_abs_rel_error(self) -> float:
        return float(np.mean(np.abs(self.rows["rel_error"])))

    @property
    def max_abs_rel_error(self) -> float:
        return float(np.max(np.abs(self.rows["rel_error"])))

    @property
    def scores(self) -> dict:
        """R², RMSLE, NMSE, mean/max |rel. error| on the held-out rows; with an interval, its coverage, mean
        width and interval score (:mod:`scalefit.fitting.scores`)."""
        return rows_scores(self.rows, self.level, self.interval)

    def report(self, *, group: str | None = None) -> str:
        """A human-readable summary (what `scalefit backtest` prints): the fit, the calibration its
        prediction intervals rest on, every held-out row and the scores; ``group`` names the group shown."""
        from scalefit.fitting.scores import format_scores

        where = f" [{group}]" if group is not None else ""
        lines = [f"backtest {self.fit.law}{where}: fitted on {self.fit.stats['n']} rows, held out {len(self.rows)} "
                 f"({self.holdout})", "fitted: " + ", ".join(f"{k}={v:.5g}" for k, v in self.fit.params.items())]
        if self.fit.calibration is not None and self.interval == "prediction":
            from scalefit.fitting.calibration import describe

            lines.append(describe(self.fit.calibration))
        table = self.rows.copy()
        table["rel_error"] = table["rel_error"].map(lambda v: f"{100 * v:+.2f}%")
        lines += [table.to_string(index=False, float_format=lambda v: f"{v:.5g}"), format_scores(self.scores)]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        return (f"BacktestResult({self.fit.law!r}, holdout={self.holdout!r}, fitted={self.fit.stats['n']}, "
                f"held_out={len(self.rows)}, mean_abs_rel_error={self.mean_abs_rel_error:.4g})")


def rows_scores(rows: pd.DataFrame, level: float, interval: str | None) -> dict:
    """The scores of held-out rows (actual, predicted, and lower/upper when an interval was computed)."""
    from scalefit.fitting.scores import scores

    band = (rows["lower"], rows["upper"]) if "lower" in rows.columns else (None, None)
    out = scores(rows["actual"], rows["predicted"], *band, level=level)
    return {**out, "interval": interval if band[0] is not None else None, "level": level}


def _rows(law: Law | str | FitSpec, data: RunsLike, where: str | None, interval: str | None,
          keywords: dict) -> tuple[FitSpec, RunTable, dict]:
    """(the spec every refit fits, the rows it is backtested on, their symbol -> column mapping). ``law``: a
    FitSpec (the fit's options are in it), or a law with :func:`scalefit.fit`'s law-fit ``keywords``."""
    if isinstance(law, FitSpec):
        if keywords or where is not None:
            given = sorted([*keywords, *(["where"] if where is not None else [])])
            raise TypeError(f"the FitSpec holds the fit's options; drop {given} or give them as spec.replace(...)")
        spec = law
    else:
        spec = FitSpec.of(law, where=where, **map_keyword(keywords, "scalefit.backtest"))
    if interval is not None and interval not in INTERVALS:
        raise FitError(f"interval must be one of {list(INTERVALS)} or None, got {interval!r}")
    data, spec = spec.pre_reduced(data)  # per run, before any split: fitted and held-out rows reduced alike
    table, mapping = filtered_rows(data, spec.where, spec.columns)
    # the rows are filtered once here; every refit fits the spec on its training rows, calibrated when asked
    return spec.replace(where=None, calibrate=interval == "prediction"), table, mapping


def backtest(
    law: Law | str | FitSpec, data: RunsLike, *, holdout: str, where: str | None = None, level: float = 0.95,
    interval: str | None = "prediction", **keywords: Any
) -> BacktestResult:
    """Fit on the rows outside ``holdout`` (an expression like ``"N >= 5e9"``) and predict the held-out rows,
    with ``interval`` ("prediction", "mean" or None) at ``level``. ``law``: a :class:`FitSpec`, or a law (a name
    or a Law) with :func:`scalefit.fit`'s law-fit ``keywords`` (``target``, ``map``, ``law_options``,
    ``bootstrap`` ...), from which the spec is built once."""
    spec, table, mapping = _rows(law, data, where, interval, keywords)
    held = filter_rows(table, holdout, mapping=mapping, option="--holdout")
    return _held_out(spec, table, held.frame.index, holdout, mapping, level, interval)


def _held_out(spec: FitSpec, table: RunTable, held_rows, what: str, mapping: dict, level: float,
              interval: str | None) -> BacktestResult:
    """Fit ``spec`` on ``table`` outside ``held_rows`` (row labels) and predict those rows."""
    kept_rows = table.frame.index.difference(held_rows)
    if len(kept_rows) == 0:
        raise RunDataError(f"--holdout {what!r} holds out every row; nothing is left to fit on")
    result, law = spec.fit(table.subset(kept_rows)), spec.law
    held = table.subset(held_rows)
    res = resolve(held, [*law.inputs, law.target], mapping=mapping)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = {s: res.values[s] for s in law.inputs}
        pred = result.predict(x)
        band = None if interval is None else result.predict_interval(x, level=level, interval=interval)
    actual = res.values[law.target]
    names = next(({c: held.frame.loc[res.rows, c].to_numpy()} for c in RUN_COLUMNS if c in held.columns), {})
    out = pd.DataFrame({"row": held.line(np.asarray(res.rows)), **names, **x, "actual": actual, "predicted": pred,
                        "rel_error": (pred - actual) / actual})
    if band is not None:
        out["lower"], out["upper"] = band
    return BacktestResult(result, out, what, level, interval)


def backtest_folds(
    law: Law | str | FitSpec, data: RunsLike, *, folds: int = 3, fraction: float = 0.1, along: str | None = None,
    where: str | None = None, level: float = 0.95, interval: str | None = "prediction", **keywords: Any
) -> list[BacktestResult]:
    """One backtest per fold along ``along`` (default: the law's axis, :func:`scalefit.fitting.folds.law_axis`, else
    its first input): rolling-origin folds cut between distinct values (fold k holds out about the top k·fraction
    of the rows), or group folds over mixtures or a categorical column (:func:`scalefit.fitting.folds.table_folds`).
    Each backtest's ``what`` says what its fold held out; ``law`` and ``keywords`` as in :func:`backtest`."""
    from scalefit.fitting.folds import MIXTURE, law_axis, table_folds

    spec, table, mapping = _rows(law, data, where, interval, keywords)
    along = along or law_axis(spec.law) or spec.law.inputs[0]
    keys = spec.law.inputs if along == MIXTURE else ()
    found = table_folds(table, along, mapping=mapping, folds=folds, fraction=fraction, keys=keys)
    if not found:
        raise RunDataError(f"{table.source}: {along} has too few distinct values to hold some out and keep 2 to fit "
                           f"({len(table)} rows); give --holdout EXPR or another --along")
    rows = table.frame.index.to_numpy()
    return [_held_out(spec, table, rows[f.held], f.describe(), mapping, level, interval)
            for f in each("backtest folds", found, lambda f: f.describe())]


def overall_scores(results: list[BacktestResult]) -> dict:
    """Scores over the held-out rows of several backtests together (bands only when every one has a band)."""
    rows = pd.concat([bt.rows for bt in results], ignore_index=True)
    if not all("lower" in bt.rows for bt in results):
        rows = rows.drop(columns=[c for c in ("lower", "upper") if c in rows.columns])
    first = results[0]
    return rows_scores(rows, first.level, first.interval)


__all__ = ["RUN_COLUMNS", "BacktestResult", "backtest", "backtest_folds", "overall_scores", "rows_scores"]
