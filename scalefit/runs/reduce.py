"""Checkpoint-aware run logs: per-run reducers applied before fitting.

A run log may hold several rows (checkpoints, evaluations) per training run. ``reduce_runs`` works on each run's
checkpoints, in this order:

1. **Order.** A run's checkpoints are ordered by the ``order`` column: by default the first column present
   named ``step`` or one of its aliases (``steps``, ``iteration``, ``iter``), else the tokens column (``D``'s
   names: ``n_tokens``, ``tokens`` ...), else the compute column (``C``'s), else file order. Ties keep file order.
2. **skip_first** (``--skip-first F``): drop the first ``floor(F × n)`` of a run's ``n`` checkpoints (0 <= F < 1,
   so every run keeps at least its last checkpoint).
3. **smooth** (``--smooth K``): replace each metric by its trailing moving average over the run's last ``K``
   checkpoints (fewer at the start of a run).
4. **reduce** (``--reduce``): one row per run. ``last``: the last checkpoint; ``mean-last=K``: the metrics
   averaged over the last ``K`` checkpoints (all of them when a run has fewer), placed at the mean progress of
   those checkpoints: the tokens, compute and tokens-per-parameter columns (``D``, ``C``, ``M`` by ``mapping``,
   name or alias) are averaged over the same checkpoints (placed at the last checkpoint's tokens, an averaged
   loss would sit above the curve by half the window's slope: more for short runs than for long ones, which
   tilts a fitted data exponent); ``min`` / ``max``: each metric's minimum / maximum over the run. Every other
   column takes the run's last checkpoint's value, and the row keeps that checkpoint's line number for error
   messages.

Metrics are the ``columns`` given (a fit passes its target column); by default every numeric column except the
run key, the order column and the columns that name sizes or progress (``N``, ``D``, ``C``, ``M``, ``step`` by
name or alias). The run key is ``run`` or, by default, the first column named ``run_id``, ``run`` or
``run_name`` (:data:`~scalefit.runs.aliases.RUN_KEYS`). Runs keep the order of their first row. Nothing is
mutated; a new :class:`~scalefit.runs.table.RunTable` is returned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalefit.errors import RunDataError
from scalefit.runs.aliases import ALIASES, ORDER_SYMBOLS, PROGRESS_SYMBOLS, RUN_KEYS, TRACKER_TIME_COLUMNS
from scalefit.runs.resolve import column_for
from scalefit.runs.table import RunTable

REDUCERS = ("last", "mean-last=K", "min", "max")
MEAN_PLACED = ("D", "C", "M")  # progress averaged with a mean-last metric, so the mean sits where it was measured


@dataclass(frozen=True)
class Reducer:
    """A parsed ``--reduce`` value."""

    kind: str  # last | mean-last | min | max
    k: int = 1  # checkpoints averaged by mean-last

    def __str__(self) -> str:
        return f"mean-last={self.k}" if self.kind == "mean-last" else self.kind


def parse_reducer(text: object) -> Reducer:
    """``"last"``, ``"min"``, ``"max"`` or ``"mean-last=K"`` (K >= 1) as a Reducer; RunDataError otherwise."""
    s = str(text).strip().lower() if isinstance(text, str) else ""
    if s in ("last", "min", "max"):
        return Reducer(s)
    head, sep, k = s.partition("=")
    if head == "mean-last" and sep and k.strip().isdigit() and int(k) >= 1:
        return Reducer("mean-last", int(k))
    raise RunDataError(f"--reduce {text!r}: choose one of {', '.join(REDUCERS)} (K a whole number >= 1)")


def _named(table: RunTable, names: Sequence[str]) -> str | None:
    by_lower = {c.lower(): c for c in table.columns}
    return next((c for n in names if (c := n if n in table.columns else by_lower.get(n.lower()))), None)


def run_column(table: RunTable, run: str | None = None) -> str | None:
    """The run key: ``run`` (which must be a column), else the first of :data:`RUN_KEYS` present, else None."""
    if run is not None:
        if run not in table.columns:
            raise RunDataError(f"{table.source}: --run {run!r} is not a column; columns are {table.columns}")
        return run
    return _named(table, RUN_KEYS)


def order_column(table: RunTable, order: str | None = None) -> str | None:
    """The checkpoint order: ``order`` (a column), else step, tokens or compute by name or alias, else None."""
    if order is not None:
        if order not in table.columns:
            raise RunDataError(f"{table.source}: --order {order!r} is not a column; columns are {table.columns}")
        return order
    return next((c for s in ORDER_SYMBOLS if (c := _named(table, (s, *ALIASES.get(s, ()))))), None)


def metric_columns(table: RunTable, run: str, order: str | None) -> list[str]:
    """The default metrics: numeric columns other than the run key, the order, size/progress columns and trackers'
    time stamps."""
    skip = {run, order, *TRACKER_TIME_COLUMNS} | {c for s in PROGRESS_SYMBOLS for c in table.columns
                                                  if c == s or c.lower() in {a.lower() for a in ALIASES.get(s, ())}}
    return [c for c in table.columns if c not in skip and pd.api.types.is_numeric_dtype(table.frame[c])]


def reduce_runs(table: RunTable, *, run: str | None = None, reduce: str | None = None, skip_first: float = 0.0,
                smooth: int | None = None, order: str | None = None, columns: Sequence[str] | None = None,
                mapping: Mapping[str, str] | None = None) -> RunTable:
    """Skip, smooth and reduce each run's checkpoints (see the module docstring); ``table`` when none is asked.
    ``mapping`` (symbol -> column, as ``--map``) names the progress columns a ``mean-last`` mean is placed at."""
    reducer = None if reduce is None else parse_reducer(reduce)
    skip = _fraction(skip_first)
    window = _window(smooth)
    if reducer is None and skip == 0 and window is None:
        return table
    key = run_column(table, run)
    if key is None:
        asked = "--reduce" if reducer else "--skip-first" if skip else "--smooth"
        raise RunDataError(f"{table.source}: {asked} works per run, and no column names the runs (none of "
                           f"{', '.join(RUN_KEYS)}); pass --run COLUMN (run= in the library)")
    by = order_column(table, order)
    cols = _checked_metrics(table, key, by, columns)
    frame = _ordered(table, key, by)
    if by is not None:
        _refuse_conflicting_checkpoints(table, frame, key, by)
    if skip:
        pos = frame.groupby(key, sort=False).cumcount()
        size = frame.groupby(key, sort=False)[key].transform("size")
        frame = frame[pos >= np.floor(skip * size)]
    if window is not None and cols:
        frame = frame.copy()
        frame[cols] = frame.groupby(key, sort=False)[cols].transform(
            lambda s: s.rolling(window, min_periods=1).mean())
    if reducer is not None:
        placed = [] if reducer.kind != "mean-last" else _progress(table, mapping or {}, [key, *cols])
        frame = _reduced(frame, key, cols, reducer, placed)
    return RunTable(frame, table.source)


def reduce_target(table: RunTable, target: str | None, symbol: str, *, run: str | None = None,
                  mapping: Mapping[str, str] | None = None, **reducers) -> RunTable:
    """``table`` reduced per run (:func:`reduce_runs`'s ``reducers``) on its target column: ``target``, else the
    column feeding the law's ``symbol``; ``table`` itself when no reducer is asked."""
    if all(v in (None, 0.0) for v in reducers.values()):
        return table
    column = target or column_for(table, symbol, dict(mapping or {}))
    if column is None:
        raise RunDataError(f"{table.source}: no column for the target {symbol}; say which with --target COLUMN")
    return reduce_runs(table, run=run, columns=[column], mapping=mapping, **reducers)


def _fraction(value: object) -> float:
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        f = math.nan
    if not 0 <= f < 1:
        raise RunDataError(f"--skip-first {value}: the fraction of each run's checkpoints to drop must be in [0, 1)")
    return f


def _window(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise RunDataError(f"--smooth {value!r}: the moving-average window must be a whole number of checkpoints "
                           ">= 1")
    return int(value)


def _checked_metrics(table: RunTable, key: str, by: str | None, columns: Sequence[str] | None) -> list[str]:
    cols = metric_columns(table, key, by) if columns is None else list(dict.fromkeys(columns))
    for c in cols:
        if c not in table.columns:
            raise RunDataError(f"{table.source}: no column {c!r} to reduce; columns are {table.columns}")
        if c in (key, by):
            raise RunDataError(f"{table.source}: {c!r} is the run key or the checkpoint order; it cannot be reduced")
        if not pd.api.types.is_numeric_dtype(table.frame[c]):
            raise RunDataError(f"{table.source}: column {c!r} is not numeric, so it cannot be averaged or reduced")
    return cols


def _ordered(table: RunTable, key: str, by: str | None) -> pd.DataFrame:
    """The rows, runs in order of their first row, each run's checkpoints by ``by`` (stable); checked."""
    frame = table.frame
    missing = frame[key].isna().to_numpy()
    if missing.any():
        row = frame.index[int(np.flatnonzero(missing)[0])]
        raise RunDataError(f"{table.location(row, key)}: empty run key; every row needs the run it belongs to")
    if by is None:
        rank = pd.Series(np.arange(len(frame)), index=frame.index)
    else:
        rank = pd.to_numeric(frame[by], errors="coerce")
        bad = ~np.isfinite(rank.to_numpy(dtype=float))
        if bad.any():
            row = frame.index[int(np.flatnonzero(bad)[0])]
            raise RunDataError(f"{table.location(row, by)}: checkpoint order {frame.loc[row, by]!r} is not a finite "
                               "number; fix it or choose the order column with --order COLUMN")
    first = pd.Series(pd.factorize(frame[key])[0], index=frame.index)
    return frame.iloc[np.lexsort((np.arange(len(frame)), rank.to_numpy(dtype=float), first.to_numpy()))]


def _refuse_conflicting_checkpoints(table: RunTable, frame: pd.DataFrame, key: str, by: str) -> None:
    """RunDataError naming both lines when a run logs the same checkpoint twice with different values (which one
    is "last" would otherwise depend on the row order); repeated identical rows are kept."""
    same = frame.duplicated([key, by], keep=False).to_numpy()
    if not same.any():
        return
    rows = frame[same]
    for _, group in rows.groupby([key, by], sort=False):
        values = group.drop(columns=[key, by])
        differs = values.ne(values.iloc[0]) & ~(values.isna() & values.iloc[0].isna())
        conflict = differs.any(axis=1).to_numpy()
        if conflict.any():
            first, second = group.index[0], group.index[int(np.flatnonzero(conflict)[0])]
            column = values.columns[differs.loc[second].to_numpy()][0]
            a, b, run, at = (_plain(v) for v in (values.loc[first, column], values.loc[second, column],
                                                 group[key].iloc[0], group[by].iloc[0]))
            raise RunDataError(
                f"{table.location(first)} and {table.location(second)}: run {run!r} logs {by} {at!r} twice with "
                f"different {column!r} ({a!r} vs {b!r}); remove one of the two rows (or give each run its own key)")


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds (for messages)."""
    return value.item() if isinstance(value, np.generic) else value


def _progress(table: RunTable, mapping: Mapping[str, str], taken: list[str]) -> list[str]:
    """The numeric progress columns (:data:`MEAN_PLACED`) a mean over checkpoints is placed at."""
    found = (column_for(table, s, mapping) for s in MEAN_PLACED)
    return list(dict.fromkeys(c for c in found if c is not None and c not in taken
                              and pd.api.types.is_numeric_dtype(table.frame[c])))


def _reduced(frame: pd.DataFrame, key: str, cols: list[str], reducer: Reducer, placed: list[str]) -> pd.DataFrame:
    """One row per run: its last checkpoint, with the metrics reduced over the run (and a mean-last mean placed
    at the mean of the ``placed`` progress columns over the same checkpoints)."""
    groups = frame.groupby(key, sort=False)
    last = groups.tail(1)
    if reducer.kind == "last" or not cols:
        return last
    if reducer.kind == "mean-last":
        cols = [*cols, *placed]
        values = groups.tail(reducer.k).groupby(key, sort=False)[cols].mean()
    else:
        values = getattr(groups[cols], reducer.kind)()
    out = last.copy()
    out[cols] = values.loc[last[key]].to_numpy()
    return out
