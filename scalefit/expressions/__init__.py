"""One safe expression language for user formulas (``expr`` laws) and row filters (``--where``, ``--holdout``).

Text a user hands us is parsed and whitelisted (:mod:`scalefit.expressions.check`) and then evaluated by a
small tree walker over numpy arrays (filters) or by asteval with every other node disabled (formulas);
never by Python ``eval`` or pandas ``eval``/``query``. A filter or formula stored in a fit file goes through
the same checker when it is reused.
"""

from __future__ import annotations

from scalefit.expressions._dual import BINARY as DUAL_BINARY
from scalefit.expressions._dual import FUNCTIONS, Dual
from scalefit.expressions.check import (
    BINOPS,
    CONSTANTS,
    FILTER_HELP,
    FORMULA_HELP,
    MAX_CHARS,
    MAX_DEPTH,
    Checked,
    check_filter,
    check_formula,
)
from scalefit.expressions.filters import evaluate_filter

__all__ = [
    "BINOPS", "CONSTANTS", "DUAL_BINARY", "Dual", "FILTER_HELP", "FORMULA_HELP", "FUNCTIONS", "MAX_CHARS", "MAX_DEPTH",
    "Checked", "check_filter", "check_formula", "evaluate_filter",
]  # fmt: skip
