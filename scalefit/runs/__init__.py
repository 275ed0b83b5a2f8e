"""Reading run logs: column aliases, derived columns (C=6ND, M=D/N), validation, filters."""

from scalefit.runs.aliases import ALIASES, DERIVATIONS, POSITIVE, RUN_KEYS, SYMBOL_DOCS
from scalefit.runs.derive import ensure_derived_columns, with_mean_column
from scalefit.runs.reduce import Reducer, parse_reducer, reduce_runs, run_column
from scalefit.runs.resolve import (
    Resolved,
    check_mapping,
    column_for,
    filter_names,
    filter_rows,
    group_rows,
    parse_map,
    resolve,
)
from scalefit.runs.table import RunTable, read_runs

__all__ = [
    "ALIASES", "DERIVATIONS", "POSITIVE", "SYMBOL_DOCS", "Resolved", "RunTable",
    "check_mapping", "column_for", "filter_names", "filter_rows", "group_rows", "parse_map", "read_runs", "resolve",
    "ensure_derived_columns", "with_mean_column",
    "RUN_KEYS", "Reducer", "parse_reducer", "reduce_runs", "run_column",
]
