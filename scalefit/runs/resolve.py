"""Resolving law symbols to run-log columns, with provenance, validation and row filters."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scalefit.errors import ArgumentTypeError, DroppedRowsWarning, RunDataError
from scalefit.expressions import check_filter, evaluate_filter
from scalefit.runs.aliases import ALIASES, DERIVATIONS, POSITIVE, TRACKER_PREFIXES
from scalefit.runs.table import RunTable


@dataclass(frozen=True)
class Resolved:
    """Numeric arrays for law symbols, the rows they came from and where each came from."""

    values: dict[str, np.ndarray]  # symbol -> float array, one entry per kept row
    provenance: dict[str, str]  # symbol -> "column 'Model Size'" or "derived C/(6N)"
    rows: np.ndarray  # the table's row labels (0-based data rows) of the kept rows
    table: RunTable  # the (filtered) table they came from

    def __len__(self) -> int:
        return len(self.rows)

    def describe(self) -> str:
        return ", ".join(f"{s} ← {src}" for s, src in self.provenance.items())


def parse_map(items: Iterable[str] | None) -> dict[str, str]:
    """Parse ``SYMBOL=COLUMN`` strings (from ``--map``) into a dict; a symbol mapped twice is refused."""
    out: dict[str, str] = {}
    for item in items or ():
        sym, sep, col = item.partition("=")
        if not sep or not sym.strip() or not col.strip():
            raise RunDataError(f"--map {item!r}: expected SYMBOL=COLUMN, e.g. --map N=n_params")
        if sym.strip() in out:
            raise RunDataError(f"--map {sym.strip()} is given twice ({sym.strip()}={out[sym.strip()]} and "
                               f"{sym.strip()}={col.strip()}); map each symbol to one column")
        out[sym.strip()] = col.strip()
    return out


def check_mapping(mapping: object, symbols: Iterable[str], what: str) -> dict[str, str]:
    """``mapping`` (symbol -> column) as a dict, refusing a symbol that ``what`` (e.g. "law 'chinchilla'") does not
    use: neither one of ``symbols`` nor a symbol they are derived from (``C`` for ``N``, ``D``). TypeError for a
    mapping that is not a dict of strings (``mapping="N=x"``)."""
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in mapping.items()):
        raise ArgumentTypeError(f"mapping must be a dict of symbol -> column names, e.g. {{'N': 'n_params'}}, "
                                f"got {type(mapping).__name__} {str(mapping)[:60]!r}")
    known = list(dict.fromkeys(symbols))
    stack = list(known)
    while stack:
        for needs, _, _ in DERIVATIONS.get(stack.pop(), ()):
            new = [s for s in needs if s not in known]
            known += new
            stack += new
    unknown = [s for s in mapping if s not in known]
    if unknown:
        raise RunDataError(f"--map {unknown[0]}={mapping[unknown[0]]}: {unknown[0]!r} is not a symbol of {what}; the "
                           f"symbols are {known} (case-sensitive)")
    return dict(mapping)


def filter_names(where: object) -> list[str]:
    """The names a row filter uses (symbols it may resolve through --map); none without a filter."""
    return [] if where is None else list(check_filter(where).names)


def group_rows(table: RunTable, by: str) -> dict[Any, pd.Index]:
    """The row labels of each value of column ``by`` (sorted); rows with an empty cell belong to no group, and a
    DroppedRowsWarning says how many and where (pandas' groupby would leave them out without a word)."""
    if by not in table.columns:
        raise RunDataError(f"{table.source}: --group-by {by!r} is not a column; columns are {table.columns}")
    cells = table.frame[by]
    empty = cells.isna().to_numpy() | (cells.map(lambda v: isinstance(v, str) and not v.strip())).to_numpy(dtype=bool)
    if empty.all():
        raise RunDataError(f"{table.source}: --group-by {by!r}: every row's {by} cell is empty; nothing to group")
    if empty.any():
        rows = table.frame.index[empty]
        lines = ", ".join(str(table.line(int(r))) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
        warnings.warn(f"{table.source}: --group-by {by!r}: {len(rows)} of {len(table)} rows have an empty {by} cell "
                      f"(line{'s' * (len(rows) > 1)} {lines}) and are left out of every group; fill the cells or "
                      f"drop the rows with --where", DroppedRowsWarning, stacklevel=3)
    return table.frame[~empty].groupby(by, sort=True).groups


def column_for(table: RunTable, symbol: str, mapping: Mapping[str, str]) -> str | None:
    """The column that feeds ``symbol``: ``--map``, the symbol's own name, then its aliases; None if none."""
    cols = table.columns
    if symbol in mapping:
        col = mapping[symbol]
        if col not in cols:
            raise RunDataError(
                f"{table.source}: --map {symbol}={col}: no column {col!r}; columns are {cols}"
            )
        return col
    if symbol in cols:
        return symbol
    lower = {c.lower(): c for c in cols}
    for alias in ALIASES.get(symbol, ()):
        if alias.lower() in lower:
            return lower[alias.lower()]
    for prefix in TRACKER_PREFIXES:  # a tracker's config.n_params, params.lr, metrics.loss
        for name in (symbol, *ALIASES.get(symbol, ())):
            if (prefix + name).lower() in lower:
                return lower[(prefix + name).lower()]
    return None


def _numeric(table: RunTable, column: str, symbol: str) -> np.ndarray:
    raw = table.frame[column]
    if pd.api.types.is_bool_dtype(raw):
        raise RunDataError(
            f"{table.source}: column {column!r} holds true/false values, not numbers, so it cannot be {symbol}; "
            f"map a numeric column (--map {symbol}=COLUMN) or filter on it (--where \"{column} == True\")"
        )
    vals = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(np.isnan(vals) & raw.notna().to_numpy())
    if bad.size:
        row = table.frame.index[bad[0]]
        raise RunDataError(
            f"{table.location(row, column)}: non-numeric value {raw.iloc[bad[0]]!r} for {symbol} "
            f"({bad.size} such cells); fix the cell or drop the row with --where"
        )
    return vals


def _check_values(table: RunTable, symbol: str, vals: np.ndarray, src: str, positive: bool) -> None:
    finite = np.isfinite(vals)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        what = "missing (NaN)" if np.isnan(vals[i]) else "infinite"
        raise RunDataError(
            f"{table.location(table.frame.index[i], src)}: {what} value for {symbol} "
            f"({int((~finite).sum())} such rows); fill it in or exclude those rows with --where"
        )
    if positive and (vals <= 0).any():
        i = int(np.flatnonzero(vals <= 0)[0])
        raise RunDataError(
            f"{table.location(table.frame.index[i], src)}: {symbol} must be > 0, got {vals[i]:g} "
            f"({int((vals <= 0).sum())} such rows); sizes, token counts and FLOPs are positive"
        )


def _resolve_one(table, symbol, mapping, values, prov, stack, positive) -> bool:
    if symbol in values:
        return True
    col = column_for(table, symbol, mapping)
    if col is not None:
        vals = _numeric(table, col, symbol)
        _check_values(table, symbol, vals, col, positive or symbol in POSITIVE)
        values[symbol], prov[symbol] = vals, f"column {col!r}"
        return True
    if symbol in stack:
        return False
    for needs, fn, text in DERIVATIONS.get(symbol, ()):
        if all(_resolve_one(table, s, mapping, values, prov, stack | {symbol}, False) for s in needs):
            with np.errstate(all="ignore"):  # an overflow is refused just below
                derived = np.asarray(fn(values), dtype=float)
            bad = ~np.isfinite(derived) & np.logical_and.reduce([np.isfinite(values[s]) for s in needs])
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise RunDataError(
                    f"{table.location(table.frame.index[i])}: {symbol} = {text} is {derived[i]:g} from "
                    + ", ".join(f"{s}={values[s][i]:g}" for s in needs)
                    + f" ({int(bad.sum())} such rows): the values are beyond floating-point range; check their units")
            values[symbol] = derived
            prov[symbol] = f"derived {text}"
            return True
    return False


def _similar_columns(table: RunTable, symbol: str) -> list[str]:
    """Columns whose name contains one of the symbol's aliases (e.g. ``loss_c4_val`` for L)."""
    words = {a.lower() for a in ALIASES.get(symbol, ()) if len(a) >= 3}
    return [c for c in table.columns if any(w in c.lower() for w in words)]


def resolve(
    table: RunTable,
    symbols: Iterable[str],
    *,
    mapping: Mapping[str, str] | None = None,
    positive: Iterable[str] = (),
) -> Resolved:
    """Numeric arrays for ``symbols``; every unresolvable symbol is listed in one RunDataError."""
    mapping = dict(mapping or {})
    positive = set(positive)
    values: dict[str, np.ndarray] = {}
    prov: dict[str, str] = {}
    symbols = list(dict.fromkeys(symbols))
    missing = [s for s in symbols if not _resolve_one(table, s, mapping, values, prov, set(), s in positive)]
    if missing:
        hints = []
        for s in missing:
            names = [s, *ALIASES.get(s, ())]
            ders = [t for _, _, t in DERIVATIONS.get(s, ())]
            hint = f"{s} (looked for columns {names}" + (f"; or derived as {' or '.join(ders)}" if ders else "")
            near = _similar_columns(table, s)
            if near:
                hint += f"; columns that may hold it: {near[:8]}, e.g. --map {s}={near[0]}"
            hints.append(hint + ")")
        raise RunDataError(
            f"{table.source}: missing columns for {', '.join(missing)}: " + "; ".join(hints)
            + f". Columns present: {table.columns}. Use --map SYMBOL=COLUMN to say which column to use."
        )
    for s in symbols:
        if s in positive:
            _check_values(table, s, values[s], prov[s], True)
    return Resolved(
        {s: values[s] for s in symbols}, {s: prov[s] for s in symbols}, table.frame.index.to_numpy(), table
    )


def filter_rows(
    table: RunTable, where: str | None, *, mapping: Mapping[str, str] | None = None, option: str = "--where"
) -> RunTable:
    """Rows matching a filter over column names and resolvable symbols (the safe filter language).

    ``"N >= 1e8 and loss < 4"``, ``"dataset in ['c4', 'rpj']"``; columns with spaces go in backticks.
    The filter is data: it is parsed and whitelisted by :func:`scalefit.expressions.check_filter` and
    evaluated over the columns, never by ``eval``. ``option`` names it in errors (``--holdout``).
    """
    if where is None:
        return table
    checked = check_filter(where, option)
    columns = {name: _filter_column(table, name, mapping, option, checked.text) for name in checked.names}
    mask = evaluate_filter(checked, columns, len(table), option)
    if not mask.any():
        raise RunDataError(f"{table.source}: {option} {where!r} leaves no rows (of {len(table)}); loosen the filter")
    return table.subset(table.frame.index[mask])


def _filter_column(table: RunTable, name: str, mapping, option: str, text: str) -> np.ndarray:
    """A filter name's values: the column of that name, else the symbol resolved like a law input."""
    if name in table.frame.columns:
        return table.frame[name].to_numpy()
    if column_for(table, name, dict(mapping or {})) is None and name not in DERIVATIONS:
        raise RunDataError(f"{table.source}: {option} {text!r}: no column or symbol {name!r}; "
                           f"columns are {table.columns} (backticks for names with spaces: `Model Size`)")
    try:
        return resolve(table, [name], mapping=mapping).values[name]
    except RunDataError as exc:
        raise RunDataError(f"{option} {text!r} uses {name}: {exc}") from None
