"""Extrapolation folds: one construction for ``select``, ``backtest --folds`` and the prediction-interval
calibration, and the one notion of a law's *extrapolation axis*.

**The axis** (:func:`law_axis`). A law extrapolates along the axis it declares (``Law.along``: the data-mixture
laws declare :data:`MIXTURE`, whole mixtures held out), else along its scale axis (the first of N, C, D, M
among its inputs; a loss L used as an input, whose larger scales have smaller values, rolls the other way).
Any column can be named instead (``--along COL``).

**Rolling-origin folds on distinct values** (:func:`outward_folds`, numeric axes). The cuts fall *between*
distinct values of the axis, never inside a tie: with the distinct values u_1 < … < u_m, fold k holds out the
top j_k values, j_k the count whose share of rows is closest to k·f, and at least one more value than fold
k − 1 (so folds never repeat), while at least ``min_fit`` distinct values stay to fit. A log whose largest size
holds 30% of the rows gets fold 1 = that size, fold 2 = the two largest, and so on: as many folds as the
distinct values allow, up to K.

**Group folds** (:func:`group_folds`, categorical axes and mixtures). The distinct keys (a category, or the
vector of mixture proportions) in their sorted order are dealt round-robin into K folds, each held out in turn;
K at least the number of keys is leave-one-out.

Every fold says what it held out (``describe``), e.g. ``N > 3.2e9 (top 2 of 9 values, 54 of 193 rows)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from scalefit.errors import ScalefitError

SCALE_SYMBOLS = ("N", "C", "D", "M")  # inputs whose larger values are larger scales, in order of preference
DESCENDING = ("L",)  # inputs whose larger scales have smaller values (a loss feeding a downstream law)
MIXTURE = "mixture"  # the axis of the data-mixture laws: the vector of training-domain proportions
MAX_GROUP_FOLDS = 10  # default K of group folds: leave-one-out up to this many keys


@dataclass(frozen=True)
class OutwardFold:
    """One fold: the boolean mask of held-out rows, where it cuts and a description such as ``N > 3.2e9``."""

    held: np.ndarray  # True where a row is held out (predicted), False where it is fitted
    cut: float  # the largest fitted value (rolling folds; NaN for group folds): held out is beyond it
    what: str  # e.g. "N > 3.2e9", "mixture = (0.2, 0.8)"
    n_values: int = 0  # distinct axis values (or keys) held out
    of_values: int = 0  # distinct axis values (or keys) in all

    def describe(self) -> str:
        """``what`` with the counts, e.g. ``N > 3.2e9 (top 2 of 9 values, 54 of 193 rows)``."""
        n, total = int(self.held.sum()), int(self.held.size)
        kind = f"top {self.n_values}" if np.isfinite(self.cut) else f"{self.n_values}"
        return f"{self.what} ({kind} of {self.of_values} values, {n} of {total} rows)"


def check_folds(folds: int, fraction: float) -> None:
    """ScalefitError unless folds >= 1 and 0 < folds·fraction < 1."""
    if not (isinstance(folds, int) and folds >= 1 and 0 < fraction and folds * fraction < 1):
        raise ScalefitError(f"folds={folds}, fraction={fraction}: need folds >= 1 and 0 < folds·fraction < 1")


def outward_folds(values, along: str, folds: int, fraction: float, *, descending: bool = False,
                  min_fit: int = 2) -> list[OutwardFold]:
    """The nested rolling-origin folds of ``values`` (the axis ``along``), cut between distinct values, largest
    scales held out first (smallest, when ``descending``); fewer than ``folds`` when the distinct values run
    out (``min_fit`` of them always stay to fit), none when there are at most ``min_fit``."""
    check_folds(folds, fraction)
    v = np.asarray(values, dtype=float).reshape(-1)
    finite = v[np.isfinite(v)]
    u, counts = np.unique(finite, return_counts=True)
    if descending:
        u, counts = u[::-1], counts[::-1]
    m = len(u)
    tail = np.cumsum(counts[::-1]) / max(len(v), 1)  # tail[j - 1]: share of rows in the outermost j values
    out: list[OutwardFold] = []
    j_prev = 0
    for k in range(1, folds + 1):
        j = int(np.argmin(np.abs(tail - k * fraction))) + 1
        j = max(j, j_prev + 1)
        if j > m - min_fit:
            break
        cut = float(u[m - j - 1])  # the outermost fitted value
        held = v < cut if descending else v > cut
        what = f"{along} {'<' if descending else '>'} {cut:.4g}"
        out.append(OutwardFold(held, cut, what, j, m))
        j_prev = j
    return out


def group_folds(keys: Sequence, along: str, folds: int | None = None) -> list[OutwardFold]:
    """Group folds over the distinct ``keys`` (hashable, one per row): sorted, dealt round-robin into ``folds``
    folds (default: leave-one-out up to :data:`MAX_GROUP_FOLDS` keys); each fold holds out its keys' rows."""
    keys = [_key(k) for k in keys]
    distinct = sorted(set(keys), key=lambda k: (str(type(k)), k))
    if folds is not None and (not isinstance(folds, int) or folds < 1):
        raise ScalefitError(f"folds={folds}: need folds >= 1")
    k_folds = min(len(distinct), folds or MAX_GROUP_FOLDS)
    if len(distinct) < 2:
        return []
    arr = np.empty(len(keys), dtype=object)
    arr[:] = keys
    out = []
    for i in range(k_folds):
        mine = distinct[i::k_folds]
        held = np.array([k in set(mine) for k in keys], dtype=bool)
        shown = ", ".join(_show(k) for k in mine[:3]) + (f", … ({len(mine)} in all)" if len(mine) > 3 else "")
        out.append(OutwardFold(held, float("nan"), f"{along} = {shown}" if len(mine) == 1 else
                               f"{along} in {{{shown}}}", len(mine), len(distinct)))
    return out


def _key(k):
    if isinstance(k, (list, tuple, np.ndarray)):
        return tuple(float(x) if isinstance(x, (int, float, np.number)) else x for x in k)
    return float(k) if isinstance(k, (np.number,)) else k


def _show(k) -> str:
    if isinstance(k, tuple):
        return "(" + ", ".join(f"{x:.3g}" if isinstance(x, float) else str(x) for x in k) + ")"
    return f"{k:.4g}" if isinstance(k, float) else str(k)


def table_folds(table, along: str, *, mapping: Mapping[str, str] | None = None, folds: int | None = None,
                fraction: float = 0.1, keys: Sequence[str] = ()) -> list[OutwardFold]:
    """The folds of a run table along ``along`` (masks over its rows, in order): :data:`MIXTURE` (group folds over
    the distinct vectors of the ``keys`` symbols, the proportions r1, r2, …), a non-numeric column (group folds over
    its values), else a symbol or numeric column (rolling-origin folds on distinct values, descending for L).
    ``folds``: K (default 2 rolling folds; leave-one-out up to :data:`MAX_GROUP_FOLDS` groups)."""
    from scalefit.runs import resolve

    frame = table.frame
    if along == MIXTURE:
        if not keys:
            raise ScalefitError(f"{table.source}: folds along {MIXTURE} need the proportion columns (r1, r2, ...)")
        res = resolve(table, list(keys), mapping=mapping)
        return group_folds(list(zip(*(res.values[k] for k in keys))), MIXTURE, folds)
    column = dict(mapping or {}).get(along, along)
    if column in frame.columns and not _numeric(frame[column]):
        return group_folds(frame[column].astype(str).tolist(), along, folds)
    res = resolve(table, [along], mapping=mapping)
    return outward_folds(res.values[along], along, folds or 2, fraction, descending=along in DESCENDING)


def _numeric(col) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(col)) and not pd.api.types.is_bool_dtype(col)


def scale_axis(inputs: Sequence[str]) -> str | None:
    """The first of N, C, D, M among ``inputs`` (a law's scale axis), else None."""
    return next((s for s in SCALE_SYMBOLS if s in inputs), None)


def law_axis(law) -> str | None:
    """The axis a law extrapolates along: its declared ``along`` (e.g. :data:`MIXTURE`), else its scale
    axis (N, C, D, M), else L for a downstream law of the loss, else None."""
    if getattr(law, "along", None):
        return str(law.along)
    return scale_axis(law.inputs) or next((s for s in DESCENDING if s in law.inputs), None)


def scale_axes(x: Mapping[str, np.ndarray]) -> list[str]:
    """The inputs to roll folds along (the calibration's): those of N, C, D, M with 3+ distinct values, else
    every input with 3+ distinct values."""
    varying = [s for s, v in x.items() if np.unique(np.asarray(v)).size >= 3]
    return [s for s in varying if s in SCALE_SYMBOLS] or varying


__all__ = ["DESCENDING", "MAX_GROUP_FOLDS", "MIXTURE", "SCALE_SYMBOLS", "OutwardFold", "check_folds", "group_folds",
           "law_axis", "outward_folds", "scale_axes", "scale_axis", "table_folds"]
