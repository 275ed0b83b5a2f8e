"""Derived target columns: the mean of several columns, e.g. downstream error = 1 - mean accuracy.

``with_mean_column(table, "acc_*")`` returns a new RunTable with a column named ``1-mean(acc_*)``
holding one minus the row-wise mean of every column matching the glob(s) (comma-separated). The name
describes the computation, so a fit that used it records where its target came from, and
``ensure_derived_columns`` rebuilds the column from the raw run log (e.g. to plot the fit later).
The input table is never modified.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

from scalefit.errors import RunDataError
from scalefit.runs.table import RunTable

_NAME = re.compile(r"^(1-)?mean\((.+)\)$")


def mean_column_name(pattern: str, *, as_error: bool = True) -> str:
    """The column name ``with_mean_column`` gives: ``1-mean(PATTERN)`` (error) or ``mean(PATTERN)``."""
    return f"{'1-' if as_error else ''}mean({pattern.strip()})"


def matching_columns(table: RunTable, pattern: str, option: str = "--target-mean") -> list[str]:
    """Columns matching any of the comma-separated globs (case-sensitive), in table order; errors name ``option``."""
    globs = [g.strip() for g in pattern.split(",") if g.strip()]
    if not globs:
        raise RunDataError(f"{option} {pattern!r}: give a column glob such as 'acc_*'")
    cols = [c for c in table.columns if any(fnmatch.fnmatchcase(c, g) for g in globs)]
    if not cols:
        stems = {re.split(r"[*?\[]", g)[0].lower() for g in globs}
        near = [c for c in table.columns if any(s and s[:3] in c.lower() for s in stems)][:12]
        hint = f"; columns with similar names: {near}" if near else f"; columns are {table.columns}"
        raise RunDataError(f"{table.source}: {option} {pattern!r} matches no column{hint}")
    return cols


def with_mean_column(table: RunTable, pattern: str, *, as_error: bool = True) -> tuple[RunTable, str]:
    """A copy of ``table`` with the row-wise mean of the matching columns (1 - mean if ``as_error``).

    Values must be numeric, and fractions in [0, 1] (accuracies) when ``as_error``; a missing or
    out-of-range cell is an error naming its file, row and column. Returns the new table and the column's name.
    """
    cols = matching_columns(table, pattern)
    name = mean_column_name(pattern, as_error=as_error)
    block = table.frame[cols].apply(pd.to_numeric, errors="coerce")
    bad = block.isna().to_numpy() | ~np.isfinite(block.to_numpy(dtype=float))
    if bad.any():
        r, c = (int(v[0]) for v in np.nonzero(bad))
        raise RunDataError(
            f"{table.location(table.frame.index[r], cols[c])}: missing or non-numeric value "
            f"{table.frame[cols[c]].iloc[r]!r} in a column averaged by --target-mean {pattern!r} "
            f"({int(bad.sum())} such cells); fill it in, drop the row with --where, or narrow the glob"
        )
    vals = block.to_numpy(dtype=float)
    out = ((vals < 0) | (vals > 1)) & as_error
    if out.any():
        r, c = (int(v[0]) for v in np.nonzero(out))
        raise RunDataError(
            f"{table.location(table.frame.index[r], cols[c])}: {vals[r, c]:g} is not a fraction in [0, 1]; "
            "--target-mean averages accuracies given as fractions (divide percentages by 100 first)"
        )
    mean = vals.mean(axis=1)
    frame = table.frame.copy()
    frame[name] = 1.0 - mean if as_error else mean
    return RunTable(frame, table.source), name


def ensure_derived_columns(table: RunTable, names: Iterable[str]) -> RunTable:
    """``table`` plus any missing ``1-mean(...)`` / ``mean(...)`` columns among ``names``, rebuilt from it."""
    for name in names:
        if name in table.columns:
            continue
        m = _NAME.match(str(name))
        if m:
            table, _ = with_mean_column(table, m.group(2), as_error=bool(m.group(1)))
    return table
