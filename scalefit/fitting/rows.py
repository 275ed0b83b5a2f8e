"""What rows a law fit sees: per-run reduction of checkpoints, row weights and anchors.

* **Runs.** With a run key (``run=``, CLI ``--run COLUMN``; by default the first of ``run_id``, ``run``,
  ``run_name`` present) the per-run reducers of :mod:`scalefit.runs.reduce` (``reduce``, ``skip_first``,
  ``smooth``, ``order``) run on the rows left by ``where``, on the target column, before the fit; and the
  bootstrap resamples runs (every row of a run together) whenever a run has several rows.
* **Row weights** (``weight=COLUMN``): each row's Huber/MSE term is multiplied by its weight (finite, >= 0, not
  all 0). Statistics (RMSE, AIC/BIC) stay unweighted over the data rows.
* **Anchors** (``anchors=[{"L": 0, "Acc": 1}]``, CLI ``--anchor L=0,Acc=1``): fixed points in the law's symbols
  (every input and the target), optionally with a ``weight`` (default 1, as one data row). They are appended to
  the data rows of the objective and kept, once each, in every bootstrap resample (never drawn); the result
  records them under ``data.anchors``, apart from ``n_rows``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalefit.errors import RunDataError
from scalefit.fitting.objective import Problem
from scalefit.laws import Law
from scalefit.laws.factory_options import as_number
from scalefit.runs import RunTable, column_for, filter_rows, reduce_runs, run_column
from scalefit.runs.reduce import order_column

ANCHOR_WEIGHT = "weight"  # the key of an anchor's optional weight


def filtered_rows(data: Any, where: str | None, mapping: Mapping[str, str] | None = None, target: str | None = None,
                  symbol: str = "L") -> tuple[RunTable, dict]:
    """(rows, mapping) a fit or procedure starts from: the run log ``data`` (a path, RunTable or DataFrame) filtered
    by ``where``, and the symbol -> column mapping with ``target``, when given, the column of ``symbol``."""
    from scalefit.fitting.api import as_table

    mapping = {**dict(mapping or {}), **({symbol: target} if target is not None else {})}
    return filter_rows(as_table(data), where, mapping=mapping), mapping


def prepare(table: RunTable, law: Law, mapping: Mapping[str, str], opts, space: str) -> tuple[RunTable, Any]:
    """The rows to fit (reduced per run when asked) and the options (a :class:`scalefit.fitting.spec.FitSpec`)
    with the run key resolved and the anchors checked against ``law``; one-line RunDataError for a bad column,
    weight or anchor."""
    key = run_column(table, opts.run)
    order = order_column(table, opts.order) if opts.reduces else opts.order
    if opts.reduces:
        target = column_for(table, law.target, mapping)
        table = reduce_runs(table, run=key, reduce=opts.reduce, skip_first=opts.skip_first, smooth=opts.smooth,
                            order=order, columns=None if target is None else [target], mapping=mapping)
    for option, column in (("--weight", opts.weight), ("--bootstrap-by", opts.bootstrap_by)):
        if column is not None and column not in table.columns:
            raise RunDataError(f"{table.source}: {option} {column!r} is not a column; columns are {table.columns}")
    anchors = check_anchors(law, opts.anchors, space)
    return table, opts.replace(run=key, order=order, anchors=anchors)


def parse_anchor(text: object) -> dict[str, float]:
    """``"L=0,Acc=1"`` (optionally ``,weight=10``) -> ``{"L": 0.0, "Acc": 1.0}``; RunDataError otherwise."""
    out: dict[str, float] = {}
    for item in str(text).split(",") if isinstance(text, str) else [""]:
        key, sep, value = item.partition("=")
        try:
            v = float(value) if sep and key.strip() else math.nan
        except ValueError:
            v = math.nan
        if math.isnan(v):
            raise RunDataError(f"--anchor {text!r}: expected SYMBOL=VALUE,... e.g. --anchor L=0,Acc=1")
        if key.strip() in out:
            raise RunDataError(f"--anchor {text!r}: {key.strip()} is given twice")
        out[key.strip()] = v
    return out


def check_anchors(law: Law, anchors: Sequence[object], space: str) -> tuple:
    """Each anchor as ({symbol: value} over the law's inputs and target, weight): every symbol given, no other
    key, finite values, a positive target in log space, a finite weight > 0."""
    symbols = [*law.inputs, law.target]
    out = []
    for a in anchors or ():
        a = parse_anchor(a) if isinstance(a, str) else a
        if isinstance(a, tuple) and len(a) == 2 and isinstance(a[0], Mapping):  # already checked
            a = {**a[0], ANCHOR_WEIGHT: a[1]}
        if not isinstance(a, Mapping):
            raise RunDataError(f"anchor {a!r}: expected a mapping of the law's symbols, e.g. {{'L': 0, 'Acc': 1}}")
        shown = ",".join(f"{k}={v}" for k, v in a.items())
        missing = [s for s in symbols if s not in a]
        unknown = [k for k in a if k not in symbols and k != ANCHOR_WEIGHT]
        if missing or unknown:
            wrong = "; ".join([*(["missing " + ", ".join(missing)] if missing else []),
                               *(["unknown " + ", ".join(unknown)] if unknown else [])])
            raise RunDataError(f"--anchor {shown}: give every symbol of law {law.name!r} ({', '.join(symbols)}) "
                               f"and optionally weight; {wrong}")
        values = {s: _finite(a[s], shown, s) for s in symbols}
        w = _finite(a.get(ANCHOR_WEIGHT, 1.0), shown, ANCHOR_WEIGHT)
        if not w > 0:
            raise RunDataError(f"--anchor {shown}: the weight must be > 0")
        if space == "log" and not values[law.target] > 0:
            raise RunDataError(f"--anchor {shown}: target {law.target} = {values[law.target]:g} cannot be fitted in "
                               "log space; use --space raw (space='raw')")
        out.append((values, w))
    return tuple(out)


def _finite(value: object, shown: str, key: str) -> float:
    v = as_number(value)
    if not math.isfinite(v):
        raise RunDataError(f"--anchor {shown}: {key} = {value!r} is not a finite number")
    return v


def row_weights(table: RunTable, rows: np.ndarray, column: str) -> np.ndarray:
    """The weight column at the fitted rows: finite, >= 0, not all 0 (RunDataError naming the row otherwise)."""
    values = pd.to_numeric(table.frame.loc[rows, column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise RunDataError(f"{table.location(rows[i], column)}: weight {table.frame.loc[rows[i], column]!s} is not a "
                           "finite number >= 0")
    if not values.any():
        raise RunDataError(f"{table.source}: every row's weight ({column}) is 0; nothing would be fitted")
    return values


def fit_problem(law: Law, table: RunTable, res, y: np.ndarray, opts, **objective) -> Problem:
    """The Problem of the data rows ``res``/``y`` followed by the anchors, with the row and anchor weights."""
    anchors = opts.anchors
    x = {s: res.values[s] for s in law.inputs}
    w = None if opts.weight is None else row_weights(table, res.rows, opts.weight)
    if anchors:
        x = {s: np.concatenate([v, [a[s] for a, _ in anchors]]) for s, v in x.items()}
        y = np.concatenate([y, [a[law.target] for a, _ in anchors]])
        aw = np.array([wt for _, wt in anchors])
        if w is not None or (aw != 1).any():
            w = np.concatenate([np.ones(y.size - len(anchors)) if w is None else w, aw])
    return Problem(law, x, y, w=w, n_anchors=len(anchors), **objective)


def clusters(table: RunTable, rows: np.ndarray, by: str | None,
             run: str | None) -> tuple[np.ndarray | None, str | None]:
    """Bootstrap units of the data rows: ``by`` (a column), else the run key when a run has several rows (the
    historical default: ``run_id``), else rows (None)."""
    if by is None:
        key = run or ("run_id" if "run_id" in table.columns else None)
        by = key if key is not None and table.frame.loc[rows, key].duplicated().any() else None
    return (None, None) if by is None else (table.frame.loc[rows, by].astype(str).to_numpy(), by)


def summary(opts) -> dict:
    """What the result's ``data`` records about runs, weights and anchors (only what was used)."""
    out: dict = {}
    if opts.reduces:
        out["runs"] = {"run": opts.run, "reduce": opts.reduce, "skip_first": opts.skip_first,
                       "smooth": opts.smooth, "order": opts.order}
    if opts.weight is not None:
        out["weight"] = opts.weight
    if opts.anchors:
        out["anchors"] = [{**a, ANCHOR_WEIGHT: w} for a, w in opts.anchors]
    return out


def describe(data: Mapping) -> list[str]:
    """Report lines for a fit's ``data``: the per-run reduction, the row weights and the anchors."""
    lines = []
    runs = data.get("runs")
    if runs:
        steps = [f"skip the first {runs['skip_first']:g}" if runs.get("skip_first") else "",
                 f"smooth over {runs['smooth']}" if runs.get("smooth") else "",
                 f"reduce {runs['reduce']}" if runs.get("reduce") else ""]
        lines.append(f"runs     per {runs['run']!r}, checkpoints by {runs.get('order') or 'file order'}: "
                     + ", ".join(s for s in steps if s))
    if data.get("weight"):
        lines.append(f"weights  each row's loss term times column {data['weight']!r}")
    anchors = data.get("anchors") or []
    if anchors:
        shown = "; ".join(",".join(f"{k}={v:g}" for k, v in a.items() if k != ANCHOR_WEIGHT)
                          + (f" (weight {a[ANCHOR_WEIGHT]:g})" if a.get(ANCHOR_WEIGHT, 1) != 1 else "")
                          for a in anchors)
        lines.append(f"anchors  {len(anchors)} fixed point{'s' if len(anchors) > 1 else ''}, not in the rows, in "
                     f"every resample: {shown}")
    return lines
